//! The suite parser, expansion and locator, case by case.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use super::checks::name_problem;
use super::matrix::{axis_segments, name_fragment};
use super::*;
use crate::document::Format;

const LOCAL_EXAMPLE: &str = include_str!("../../../../examples/suite-local.yaml");
const YANDEX_EXAMPLE: &str = include_str!("../../../../examples/suite-yandex.yaml");
const VERSIONS_EXAMPLE: &str = include_str!("../../../../examples/suite-local-versions.yaml");
const TOPOLOGIES_EXAMPLE: &str = include_str!("../../../../examples/suite-local-topologies.yaml");
const READ_SCALING_EXAMPLE: &str =
    include_str!("../../../../examples/suite-local-read-scaling.yaml");
const FAILOVER_EXAMPLE: &str = include_str!("../../../../examples/suite-local-failover.yaml");

fn load_yaml(text: &str) -> Result<LoadedSuite, DocumentErrors> {
    load(text, Format::Yaml)
}

fn suite(text: &str) -> Suite {
    match load_yaml(text) {
        Ok(l) => l.suite,
        Err(e) => panic!("expected the suite to load, got:\n{e}"),
    }
}

fn errors(text: &str) -> Vec<DocumentError> {
    match load_yaml(text) {
        Ok(l) => panic!("expected errors, got {:#?}", l.suite),
        Err(e) => e.0,
    }
}

/// The single error at `path`, failing with the whole list otherwise.
fn error_at<'a>(errs: &'a [DocumentError], path: &str) -> &'a DocumentError {
    let found: Vec<&DocumentError> = errs.iter().filter(|e| e.path == path).collect();
    match found.as_slice() {
        [one] => one,
        _ => panic!("expected one error at `{path}`, got: {errs:#?}"),
    }
}

fn error_list(text: &str) -> Vec<(String, String)> {
    errors(text)
        .into_iter()
        .map(|e| (e.path, e.message))
        .collect()
}

fn parse_error(text: &str, format: Format) -> DocumentError {
    match parse(text, format) {
        Ok(spec) => panic!("expected a parse error, got {spec:#?}"),
        Err(e) => e,
    }
}

const PGBENCH: &str = "
name: s
target: local
defaults:
  database:
    version: 15
  workload:
    driver: pgbench
    duration: 20s
";

fn with_pgbench(rest: &str) -> String {
    format!("{PGBENCH}{rest}")
}

// --- the examples --------------------------------------------------------------

#[test]
fn local_example_expands_to_three_pgbench_tests() {
    let s = suite(LOCAL_EXAMPLE);
    assert_eq!(s.name, "pg15-local-tuning");
    assert_eq!(
        (s.order, s.significance.min_effect),
        (Order::Interleaved, 0.02)
    );
    assert_eq!(s.schedule().len(), 9);
    assert_eq!(s.target, Target::Local);
    assert_eq!(s.baseline, "default");
    let names: Vec<&str> = s.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["default", "tuned", "wal-tuned"]);
    for t in &s.tests {
        assert_eq!(t.database.version, 15);
        assert_eq!(t.database.hardware, None);
        assert_eq!(
            t.workload,
            Workload::Pgbench {
                duration: Duration::from_secs(10),
                scale: 1,
                clients: 4,
                threads: 2,
                builtin: Builtin::TpcbLike,
            }
        );
        assert_eq!((t.repeat, t.warmup), (3, Duration::from_secs(3)));
        assert_eq!(t.database.settings["max_connections"], json!(100));
    }
    let tuned = &s.tests[1].database.settings;
    assert_eq!(tuned["shared_buffers"], json!("256MB"));
    assert_eq!(tuned["synchronous_commit"], json!("off"));
    assert_eq!(s.tests[0].database.settings.len(), 1);
    assert_eq!(
        s.tests[2].database.settings["checkpoint_completion_target"],
        json!(0.9)
    );
}

#[test]
fn yandex_example_expands_tests_then_matrix() {
    let s = suite(YANDEX_EXAMPLE);
    assert_eq!(s.target, Target::Yandex);
    assert_eq!(s.baseline, "pg16");
    let names: Vec<&str> = s.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "pg16",
            "pg17",
            "pg16-vus64",
            "pg16-vus128",
            "pg17-vus64",
            "pg17-vus128"
        ]
    );
    let versions: Vec<u32> = s.tests.iter().map(|t| t.database.version).collect();
    assert_eq!(versions, [16, 17, 16, 16, 17, 17]);
    for t in &s.tests {
        assert_eq!(
            t.database.hardware,
            Some(Hardware {
                cores: 8,
                memory_gb: 32,
                disk_gb: 100
            })
        );
        assert_eq!(
            t.loader.hardware,
            Some(Hardware {
                cores: 4,
                memory_gb: 8,
                disk_gb: DEFAULT_DISK_GB
            })
        );
        assert_eq!(t.database.settings["shared_buffers"], json!("8GB"));
        let Workload::Stroppy {
            version,
            workload,
            duration,
            scale,
            ..
        } = &t.workload
        else {
            panic!("expected stroppy, got {:?}", t.workload);
        };
        assert_eq!(version, "6.1.1");
        assert_eq!(workload, "tpcc/tx");
        assert_eq!(*duration, Duration::from_secs(600));
        assert_eq!(*scale, Some(100));
    }
    let vus: Vec<u32> = s
        .tests
        .iter()
        .map(|t| match &t.workload {
            Workload::Stroppy { vus, .. } => *vus,
            Workload::Pgbench { .. } => 0,
        })
        .collect();
    assert_eq!(vus, [32, 32, 64, 128, 64, 128]);
}

#[test]
fn the_versions_example_compares_16_17_and_18_against_16() {
    let s = suite(VERSIONS_EXAMPLE);
    let versions: Vec<u32> = s.tests.iter().map(|t| t.database.version).collect();
    assert_eq!(versions, [16, 17, 18]);
    assert_eq!(s.baseline, "pg16");
}

#[test]
fn the_topologies_example_has_replicas_sync_and_async_and_a_pooler() {
    let s = suite(TOPOLOGIES_EXAMPLE);
    let shapes: Vec<(u32, bool, Option<PoolMode>)> = s
        .tests
        .iter()
        .map(|t| {
            let d = &t.database;
            (
                d.topology.replicas,
                d.topology.synchronous,
                d.pooler.map(|p| p.pool_mode),
            )
        })
        .collect();
    assert_eq!(
        shapes,
        [
            (0, false, None),
            (2, false, None),
            (2, true, None),
            (0, false, Some(PoolMode::Transaction))
        ]
    );
    assert_eq!(s.tests[1].database.topology.kind, TopologyKind::Replicas);
}

