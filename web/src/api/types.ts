/**
 * Shapes of the Ratchet REST API (`/api/v1`), written from the server's handlers
 * (server/src/api/*.rs) and the engine's model (engine/src/model.rs). Times are epoch
 * milliseconds; ids are UUID strings. Unknown enum values from a newer server are kept as
 * plain strings, so every status type is open (`| (string & {})`).
 */

export type Millis = number;

// ---- statuses ---------------------------------------------------------------------------

export type RunStatus = 'QUEUED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';
/** REGRESSED: every test ran and at least one regressed against the baseline (`error` says which). */
export type SuiteStatus = RunStatus | 'CANCELLING' | 'REGRESSED';
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

/** What a machine is, as its agent sees it (from `/proc` and `uname`). */
export interface MachineInfo {
  hostname: string;
  cpu_model: string;
  cores: number;
  memory_mb: number;
  /** Kernel release (`uname -r`). */
  kernel: string;
  /** Size of the filesystem holding the agent's work dir. */
  disk_gb: number;
}

/**
 * The load machine, sampled every second over the measured window: rates over the second
 * before the sample. CPU shares are percent of all CPUs; rates are bytes (or I/Os) per second.
 */
export interface SystemPoint {
  /** Seconds since the measured load started: the same clock as `SeriesPoint.t_s`. */
  t_s: number;
  cpu_user_pct: number;
  cpu_system_pct: number;
  cpu_iowait_pct: number;
  cpu_steal_pct: number;
  mem_used_mb: number;
  /** Summed over the whole disks (not partitions). */
  disk_read_bytes_ps: number;
  disk_write_bytes_ps: number;
  disk_read_iops: number;
  disk_write_iops: number;
  /** The busiest disk's utilisation, in percent. */
  disk_util_pct: number;
  /** Summed over the interfaces but loopback. */
  net_rx_bytes_ps: number;
  net_tx_bytes_ps: number;
}

/** The database's statistics views, sampled every second: rates over the interval before the sample. */
export interface DatabasePoint {
  /** Seconds since the measured load started. */
  t_s: number;
  /** `pg_stat_database`, summed over the databases. */
  commits_ps: number;
  rollbacks_ps: number;
  blocks_read_ps: number;
  blocks_hit_ps: number;
  temp_bytes_ps: number;
  /** New deadlocks and checkpoints in the interval. */
  deadlocks: number;
  checkpoints: number;
  /** Buffers written by checkpoints, per second. */
  buffers_checkpoint_ps: number;
  /** `pg_stat_wal`: null before PostgreSQL 14. */
  wal_bytes_ps?: number | null;
  /** Active sessions by wait event (`Type:Event`), at the sample. */
  waits?: Record<string, number>;
  /** On a primary: its streaming standbys at the sample; absent elsewhere and from older results. */
  replicas?: ReplicaPoint[];
}

/** A standby as the primary saw it at a sample (a row of `pg_stat_replication`). */
export interface ReplicaPoint {
  /** Its `application_name`: `replica_1`... (its machine's role is `replica-1`). */
  name: string;
  /** `streaming`, `catchup`... */
  state: string;
  sync_state: SyncState | (string & {});
  /** WAL the primary wrote that the standby has not replayed yet. */
  lag_bytes: number;
  /** `replay_lag`; null while the standby is idle and caught up. */
  replay_lag_ms?: number | null;
}

/** A standby's `sync_state` (`pg_stat_replication`). */
export type SyncState = 'async' | 'sync' | 'quorum' | 'potential';

/** PgBouncer's `SHOW STATS` for the load's database: the difference over the measured window. */
export interface PoolerStats {
  transactions: number;
  queries: number;
  /** Time clients waited for a server connection, summed, in milliseconds. */
  wait_ms: number;
  /** Bytes from the clients and to them. */
  received_bytes: number;
  sent_bytes: number;
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
  /** As the tool reports it (`pgbench --version`); absent from older results. */
  tool_version?: string | null;
  /** The measured run's command line. */
  command?: string | null;
  /** TPS of the discarded warm-up, when there was one. */
  warmup_tps?: number | null;
  /** The machine the load ran from. */
  machine?: MachineInfo | null;
  /** The load machine over the measured window; absent from older results. */
  system?: SystemPoint[] | null;
  /** The database machine over the measured window (from its own agent). */
  database_machine?: SystemPoint[] | null;
  /** The database's activity over the measured window; absent from older results. */
  database?: DatabasePoint[] | null;
  /** What the PgBouncer the load went through counted; absent without a pooler. */
  pooler?: PoolerStats | null;
  /**
   * The other servers' own statistics over the measured window, by machine role
   * (`replica-1`...: a test's standbys); `database` is the primary's. Absent without
   * standbys and from older results.
   */
  servers?: Record<string, DatabasePoint[]>;
  /**
   * When the measured window began and ended (epoch ms); with `repeat` > 1, every run's.
   * `series` is on the first's clock: `t_s` 0 is `windows[0].start_ms`. Absent from older results.
   */
  windows?: LoadWindow[];
  /**
   * With a fault scheduled: the longest stretch of the window without a completed
   * transaction, and how often the load was started again. Absent otherwise.
   */
  outage?: Outage | null;
}

