//! What the machine and the database did while a load ran: a sample every interval of
//! this machine's CPU, memory, disks and network (from `/proc`, through procfs) and, when
//! `psql` reaches the database, the deltas of its statistics views and its sessions' wait
//! events. Started just before the measured window, stopped right after it, so `t_s`
//! lines up with the load's own per-second series.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::collections::VecDeque;
use std::sync::{Mutex, OnceLock};

use procfs::{Current, CurrentSI, KernelStats, Meminfo};
use protocol::actions::{
    DatabasePoint, MachineSamples, ReplicaPoint, StatementStat, SystemPoint, Window,
};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::actions::process;

/// How to reach the database from here.
#[derive(Debug, Clone)]
pub struct Database {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub database: String,
    pub password: Option<String>,
}

/// At most this many samples per run: a day-long load is sampled less often.
const MAX_SAMPLES: u64 = 3600;

/// The interval for a load of `duration_s`: every second, or less often for loads longer
/// than an hour.
pub fn interval_for(duration_s: u64) -> Duration {
    Duration::from_secs(duration_s.div_ceil(MAX_SAMPLES).max(1))
}

/// The samples of a window: the machine's, the database's, and the other servers' by name.
type Samples = (
    Vec<SystemPoint>,
    Vec<DatabasePoint>,
    BTreeMap<String, Vec<DatabasePoint>>,
);

pub struct Sampler {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Samples>,
    start_ms: i64,
    /// Where to read the top statements from at the end (`pg_stat_statements` loaded).
    statements: Option<(Database, PathBuf)>,
}

/// What was recorded over one measured window.
pub struct Sampled {
    pub window: Window,
    pub system: Vec<SystemPoint>,
    pub database: Vec<DatabasePoint>,
    /// The other servers sampled, by name.
    pub servers: BTreeMap<String, Vec<DatabasePoint>>,
    pub top_statements: Vec<StatementStat>,
}

impl Sampler {
    pub fn start(
        interval: Duration,
        db: Option<Database>,
        others: BTreeMap<String, Database>,
        home: &Path,
    ) -> Sampler {
        let stop = CancellationToken::new();
        let task = tokio::spawn(sample(
            interval,
            db,
            others,
            home.to_path_buf(),
            stop.clone(),
        ));
        Sampler {
            stop,
            task,
            start_ms: crate::outbox::now_ms(),
            statements: None,
        }
    }

    /// Start right before a load's measured window of `duration_s`; with `statements`,
    /// `pg_stat_statements` is reset first, so its top statements are the window's.
    pub async fn for_window(
        ctx: &crate::actions::ActionContext,
        duration_s: u64,
        db: Option<Database>,
        others: BTreeMap<String, Database>,
        statements: bool,
    ) -> Sampler {
        let mut top = None;
        if statements && let Some(db) = &db {
            if reset_statements(db, &ctx.attempt_dir).await {
                top = Some((db.clone(), ctx.attempt_dir.clone()));
            } else {
                ctx.log
                    .line("ratchet-agent: pg_stat_statements is not loaded: no top statements");
            }
        }
        Sampler {
            statements: top,
            ..Sampler::start(interval_for(duration_s), db, others, &ctx.attempt_dir)
        }
    }

    /// Stop and hand back what was sampled, with the window it covers.
    pub async fn finish(self) -> Sampled {
        let window = Window {
            start_ms: self.start_ms,
            end_ms: crate::outbox::now_ms(),
        };
        self.stop.cancel();
        let (system, database, servers) = self.task.await.unwrap_or_default();
        let top_statements = match &self.statements {
            Some((db, home)) => top_statements(db, home).await,
            None => Vec::new(),
        };
        Sampled {
            window,
            system,
            database,
            servers,
            top_statements,
        }
    }
}

