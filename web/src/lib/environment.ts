/**
 * What a suite's tests were measured on (the report's `environments`): machines in a line,
 * the facts every test shares (said once), and PostgreSQL settings in the units people
 * write them in. Pure; tested in environment.test.ts.
 */
import type { Environment, MachineInfo } from '../api/types.ts';
import { DASH, formatMemoryMb, formatNumber } from './format.ts';

/** "vm · AMD EPYC · 2 cores · 24 GB RAM · 271 GB disk · kernel 6.18.44". */
export function machineText(m: MachineInfo | null | undefined): string {
  if (!m) return '';
  return [
    m.hostname,
    m.cpu_model,
    `${m.cores} ${m.cores === 1 ? 'core' : 'cores'}`,
    `${formatMemoryMb(m.memory_mb)} RAM`,
    `${formatNumber(m.disk_gb, 0)} GB disk`,
    `kernel ${m.kernel}`,
  ]
    .filter(Boolean)
    .join(' · ');
}

/** One line per fact of a test's environment; '' when unknown. */
export interface EnvironmentFacts {
  postgres: string;
  database: string;
  loader: string;
  tool: string;
}

export function environmentFacts(e: Environment): EnvironmentFacts {
  return {
    postgres: e.postgres_version ? `PostgreSQL ${e.postgres_version}` : '',
    database: machineText(e.database_machine),
    loader: machineText(e.loader_machine),
    tool: e.tool_version || e.tool || '',
  };
}

/** The test measured nothing (it never ran, or failed before its load): no facts, no settings. */
export function isEmptyEnvironment(e: Environment): boolean {
  const f = environmentFacts(e);
  return !f.postgres && !f.database && !f.loader && !f.tool && !e.command && !e.changed_settings.length && !e.vs_baseline.length;
}

/**
 * The facts every test shares (shown once, above the tests); a fact that differs, or that
 * some test lacks, is null here and shown with each test.
 */
export function sharedFacts(envs: readonly Environment[]): { [K in keyof EnvironmentFacts]: string | null } {
  const facts = envs.map(environmentFacts);
  const shared = (k: keyof EnvironmentFacts) => {
    const first = facts[0]?.[k];
    return first && facts.every((f) => f[k] === first) ? first : null;
  };
  return { postgres: shared('postgres'), database: shared('database'), loader: shared('loader'), tool: shared('tool') };
}

const BYTES: Record<string, number> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
const MICROS: Record<string, number> = { us: 1, ms: 1000, s: 1e6, min: 6e7, h: 3.6e9, d: 8.64e10 };

/** The largest unit of `units` that `amount` is a whole number of (PostgreSQL's own SHOW rule). */
function largestWhole(amount: number, units: Record<string, number>): string {
  const names = Object.keys(units).sort((a, b) => units[b]! - units[a]!);
  for (const name of names) {
    const n = amount / units[name]!;
    if (Number.isInteger(n)) return `${n} ${name}`;
  }
  return `${amount} ${names[names.length - 1]}`;
}

/**
 * A setting in a readable unit: `32768` of `8kB` → "256 MB", `900 s` → "15 min"; -1
 * ("automatic") and 0 without a unit. Anything else (words, unknown units) is shown as given.
 */
export function humanSetting(value: string | null | undefined, unit?: string | null): string {
  if (value === null || value === undefined) return '';
  let number = value.trim();
  let u = unit ?? '';
  if (!u) {
    const m = /^(-?\d+(?:\.\d+)?)\s*(\d*[A-Za-z]+)$/.exec(number);
    if (!m) return value;
    number = m[1]!;
    u = m[2]!;
  }
  const amount = Number(number);
  if (!/^-?\d+(\.\d+)?$/.test(number) || !Number.isFinite(amount)) return unit ? `${value} ${unit}` : value;
  // -1 ("automatic") and 0 ("off") mean the same in any unit.
  if (amount <= 0) return number;
  const mem = /^(\d*)(B|kB|MB|GB|TB)$/.exec(u);
  if (mem) {
    const bytes = amount * Number(mem[1] || 1) * BYTES[mem[2]!]!;
    return Number.isInteger(bytes) ? largestWhole(bytes, BYTES) : `${number} ${u}`;
  }
  if (MICROS[u] !== undefined) {
    const micros = amount * MICROS[u]!;
    return Number.isInteger(micros) ? largestWhole(micros, MICROS) : `${number} ${u}`;
  }
  return `${number} ${u}`;
}

/** A diff's side: null is the built-in default. */
export function diffValue(v: string | null | undefined): { text: string; isDefault: boolean } {
  return v === null || v === undefined ? { text: '(default)', isDefault: true } : { text: humanSetting(v) || DASH, isDefault: false };
}
