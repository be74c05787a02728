/**
 * The dashboard's API types (types.ts) against the server's checked-in OpenAPI document
 * (../openapi/openapi.json, generated from the handlers): every field the dashboard reads
 * must exist there, and every status the server can send must have its own colour. When the
 * server renames a field, this fails and names it.
 */
import { describe, expect, it } from 'vitest';
import document from '../../../openapi/openapi.json';
import { KNOWN_STATUSES } from '../lib/status.ts';
import { WAITING_KINDS } from '../lib/waiting.ts';
import { LOAD_TASK } from '../lib/series.ts';
import { KNOWN_VERDICTS } from '../lib/verdict.ts';
import { REPORT_FILES } from '../lib/download.ts';
import { TEST_RUN_DEF } from '../fixtures/definitions.ts';
import testRun from '../fixtures/test-run.json';

type Schema = {
  $ref?: string;
  allOf?: Schema[];
  oneOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  enum?: string[];
};
const schemas = (document as unknown as { components: { schemas: Record<string, Schema> } }).components.schemas;
const paths = (document as unknown as { paths: Record<string, Record<string, unknown>> }).paths;

function resolve(s: Schema): Schema {
  if (s.$ref) return resolve(schemas[s.$ref.split('/').pop()!]!);
  return s;
}

/** All property names of a schema, through $ref and allOf. */
function properties(name: string): Set<string> {
  const out = new Set<string>();
  const walk = (s: Schema) => {
    const r = resolve(s);
    for (const k of Object.keys(r.properties ?? {})) out.add(k);
    for (const part of r.allOf ?? []) walk(part);
    for (const part of r.oneOf ?? []) walk(part);
  };
  const s = schemas[name];
  if (!s) throw new Error(`no schema ${name} in openapi.json`);
  walk(s);
  return out;
}