async fn sample(
    interval: Duration,
    db: Option<Database>,
    others: BTreeMap<String, Database>,
    home: PathBuf,
    stop: CancellationToken,
) -> Samples {
    let started = Instant::now();
    let mut system = Vec::new();
    let mut last_system = SystemCounters::read();
    // The database first, then the others by name.
    let mut watched = Vec::new();
    for (name, db) in db
        .map(|d| (None, d))
        .into_iter()
        .chain(others.into_iter().map(|(n, d)| (Some(n), d)))
    {
        watched.push(Watched::start(name, db, &home).await);
    }
    let mut last_at = Instant::now();
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = stop.cancelled() => break,
        }
        let now = Instant::now();
        let seconds = now.duration_since(last_at).as_secs_f64().max(1e-3);
        let t_s = now.duration_since(started).as_secs_f64();
        last_at = now;
        let current = SystemCounters::read();
        if let (Some(a), Some(b)) = (&last_system, &current) {
            system.push(b.since(a, seconds, t_s));
        }
        last_system = current;
        for w in &mut watched {
            w.sample(&home, seconds, t_s).await;
        }
    }
    let mut database = Vec::new();
    let mut servers = BTreeMap::new();
    for w in watched {
        match w.name {
            None => database = w.points,
            Some(name) => {
                servers.insert(name, w.points);
            }
        }
    }
    (system, database, servers)
}

/// A server whose statistics views are sampled: the deltas of each interval.
struct Watched {
    name: Option<String>,
    db: Database,
    query: Option<String>,
    last: Option<DbCounters>,
    points: Vec<DatabasePoint>,
}

impl Watched {
    async fn start(name: Option<String>, db: Database, home: &Path) -> Watched {
        let query = stats_query(&db, home).await;
        let last = match &query {
            Some(q) => DbCounters::read(&db, q, home).await,
            None => None,
        };
        Watched {
            name,
            db,
            query,
            last,
            points: Vec::new(),
        }
    }

    async fn sample(&mut self, home: &Path, seconds: f64, t_s: f64) {
        let Some(query) = &self.query else {
            return;
        };
        let current = DbCounters::read(&self.db, query, home).await;
        if let (Some(a), Some(b)) = (&self.last, &current) {
            self.points.push(b.since(a, seconds, t_s));
        }
        if current.is_some() {
            self.last = current;
        }
    }
}

/// The machine's own history, for a load that runs on another machine: sampled every
/// second from the agent's start, the last six hours kept, by wall-clock time.
static HISTORY: OnceLock<Mutex<VecDeque<(i64, SystemPoint)>>> = OnceLock::new();
const HISTORY_LEN: usize = 6 * 3600;

/// Start sampling this machine in the background (once per process).
pub fn keep_history() {
    if HISTORY.set(Mutex::new(VecDeque::new())).is_err() {
        return;
    }
    tokio::spawn(async {
        let mut last = SystemCounters::read();
        let mut last_at = Instant::now();
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        loop {
            ticks.tick().await;
            let current = SystemCounters::read();
            let seconds = last_at.elapsed().as_secs_f64().max(1e-3);
            last_at = Instant::now();
            if let (Some(a), Some(b), Some(history)) = (&last, &current, HISTORY.get()) {
                let mut h = history.lock().unwrap_or_else(|e| e.into_inner());
                if h.len() == HISTORY_LEN {
                    h.pop_front();
                }
                h.push_back((crate::outbox::now_ms(), b.since(a, seconds, 0.0)));
            }
            last = current;
        }
    });
}

/// `machine.samples`: this machine in each window (a load's measured windows).
pub async fn machine_samples(ctx: &crate::actions::ActionContext) -> crate::actions::ActionResult {
    let windows: Vec<Window> = ctx.input_as()?;
    let history = HISTORY
        .get()
        .map(|h| h.lock().unwrap_or_else(|e| e.into_inner()).clone())
        .unwrap_or_default();
    crate::actions::output(&MachineSamples {
        machine: crate::machine::describe(&ctx.work_dir),
        windows: in_windows(&history, &windows),
    })
}

fn in_windows(history: &VecDeque<(i64, SystemPoint)>, windows: &[Window]) -> Vec<Vec<SystemPoint>> {
    windows
        .iter()
        .map(|w| {
            history
                .iter()
                .filter(|(at, _)| (w.start_ms..=w.end_ms).contains(at))
                .map(|(at, p)| SystemPoint {
                    t_s: (at - w.start_ms) as f64 / 1000.0,
                    ..p.clone()
                })
                .collect()
        })
        .collect()
}