#[test]
fn topologies_say_what_is_wrong_where() {
    // `replicas` alone implies the kind; the pooler's fields have defaults.
    let s = suite(&with_pgbench(
        "tests:\n  - name: a\n    database: {topology: {replicas: 1}, pooler: {}}\n",
    ));
    let db = &s.tests[0].database;
    assert_eq!(db.topology.kind, TopologyKind::Replicas);
    assert_eq!(
        db.pooler,
        Some(Pooler {
            kind: PoolerKind::Pgbouncer,
            pool_mode: PoolMode::Transaction,
            pool_size: DEFAULT_POOL_SIZE
        })
    );
    let errs = errors(&with_pgbench(
        "tests:\n  - name: a\n    database: {topology: {replicas: 4}}\n  - name: b\n    database: {topology: {kind: single, synchronous: true}}\n  - name: c\n    database: {topology: {kind: replicas}}\n  - name: d\n    database: {pooler: {pool_size: 0}}\n",
    ));
    assert!(
        error_at(&errs, "tests[0].database.topology.replicas")
            .message
            .contains("give 1 to 3")
    );
    assert!(
        error_at(&errs, "tests[1].database.topology.synchronous")
            .message
            .contains("`single` topology")
    );
    assert!(
        error_at(&errs, "tests[2].database.topology.kind")
            .message
            .contains("needs `replicas`")
    );
    assert!(
        error_at(&errs, "tests[3].database.pooler.pool_size")
            .message
            .contains("1 to 10000")
    );
    let errs = errors(&with_pgbench(
        "tests:\n  - name: a\n    database: {topology: {kind: replica}}\n",
    ));
    assert!(errs[0].message.contains("replicas"), "{errs:#?}");
    // The cloud target has neither yet, and says so.
    let yandex = "name: s\ntarget: yandex\ndefaults:\n  database: {version: 16, hardware: {cores: 2, memory_gb: 4}, topology: {replicas: 1}, pooler: {}}\n  loader: {hardware: {cores: 2, memory_gb: 4}}\n  workload: {driver: pgbench, duration: 20s}\ntests:\n  - name: a\n";
    let errs = errors(yandex);
    assert!(
        error_at(&errs, "defaults.database.topology.replicas")
            .message
            .contains("local target")
    );
    assert!(
        error_at(&errs, "defaults.database.pooler")
            .message
            .contains("local target")
    );
}

#[test]
fn the_read_scaling_example_reads_from_the_primary_then_one_and_two_replicas() {
    let s = suite(READ_SCALING_EXAMPLE);
    let shapes: Vec<(u32, ConnectTo)> = s
        .tests
        .iter()
        .map(|t| (t.database.topology.replicas, t.connect_to))
        .collect();
    assert_eq!(
        shapes,
        [
            (0, ConnectTo::Primary),
            (1, ConnectTo::Replicas),
            (2, ConnectTo::Replicas)
        ]
    );
}

#[test]
fn a_load_on_the_replicas_reads_through_no_pooler() {
    let ok = suite(&with_pgbench(
        "tests:\n  - name: a\n    database: {topology: {replicas: 2}}\n    workload: {builtin: select-only, connect_to: replicas}\n",
    ));
    assert_eq!(ok.tests[0].connect_to, ConnectTo::Replicas);
    let errs = errors(&with_pgbench(
        "tests:\n  - name: a\n    workload: {builtin: select-only, connect_to: replicas}\n  - name: b\n    database: {topology: {replicas: 1}}\n    workload: {connect_to: replicas}\n  - name: c\n    database: {topology: {replicas: 1}, pooler: {}}\n    workload: {builtin: select-only, connect_to: replicas}\n",
    ));
    assert!(
        error_at(&errs, "tests[0].workload.connect_to")
            .message
            .contains("database.topology.replicas")
    );
    assert!(
        error_at(&errs, "tests[1].workload.connect_to")
            .message
            .contains("select-only")
    );
    assert!(
        error_at(&errs, "tests[2].workload.connect_to")
            .message
            .contains("pooler")
    );
}

#[test]
fn the_failover_example_crashes_a_server_and_kills_a_patroni_leader() {
    let s = suite(FAILOVER_EXAMPLE);
    let shapes: Vec<(TopologyKind, protocol::actions::FaultKind)> = s
        .tests
        .iter()
        .map(|t| (t.database.topology.kind, t.faults[0].kind))
        .collect();
    assert_eq!(
        shapes,
        [
            (TopologyKind::Single, protocol::actions::FaultKind::Restart),
            (TopologyKind::Patroni, protocol::actions::FaultKind::Kill)
        ]
    );
}

#[test]
fn a_patroni_cluster_and_its_fault_are_checked() {
    let s = suite(&with_pgbench(
        "tests:\n  - name: a\n    database: {topology: {kind: patroni, replicas: 2}}\n    workload: {faults: [{at: 5s, kill: primary}]}\n",
    ));
    let t = &s.tests[0];
    assert_eq!(t.database.topology.kind, TopologyKind::Patroni);
    assert_eq!(
        t.faults,
        [Fault {
            at_s: 5,
            kind: protocol::actions::FaultKind::Kill,
            target: FaultTarget::Primary
        }]
    );
    let errs = errors(&with_pgbench(
        "tests:\n  - name: a\n    database: {topology: {kind: patroni}}\n  - name: b\n    workload: {faults: [{at: 30s, restart: primary}]}\n  - name: c\n    workload: {faults: [{at: 1s}]}\n  - name: d\n    workload: {faults: [{at: 1s, kill: primary}, {at: 2s, kill: primary}]}\n",
    ));
    assert!(
        error_at(&errs, "tests[0].database.topology.kind")
            .message
            .contains("a `patroni` topology needs `replicas`")
    );
    assert!(
        error_at(&errs, "tests[1].workload.faults[0].at")
            .message
            .contains("inside the measured window (20 s)")
    );
    assert!(
        error_at(&errs, "tests[2].workload.faults[0]")
            .message
            .contains("one of `kill: primary` or `restart: primary`")
    );
    assert!(
        error_at(&errs, "tests[3].workload.faults")
            .message
            .contains("one per test")
    );
    let errs = errors(&with_pgbench(
        "tests:\n  - name: a\n    workload: {faults: [{at: 1s, kill: replica}]}\n",
    ));
    assert!(errs[0].message.contains("primary"), "{errs:#?}");
}

#[test]
fn a_matrix_varies_the_topology() {
    let s = suite(&with_pgbench(
        "matrix:\n  name: r{database.topology.replicas}-{database.topology.synchronous}\n  axes:\n    database.topology.replicas: [1, 2]\n    database.topology.synchronous: [false, true]\n",
    ));
    let names: Vec<&str> = s.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["r1-false", "r1-true", "r2-false", "r2-true"]);
    assert!(s.tests[3].database.topology.synchronous);
    assert_eq!(s.tests[3].database.topology.replicas, 2);
}

#[test]
fn examples_parse_the_same_as_json() {
    for text in [
        LOCAL_EXAMPLE,
        YANDEX_EXAMPLE,
        VERSIONS_EXAMPLE,
        TOPOLOGIES_EXAMPLE,
        READ_SCALING_EXAMPLE,
        FAILOVER_EXAMPLE,
    ] {
        let loaded = load_yaml(text).unwrap();
        let json = serde_json::to_string_pretty(&loaded.spec).unwrap();
        let again = load(&json, Format::Json).unwrap();
        assert_eq!(again.spec, loaded.spec);
        assert_eq!(again.suite, loaded.suite);
        // JSON is YAML too.
        assert_eq!(load_yaml(&json).unwrap().suite, loaded.suite);
    }
}