/** Fields the dashboard reads, by schema. */
const USED: Record<string, string[]> = {
  SuitePage: ['suites', 'next_before'],
  SuiteSummary: ['id', 'name', 'status', 'created_at', 'finished_at', 'tests', 'best'],
  SuiteView: ['id', 'name', 'target', 'status', 'created_at', 'finished_at', 'error', 'tests', 'result', 'spec'],
  TestView: ['name', 'run_id', 'status', 'steps', 'steps_done', 'steps_total', 'error', 'result', 'repeat', 'repetitions', 'nodes', 'fault'],
  FaultInjected: ['kind', 'at_ms', 'recovered_at_ms', 'new_leader', 'new_leader_at_ms'],
  Outage: ['last_before_ms', 'first_after_ms', 'seconds', 'load_restarts'],
  Window: ['start_ms', 'end_ms'],
  NodeView: ['role', 'address', 'serves', 'endpoint', 'version', 'replication'],
  ReplicationView: ['sync_state', 'max_lag_bytes', 'mean_lag_bytes', 'max_replay_lag_ms'],
  RepetitionView: ['repetition', 'run_id', 'status', 'error', 'result'],
  LoadResult: [
    'tool',
    'tps',
    'latency_ms',
    'transactions',
    'errors',
    'duration_s',
    'series',
    'summary',
    'tool_version',
    'command',
    'warmup_tps',
    'machine',
    'system',
    'database',
    'database_machine',
    'pooler',
    'servers',
    'windows',
    'outage',
  ],
  DatabasePoint: [
    't_s',
    'commits_ps',
    'rollbacks_ps',
    'blocks_read_ps',
    'blocks_hit_ps',
    'temp_bytes_ps',
    'deadlocks',
    'checkpoints',
    'buffers_checkpoint_ps',
    'wal_bytes_ps',
    'waits',
    'replicas',
  ],
  ReplicaPoint: ['name', 'state', 'sync_state', 'lag_bytes', 'replay_lag_ms'],
  PoolerStats: ['transactions', 'queries', 'wait_ms', 'received_bytes', 'sent_bytes'],
  MachineInfo: ['hostname', 'cpu_model', 'cores', 'memory_mb', 'kernel', 'disk_gb'],
  RunState: [
    'id',
    'workflow',
    'version',
    'status',
    'input',
    'output',
    'error',
    'cancel_requested',
    'created_at',
    'finished_at',
    'parent',
    'concurrency_key',
    'waiting_for_slot',
  ],
  RunDetail: ['tasks', 'children', 'edges', 'waiting'],
  WaitingReason: ['kind', 'message'],
  Me: ['id', 'name', 'scopes', 'can_write', 'expires_at'],
  ReplayRequest: ['tasks'],
  RateLimit: ['key', 'limit', 'duration'],
  SuiteResult: ['baseline', 'significance', 'seed', 'tests', 'best', 'worst', 'completed', 'failed', 'regressed', 'unsteady'],
  TestRow: [
    'name',
    'run_id',
    'status',
    'error',
    'tps',
    'latency_ms',
    'transactions',
    'errors',
    'duration_s',
    'tps_delta_pct',
    'p95_delta_pct',
    'tps_summary',
    'p95_summary',
    'p99_summary',
    'comparison',
    'repetitions',
  ],
  RepetitionRow: ['repetition', 'run_id', 'status', 'error', 'tps', 'p95_ms', 'p99_ms', 'steadiness'],
  Comparisons: ['tps', 'p95', 'p99'],
  Comparison: ['ratio', 'delta_pct', 'low', 'high', 'verdict', 'reason'],
  Summary: ['n', 'median', 'mean', 'std_dev', 'cv_pct', 'min', 'max'],
  Steadiness: ['steady', 'drift_pct', 'lowest_pct', 'note'],
  Significance: ['min_effect', 'confidence'],
  Report: ['id', 'name', 'status', 'error', 'created_at', 'finished_at', 'order', 'result', 'environments'],
  Environment: [
    'test',
    'postgres_version',
    'database_machine',
    'loader_machine',
    'tool',
    'tool_version',
    'command',
    'changed_settings',
    'vs_baseline',
    'nodes',
    'pooler',
    'fault',
    'outage',
  ],
  SettingDiff: ['name', 'baseline', 'this'],
  PgSetting: ['name', 'setting', 'unit', 'source', 'boot_val'],
  ChildOf: ['run_id', 'task_id', 'key', 'index'],
  RunPage: ['runs', 'next_before'],
  TaskState: [
    'id',
    'run_id',
    'name',
    'action',
    'status',
    'is_on_failure',
    'attempt',
    'retry_count',
    'ready_at',
    'queued_at',
    'started_at',
    'deadline',
    'finished_at',
    'worker_id',
    'output',
    'error',
    'concurrency_key',
    'waiting_for_slot',
  ],
  TaskEvent: ['id', 'run_id', 'task_id', 'task_name', 'attempt', 'kind', 'message', 'data', 'at'],
  LogPage: ['lines', 'next_after'],
  StoredLogLine: ['id', 'run_id', 'task_id', 'task_name', 'attempt', 'seq', 'at', 'line'],
  ProgressPage: ['points', 'next_after'],
  ProgressRow: ['run_id', 'task_id', 'attempt', 'seq', 'at', 'values'],
  WorkflowSummary: ['name', 'version', 'registered_at'],
  WorkflowDef: ['name', 'version', 'description', 'tasks', 'on_failure'],
  TaskDef: ['name', 'action', 'parents', 'retries', 'execution_timeout', 'input_from'],
  WorkerRecord: ['id', 'name', 'kind', 'actions', 'labels', 'slots', 'run_scope', 'host', 'status', 'registered_at', 'last_heartbeat', 'running'],
  AttemptRef: ['task_id', 'attempt'],
  HostFacts: ['hostname', 'os', 'arch', 'cpus', 'memory_mb'],
  Infrastructure: ['deployments', 'leases'],
  DeploymentView: [
    'run_id',
    'provider',
    'run_status',
    'suite_id',
    'created_at',
    'expires_at',
    'network',
    'machines',
    'destroy_error',
    'destroy_attempts',
    'destroy_failed_at',
  ],
  DeployedMachine: ['name', 'cores', 'address', 'cloud_id', 'created'],
  DestroyedDeployment: ['run_id', 'cancelled', 'destroyed'],
  Problem: ['type', 'title', 'status', 'detail'],
  Readiness: ['status', 'store', 'bus', 'installation_id', 'version'],
};