/// The cumulative counters a sample is the difference of.
struct SystemCounters {
    cpu: [u64; 5],
    mem_used_mb: f64,
    disk: [u64; 4],
    disk_busy_ms: BTreeMap<String, u64>,
    net: [u64; 2],
}

impl SystemCounters {
    fn read() -> Option<SystemCounters> {
        let cpu = KernelStats::current().ok()?.total;
        let total = cpu.user
            + cpu.nice
            + cpu.system
            + cpu.idle
            + cpu.iowait.unwrap_or(0)
            + cpu.irq.unwrap_or(0)
            + cpu.softirq.unwrap_or(0)
            + cpu.steal.unwrap_or(0);
        let mem = Meminfo::current().ok()?;
        let available = mem.mem_available.unwrap_or(mem.mem_free + mem.cached);
        let mut disk = [0u64; 4];
        let mut disk_busy_ms = BTreeMap::new();
        for d in procfs::diskstats().unwrap_or_default() {
            if !is_whole_disk(&d.name) {
                continue;
            }
            disk[0] += d.sectors_read * 512;
            disk[1] += d.sectors_written * 512;
            disk[2] += d.reads;
            disk[3] += d.writes;
            disk_busy_ms.insert(d.name.clone(), d.time_in_progress);
        }
        let mut net = [0u64; 2];
        for (name, dev) in procfs::net::dev_status().unwrap_or_default() {
            if name != "lo" {
                net[0] += dev.recv_bytes;
                net[1] += dev.sent_bytes;
            }
        }
        Some(SystemCounters {
            cpu: [
                cpu.user + cpu.nice,
                cpu.system + cpu.irq.unwrap_or(0) + cpu.softirq.unwrap_or(0),
                cpu.iowait.unwrap_or(0),
                cpu.steal.unwrap_or(0),
                total,
            ],
            mem_used_mb: mem.mem_total.saturating_sub(available) as f64 / 1048576.0,
            disk,
            disk_busy_ms,
            net,
        })
    }

    fn since(&self, before: &SystemCounters, seconds: f64, t_s: f64) -> SystemPoint {
        let cpu_total = self.cpu[4].saturating_sub(before.cpu[4]).max(1) as f64;
        let cpu = |i: usize| self.cpu[i].saturating_sub(before.cpu[i]) as f64 / cpu_total * 100.0;
        let rate = |now: u64, then: u64| now.saturating_sub(then) as f64 / seconds;
        let busiest_ms = self
            .disk_busy_ms
            .iter()
            .map(|(name, ms)| ms.saturating_sub(*before.disk_busy_ms.get(name).unwrap_or(ms)))
            .max()
            .unwrap_or(0);
        SystemPoint {
            t_s,
            cpu_user_pct: cpu(0),
            cpu_system_pct: cpu(1),
            cpu_iowait_pct: cpu(2),
            cpu_steal_pct: cpu(3),
            mem_used_mb: self.mem_used_mb,
            disk_read_bytes_ps: rate(self.disk[0], before.disk[0]),
            disk_write_bytes_ps: rate(self.disk[1], before.disk[1]),
            disk_read_iops: rate(self.disk[2], before.disk[2]),
            disk_write_iops: rate(self.disk[3], before.disk[3]),
            disk_util_pct: (busiest_ms as f64 / (seconds * 1000.0) * 100.0).min(100.0),
            net_rx_bytes_ps: rate(self.net[0], before.net[0]),
            net_tx_bytes_ps: rate(self.net[1], before.net[1]),
        }
    }
}

/// A disk, not a partition or a virtual device: the kernel lists whole block devices in
/// `/sys/block`.
fn is_whole_disk(name: &str) -> bool {
    !(name.starts_with("loop") || name.starts_with("ram") || name.starts_with("zram"))
        && Path::new("/sys/block").join(name).exists()
}