// --- merging and defaults -------------------------------------------------------

#[test]
fn minimal_suite_fills_in_defaults() {
    let s = suite(&with_pgbench("tests:\n  - name: only\n"));
    assert_eq!(s.baseline, "only");
    assert_eq!(s.description, None);
    assert_eq!(
        s.tests,
        [TestSpec {
            name: "only".into(),
            database: DatabaseSpec {
                version: 15,
                settings: BTreeMap::new(),
                hardware: None,
                stat_statements: false,
                topology: Topology::default(),
                pooler: None,
            },
            workload: Workload::Pgbench {
                duration: Duration::from_secs(20),
                scale: 1,
                clients: 1,
                threads: 1,
                builtin: Builtin::TpcbLike,
            },
            loader: LoaderSpec { hardware: None },
            repeat: 1,
            warmup: Duration::ZERO,
            reuse_database: false,
            connect_to: ConnectTo::Primary,
            faults: Vec::new(),
        }]
    );
    assert_eq!(s.order, Order::Interleaved);
    assert_eq!(
        s.significance,
        crate::stroppy::stats::Significance::default()
    );
}

// --- repetitions, order and significance ----------------------------------------

fn design(extra: &str) -> Suite {
    suite(&design_text(extra))
}

fn design_text(extra: &str) -> String {
    format!(
        "name: s\ntarget: local\n{extra}\ndefaults:\n  database: {{version: 15}}\n  workload: {{driver: pgbench, duration: 5s, repeat: 3, warmup: 2s}}\ntests:\n  - name: a\n  - name: b\n  - name: c\n    workload: {{repeat: 2}}\n"
    )
}

fn order_of(s: &Suite) -> Vec<String> {
    s.schedule()
        .iter()
        .map(|r| format!("{}{}", s.tests[r.test].name, r.repetition))
        .collect()
}

#[test]
fn repetitions_run_interleaved_by_default_and_sequentially_when_asked() {
    let s = design("");
    assert_eq!(s.tests[0].repeat, 3);
    assert_eq!(s.tests[0].warmup, Duration::from_secs(2));
    assert_eq!(s.tests[0].load_s(), 7);
    assert_eq!(
        order_of(&s),
        ["a1", "b1", "c1", "a2", "b2", "c2", "a3", "b3"]
    );
    // Interleaved on one host: each repetition on a fresh database.
    assert!(
        s.tests
            .iter()
            .all(|t| !t.reuse_database && t.runs_per_test_run() == 1)
    );
    let s = design("order: sequential");
    // Back to back: one test run per test, measuring all its repetitions on one database.
    assert!(s.tests.iter().all(|t| t.reuse_database));
    assert_eq!(order_of(&s), ["a1", "b1", "c1"]);
    let runs: Vec<u32> = s.schedule().iter().map(|r| r.runs).collect();
    assert_eq!(runs, [3, 3, 2]);
    let s = suite(
        &design_text("order: sequential")
            .replace("warmup: 2s", "warmup: 2s, reuse_database: false"),
    );
    assert_eq!(
        order_of(&s),
        ["a1", "a2", "a3", "b1", "b2", "b3", "c1", "c2"]
    );
}

#[test]
fn a_database_is_reused_only_where_repetitions_run_back_to_back() {
    let errors =
        error_list(&design_text("").replace("warmup: 2s", "warmup: 2s, reuse_database: true"));
    assert!(
        errors.iter().any(
            |(p, m)| p == "defaults.workload.reuse_database" && m.contains("order: sequential")
        ),
        "{errors:?}"
    );
    let cloud =
        suite(&YANDEX_EXAMPLE.replace("    duration: 10m ", "    repeat: 3\n    duration: 10m "));
    assert!(
        cloud
            .tests
            .iter()
            .all(|t| t.reuse_database && t.repeat == 3),
        "cloud tests have machines of their own"
    );
    assert!(
        cloud
            .schedule()
            .iter()
            .all(|r| r.runs == 3 && r.repetition == 1)
    );
}

#[test]
fn the_random_order_is_the_seeds() {
    let a = design("order: random\nseed: 42");
    let b = design("order: random\nseed: 42");
    assert_eq!(a.seed, 42);
    assert_eq!(order_of(&a), order_of(&b));
    let mut sorted = order_of(&a);
    sorted.sort();
    assert_eq!(sorted, ["a1", "a2", "a3", "b1", "b2", "b3", "c1", "c2"]);
    let others: Vec<Vec<String>> = (0..5)
        .map(|seed| order_of(&design(&format!("order: random\nseed: {seed}"))))
        .collect();
    assert!(
        others.iter().any(|o| *o != order_of(&a)),
        "a shuffle that never changes"
    );
}

#[test]
fn significance_and_repetitions_are_checked() {
    let s = design("significance: {min_effect: 5%, confidence: 0.9}");
    assert_eq!(s.significance.min_effect, 0.05);
    assert_eq!(s.significance.confidence, 0.9);
    let errors = error_list(
        "name: s\ntarget: local\nsignificance: {min_effect: 80%, confidence: 2}\ndefaults:\n  database: {version: 15}\n  workload: {driver: pgbench, duration: 5s, repeat: 0, warmup: 1.5s}\ntests:\n  - name: a\n",
    );
    for (path, needle) in [
        ("significance.min_effect", "out of range"),
        ("significance.confidence", "out of range"),
        ("defaults.workload.repeat", "from 1 to 50"),
        ("defaults.workload.warmup", "whole number of seconds"),
    ] {
        assert!(
            errors.iter().any(|(p, m)| p == path && m.contains(needle)),
            "no `{needle}` at {path}: {errors:?}"
        );
    }
}

#[test]
fn a_named_baseline_is_a_test_of_another_suite() {
    let s = design("baseline: {suite: nightly-main, test: default}");
    assert_eq!(s.baseline, "nightly-main/default");
    let named = s.named_baseline.unwrap();
    assert_eq!(
        (named.name.as_str(), named.test.as_str(), named.suite_id),
        ("nightly-main", "default", None)
    );
    let errors = error_list(&with_pgbench(
        "baseline: {suite: Nightly, test: a}\ntests:\n  - name: a\n",
    ));
    assert!(
        errors
            .iter()
            .any(|(p, m)| p == "baseline.suite" && m.contains("invalid baseline name")),
        "{errors:?}"
    );
    assert_eq!(design("").named_baseline, None);
}

#[test]
fn a_ttl_must_outlast_warm_up_and_load() {
    let errors = error_list(
        "name: s\ntarget: local\nttl: 1m\ndefaults:\n  database: {version: 15}\n  workload: {driver: pgbench, duration: 40s, warmup: 30s}\ntests:\n  - name: a\n",
    );
    assert!(
        errors
            .iter()
            .any(|(p, m)| p == "ttl" && m.contains("shorter than the load")),
        "{errors:?}"
    );
}

