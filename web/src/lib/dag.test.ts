import { describe, expect, it } from 'vitest';
import type { RunDetail } from '../api/types.ts';
import { PROVISION_DEF, TEST_RUN_DEF } from '../fixtures/definitions.ts';
import provisionRun from '../fixtures/provision-run.json';
import testRun from '../fixtures/test-run.json';
import { buildDag, defFromRun, CHILD_GAP, childNodeId, MAX_CHILD_GROUPS, TASK_H, taskNodeId, type DagNode } from './dag.ts';

const RUN = testRun as unknown as RunDetail;
const CHILD = provisionRun as unknown as RunDetail;

function node(nodes: DagNode[], id: string): DagNode {
  const n = nodes.find((x) => x.id === id);
  if (!n) throw new Error(`no node ${id}`);
  return n;
}

function overlap(a: DagNode, b: DagNode): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

describe('buildDag from a run and its definition', () => {
  const dag = buildDag(TEST_RUN_DEF, RUN, { childDetails: new Map([[CHILD.id, CHILD]]) });
  const tasks = dag.nodes.filter((n) => n.data.kind === 'task');

  it('has one node per task, with the run task state and status', () => {
    expect(tasks.map((n) => n.id).sort()).toEqual(
      [...TEST_RUN_DEF.tasks.map((t) => t.name), 'destroy-plan-on-failure'].map(taskNodeId).sort(),
    );
    const load = node(dag.nodes, taskNodeId('run-stroppy-test'));
    expect(load.data).toMatchObject({ kind: 'task', status: 'COMPLETED', action: 'load.run' });
    expect(node(dag.nodes, taskNodeId('install-stroppy')).data).toMatchObject({ status: 'SKIPPED' });
  });

  it('draws the edges of the definition, solid when the parent has finished', () => {
    const deps = dag.edges.filter((e) => e.kind === 'dependency');
    const expected = TEST_RUN_DEF.tasks.reduce((n, t) => n + (t.parents?.length ?? 0), 0);
    expect(deps).toHaveLength(expected);
    expect(deps).toContainEqual(
      expect.objectContaining({
        source: taskNodeId('build-placement'),
        target: taskNodeId('install-stroppy'),
        satisfied: true,
        active: false,
      }),
    );
    expect(dag.hasEdges).toBe(true);
  });

  it('lays the chain out left to right', () => {
    const x = (name: string) => node(dag.nodes, taskNodeId(name)).x;
    expect(x('validate-input')).toBeLessThan(x('acquire-network'));
    expect(x('deploy-plan')).toBeLessThan(x('wait-workers'));
    expect(x('run-stroppy-test')).toBeLessThan(x('destroy-plan'));
  });

  it("puts the topology's servers side by side, after the primary and before the load", () => {
    const at = (name: string) => node(dag.nodes, taskNodeId(name));
    const servers = ['run-replica-1', 'run-replica-2', 'run-replica-3', 'run-pooler'].map(at);
    for (const s of servers) {
      expect(s.x).toBeGreaterThan(at('run-database-containers').x);
      expect(s.x).toBeLessThan(at('run-stroppy-containers').x);
      expect(s.x).toBe(servers[0]!.x);
      // Skipped: a single-server test has none of them.
      expect(s.data).toMatchObject({ status: 'SKIPPED' });
    }
    // The router waits for the replicas it spreads the load over, and the load for it.
    const router = at('run-router');
    expect(router.x).toBeGreaterThan(servers[0]!.x);
    expect(router.x).toBeLessThan(at('run-stroppy-containers').x);
    expect(router.data).toMatchObject({ status: 'SKIPPED' });
  });

  it("puts etcd before the primary and the fault beside the load, both skipped without Patroni or a fault", () => {
    const at = (name: string) => node(dag.nodes, taskNodeId(name));
    const dcs = at('run-dcs');
    expect(dcs.x).toBeGreaterThan(at('wait-workers').x);
    expect(dcs.x).toBeLessThan(at('run-database-containers').x);
    expect(dcs.data).toMatchObject({ status: 'SKIPPED', action: 'etcd.start' });
    // The fault waits for the load's servers only, not for the tool's install: it runs beside the load.
    const fault = at('inject-fault');
    expect(fault.x).toBeGreaterThan(at('run-stroppy-containers').x);
    expect(fault.x).toBeLessThan(at('collect-database-machine').x);
    expect(fault.data).toMatchObject({ status: 'SKIPPED', action: 'postgres.fault' });
    // The database machine's samples wait for the load and the fault, the teardown for them.
    expect(at('run-stroppy-test').x).toBeLessThan(at('collect-database-machine').x);
    expect(at('collect-database-machine').x).toBeLessThan(at('destroy-plan').x);
    expect(at('collect-database-machine').data).toMatchObject({ status: 'COMPLETED', action: 'machine.samples' });
    const into = (name: string) => dag.edges.filter((e) => e.kind === 'dependency' && e.target === taskNodeId(name)).map((e) => e.source);
    expect(into('collect-database-machine').sort()).toEqual([taskNodeId('inject-fault'), taskNodeId('run-stroppy-test')].sort());
    expect(into('run-database-containers').sort()).toEqual([taskNodeId('run-dcs'), taskNodeId('wait-workers')].sort());
  });

  it('places the child run right under the task that spawned it', () => {
    const deploy = node(dag.nodes, taskNodeId('deploy-plan'));
    const group = node(dag.nodes, childNodeId(CHILD.id));
    expect(group.data.kind).toBe('child');
    expect(group.y).toBeGreaterThanOrEqual(deploy.y + deploy.height + CHILD_GAP);
    // Horizontally centred on its task.
    expect(group.x + group.width / 2).toBeCloseTo(deploy.x + deploy.width / 2, 5);
    // With the child's tasks for its chips.
    if (group.data.kind === 'child') {
      expect(group.data.tasks?.map((t) => t.name)).toContain('create-deployments');
      expect(group.data.parentTaskName).toBe('deploy-plan');
    }
    expect(dag.edges).toContainEqual(
      expect.objectContaining({ kind: 'spawn', source: deploy.id, target: group.id }),
    );
    expect(node(dag.nodes, taskNodeId('deploy-plan')).data).toMatchObject({ children: 1 });
  });

  it('draws the on-failure task apart: below everything, connected to nothing', () => {
    const onFailure = node(dag.nodes, taskNodeId('destroy-plan-on-failure'));
    expect(onFailure.data).toMatchObject({ onFailure: true, status: 'SKIPPED' });
    const others = dag.nodes.filter((n) => n !== onFailure);
    const bottom = Math.max(...others.map((n) => n.y + n.height));
    expect(onFailure.y).toBeGreaterThan(bottom);
    expect(dag.edges.some((e) => e.source === onFailure.id || e.target === onFailure.id)).toBe(false);
  });

  it('lets no two nodes overlap', () => {
    for (let i = 0; i < dag.nodes.length; i++)
      for (let j = i + 1; j < dag.nodes.length; j++) expect(overlap(dag.nodes[i]!, dag.nodes[j]!)).toBe(false);
    expect(dag.width).toBeGreaterThan(0);
    expect(dag.height).toBeGreaterThan(TASK_H);
  });
});