/** A span of wall-clock time (epoch ms): a measured window of a load (the schema's `Window`; not the DOM's). */
export interface LoadWindow {
  start_ms: Millis;
  end_ms: Millis;
}

/** What a fault does to the primary: SIGKILL (it stays down), or SIGKILL and a start at once (crash recovery). */
export type FaultKind = 'kill' | 'restart';

/** What a test run's scheduled fault did (`inject-fault`'s output), by the wall clock (epoch ms). */
export interface FaultInjected {
  kind: FaultKind | (string & {});
  at_ms: Millis;
  /** A restarted server accepting connections again. */
  recovered_at_ms?: Millis | null;
  /** A Patroni cluster: the member (a node's role, `replica-1`) that leads once it elected one, and when. */
  new_leader?: string | null;
  new_leader_at_ms?: Millis | null;
}

/** The longest stretch of a measured window without a completed transaction. */
export interface Outage {
  /** The last transaction completed before it (epoch ms). */
  last_before_ms: Millis;
  /** The first completed after it; null when none completed again (to the window's end). */
  first_after_ms?: Millis | null;
  seconds: number;
  /** Times the load failed and was started again. */
  load_restarts: number;
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

/** One measured run of a test. */
export interface RepetitionView {
  /** From 1. */
  repetition: number;
  run_id: string;
  status: TestStatus | (string & {});
  error?: string | null;
  result?: LoadResult | null;
}

export interface TestView {
  name: string;
  /** The first repetition's run. */
  run_id: string | null;
  status: TestStatus | (string & {});
  /** Names of the steps running (or queued) now. */
  steps: string[];
  steps_done: number;
  steps_total: number;
  error: string | null;
  /** The last measured repetition's load. */
  result: LoadResult | null;
  /** How many times the test is measured. */
  repeat: number;
  /** The repetitions started so far, in order. */
  repetitions: RepetitionView[];
  /** The machines of its latest run (the topology), once placed; absent from older servers. */
  nodes?: NodeView[];
  /** What its latest run's scheduled fault did (the outage is its result's); null without one, absent from older servers. */
  fault?: FaultInjected | null;
}

/** A machine of a test and what runs on it. */
export interface NodeView {
  /** `db`, `replica-1`..., `pooler`, `router`, `loader`. */
  role: string;
  address: string;
  /**
   * `single` (a db without replicas), `primary`, `standby`, `patroni` (a member of a Patroni
   * cluster: the db and replica-N machines, the db its first leader), `pgbouncer`, `haproxy`
   * (the router a load on the replicas connects to: it spreads connections over the
   * standbys), `haproxy+etcd` (a Patroni cluster's router, to its leader, and its etcd) or `load`.
   */
  serves: 'single' | 'primary' | 'standby' | 'patroni' | 'pgbouncer' | 'haproxy' | 'haproxy+etcd' | 'load' | (string & {});
  /** Where its server listens (`host:port`), once started. */
  endpoint?: string | null;
  /** The server's version, once started: `SHOW server_version`, PgBouncer's `SHOW VERSION`, `haproxy -v`'s first line. */
  version?: string | null;
  /** A standby's replication over the last measured window. */
  replication?: ReplicationView | null;
}

/** A standby's lag over a measured window, as the primary saw it. */
export interface ReplicationView {
  /** As last sampled. */
  sync_state: SyncState | (string & {});
  /** WAL not yet replayed: the largest and the mean over the samples. */
  max_lag_bytes: number;
  mean_lag_bytes: number;
  /** The largest `replay_lag` sampled. */
  max_replay_lag_ms?: number | null;
}

/** A set of measurements, one per repetition. */
export interface Summary {
  n: number;
  median: number;
  mean: number;
  /** Sample standard deviation (0 for a single run). */
  std_dev: number;
  /** Coefficient of variation: std_dev / mean, in percent. */
  cv_pct: number;
  min: number;
  max: number;
}

export type Verdict = 'improvement' | 'regression' | 'no_difference' | 'inconclusive';

/** A test against the baseline on one metric. */
export interface Comparison {
  /** Candidate median / baseline median. */
  ratio: number;
  delta_pct: number;
  /** The confidence interval of the ratio; null with fewer than 3 runs. */
  low?: number | null;
  high?: number | null;
  verdict: Verdict | (string & {});
  /** Why, in a sentence. */
  reason: string;
}

export interface Comparisons {
  tps?: Comparison | null;
  p95?: Comparison | null;
  p99?: Comparison | null;
}

/** Whether a run's per-second throughput held steady over its measured window. */
export interface Steadiness {
  steady: boolean;
  /** The least-squares trend over the window, as a change of the mean, in percent. */
  drift_pct: number;
  /** The lowest 3-second mean, as a fraction of the run's median. */
  lowest_pct: number;
  note?: string | null;
}

/** One measured run, in the aggregate. */
export interface RepetitionRow {
  repetition: number;
  run_id: string;
  status: string;
  error?: string | null;
  tps?: number | null;
  p95_ms?: number | null;
  p99_ms?: number | null;
  steadiness?: Steadiness | null;
}

export interface TestRow {
  name: string;
  /** The first repetition's run. */
  run_id: string;
  status: string;
  error: string | null;
  /** TPS and latencies are medians over the completed repetitions. */
  tps: number | null;
  latency_ms: LatencySummary | null;
  /** Sums over the completed repetitions. */
  transactions: number | null;
  errors: number | null;
  duration_s: number | null;
  tps_delta_pct: number | null;
  p95_delta_pct: number | null;
  tps_summary?: Summary | null;
  p95_summary?: Summary | null;
  p99_summary?: Summary | null;
  /** Against the baseline; null for the baseline itself. */
  comparison?: Comparisons | null;
  repetitions: RepetitionRow[];
}

/** What "significant" means: an effect below `min_effect` (a fraction) is no difference; intervals at `confidence`. */
export interface Significance {
  min_effect: number;
  confidence: number;
}

export interface SuiteResult {
  baseline: string;
  significance: Significance;
  /** The bootstrap's seed. */
  seed: number;
  tests: TestRow[];
  best: string | null;
  worst: string | null;
  completed: number;
  failed: number;
  /** Tests with a regression verdict on any metric. */
  regressed?: string[];
  /** Runs whose throughput was not steady, as `<test>#<repetition>`. */
  unsteady?: string[];
}

/** One PostgreSQL setting in effect (a row of `pg_settings`). */
export interface PgSetting {
  name: string;
  setting: string;
  unit?: string | null;
  /** `default`, `configuration file`, `override`... */
  source: string;
  /** The built-in default. */
  boot_val?: string | null;
}

/** A setting whose value differs from the baseline's; null is the built-in default. */
export interface SettingDiff {
  name: string;
  baseline?: string | null;
  this?: string | null;
}

/** What one test was measured on (from its first completed repetition). */
export interface Environment {
  test: string;
  postgres_version?: string | null;
  database_machine?: MachineInfo | null;
  loader_machine?: MachineInfo | null;
  tool?: string | null;
  tool_version?: string | null;
  command?: string | null;
  /** Settings not at their built-in default. */
  changed_settings: PgSetting[];
  /** Settings that differ from the baseline test's (empty for the baseline). */
  vs_baseline: SettingDiff[];
  /** The machines and what each served; absent from older servers. */
  nodes?: NodeView[];
  /** What the pooler the load went through counted. */
  pooler?: PoolerStats | null;
  /** The scheduled fault, and the load's outage through it; null without one. */
  fault?: FaultInjected | null;
  outage?: Outage | null;
}

/** `GET /suites/{id}/report` as JSON. */
export interface Report {
  id: string;
  name: string;
  status: SuiteStatus | (string & {});
  error?: string | null;
  created_at: Millis;
  finished_at?: Millis | null;
  order: 'interleaved' | 'sequential' | 'random' | (string & {});
  result?: SuiteResult | null;
  environments: Environment[];
}

/** The report's other formats: `markdown` (text/markdown), `junit` (JUnit XML). */
export type ReportFormat = 'markdown' | 'junit';

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
  /** The suite's trace (its test runs and every step) in the operator's trace UI, when configured. */
  trace_url?: string;
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
  /** The run's trace in the operator's trace UI (traces exported and RATCHET_TRACE_URL_TEMPLATE set). */
  trace_url?: string;
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
  /** Set while destroying fails: `destroy failed: <reason>`; the machines, network and leases stay and the leak guard tries again. */
  destroy_error: string | null;
  /** How many destroys have failed so far. */
  destroy_attempts: number | null;
  /** When the last one failed. */
  destroy_failed_at: Millis | null;
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