/// The statistics query for this server's version (the views moved over the releases).
async fn stats_query(db: &Database, home: &Path) -> Option<String> {
    let version: u32 = psql(db, "SHOW server_version_num", home)
        .await?
        .trim()
        .parse()
        .ok()?;
    let checkpoints = if version >= 170000 {
        "(SELECT json_build_object('n', num_timed + num_requested, 'buffers', buffers_written) FROM pg_stat_checkpointer)"
    } else {
        "(SELECT json_build_object('n', checkpoints_timed + checkpoints_req, 'buffers', buffers_checkpoint) FROM pg_stat_bgwriter)"
    };
    let wal = if version >= 140000 {
        "(SELECT wal_bytes FROM pg_stat_wal)"
    } else {
        "NULL"
    };
    Some(format!(
        "SELECT json_build_object(\
         'commits', sum(xact_commit), 'rollbacks', sum(xact_rollback), \
         'blks_read', sum(blks_read), 'blks_hit', sum(blks_hit), \
         'temp_bytes', sum(temp_bytes), 'deadlocks', sum(deadlocks), \
         'checkpoints', {checkpoints}, 'wal_bytes', {wal}, 'replicas', {REPLICAS}, \
         'waits', (SELECT coalesce(json_object_agg(w, n), '{{}}') FROM (\
           SELECT wait_event_type || ':' || wait_event AS w, count(*) AS n FROM pg_stat_activity \
           WHERE state = 'active' AND wait_event IS NOT NULL AND pid <> pg_backend_pid() GROUP BY 1) x)\
         ) FROM pg_stat_database"
    ))
}

/// The standbys streaming from this server and how far behind each is (a standby has no
/// current WAL position of its own to compare with).
const REPLICAS: &str = "(SELECT coalesce(json_agg(json_build_object(\
    'name', application_name, 'state', state, 'sync_state', sync_state, \
    'lag_bytes', CASE WHEN pg_is_in_recovery() THEN NULL \
      ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) END, \
    'replay_lag_ms', extract(epoch FROM replay_lag) * 1000) ORDER BY application_name), '[]') \
    FROM pg_stat_replication)";

/// Forget what `pg_stat_statements` counted so far (the initialisation, the warm-up), so
/// the top statements are the measured window's. False when it is not loaded.
async fn reset_statements(db: &Database, home: &Path) -> bool {
    psql(db, "SELECT pg_stat_statements_reset()", home)
        .await
        .is_some()
}

/// The statements that took the most time since the reset, most first.
async fn top_statements(db: &Database, home: &Path) -> Vec<StatementStat> {
    // `total_exec_time` since PostgreSQL 13 (`total_time` before).
    let version: u32 = psql(db, "SHOW server_version_num", home)
        .await
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let (total, mean) = if version >= 130000 {
        ("total_exec_time", "mean_exec_time")
    } else {
        ("total_time", "mean_time")
    };
    let query = format!(
        "SELECT coalesce(json_agg(s), '[]') FROM (SELECT left(query, 500) AS query, calls::float8 AS calls, \
         {total} AS total_ms, {mean} AS mean_ms, rows::float8 AS rows FROM pg_stat_statements \
         WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY {total} DESC LIMIT 10) s"
    );
    psql(db, &query, home)
        .await
        .and_then(|out| serde_json::from_str(out.trim()).ok())
        .unwrap_or_default()
}

