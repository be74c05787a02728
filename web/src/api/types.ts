/**
 * Shapes of the Ratchet REST API (`/api/v1`), written from the server's handlers
 * (server/src/api/*.rs) and the engine's model (engine/src/model.rs). Times are epoch
 * milliseconds; ids are UUID strings. Unknown enum values from a newer server are kept as
 * plain strings, so every status type is open (`| (string & {})`).
 */

export type Millis = number;

// ---- statuses ---------------------------------------------------------------------------

export type RunStatus = 'QUEUED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';
export type SuiteStatus = RunStatus | 'CANCELLING';
export type TestStatus = RunStatus | 'PENDING';
export type TaskStatus = 'PENDING' | 'QUEUED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'SKIPPED';
export type AgentStatus = 'ACTIVE' | 'LOST' | 'STOPPED';
/** Any status the dashboard may colour: runs, suites, tests, tasks, agents, events. */
export type AnyStatus = RunStatus | SuiteStatus | TestStatus | TaskStatus | AgentStatus | (string & {});

// ---- suites -----------------------------------------------------------------------------

export interface LatencySummary {
  avg: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

export interface SeriesPoint {
  t_s: number;
  tps: number;
  latency_ms: number;
  failed: number;
}

/** `run-stroppy-test`'s output: the measured load. */
export interface LoadResult {
  tool: string;
  tps: number;
  latency_ms: LatencySummary;
  transactions: number;
  errors: number;
  duration_s: number;
  series: SeriesPoint[];
  summary: string;
}

export interface SuiteSummary {
  id: string;
  name: string;
  status: SuiteStatus | (string & {});
  created_at: Millis;
  finished_at: Millis | null;
  /** Number of tests. */
  tests: number;
  best: { name: string; tps: number } | null;
}

export interface SuitePage {
  suites: SuiteSummary[];
  next_before: string | null;
}

export interface TestView {
  name: string;
  run_id: string | null;
  status: TestStatus | (string & {});
  /** Names of the steps running (or queued) now. */
  steps: string[];
  steps_done: number;
  steps_total: number;
  error: string | null;
  result: LoadResult | null;
}

export interface TestRow {
  name: string;
  run_id: string;
  status: string;
  error: string | null;
  tps: number | null;
  latency_ms: LatencySummary | null;
  transactions: number | null;
  errors: number | null;
  duration_s: number | null;
  tps_delta_pct: number | null;
  p95_delta_pct: number | null;
}

export interface SuiteResult {
  baseline: string;
  tests: TestRow[];
  best: string | null;
  worst: string | null;
  completed: number;
  failed: number;
}

export interface SuiteView {
  id: string;
  name: string;
  target: string;
  status: SuiteStatus | (string & {});
  created_at: Millis;
  finished_at: Millis | null;
  error: string | null;
  tests: TestView[];
  result: SuiteResult | null;
  /** The submitted document, as JSON. */
  spec: unknown;
}

// ---- runs -------------------------------------------------------------------------------

export interface ChildOf {
  run_id: string;
  task_id: string;
  key: string;
  index: number;
}

export interface RunState {
  id: string;
  workflow: string;
  version: string;
  status: RunStatus | (string & {});
  input: unknown;
  output: unknown;
  error: string | null;
  cancel_requested: boolean;
  wake_at: Millis | null;
  created_at: Millis;
  finished_at: Millis | null;
  parent?: ChildOf;
  /** The run's key under its workflow's concurrency rule. */
  concurrency_key?: string | null;
  /** Not admitted yet: its concurrency key has all its slots taken (nothing of it runs meanwhile). */
  waiting_for_slot?: boolean;
}

export interface TaskState {
  id: string;
  run_id: string;
  name: string;
  action: string;
  status: TaskStatus | (string & {});
  is_on_failure: boolean;
  cancel_requested: boolean;
  attempt: number;
  retry_count: number;
  ready_at: Millis | null;
  queued_at: Millis | null;
  not_before: Millis | null;
  schedule_deadline: Millis | null;
  started_at: Millis | null;
  deadline: Millis | null;
  finished_at: Millis | null;
  worker_id: string | null;
  output: unknown;
  error: string | null;
  /** The task's key under its concurrency rule. */
  concurrency_key?: string | null;
  /** QUEUED but not claimable yet: its concurrency key has all its slots taken. */
  waiting_for_slot?: boolean;
}

export interface RunDetail extends RunState {
  tasks: TaskState[];
  /** Runs spawned by this run's tasks; each names its `parent.task_id`. */
  children: RunState[];
  /** The DAG as `[parent, child]` task names (the on-failure task has none); absent on older servers. */
  edges?: [string, string][];
  /**
   * Why QUEUED tasks cannot start now, by task id (see lib/waiting.ts). Older servers sent the
   * bare sentence (a string) or nothing at all.
   */
  waiting?: Record<string, WaitingReason | string>;
}

/**
 * Why a QUEUED task has not started: `no_worker` (no live worker implements its action),
 * `missing_labels` (some do, none has the required labels), `concurrency_slot`,
 * `durable_wait`, `not_before` (backoff, durable sleep or rate limit) or `workers_busy`.
 */
export type WaitingKind = 'no_worker' | 'missing_labels' | 'concurrency_slot' | 'durable_wait' | 'not_before' | 'workers_busy';

/** `RunDetail.waiting`'s values: `kind` for the dashboard, `message` for people. */
export interface WaitingReason {
  kind: WaitingKind | (string & {});
  message: string;
}

/** Body of `POST /runs/{id}/replay`: the tasks to run again (with their descendants); empty = every task. */
export interface ReplayRequest {
  tasks: string[];
}

export interface RunPage {
  runs: RunState[];
  next_before: string | null;
}

export interface TaskEvent {
  id: number;
  run_id: string;
  task_id: string | null;
  task_name: string | null;
  attempt: number | null;
  kind: string;
  message: string | null;
  data: unknown;
  at: Millis;
}

export interface LogLine {
  id: number;
  run_id: string;
  task_id: string;
  task_name: string;
  attempt: number;
  seq: number;
  at: Millis;
  line: string;
}

export interface LogPage {
  lines: LogLine[];
  next_after: number;
}

export interface ProgressPoint {
  run_id: string;
  task_id: string;
  attempt: number;
  seq: number;
  at: Millis;
  values: Record<string, number>;
}

export interface ProgressPage {
  points: ProgressPoint[];
  next_after: number;
}

// ---- workflows --------------------------------------------------------------------------

export interface WorkflowSummary {
  name: string;
  version: string;
  registered_at?: Millis;
}

export interface TaskDef {
  name: string;
  action: string;
  parents?: string[];
  retries?: number;
  schedule_timeout?: unknown;
  execution_timeout?: unknown;
  [key: string]: unknown;
}

export interface WorkflowDef {
  name: string;
  version: string;
  description?: string;
  tasks: TaskDef[];
  on_failure?: TaskDef | null;
  [key: string]: unknown;
}

// ---- agents and infrastructure ----------------------------------------------------------

export interface HostFacts {
  hostname?: string;
  os?: string;
  arch?: string;
  cpus?: number;
  memory_mb?: number;
}

export interface Agent {
  id: string;
  name: string;
  kind: string;
  actions: string[];
  labels: Record<string, unknown>;
  slots: number;
  run_scope: string | null;
  host: { version?: string; facts?: HostFacts; enrollment?: string } | null;
  status: AgentStatus | (string & {});
  registered_at: Millis;
  last_heartbeat: Millis;
  running: { task_id: string; attempt: number }[];
}

export interface Lease {
  kind: string;
  key: string;
  holder: string;
  amount: number;
  data: unknown;
  [key: string]: unknown;
}

/** One machine of a deployment (its machine lease). */
export interface DeployedMachine {
  /** The lease key: the machine's name. */
  name: string;
  cores: number;
  address: string | null;
  /** The cloud's id of the VM, once made. */
  cloud_id: string | null;
  /** Made (or being made); false while only its quota share is reserved. */
  created: boolean;
}

/** A test run's machines on one provider (`local`, `yandex`). */
export interface DeploymentView {
  /** The test run that holds the machines. */
  run_id: string;
  provider: 'local' | 'yandex' | (string & {});
  /** The run's status; null when the run no longer exists (the leak guard destroys such machines). */
  run_status: RunStatus | (string & {}) | null;
  /** The suite the test run belongs to. */
  suite_id: string | null;
  created_at: Millis | null;
  /** When the leak guard destroys the machines, whatever the run does. */
  expires_at: Millis | null;
  /** The network block the run holds (`127.10.3.0/24`). */
  network: string | null;
  machines: DeployedMachine[];
}

/** `GET /infrastructure`: machines by deployment, and every lease as stored. */
export interface Infrastructure {
  deployments: DeploymentView[];
  leases: Lease[];
}

/** `POST /infrastructure/{run_id}/destroy`. */
export interface DestroyedDeployment {
  run_id: string;
  /** Whether the run was still going and is now cancelled. */
  cancelled: boolean;
  /** The machines destroyed. */
  destroyed: string[];
}

/** A static rate limit: at most `limit` units in any window of `duration` (e.g. "1m"). */
export interface RateLimit {
  key: string;
  limit: number;
  duration: string;
}

// ---- the caller ------------------------------------------------------------------------

/** `GET /me`: the token the dashboard signed in with. */
export interface Me {
  id: string;
  name: string;
  /** `read`, `write`, `admin` (admin implies write, write implies read). */
  scopes: string[];
  /** The token may submit, cancel and replay (the server refuses it otherwise). */
  can_write: boolean;
  expires_at: Millis | null;
}

// ---- live stream ------------------------------------------------------------------------

/** `status` event of `GET /api/v1/stream`. */
export interface StatusEvent {
  run_id: string;
  run_status: string;
  tasks: { id: string; name: string; status: string }[];
}