#[test]
fn tests_merge_over_defaults_key_by_key() {
    let s = suite(
        "
name: s
target: local
defaults:
  database:
    version: 15
    settings: {shared_buffers: 128MB, max_connections: 200, fsync: true}
    hardware: {cores: 2, memory_gb: 4}
  workload: {driver: pgbench, duration: 20s, clients: 8, threads: 2}
tests:
  - name: a
  - name: b
    database:
      version: 16
      settings: {shared_buffers: 256MB, synchronous_commit: off, work_mem: 4096}
      hardware: {memory_gb: 8, disk_gb: 50}
    workload: {threads: 4, builtin: select-only, duration: 1m}
",
    );
    let [a, b] = s.tests.as_slice() else {
        panic!("{s:?}")
    };
    assert_eq!(a.database.version, 15);
    assert_eq!(a.database.settings.len(), 3);
    assert_eq!(b.database.version, 16);
    assert_eq!(
        b.database.settings,
        BTreeMap::from([
            ("fsync".to_owned(), json!(true)),
            ("max_connections".to_owned(), json!(200)),
            ("shared_buffers".to_owned(), json!("256MB")),
            // YAML 1.2 booleans only: a bare `off` stays a string.
            ("synchronous_commit".to_owned(), json!("off")),
            ("work_mem".to_owned(), json!(4096)),
        ])
    );
    assert_eq!(
        a.database.hardware,
        Some(Hardware {
            cores: 2,
            memory_gb: 4,
            disk_gb: 20
        })
    );
    assert_eq!(
        b.database.hardware,
        Some(Hardware {
            cores: 2,
            memory_gb: 8,
            disk_gb: 50
        })
    );
    assert_eq!(
        b.workload,
        Workload::Pgbench {
            duration: Duration::from_secs(60),
            scale: 1,
            clients: 8,
            threads: 4,
            builtin: Builtin::SelectOnly,
        }
    );
}

#[test]
fn stroppy_defaults_and_env_merge() {
    let s = suite(
        "
name: s
target: local
defaults:
  database: {version: 17}
  workload:
    driver: stroppy
    version: 6.1.1
    workload: tpcb/tx
    duration: 30s
    env: {A: '1', B: '2'}
tests:
  - name: a
  - name: b
    workload: {env: {B: three, C_D: '4'}, vus: 10, scale: 5}
",
    );
    assert_eq!(
        s.tests[0].workload,
        Workload::Stroppy {
            version: "6.1.1".into(),
            sha256: None,
            workload: "tpcb/tx".into(),
            duration: Duration::from_secs(30),
            scale: None,
            vus: 1,
            env: BTreeMap::from([("A".into(), "1".into()), ("B".into(), "2".into())]),
        }
    );
    let Workload::Stroppy {
        env, vus, scale, ..
    } = &s.tests[1].workload
    else {
        panic!()
    };
    assert_eq!((*vus, *scale), (10, Some(5)));
    assert_eq!(
        env,
        &BTreeMap::from([
            ("A".into(), "1".into()),
            ("B".into(), "three".into()),
            ("C_D".into(), "4".into())
        ])
    );
}

#[test]
fn a_test_may_switch_driver_and_leaves_the_other_drivers_options_behind() {
    let s = suite(&with_pgbench(
        "    clients: 4
    threads: 2
tests:
  - name: pg
  - name: st
    workload: {driver: stroppy, version: 6.1.1, workload: tpcc/tx, vus: 3}
",
    ));
    assert!(matches!(s.tests[0].workload, Workload::Pgbench { .. }));
    let Workload::Stroppy { vus, duration, .. } = &s.tests[1].workload else {
        panic!()
    };
    assert_eq!(*vus, 3);
    // Common fields still come from the defaults.
    assert_eq!(*duration, Duration::from_secs(20));
}

#[test]
fn durations_accept_humantime_and_seconds() {
    for (written, secs) in [
        ("20s", 20),
        ("10m", 600),
        ("1h 30m", 5400),
        ("45", 45),
        ("24h", 86400),
    ] {
        let text = format!(
            "name: s\ntarget: local\ntests:\n  - name: a\n    database: {{version: 15}}\n    workload: {{driver: pgbench, duration: {written}}}\n"
        );
        let Workload::Pgbench { duration, .. } = suite(&text).tests[0].workload else {
            panic!("{written}")
        };
        assert_eq!(duration, Duration::from_secs(secs), "{written}");
    }
}

// --- parse errors ---------------------------------------------------------------

#[test]
fn unknown_key_names_its_path_line_and_column() {
    let e = parse_error(
        "name: s
target: local
tests:
  - name: a
  - name: b
    workload:
      clientz: 3
",
        Format::Yaml,
    );
    assert_eq!(e.path, "tests[1].workload.clientz");
    assert!(
        e.message
            .starts_with("unknown field `clientz`, expected one of"),
        "{e}"
    );
    assert!(e.message.contains("clients"), "{e}");
    assert_eq!((e.line, e.column), (Some(7), Some(7)));
    assert!(
        e.to_string().starts_with(
            "at tests[1].workload.clientz (line 7, column 7): unknown field `clientz`"
        ),
        "{e}"
    );
}

#[test]
fn unknown_top_level_and_nested_keys() {
    let e = parse_error("name: s\ntarget: local\ntestz: []\n", Format::Yaml);
    assert_eq!(e.path, "testz");
    assert_eq!(e.line, Some(3));
    let e = parse_error(
        "name: s\ntarget: local\ndefaults:\n  database:\n    hardware: {cores: 2, ram: 4}\n",
        Format::Yaml,
    );
    assert_eq!(e.path, "defaults.database.hardware.ram");
    assert_eq!(e.line, Some(5));
    let e = parse_error(
        "name: s\ntarget: local\nmatrix: {name: x, axes: {}, extra: 1}\n",
        Format::Yaml,
    );
    assert_eq!(e.path, "matrix.extra");
}

#[test]
fn invalid_duration_is_a_parse_error_at_its_value() {
    let e = parse_error(
        "name: s\ntarget: local\ntests:\n  - name: a\n    workload:\n      duration: 20 sex\n",
        Format::Yaml,
    );
    assert_eq!(e.path, "tests[0].workload.duration");
    assert!(
        e.message.starts_with("invalid duration \"20 sex\": "),
        "{e}"
    );
    assert_eq!((e.line, e.column), (Some(6), Some(17)));
    assert!(e.to_string().starts_with(
        "at tests[0].workload.duration (line 6, column 17): invalid duration \"20 sex\""
    ));
}

#[test]
fn wrong_types_say_what_was_expected() {
    let e = parse_error(
        "name: s\ntarget: local\ntests:\n  - name: a\n    workload: {clients: many}\n",
        Format::Yaml,
    );
    assert_eq!(e.path, "tests[0].workload.clients");
    assert_eq!(e.message, "invalid value `many`: expected a whole number");
    assert_eq!(e.line, Some(5));
    let e = parse_error("name: s\ntarget: cloud\n", Format::Yaml);
    assert_eq!(e.path, "target");
    assert!(e.message.contains("unknown variant `cloud`"), "{e}");
    let e = parse_error(
        "name: s\ntarget: local\ndefaults: {workload: {driver: pgbnech}}\n",
        Format::Yaml,
    );
    assert_eq!(e.path, "defaults.workload.driver");
    assert!(e.message.contains("pgbench"), "{e}");
    let e = parse_error(
        "name: s\ntarget: local\ndefaults: {workload: {builtin: tpcc}}\n",
        Format::Yaml,
    );
    assert_eq!(e.path, "defaults.workload.builtin");
    assert!(e.message.contains("tpcb-like"), "{e}");
}

