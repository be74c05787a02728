//! One engine per test, on SQLite or on a throw-away PostgreSQL, with short timings.

use std::sync::Arc;
use std::time::Duration;

use engine::clock::{Clock, ManualClock, SystemClock};
use engine::definition::WorkflowDef;
use engine::model::{EventKind, RunState, TaskEvent, TaskState};
use engine::store::{self, DatabaseTarget, Store};
use engine::{Engine, EngineConfig};
use serde_json::Value;

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct Env {
    pub engine: Engine,
    /// The engine's store, for cases that drive it directly (as a second replica would).
    store: Arc<dyn Store>,
    pub clock: Option<Arc<ManualClock>>,
    target: DatabaseTarget,
    config: EngineConfig,
    _dir: tempfile::TempDir,
    _db: Option<ratchet_test_support::TestDatabase>,
}

/// Timings short enough for tests; the assertions never depend on them.
pub fn fast_config() -> EngineConfig {
    EngineConfig {
        worker_timeout: Duration::from_secs(2),
        heartbeat_interval: Duration::from_millis(100),
        sweep_interval: Duration::from_millis(50),
        poll_interval: Duration::from_millis(50),
        cancel_grace: Duration::from_secs(5),
    }
}

/// Start of the manual clock: a fixed, recognisable instant.
pub const T0: i64 = 1_800_000_000_000;

impl Env {
    pub async fn new(backend: Backend) -> Env {
        Env::build(backend, None, fast_config()).await
    }

    /// With a manual clock: time moves only by `env.advance(..)`. Workers are never lost by
    /// a jump of the clock.
    pub async fn manual(backend: Backend) -> Env {
        let config = EngineConfig {
            worker_timeout: Duration::from_secs(24 * 3600),
            ..fast_config()
        };
        Env::build(backend, Some(Arc::new(ManualClock::new(T0))), config).await
    }

    async fn build(backend: Backend, clock: Option<Arc<ManualClock>>, config: EngineConfig) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let (target, db) = match backend {
            Backend::Sqlite => (DatabaseTarget::Sqlite(dir.path().join("ratchet.db")), None),
            Backend::Postgres => {
                let db = ratchet_test_support::test_database().await;
                (DatabaseTarget::Postgres(db.url().to_string()), Some(db))
            }
        };
        let (engine, store) = start_engine(&target, clock.clone(), config.clone()).await;
        Env {
            engine,
            store,
            clock,
            target,
            config,
            _dir: dir,
            _db: db,
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Drop the engine without a goodbye (as a crash would) and start a new one on the same
    /// database.
    pub async fn crash_and_restart(&mut self) {
        let (fresh, store) =
            start_engine(&self.target, self.clock.clone(), self.config.clone()).await;
        let old = std::mem::replace(&mut self.engine, fresh);
        self.store = store;
        drop(old);
    }

    pub fn advance(&self, by: Duration) {
        self.clock.as_ref().expect("a manual clock").advance(by);
    }

    pub async fn start(&self, def: &WorkflowDef, input: Value) -> RunState {
        self.engine.register_workflow(def).await.unwrap();
        self.engine
            .run_workflow(&def.name, &def.version, input)
            .await
            .unwrap()
    }

    pub async fn finish(&self, run: &RunState) -> RunState {
        self.engine
            .wait_for_run(run.id, Duration::from_secs(60))
            .await
            .unwrap()
    }

    pub async fn task(&self, run: &RunState, name: &str) -> TaskState {
        self.engine
            .tasks(run.id)
            .await
            .unwrap()
            .into_iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no task {name}"))
    }

    pub async fn events(&self, run: &RunState) -> Vec<TaskEvent> {
        self.engine.events(run.id).await.unwrap()
    }

    pub async fn events_of(&self, run: &RunState, task: &str, kind: EventKind) -> Vec<TaskEvent> {
        self.events(run)
            .await
            .into_iter()
            .filter(|e| e.kind == kind && e.task_name.as_deref() == Some(task))
            .collect()
    }

    /// Poll until `check` holds (behaviour, not timing: the limit only stops a hung test).
    pub async fn until<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !check().await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "never happened: {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Let the engine's loops go round a few times (to show something does NOT happen).
    pub async fn settle(&self) {
        for _ in 0..5 {
            self.engine.sweep().await.unwrap();
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
    }
}

async fn start_engine(
    target: &DatabaseTarget,
    clock: Option<Arc<ManualClock>>,
    config: EngineConfig,
) -> (Engine, Arc<dyn Store>) {
    let store = store::connect(target).await.unwrap();
    let bus = engine::bus::connect(None).await.unwrap();
    let clock: Arc<dyn Clock> = match clock {
        Some(c) => c,
        None => Arc::new(SystemClock),
    };
    (Engine::with(store.clone(), bus, clock, config), store)
}
