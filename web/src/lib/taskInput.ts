/**
 * What a task was given. The run API has each task's output but not its input, so the
 * input is derived from the definition: `input_from: "task.path"` hands that part of an
 * ancestor's output; otherwise a task sees the run's input and its parents' outputs.
 */
import type { RunDetail, TaskDef } from '../api/types.ts';

export interface DerivedInput {
  /** How it was derived, for the label. */
  source: string;
  value: unknown;
}

/** `a.b.c` of an object; undefined when a step is missing. */
export function atPath(value: unknown, path: string[]): unknown {
  let v = value;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

export function deriveTaskInput(run: RunDetail, def: TaskDef | undefined): DerivedInput | null {
  if (!def) return null;
  const tasksByName = new Map(run.tasks.map((t) => [t.name, t]));
  const from = typeof def['input_from'] === 'string' ? (def['input_from'] as string) : '';
  if (from) {
    const [task, ...path] = from.split('.');
    const src = tasksByName.get(task ?? '');
    return { source: `input_from: ${from}`, value: src?.output === undefined || src?.output === null ? null : atPath(src.output, path) ?? null };
  }
  const parents = def.parents ?? [];
  const value: Record<string, unknown> = { input: run.input };
  if (parents.length) {
    const outs: Record<string, unknown> = {};
    for (const p of parents) outs[p] = tasksByName.get(p)?.output ?? null;
    value['parents'] = outs;
  }
  return { source: parents.length ? `run input and the outputs of ${parents.join(', ')}` : 'run input', value };
}