#[test]
fn missing_required_keys_and_empty_documents() {
    let e = parse_error("target: local\n", Format::Yaml);
    assert!(e.message.contains("missing field `name`"), "{e}");
    let e = parse_error("", Format::Yaml);
    assert_eq!(e.path, "");
    let e = parse_error(
        "name: s\ntarget: local\ntests:\n  - database: {version: 15}\n",
        Format::Yaml,
    );
    assert!(e.path.starts_with("tests[0]"), "{e}");
    assert!(e.message.contains("missing field `name`"), "{e}");
}

#[test]
fn yaml_syntax_errors_and_duplicate_keys_have_positions() {
    let e = parse_error(
        "name: s\ntarget: local\ntests:\n\t- name: a\n",
        Format::Yaml,
    );
    assert_eq!(e.line, Some(4), "{e}");
    let e = parse_error("name: s\nname: t\ntarget: local\n", Format::Yaml);
    assert_eq!(e.line, Some(2), "{e}");
    assert!(e.message.contains("duplicate"), "{e}");
    assert!(!e.message.contains('\n'), "no rendered snippet: {e}");
    let e = parse_error("name: [s\n", Format::Yaml);
    assert!(e.line.is_some(), "{e}");
}

#[test]
fn json_errors_have_paths_and_positions() {
    let e = parse_error(
        "{\"name\": \"s\", \"target\": \"local\",\n \"tests\": [{\"name\": \"a\", \"workload\": {\"vuz\": 1}}]}",
        Format::Json,
    );
    assert_eq!(e.path, "tests[0].workload.vuz");
    assert!(e.message.starts_with("unknown field `vuz`"), "{e}");
    assert!(!e.message.contains(" at line "), "{e}");
    assert_eq!(e.line, Some(2));
    let e = parse_error(
        "{\"name\": \"s\", \"target\": \"local\"} trailing",
        Format::Json,
    );
    assert_eq!(e.path, "");
    assert_eq!(e.line, Some(1));
    let e = parse_error("{\"name\": \"s\",", Format::Json);
    assert!(e.message.contains("EOF"), "{e}");
    let e = parse_error(
        "{\"name\": \"s\", \"target\": \"local\", \"matrix\": {\"name\": \"x\", \"axes\": {\"workload.vus\": [1], \"workload.vus\": [2]}}}",
        Format::Json,
    );
    assert!(e.message.contains("duplicate axis `workload.vus`"), "{e}");
}

// --- validation errors ----------------------------------------------------------

#[test]
fn all_validation_errors_are_reported_at_once_with_positions() {
    let errs = errors(
        "name: Bad_Name
target: local
baseline: nope
defaults:
  database:
    version: 11
  workload:
    driver: pgbench
    duration: 25h
tests:
  - name: a
    workload:
      clients: 2
      threads: 3
  - name: a
    database:
      settings:
        Shared-Buffers: 1GB
        work_mem: [1]
",
    );
    let e = error_at(&errs, "name");
    assert!(e.message.contains("invalid suite name `Bad_Name`"), "{e}");
    assert_eq!((e.line, e.column), (Some(1), Some(1)));
    let e = error_at(&errs, "defaults.database.version");
    assert!(e.message.contains("PostgreSQL 11 is not supported"), "{e}");
    assert_eq!(e.line, Some(6));
    let e = error_at(&errs, "defaults.workload.duration");
    assert!(e.message.contains("out of range"), "{e}");
    assert_eq!(e.line, Some(9));
    let e = error_at(&errs, "tests[0].workload.threads");
    assert_eq!(e.message, "threads (3) must not exceed clients (2)");
    assert_eq!((e.line, e.column), (Some(14), Some(7)));
    let e = error_at(&errs, "tests[1].name");
    assert!(e.message.contains("duplicate test name `a`"), "{e}");
    assert_eq!((e.line, e.column), (Some(15), Some(5)));
    let e = error_at(&errs, "tests[1].database.settings.Shared-Buffers");
    assert!(e.message.contains("invalid setting name"), "{e}");
    assert_eq!((e.line, e.column), (Some(18), Some(9)));
    let e = error_at(&errs, "tests[1].database.settings.work_mem");
    assert!(e.message.contains("not a list"), "{e}");
    let e = error_at(&errs, "baseline");
    assert!(e.message.contains("no test is named `nope`"), "{e}");
    assert_eq!(errs.len(), 8, "{errs:#?}");
    let text = DocumentErrors(errs).to_string();
    assert_eq!(text.lines().count(), 8);
    assert!(
        text.contains("at tests[1].name (line 15, column 5): duplicate test name `a`"),
        "{text}"
    );
}

#[test]
fn an_error_in_defaults_is_reported_once_not_per_test() {
    let errs = errors(
        "name: s
target: local
defaults:
  database: {version: 99}
  workload: {driver: pgbench, duration: 10s}
tests: [{name: a}, {name: b}, {name: c}]
",
    );
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0].path, "defaults.database.version");
}

#[test]
fn threads_default_clients_and_the_later_layer_is_blamed() {
    let errs = errors(&with_pgbench("    threads: 2\ntests:\n  - name: a\n"));
    assert_eq!(
        error_at(&errs, "defaults.workload.threads").message,
        "threads (2) must not exceed clients (1)"
    );
    let errs = errors(&with_pgbench(
        "    threads: 4\ntests:\n  - name: a\n    workload: {clients: 2}\n",
    ));
    assert_eq!(errs.len(), 1);
    error_at(&errs, "tests[0].workload.clients");
}

#[test]
fn missing_values_point_at_where_they_belong() {
    let errs = errors("name: s\ntarget: local\ntests:\n  - name: a\n    workload: {scale: 2}\n");
    let e = error_at(&errs, "tests[0].database.version");
    assert!(e.message.contains("`database.version` is not set"), "{e}");
    // No `database` key: located at the test itself.
    assert_eq!((e.line, e.column), (Some(4), Some(5)));
    let e = error_at(&errs, "tests[0].workload.driver");
    assert_eq!((e.line, e.column), (Some(5), Some(5)));
    let errs = errors(
        &with_pgbench("    duration: null\ntests: [{name: a}]\n")
            .replace("    duration: 20s\n", ""),
    );
    error_at(&errs, "tests[0].workload.duration");
    let errs = errors(
        "name: s\ntarget: local\ndefaults: {database: {version: 15}, workload: {driver: stroppy, duration: 1m}}\ntests: [{name: a}]\n",
    );
    error_at(&errs, "tests[0].workload.version");
    error_at(&errs, "tests[0].workload.workload");
}