describe('buildDag, other cases', () => {
  it('marks edges into a running task as active and unfinished parents as unsatisfied', () => {
    const run: RunDetail = {
      ...RUN,
      tasks: RUN.tasks.map((t) =>
        t.name === 'wait-workers'
          ? { ...t, status: 'RUNNING', finished_at: null }
          : ['validate-input', 'acquire-network', 'plan-placement-intent', 'build-placement', 'deploy-plan'].includes(t.name)
            ? t
            : { ...t, status: 'PENDING', started_at: null, finished_at: null },
      ),
    };
    const dag = buildDag(TEST_RUN_DEF, run);
    const into = dag.edges.find((e) => e.target === taskNodeId('wait-workers'))!;
    expect(into).toMatchObject({ active: true, satisfied: true });
    const out = dag.edges.find((e) => e.source === taskNodeId('wait-workers'))!;
    expect(out).toMatchObject({ active: false, satisfied: false });
  });

  it("puts the server's waiting reason on a queued task's node and a child run's", () => {
    const load = RUN.tasks.find((t) => t.name === 'run-stroppy-test')!;
    const run: RunDetail = {
      ...RUN,
      status: 'RUNNING',
      tasks: RUN.tasks.map((t) => (t.id === load.id ? { ...t, status: 'QUEUED', started_at: null, finished_at: null } : t)),
      waiting: { [load.id]: { kind: 'concurrency_slot', message: "waiting for a concurrency slot (key 'pg16')" } },
    };
    // The child's detail from an older server: the bare sentence, read as the same shape.
    const childWaiting = { [CHILD.tasks[0]!.id]: "no live worker implements 'shell'" };
    const dag = buildDag(TEST_RUN_DEF, run, { childDetails: new Map([[CHILD.id, { ...CHILD, waiting: childWaiting }]]) });
    expect(node(dag.nodes, taskNodeId('run-stroppy-test')).data).toMatchObject({
      waiting: { kind: 'concurrency_slot', message: "waiting for a concurrency slot (key 'pg16')" },
    });
    expect(node(dag.nodes, taskNodeId('destroy-plan')).data).toMatchObject({ waiting: null });
    expect(node(dag.nodes, childNodeId(CHILD.id)).data).toMatchObject({
      kind: 'child',
      waiting: { [CHILD.tasks[0]!.id]: { kind: 'unknown', message: "no live worker implements 'shell'" } },
    });
  });

  it('shows the tasks without edges when there is no definition', () => {
    const dag = buildDag(null, RUN);
    expect(dag.hasEdges).toBe(false);
    expect(dag.edges.filter((e) => e.kind === 'dependency')).toHaveLength(0);
    expect(dag.nodes.filter((n) => n.data.kind === 'task')).toHaveLength(RUN.tasks.length);
    // In a row, in the order the run lists its tasks.
    const xs = RUN.tasks.filter((t) => !t.is_on_failure).map((t) => node(dag.nodes, taskNodeId(t.name)).x);
    expect(xs).toEqual([...xs].sort((a, b) => a - b));
    expect(new Set(dag.nodes.filter((n) => n.data.kind === 'task' && !n.data.onFailure).map((n) => n.y)).size).toBe(1);
    // The on-failure task is still told apart by is_on_failure.
    expect(node(dag.nodes, taskNodeId('destroy-plan-on-failure')).data).toMatchObject({ onFailure: true });
    // The child group is still under deploy-plan.
    const deploy = node(dag.nodes, taskNodeId('deploy-plan'));
    const group = node(dag.nodes, childNodeId(CHILD.id));
    expect(group.y).toBeGreaterThan(deploy.y + deploy.height);
  });

  it('draws a bare definition (workflow page) with every task pending', () => {
    const dag = buildDag(PROVISION_DEF, null);
    expect(dag.nodes.map((n) => n.data.kind === 'task' && n.data.status)).toEqual(Array(5).fill('PENDING'));
    expect(dag.edges).toHaveLength(3);
  });

  it('stacks several children under their task and summarises the rest', () => {
    const spawner = RUN.tasks.find((t) => t.name === 'deploy-plan')!;
    const n = MAX_CHILD_GROUPS + 3;
    const children = Array.from({ length: n }, (_, i) => ({
      ...CHILD,
      id: `child-${i}`,
      parent: { run_id: RUN.id, task_id: spawner.id, key: `k${i}`, index: n - 1 - i },
    }));
    const dag = buildDag(TEST_RUN_DEF, { ...RUN, children });
    const groups = dag.nodes.filter((x) => x.data.kind === 'child');
    expect(groups).toHaveLength(MAX_CHILD_GROUPS);
    // Ordered by the spawn index, top to bottom.
    const keys = [...groups].sort((a, b) => a.y - b.y).map((g) => (g.data.kind === 'child' ? g.data.run.parent?.key : ''));
    expect(keys[0]).toBe(`k${n - 1}`);
    const more = dag.nodes.find((x) => x.data.kind === 'more');
    expect(more?.data).toMatchObject({ count: 3 });
    for (let i = 0; i < dag.nodes.length; i++)
      for (let j = i + 1; j < dag.nodes.length; j++) expect(overlap(dag.nodes[i]!, dag.nodes[j]!)).toBe(false);
  });

  it('pushes a child group down past a node in its way', () => {
    // A diamond: b and c side by side in one rank, b spawns a child; the group must not cover c.
    const def = {
      name: 'w',
      version: '1',
      tasks: [
        { name: 'a', action: 'x' },
        { name: 'b', action: 'x', parents: ['a'] },
        { name: 'c', action: 'x', parents: ['a'] },
        { name: 'd', action: 'x', parents: ['b', 'c'] },
      ],
    };
    const mk = (name: string) => ({ ...RUN.tasks[0]!, id: `t-${name}`, name });
    const run: RunDetail = {
      ...RUN,
      tasks: ['a', 'b', 'c', 'd'].map(mk),
      children: [{ ...CHILD, id: 'kid', parent: { run_id: RUN.id, task_id: 't-b', key: 'x', index: 0 } }],
    };
    const dag = buildDag(def, run);
    const group = node(dag.nodes, childNodeId('kid'));
    for (const other of dag.nodes) if (other !== group) expect(overlap(group, other)).toBe(false);
    const b = node(dag.nodes, taskNodeId('b'));
    expect(group.y).toBeGreaterThan(b.y);
  });
});