/// One query's unaligned rows, or `None` when it fails (within 5 s).
pub async fn psql(db: &Database, query: &str, home: &Path) -> Option<String> {
    let mut cmd = process::clean_command("psql", home);
    cmd.args(["-X", "-A", "-t", "-h", &db.host, "-p", &db.port.to_string()])
        .args(["-U", &db.user, "-d", &db.database, "-c", query]);
    if let Some(p) = &db.password {
        cmd.env("PGPASSWORD", p);
    }
    let out = tokio::time::timeout(Duration::from_secs(5), cmd.output())
        .await
        .ok()?
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[derive(Deserialize)]
struct DbCounters {
    commits: Option<f64>,
    rollbacks: Option<f64>,
    blks_read: Option<f64>,
    blks_hit: Option<f64>,
    temp_bytes: Option<f64>,
    deadlocks: Option<f64>,
    checkpoints: Checkpoints,
    wal_bytes: Option<f64>,
    #[serde(default)]
    waits: BTreeMap<String, u32>,
    #[serde(default)]
    replicas: Vec<ReplicaRow>,
}

#[derive(Deserialize)]
struct ReplicaRow {
    name: Option<String>,
    state: Option<String>,
    sync_state: Option<String>,
    lag_bytes: Option<f64>,
    replay_lag_ms: Option<f64>,
}

#[derive(Deserialize)]
struct Checkpoints {
    n: Option<f64>,
    buffers: Option<f64>,
}

impl DbCounters {
    async fn read(db: &Database, query: &str, home: &Path) -> Option<DbCounters> {
        serde_json::from_str(psql(db, query, home).await?.trim()).ok()
    }

    fn since(&self, before: &DbCounters, seconds: f64, t_s: f64) -> DatabasePoint {
        let delta = |now: Option<f64>, then: Option<f64>| {
            (now.unwrap_or(0.0) - then.unwrap_or(0.0)).max(0.0)
        };
        let rate = |now, then| delta(now, then) / seconds;
        DatabasePoint {
            t_s,
            commits_ps: rate(self.commits, before.commits),
            rollbacks_ps: rate(self.rollbacks, before.rollbacks),
            blocks_read_ps: rate(self.blks_read, before.blks_read),
            blocks_hit_ps: rate(self.blks_hit, before.blks_hit),
            temp_bytes_ps: rate(self.temp_bytes, before.temp_bytes),
            deadlocks: delta(self.deadlocks, before.deadlocks),
            checkpoints: delta(self.checkpoints.n, before.checkpoints.n),
            buffers_checkpoint_ps: rate(self.checkpoints.buffers, before.checkpoints.buffers),
            wal_bytes_ps: self
                .wal_bytes
                .zip(before.wal_bytes)
                .map(|(now, then)| (now - then).max(0.0) / seconds),
            waits: self.waits.clone(),
            replicas: self
                .replicas
                .iter()
                .map(|r| ReplicaPoint {
                    name: r.name.clone().unwrap_or_default(),
                    state: r.state.clone().unwrap_or_default(),
                    sync_state: r.sync_state.clone().unwrap_or_default(),
                    lag_bytes: r.lag_bytes.unwrap_or(0.0).max(0.0),
                    replay_lag_ms: r.replay_lag_ms,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_is_cut_into_the_windows_asked_for() {
        let history: VecDeque<(i64, SystemPoint)> = (0..10)
            .map(|i| {
                (
                    1000 * i,
                    SystemPoint {
                        cpu_user_pct: i as f64,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let got = in_windows(
            &history,
            &[
                Window {
                    start_ms: 2000,
                    end_ms: 4000,
                },
                Window {
                    start_ms: 20_000,
                    end_ms: 30_000,
                },
            ],
        );
        assert_eq!(
            got[0]
                .iter()
                .map(|p| (p.t_s, p.cpu_user_pct))
                .collect::<Vec<_>>(),
            [(0.0, 2.0), (1.0, 3.0), (2.0, 4.0)]
        );
        assert!(got[1].is_empty());
    }

    #[test]
    fn day_long_loads_are_sampled_less_often() {
        assert_eq!(interval_for(10), Duration::from_secs(1));
        assert_eq!(interval_for(3600), Duration::from_secs(1));
        assert_eq!(interval_for(24 * 3600), Duration::from_secs(24));
    }

    #[tokio::test]
    async fn this_machine_is_sampled_every_interval() {
        let home = tempfile::tempdir().unwrap();
        let sampler = Sampler::start(
            Duration::from_millis(200),
            None,
            BTreeMap::new(),
            home.path(),
        );
        // Some CPU work to see.
        let spin = std::thread::spawn(|| {
            let end = Instant::now() + Duration::from_millis(900);
            let mut x = 0u64;
            while Instant::now() < end {
                x = x.wrapping_mul(31).wrapping_add(7);
            }
            x
        });
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let _ = spin.join();
        let Sampled {
            system, database, ..
        } = sampler.finish().await;
        assert!(system.len() >= 4, "{system:?}");
        assert!(database.is_empty());
        assert!(system.windows(2).all(|w| w[0].t_s < w[1].t_s));
        let busy = system
            .iter()
            .map(|p| p.cpu_user_pct + p.cpu_system_pct)
            .fold(0.0, f64::max);
        assert!(busy > 10.0, "a spinning thread shows: {system:?}");
        assert!(
            system
                .iter()
                .all(|p| p.mem_used_mb > 0.0 && p.cpu_user_pct <= 100.0)
        );
    }
}