#[test]
fn yandex_needs_hardware_everywhere() {
    let errs =
        errors(&with_pgbench("tests:\n  - name: a\n").replace("target: local", "target: yandex"));
    let e = error_at(&errs, "tests[0].database.hardware");
    assert!(
        e.message.contains("required when the target is yandex"),
        "{e}"
    );
    error_at(&errs, "tests[0].loader.hardware");
    let ok = with_pgbench(
        "tests:
  - name: a
    database: {hardware: {cores: 2, memory_gb: 4}}
    loader: {hardware: {cores: 1, memory_gb: 1}}
",
    )
    .replace("target: local", "target: yandex");
    assert_eq!(
        suite(&ok).tests[0].loader.hardware,
        Some(Hardware {
            cores: 1,
            memory_gb: 1,
            disk_gb: 20
        })
    );
    let errs = errors(&with_pgbench(
        "tests:\n  - name: a\n    database: {hardware: {disk_gb: 0}}\n",
    ));
    error_at(&errs, "tests[0].database.hardware.cores");
    error_at(&errs, "tests[0].database.hardware.memory_gb");
    assert!(
        error_at(&errs, "tests[0].database.hardware.disk_gb")
            .message
            .contains("from 1 to")
    );
}

#[test]
fn options_of_the_other_driver_are_refused() {
    let errs = errors(&with_pgbench("    vus: 10\ntests: [{name: a}]\n"));
    let e = error_at(&errs, "defaults.workload.vus");
    assert_eq!(
        e.message,
        "`vus` is a stroppy option, but the driver here is pgbench"
    );
    let errs = errors(&with_pgbench(
        "tests:\n  - name: a\n    workload: {env: {X: y}}\n",
    ));
    let e = error_at(&errs, "tests[0].workload.env");
    assert_eq!(
        e.message,
        "`env` is a stroppy option, but this test's driver is pgbench"
    );
}

#[test]
fn setting_names_and_values_are_checked() {
    let errs = errors(&with_pgbench(
        "tests:
  - name: a
    database:
      settings:
        pg_stat_statements.max: 1000
        _private: x
        9lives: 1
        nothing: null
        nested: {a: 1}
        multi: \"a\\nb\"
",
    ));
    assert_eq!(errs.len(), 4, "{errs:#?}");
    assert!(
        error_at(&errs, "tests[0].database.settings.9lives")
            .message
            .contains("must start with")
    );
    assert!(
        error_at(&errs, "tests[0].database.settings.nothing")
            .message
            .contains("has no value")
    );
    assert!(
        error_at(&errs, "tests[0].database.settings.nested")
            .message
            .contains("not a map")
    );
    assert!(
        error_at(&errs, "tests[0].database.settings.multi")
            .message
            .contains("control characters")
    );
    assert_eq!(
        error_at(&errs, "tests[0].database.settings.nested").line,
        Some(18)
    );
}

#[test]
fn durations_must_be_whole_seconds_in_range() {
    for (d, needle) in [
        ("0s", "out of range"),
        ("500ms", "out of range"),
        ("1500ms", "whole number"),
        ("25h", "out of range"),
    ] {
        let text = with_pgbench("tests: [{name: a}]\n")
            .replace("duration: 20s", &format!("duration: {d}"));
        let errs = errors(&text);
        assert!(
            error_at(&errs, "defaults.workload.duration")
                .message
                .contains(needle),
            "{d}: {errs:?}"
        );
    }
}

#[test]
fn zero_counts_and_bad_stroppy_strings_are_refused() {
    let errs = errors(&with_pgbench(
        "    scale: 0\n    clients: 0\ntests: [{name: a}]\n",
    ));
    error_at(&errs, "defaults.workload.scale");
    error_at(&errs, "defaults.workload.clients");
    let errs = errors(
        "name: s\ntarget: local\ndefaults: {database: {version: 15}, workload: {driver: stroppy, duration: 1m, version: '6.1.1; rm -rf', workload: 'tpcc tx', vus: 0, env: {1BAD: x}}}\ntests: [{name: a}]\n",
    );
    error_at(&errs, "defaults.workload.version");
    error_at(&errs, "defaults.workload.workload");
    error_at(&errs, "defaults.workload.vus");
    error_at(&errs, "defaults.workload.env.1BAD");
}

#[test]
fn names_follow_dns_label_rules() {
    for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"x".repeat(64)] {
        assert!(name_problem(bad).is_some(), "{bad:?}");
    }
    for good in ["a", "0", "pg-15", &"x".repeat(63)] {
        assert_eq!(name_problem(good), None, "{good:?}");
    }
}

#[test]
fn an_empty_suite_is_an_error() {
    let errs = errors("name: s\ntarget: local\n");
    let e = error_at(&errs, "tests");
    assert!(e.message.contains("no tests"), "{e}");
    assert_eq!(e.line, None);
}

#[test]
fn baseline_may_name_any_test() {
    let s = suite(&with_pgbench(
        "baseline: b\ntests: [{name: a}, {name: b}]\n",
    ));
    assert_eq!(s.baseline, "b");
}

// --- the matrix -----------------------------------------------------------------

#[test]
fn matrix_combinations_in_axis_order_with_sanitised_names() {
    let s = suite(&with_pgbench(
        "matrix:
  name: \"pg{database.version}-sb{database.settings.shared_buffers}-c{workload.clients}\"
  axes:
    database.version: [15, 16]
    database.settings.shared_buffers: [128MB, 1GB]
    workload.clients: [1, 8]
",
    ));
    let names: Vec<&str> = s.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "pg15-sb128mb-c1",
            "pg15-sb128mb-c8",
            "pg15-sb1gb-c1",
            "pg15-sb1gb-c8",
            "pg16-sb128mb-c1",
            "pg16-sb128mb-c8",
            "pg16-sb1gb-c1",
            "pg16-sb1gb-c8",
        ]
    );
    assert_eq!(s.baseline, "pg15-sb128mb-c1");
    let t = &s.tests[7];
    assert_eq!(t.database.version, 16);
    assert_eq!(t.database.settings["shared_buffers"], json!("1GB"));
    let Workload::Pgbench {
        clients, duration, ..
    } = t.workload
    else {
        panic!()
    };
    assert_eq!((clients, duration), (8, Duration::from_secs(20)));
}

#[test]
fn matrix_axes_reach_dotted_settings_hardware_and_env() {
    let s = suite(
            "name: s
target: yandex
defaults:
  database: {version: 16, hardware: {cores: 2, memory_gb: 4}}
  loader: {hardware: {cores: 1, memory_gb: 2}}
  workload: {driver: stroppy, version: 6.1.1, workload: tpcc/tx, duration: 1m}
matrix:
  name: \"{workload.workload}-m{database.hardware.memory_gb}-{database.settings.pg_stat_statements.max}-{workload.env.MODE}\"
  axes:
    workload.workload: [tpcc/tx]
    database.hardware.memory_gb: [8]
    database.settings.pg_stat_statements.max: [1000]
    workload.env.MODE: [Fast]
    loader.hardware.cores: [4]
    workload.duration: [90s]
",
        );
    let t = &s.tests[0];
    assert_eq!(t.name, "tpcc-tx-m8-1000-fast");
    assert_eq!(
        t.database.hardware,
        Some(Hardware {
            cores: 2,
            memory_gb: 8,
            disk_gb: 20
        })
    );
    assert_eq!(
        t.loader.hardware,
        Some(Hardware {
            cores: 4,
            memory_gb: 2,
            disk_gb: 20
        })
    );
    assert_eq!(t.database.settings["pg_stat_statements.max"], json!(1000));
    let Workload::Stroppy { env, duration, .. } = &t.workload else {
        panic!()
    };
    assert_eq!(env["MODE"], "Fast");
    assert_eq!(*duration, Duration::from_secs(90));
}