describe('defFromRun', () => {
  const edges: [string, string][] = TEST_RUN_DEF.tasks.flatMap((t) => (t.parents ?? []).map((p): [string, string] => [p, t.name]));

  it("rebuilds the definition's graph from the run detail's edges", () => {
    const def = defFromRun({ ...RUN, edges })!;
    expect(def.tasks.map((t) => [t.name, t.parents ?? []])).toEqual(
      RUN.tasks.filter((t) => !t.is_on_failure).map((t) => [t.name, TEST_RUN_DEF.tasks.find((d) => d.name === t.name)?.parents ?? []]),
    );
    expect(def.on_failure?.name).toBe('destroy-plan-on-failure');
    const fromEdges = buildDag(def, RUN);
    const fromDef = buildDag(TEST_RUN_DEF, RUN);
    expect(fromEdges.edges.map((e) => e.id).sort()).toEqual(fromDef.edges.map((e) => e.id).sort());
    expect(fromEdges.nodes.map((n) => [n.id, n.x, n.y])).toEqual(fromDef.nodes.map((n) => [n.id, n.x, n.y]));
  });

  it('is null for a server that sends no edges', () => {
    expect(defFromRun(RUN)).toBeNull();
    expect(defFromRun({ ...RUN, edges: [] })).toBeNull();
  });
});