describe('the API types match the server OpenAPI document', () => {
  it.each(Object.entries(USED))('%s has the fields the dashboard reads', (name, fields) => {
    const have = properties(name);
    expect(fields.filter((f) => !have.has(f))).toEqual([]);
  });

  it('serves every endpoint the dashboard calls', () => {
    const used: [string, string][] = [
      ['get', '/api/v1/suites'],
      ['post', '/api/v1/suites'],
      ['get', '/api/v1/suites/{id}'],
      ['post', '/api/v1/suites/{id}/cancel'],
      ['get', '/api/v1/suites/{id}/report'],
      ['get', '/api/v1/runs'],
      ['get', '/api/v1/runs/{id}'],
      ['get', '/api/v1/runs/{id}/events'],
      ['get', '/api/v1/runs/{id}/logs'],
      ['get', '/api/v1/runs/{id}/logs/stream'],
      ['get', '/api/v1/runs/{id}/progress'],
      ['post', '/api/v1/runs/{id}/cancel'],
      ['post', '/api/v1/runs/{id}/replay'],
      ['get', '/api/v1/rate-limits'],
      ['get', '/api/v1/stream'],
      ['get', '/api/v1/results/compare'],
      ['get', '/api/v1/workflows'],
      ['get', '/api/v1/workflows/{name}/versions/{version}'],
      ['get', '/api/v1/agents'],
      ['get', '/api/v1/infrastructure'],
      ['post', '/api/v1/infrastructure/{run_id}/destroy'],
      ['get', '/api/v1/me'],
      ['get', '/healthz'],
      ['get', '/readyz'],
    ];
    expect(used.filter(([method, path]) => !paths[path]?.[method]).map(([m, p]) => `${m.toUpperCase()} ${p}`)).toEqual([]);
  });

  it('knows every kind of wait the server sends', () => {
    expect([...(resolve(schemas['WaitingKind']!).enum ?? [])].sort()).toEqual([...WAITING_KINDS].sort());
  });

  it('knows every verdict and report format the server has', () => {
    expect([...(resolve(schemas['Verdict']!).enum ?? [])].sort()).toEqual([...KNOWN_VERDICTS].sort());
    // The `format` parameter's schema is a $ref the document does not define (ReportFormat):
    // its description names the formats.
    const get = paths['/api/v1/suites/{id}/report']?.['get'] as { parameters?: { name: string; description?: string }[] } | undefined;
    const format = get?.parameters?.find((p) => p.name === 'format');
    for (const f of Object.keys(REPORT_FILES)) expect(format?.description ?? '').toContain(`\`${f}\``);
  });

  it('names the load step as the server does', () => {
    expect(resolve(schemas['TestStep']!).enum ?? []).toContain(LOAD_TASK);
  });

  it("names a test run's steps as the server does (the fixtures' included)", () => {
    const steps = new Set(resolve(schemas['TestStep']!).enum ?? []);
    const fixture = [...TEST_RUN_DEF.tasks.map((t) => t.name), TEST_RUN_DEF.on_failure!.name, ...testRun.tasks.map((t) => t.name)];
    expect(fixture.filter((name) => !steps.has(name))).toEqual([]);
    for (const step of ['run-replica-1', 'run-replica-2', 'run-replica-3', 'run-pooler', 'run-router', 'run-dcs', 'inject-fault']) expect(steps).toContain(step);
  });

  it("has every step of a test run in the fixture's run: the server's 20 tasks", () => {
    const steps = resolve(schemas['TestStep']!).enum ?? [];
    expect(steps).toHaveLength(20);
    expect(testRun.tasks).toHaveLength(20);
    expect(testRun.tasks.map((t) => t.name).sort()).toEqual([...steps].sort());
    // The definition has them all but its on-failure task.
    expect([...TEST_RUN_DEF.tasks.map((t) => t.name), TEST_RUN_DEF.on_failure!.name].sort()).toEqual([...steps].sort());
    // In their DAG order: etcd between the workers and the primary, the fault after the load's servers.
    const at = (step: string) => steps.indexOf(step);
    expect(at('wait-workers')).toBeLessThan(at('run-dcs'));
    expect(at('run-dcs')).toBeLessThan(at('run-database-containers'));
    expect(at('run-stroppy-containers')).toBeLessThan(at('inject-fault'));
    expect(at('inject-fault')).toBeLessThan(at('collect-database-machine'));
  });

  it('places a fault and its outage by the wall clock, as the load window is', () => {
    const p = (name: string) => resolve(schemas[name]!).properties ?? {};
    for (const f of ['at_ms', 'recovered_at_ms', 'new_leader_at_ms']) expect((p('FaultInjected')[f] as { format?: string }).format).toBe('int64');
    for (const f of ['last_before_ms', 'first_after_ms']) expect((p('Outage')[f] as { format?: string }).format).toBe('int64');
    expect((p('Window')['start_ms'] as { format?: string }).format).toBe('int64');
    expect(resolve(schemas['FaultInjected']!).required).toEqual(expect.arrayContaining(['kind', 'at_ms']));
    expect(resolve(schemas['Outage']!).required).toEqual(expect.arrayContaining(['last_before_ms', 'seconds', 'load_restarts']));
    // `kind` is a plain string: its description names the kinds the dashboard words.
    expect((p('FaultInjected')['kind'] as { description?: string }).description).toMatch(/`kill` or `restart`/);
    // The fault is the test's (its latest run's), the outage its load's.
    const ref = (s: Schema | undefined) => (s?.oneOf ?? []).map((x) => x.$ref).filter(Boolean);
    expect(ref(p('TestView')['fault'])).toEqual(['#/components/schemas/FaultInjected']);
    expect(ref(p('LoadResult')['outage'])).toEqual(['#/components/schemas/Outage']);
    expect(ref(p('Environment')['fault'])).toEqual(['#/components/schemas/FaultInjected']);
    expect(ref(p('Environment')['outage'])).toEqual(['#/components/schemas/Outage']);
  });

  it("keeps a load's other servers' samples by role, each a list of DatabasePoint", () => {
    const servers = resolve(schemas['LoadResult']!).properties?.['servers'] as (Schema & { additionalProperties?: Schema & { items?: Schema } }) | undefined;
    expect(servers?.additionalProperties?.items?.$ref).toBe('#/components/schemas/DatabasePoint');
  });

  it('has the router among the nodes a test can have', () => {
    // `role` and `serves` are plain strings: their descriptions name the values.
    const node = resolve(schemas['NodeView']!).properties ?? {};
    expect((node['role'] as { description?: string }).description).toContain('`router`');
    expect((node['serves'] as { description?: string }).description).toContain('`haproxy`');
  });

  it('has a Patroni cluster among the topologies: its members and its router', () => {
    const serves = ((resolve(schemas['NodeView']!).properties ?? {})['serves'] as { description?: string }).description ?? '';
    expect(serves).toContain('`patroni`');
    expect(serves).toContain('`haproxy+etcd`');
    // The db machine leads first (topology.ts marks it so).
    expect(serves).toMatch(/`db`[^.]*first leader/);
  });

  it.each(['EventKind', 'RunStatus', 'TaskStatus', 'SuiteStatus', 'TestStatus'])('every %s value has its own colour and label', (name) => {
    const values = resolve(schemas[name]!).enum ?? [];
    expect(values.length).toBeGreaterThan(0);
    expect(values.filter((v) => !KNOWN_STATUSES.has(v))).toEqual([]);
  });
});