#[test]
fn tests_and_matrix_together_and_name_clashes() {
    let errs = errors(&with_pgbench(
        "tests: [{name: c4}]
matrix:
  name: \"c{workload.clients}\"
  axes:
    workload.clients: [2, 4]
",
    ));
    let e = error_at(&errs, "matrix.name");
    assert!(
        e.message
            .contains("`c4` more than once (also tests[0].name)"),
        "{e}"
    );
    let errs = errors(&with_pgbench(
        "matrix:
  name: \"pg{database.version}\"
  axes:
    database.version: [15, 16]
    workload.clients: [2, 4]
",
    ));
    let e = error_at(&errs, "matrix.name");
    assert!(e.message.contains("`pg15` more than once"), "{e}");
    assert!(
        e.message.contains("{workload.clients}"),
        "hint names the missing axis: {e}"
    );
    assert_eq!(e.line, Some(11));
}

#[test]
fn unknown_axis_is_reported_at_its_key() {
    let errs = errors(&with_pgbench(
        "matrix:
  name: \"c{workload.clientz}\"
  axes:
    workload.clientz: [4, 8]
",
    ));
    let e = error_at(&errs, "matrix.axes.workload.clientz");
    assert!(
        e.message
            .starts_with("unknown axis `workload.clientz`: expected one of database.version"),
        "{e}"
    );
    assert_eq!((e.line, e.column), (Some(13), Some(5)));
    for bad in [
        "name",
        "database",
        "database.settings.",
        "workload.env",
        "loader.hardware",
        "database.hardware.ram",
        "workload.clients.x",
    ] {
        assert!(axis_segments(bad).is_none(), "{bad}");
    }
}

#[test]
fn bad_axis_values_are_reported_at_the_value() {
    let errs = errors(&with_pgbench(
        "matrix:
  name: \"pg{database.version}-{workload.builtin}\"
  axes:
    database.version: [15, \"16\", 30]
    workload.builtin: [tpcb-like, tpcc]
    workload.duration: [1 fortnight]
",
    ));
    let e = error_at(&errs, "matrix.axes.database.version[1]");
    assert!(e.message.contains("expected u32"), "{e}");
    assert_eq!((e.line, e.column), (Some(13), Some(28)));
    let e = error_at(&errs, "matrix.axes.database.version[2]");
    assert!(e.message.contains("PostgreSQL 30"), "{e}");
    let e = error_at(&errs, "matrix.axes.workload.builtin[1]");
    assert!(e.message.contains("unknown variant `tpcc`"), "{e}");
    let e = error_at(&errs, "matrix.axes.workload.duration[0]");
    assert!(e.message.contains("invalid duration"), "{e}");
    assert_eq!(errs.len(), 4, "{errs:#?}");
}

#[test]
fn axis_values_meet_the_rest_of_the_test() {
    // A stroppy option as an axis on a pgbench suite, and threads above an axis's clients.
    let errs = errors(&with_pgbench(
        "    threads: 2
matrix:
  name: \"c{workload.clients}-v{workload.vus}\"
  axes:
    workload.clients: [1, 2]
    workload.vus: [5]
",
    ));
    let e = error_at(&errs, "matrix.axes.workload.clients[0]");
    assert_eq!(e.message, "threads (2) must not exceed clients (1)");
    let e = error_at(&errs, "matrix.axes.workload.vus[0]");
    assert!(e.message.contains("`vus` is a stroppy option"), "{e}");
    assert_eq!(errs.len(), 2, "{errs:#?}");
    // Missing values for matrix tests are for the defaults to give.
    let errs = errors(
        "name: s\ntarget: local\nmatrix: {name: \"pg{database.version}\", axes: {database.version: [15]}}\n",
    );
    let e = error_at(&errs, "defaults.workload.driver");
    assert!(e.message.contains("from defaults or from an axis"), "{e}");
}

#[test]
fn baseline_may_name_a_matrix_test_even_when_another_value_is_wrong() {
    let good = with_pgbench(
        "baseline: c8\nmatrix: {name: \"c{workload.clients}\", axes: {workload.clients: [4, 8]}}\n",
    );
    assert_eq!(suite(&good).baseline, "c8");
    let bad = good.replace("[4, 8]", "[0, 8]");
    let errs = errors(&bad);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    error_at(&errs, "matrix.axes.workload.clients[0]");
}

#[test]
fn templates_are_checked() {
    for (template, needle) in [
        ("pg{database.version", "unclosed `{`"),
        ("pg}", "unmatched `}`"),
        ("pg{workload.clients}", "not an axis"),
    ] {
        let errs = errors(&with_pgbench(&format!(
            "matrix:\n  name: \"{template}\"\n  axes:\n    database.version: [15]\n"
        )));
        assert!(
            error_at(&errs, "matrix.name").message.contains(needle),
            "{template}: {errs:?}"
        );
    }
    let errs = errors(&with_pgbench(
        "matrix:\n  name: \"PG{database.version}\"\n  axes:\n    database.version: [15]\n",
    ));
    assert!(
        error_at(&errs, "matrix.name")
            .message
            .contains("invalid test name `PG15`")
    );
    assert_eq!(name_fragment(&json!("  Tpcc//TX  ")), "tpcc-tx");
    assert_eq!(name_fragment(&json!(0.9)), "0-9");
    assert_eq!(name_fragment(&json!(true)), "true");
}

#[test]
fn empty_axes_and_oversized_matrices() {
    let errs = errors(&with_pgbench("matrix: {name: x, axes: {}}\n"));
    error_at(&errs, "matrix.axes");
    let errs = errors(&with_pgbench(
        "matrix: {name: \"x{workload.clients}\", axes: {workload.clients: []}}\n",
    ));
    error_at(&errs, "matrix.axes.workload.clients");
    let values: Vec<String> = (1..=17).map(|i| i.to_string()).collect();
    let list = values.join(", ");
    let errs = errors(&with_pgbench(&format!(
        "matrix:\n  name: \"c{{workload.clients}}-s{{workload.scale}}\"\n  axes:\n    workload.clients: [{list}]\n    workload.scale: [{list}]\n"
    )));
    let e = error_at(&errs, "matrix");
    assert!(e.message.contains("expands to 289 tests"), "{e}");
}

// --- formats, serialization, helpers --------------------------------------------

#[test]
fn content_types_pick_the_format() {
    use Format::*;
    for (ct, want) in [
        (None, Some(Yaml)),
        (Some(""), Some(Yaml)),
        (Some("application/json"), Some(Json)),
        (Some("Application/JSON; charset=utf-8"), Some(Json)),
        (Some("application/vnd.ratchet.suite+json"), Some(Json)),
        (Some("application/yaml"), Some(Yaml)),
        (Some("application/x-yaml"), Some(Yaml)),
        (Some("text/yaml; charset=utf-8"), Some(Yaml)),
        (Some("text/x-yaml"), Some(Yaml)),
        (Some("text/plain"), Some(Yaml)),
        (Some("application/octet-stream"), Some(Yaml)),
        (Some("multipart/form-data; boundary=x"), None),
        (Some("text/html"), None),
    ] {
        assert_eq!(Format::from_content_type(ct), want, "{ct:?}");
    }
}

#[test]
fn the_suite_serializes_with_a_driver_tag_and_readable_durations() {
    let s = suite(LOCAL_EXAMPLE);
    let v = serde_json::to_value(&s.tests[0]).unwrap();
    assert_eq!(
        v["workload"],
        json!({"driver": "pgbench", "duration": "10s", "scale": 1, "clients": 4, "threads": 2, "builtin": "tpcb-like"})
    );
    assert_eq!((&v["warmup"], &v["repeat"]), (&json!("3s"), &json!(3)));
    assert!(v["database"].get("hardware").is_none());
    let back: Suite = serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
    assert_eq!(back, s);
    let y = suite(YANDEX_EXAMPLE);
    let back: Suite = serde_json::from_str(&serde_json::to_string(&y).unwrap()).unwrap();
    assert_eq!(back, y);
    let w = serde_json::to_value(&y.tests[0].workload).unwrap();
    assert_eq!(w["driver"], "stroppy");
    assert_eq!(w["duration"], "10m");
    assert!(serde_json::from_value::<Workload>(json!({"driver": "pgbench", "duration": "1s", "scale": 1, "clients": 1, "threads": 1, "builtin": "tpcb-like", "vus": 1})).is_err());
}

#[test]
fn the_spec_serializes_back_to_its_own_shape() {
    let spec = parse(YANDEX_EXAMPLE, Format::Yaml).unwrap();
    let v = serde_json::to_value(&spec).unwrap();
    assert_eq!(v["defaults"]["workload"]["duration"], "10m");
    assert_eq!(
        v["matrix"]["axes"],
        json!({"database.version": [16, 17], "workload.vus": [64, 128]})
    );
    // Axis order survives (it decides the combination order).
    let text = serde_json::to_string(&v["matrix"]["axes"]).unwrap();
    assert!(text.find("database.version") < text.find("workload.vus"));
    let minimal = parse("name: s\ntarget: local\n", Format::Yaml).unwrap();
    assert_eq!(
        serde_json::to_value(&minimal).unwrap(),
        json!({"name": "s", "target": "local"})
    );
}

#[test]
fn error_display_forms() {
    let mut e = DocumentError::new("tests[1].workload.duration", "bad");
    assert_eq!(e.to_string(), "at tests[1].workload.duration: bad");
    e.line = Some(12);
    e.column = Some(7);
    assert_eq!(
        e.to_string(),
        "at tests[1].workload.duration (line 12, column 7): bad"
    );
    e.path.clear();
    assert_eq!(e.to_string(), "line 12, column 7: bad");
    e.line = None;
    assert_eq!(e.to_string(), "bad");
}

#[test]
fn errors_serialize_for_a_problem_document() {
    let errs =
        load_yaml("name: s\ntarget: local\ntests:\n  - name: a\n    workload: {clientz: 1}\n")
            .unwrap_err();
    let v = serde_json::to_value(&errs).unwrap();
    assert_eq!(v[0]["path"], "tests[0].workload.clientz");
    assert_eq!(
        (v[0]["line"].clone(), v[0]["column"].clone()),
        (json!(5), json!(16))
    );
    assert!(
        v[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("unknown field `clientz`")
    );
    let unlocated = serde_json::to_value(DocumentError::new("tests", "x")).unwrap();
    assert_eq!(unlocated, json!({"path": "tests", "message": "x"}));
    let many = errors(&with_pgbench("tests: [{name: A}, {name: B}]\n"));
    assert_eq!(many.len(), 2);
    assert!(many.iter().all(|e| e.line.is_some()));
}

#[test]
fn json_documents_are_located_too() {
    let text = "{\n  \"name\": \"s\",\n  \"target\": \"local\",\n  \"tests\": [\n    {\"name\": \"a\", \"database\": {\"version\": 9}}\n  ]\n}";
    let errs = load(text, Format::Json).unwrap_err().0;
    let e = error_at(&errs, "tests[0].database.version");
    assert_eq!((e.line, e.column), (Some(5), Some(32)));
}

// Suite documents come from anyone with a write token: any variation of the examples
// loads or is refused with located errors (at most MAX_ERRORS and one more), never a panic.
// The same for workflow definitions, parsed and validated as the API does.
proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(ratchet_test_support::fuzz::cases()))]

    #[test]
    fn any_variation_of_an_example_suite_loads_or_gets_named_errors(
        text in proptest::prop_oneof![
            ratchet_test_support::fuzz::mutations_of(LOCAL_EXAMPLE),
            ratchet_test_support::fuzz::mutations_of(YANDEX_EXAMPLE),
        ],
    ) {
        if let Err(errors) = load_yaml(&text) {
            proptest::prop_assert!(!errors.0.is_empty());
            proptest::prop_assert!(errors.0.len() <= crate::document::MAX_ERRORS + 1);
            for e in &errors.0 {
                proptest::prop_assert!(!e.message.trim().is_empty(), "{e:?}");
            }
        }
    }

    #[test]
    fn any_variation_of_a_workflow_definition_parses_and_validates_or_is_refused(
        text in ratchet_test_support::fuzz::mutations_of(WORKFLOW),
    ) {
        if let Ok(def) = crate::document::parse::<engine::definition::WorkflowDef>(&text, Format::Json) {
            let _ = def.validate();
        }
    }
}

/// A workflow definition that uses most of what one can say.
const WORKFLOW: &str = r#"{"name":"w","version":"1","tasks":[
 {"name":"a","action":"shell","retries":2,"backoff_factor":2.0,"backoff_max_seconds":30,"execution_timeout":"5m",
  "desired_labels":{"zone":{"value":"a","required":true}},"with":{"command":"echo a"}},
 {"name":"b","action":"shell","parents":["a"],"skip_if":[[{"parent":{"parent":"a","expression":"output.code == 0"}}]],"wait_for":[[{"sleep":"1s"},{"event":{"key":"go"}}]],"with":{"command":"echo b"}}],
 "concurrency":{"expression":"input.key","max_runs":2,"limit_strategy":"GROUP_ROUND_ROBIN"},
 "on_events":["push",{"key":"pr","filter":"payload.n > 1"}],"on_crons":["*/5 * * * *"],
 "on_failure":{"name":"cleanup","action":"shell","with":{"command":"echo c"}}}"#;

#[test]
fn the_fuzzed_workflow_definition_is_valid_to_begin_with() {
    let def: engine::definition::WorkflowDef =
        crate::document::parse(WORKFLOW, Format::Json).unwrap();
    def.validate().unwrap();
}
