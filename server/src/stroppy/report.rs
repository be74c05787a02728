//! A suite's report, for people and for CI: its verdicts with their intervals, what was
//! measured on what (PostgreSQL version and settings, machines, the load tool and its
//! command line), and how each test's settings differ from the baseline's. Rendered as
//! JSON, Markdown, or JUnit XML (a failed or regressed test is a failed test case, so CI
//! systems show it natively).

use std::collections::BTreeMap;

use engine::store::{ReadStore, StoreError};
use protocol::actions::{
    FaultInjected, LoadResult, MachineInfo, Outage, PgSetting, PoolerStats, PostgresInstance,
    StatementStat,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::stroppy::results::{Comparisons, SuiteResult, TestRow};
use crate::stroppy::spec::Order;
use crate::stroppy::stats::{Comparison, Verdict};
use crate::stroppy::steps::{self, TestStep};
use crate::stroppy::view::{NodeView, SuiteStatus, SuiteView, TestStatus};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Report {
    pub id: Uuid,
    pub name: String,
    pub status: SuiteStatus,
    /// Why the status is not COMPLETED.
    pub error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub order: Order,
    /// The comparison (unset until every test has ended).
    pub result: Option<SuiteResult>,
    /// Per test, what it ran on (from its first completed repetition).
    pub environments: Vec<Environment>,
}

/// What one test was measured on.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Environment {
    pub test: String,
    pub postgres_version: Option<String>,
    pub database_machine: Option<MachineInfo>,
    pub loader_machine: Option<MachineInfo>,
    pub tool: Option<String>,
    pub tool_version: Option<String>,
    /// The measured run's command line.
    pub command: Option<String>,
    /// The settings not at their built-in default (but for those PostgreSQL derives
    /// itself and those a client session set).
    pub changed_settings: Vec<PgSetting>,
    /// Settings whose value differs from the baseline test's (unset for the baseline).
    pub vs_baseline: Vec<SettingDiff>,
    /// The measured window on average (from the per-second samples).
    pub during_load: Option<LoadProfile>,
    /// The statements that took the most time (`database.stat_statements: true`).
    pub top_statements: Vec<StatementStat>,
    /// The machines and what each served: the database's topology.
    pub nodes: Vec<NodeView>,
    /// What the pooler the load went through counted over the measured window.
    pub pooler: Option<PoolerStats>,
    /// The scheduled fault, and the load's outage through it.
    pub fault: Option<FaultInjected>,
    pub outage: Option<Outage>,
}

/// A run's machine and database activity, averaged over its measured window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoadProfile {
    pub cpu_user_pct: f64,
    pub cpu_system_pct: f64,
    pub cpu_iowait_pct: f64,
    /// The database machine's CPU (user + system), when it is another machine.
    pub database_cpu_pct: Option<f64>,
    pub disk_write_bytes_ps: f64,
    pub disk_util_pct: f64,
    pub commits_ps: f64,
    /// Hit ratio of shared buffers, in percent.
    pub cache_hit_pct: Option<f64>,
    pub checkpoints: f64,
    /// Wait events seen over the samples, most frequent first (at most 5).
    pub top_waits: Vec<(String, u32)>,
}

fn profile(load: &LoadResult) -> Option<LoadProfile> {
    use statrs::statistics::Statistics;
    if load.system.is_empty() && load.database.is_empty() {
        return None;
    }
    let mean = |values: Vec<f64>| {
        if values.is_empty() {
            0.0
        } else {
            values.mean()
        }
    };
    let sys =
        |f: fn(&protocol::actions::SystemPoint) -> f64| mean(load.system.iter().map(f).collect());
    let db = |f: fn(&protocol::actions::DatabasePoint) -> f64| {
        mean(load.database.iter().map(f).collect())
    };
    let (hit, read) = (db(|p| p.blocks_hit_ps), db(|p| p.blocks_read_ps));
    let mut waits: BTreeMap<&str, u32> = BTreeMap::new();
    for p in &load.database {
        for (w, n) in &p.waits {
            *waits.entry(w).or_default() += n;
        }
    }
    let mut top_waits: Vec<(String, u32)> =
        waits.into_iter().map(|(w, n)| (w.to_string(), n)).collect();
    top_waits.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top_waits.truncate(5);
    Some(LoadProfile {
        cpu_user_pct: sys(|p| p.cpu_user_pct),
        cpu_system_pct: sys(|p| p.cpu_system_pct),
        cpu_iowait_pct: sys(|p| p.cpu_iowait_pct),
        database_cpu_pct: (!load.database_machine.is_empty()).then(|| {
            mean(
                load.database_machine
                    .iter()
                    .map(|p| p.cpu_user_pct + p.cpu_system_pct)
                    .collect(),
            )
        }),
        disk_write_bytes_ps: sys(|p| p.disk_write_bytes_ps),
        disk_util_pct: sys(|p| p.disk_util_pct),
        commits_ps: db(|p| p.commits_ps),
        cache_hit_pct: (hit + read > 0.0).then(|| hit / (hit + read) * 100.0),
        checkpoints: load.database.iter().map(|p| p.checkpoints).sum(),
        top_waits,
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SettingDiff {
    pub name: String,
    pub baseline: Option<String>,
    pub this: Option<String>,
}

/// Settings that name the instance itself (its paths, its address): different for every
/// test by construction, so never a finding.
const PER_INSTANCE: &[&str] = &[
    "config_file",
    "data_directory",
    "external_pid_file",
    "hba_file",
    "ident_file",
    "listen_addresses",
    "unix_socket_directories",
];

/// The report of `view`, reading each test's database step for its environment.
pub async fn build(reads: &dyn ReadStore, view: &SuiteView) -> Result<Report, StoreError> {
    let mut environments = Vec::new();
    for test in &view.tests {
        let Some(rep) = test
            .repetitions
            .iter()
            .find(|r| r.status == TestStatus::Completed)
        else {
            environments.push(Environment {
                test: test.name.clone(),
                ..Default::default()
            });
            continue;
        };
        let tasks = reads.tasks(rep.run_id).await?;
        environments.push(environment(&test.name, &tasks));
    }
    let baseline = view.result.as_ref().map(|r| r.baseline.clone());
    let base_settings: Option<Vec<PgSetting>> = baseline
        .as_ref()
        .and_then(|b| environments.iter().find(|e| e.test == *b))
        .map(|e| e.changed_settings.clone());
    if let (Some(baseline), Some(base)) = (&baseline, base_settings) {
        let base = settings_map(&base);
        for env in environments.iter_mut().filter(|e| e.test != *baseline) {
            env.vs_baseline = diff(&base, &settings_map(&env.changed_settings));
        }
    }
    let order = serde_json::from_value(view.spec["order"].clone()).unwrap_or_default();
    Ok(Report {
        id: view.id,
        name: view.name.clone(),
        status: view.status,
        error: view.error.clone(),
        created_at: view.created_at,
        finished_at: view.finished_at,
        order,
        result: view.result.clone(),
        environments,
    })
}

/// What test `test` was measured on, from a test run's tasks: its database step, its
/// load's first measured run, its machines and its fault.
fn environment(test: &str, tasks: &[engine::model::TaskState]) -> Environment {
    let db: Option<PostgresInstance> = TestStep::RunDatabaseContainers
        .output_in(tasks)
        .and_then(|o| serde_json::from_value(o.clone()).ok());
    let load = crate::stroppy::results::measured_runs(
        steps::LOAD.output_in(tasks),
        steps::DATABASE_MACHINE.output_in(tasks),
    )
    .into_iter()
    .next();
    let (db, load) = (db.as_ref(), load.as_ref());
    Environment {
        test: test.to_string(),
        postgres_version: db.map(|d| d.server_version.clone()),
        database_machine: db.and_then(|d| d.machine.clone()),
        loader_machine: load.and_then(|l| l.machine.clone()),
        tool: load.map(|l| l.tool.clone()),
        tool_version: load.and_then(|l| l.tool_version.clone()),
        command: load.and_then(|l| l.command.clone()),
        changed_settings: db
            .map(|d| {
                d.settings
                    .iter()
                    .filter(|s| s.boot_val.as_ref() != Some(&s.setting))
                    .filter(|s| !PER_INSTANCE.contains(&s.name.as_str()))
                    // The reading session's own values, and values derived from others.
                    .filter(|s| !matches!(s.source.as_str(), "client" | "session"))
                    .filter(|s| s.context.as_deref() != Some("internal"))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default(),
        vs_baseline: Vec::new(),
        during_load: load.and_then(profile),
        top_statements: load.map(|l| l.top_statements.clone()).unwrap_or_default(),
        nodes: crate::stroppy::view::nodes_of(tasks, load),
        pooler: load.and_then(|l| l.pooler.clone()),
        fault: crate::stroppy::view::fault_of(tasks),
        outage: load.and_then(|l| l.outage.clone()),
    }
}

/// `- fault: kill of the primary; no transaction completed for 10.4 s (the load started
/// again 41 times); replica-1 led after 9.8 s`.
fn fault_line(fault: Option<&FaultInjected>, outage: Option<&Outage>) -> Option<String> {
    let fault = fault?;
    let mut line = format!("- fault: {} of the primary", fault.kind);
    if let Some(o) = outage {
        line.push_str(&format!(
            "; no transaction completed for {:.1} s{} (the load started again {} times)",
            o.seconds,
            if o.first_after_ms.is_none() {
                ", to the end of the window"
            } else {
                ""
            },
            o.load_restarts
        ));
    }
    if let Some(at) = fault.recovered_at_ms {
        line.push_str(&format!(
            "; it accepted connections again after {:.1} s",
            (at - fault.at_ms) as f64 / 1000.0
        ));
    }
    if let (Some(leader), Some(at)) = (&fault.new_leader, fault.new_leader_at_ms) {
        line.push_str(&format!(
            "; {leader} led after {:.1} s",
            (at - fault.at_ms) as f64 / 1000.0
        ));
    }
    line.push('\n');
    Some(line)
}

/// `standby replica-1 at 127.1.2.20 (15.4): quorum, lag ≤ 12.3 kB`.
fn node_line(n: &NodeView) -> String {
    let mut line = format!("{} {} at {}", n.serves, n.role, n.address);
    if let Some(v) = &n.version {
        line.push_str(&format!(" ({v})"));
    }
    if let Some(r) = &n.replication {
        line.push_str(&format!(
            ": {}, lag ≤ {:.1} kB (mean {:.1} kB){}",
            r.sync_state,
            r.max_lag_bytes / 1e3,
            r.mean_lag_bytes / 1e3,
            r.max_replay_lag_ms
                .map_or(String::new(), |ms| format!(", replay lag ≤ {ms:.1} ms"))
        ));
    }
    line
}

fn settings_map(settings: &[PgSetting]) -> BTreeMap<&str, String> {
    settings
        .iter()
        .map(|s| (s.name.as_str(), with_unit(s)))
        .collect()
}

fn with_unit(s: &PgSetting) -> String {
    match &s.unit {
        Some(unit) => format!("{} {unit}", s.setting),
        None => s.setting.clone(),
    }
}

/// The settings changed from the defaults in only one of the two, or to other values.
fn diff(base: &BTreeMap<&str, String>, this: &BTreeMap<&str, String>) -> Vec<SettingDiff> {
    let mut names: Vec<&str> = base.keys().chain(this.keys()).copied().collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .filter(|n| base.get(n) != this.get(n))
        .map(|n| SettingDiff {
            name: n.to_string(),
            baseline: base.get(n).cloned(),
            this: this.get(n).cloned(),
        })
        .collect()
}

/// The columns of the results table (Markdown and the terminal alike).
pub const COLUMNS: [&str; 8] = [
    "test",
    "status",
    "runs",
    "TPS (median)",
    "CV",
    "Δ TPS [interval]",
    "p95 ms",
    "verdict",
];

/// One test's row of the results table.
pub fn cells(row: &TestRow, baseline: &str) -> [String; 8] {
    let completed = row
        .repetitions
        .iter()
        .filter(|r| r.status == "COMPLETED")
        .count();
    let tps = row.tps_summary.as_ref();
    let compared = row.comparison.as_ref();
    [
        row.name.clone(),
        row.status.clone(),
        format!("{completed}/{}", row.repetitions.len()),
        tps.map_or("-".into(), |s| format!("{:.1}", s.median)),
        tps.filter(|s| s.n > 1)
            .map_or("-".into(), |s| format!("{:.1} %", s.cv_pct)),
        match compared.and_then(|c| c.tps.as_ref()) {
            Some(c) => delta_with_interval(c),
            None if row.name == baseline => "baseline".into(),
            None => "-".into(),
        },
        match (
            row.latency_ms.as_ref(),
            compared.and_then(|c| c.p95.as_ref()),
        ) {
            (Some(l), Some(c)) => format!("{:.3} ({:+.1} %)", l.p95, c.delta_pct),
            (Some(l), None) => format!("{:.3}", l.p95),
            _ => "-".into(),
        },
        compared.map_or(String::new(), verdicts),
    ]
}

fn delta_with_interval(c: &Comparison) -> String {
    match (c.low, c.high) {
        (Some(low), Some(high)) => format!(
            "{:+.1} % [{:+.1}, {:+.1}]",
            c.delta_pct,
            (low - 1.0) * 100.0,
            (high - 1.0) * 100.0
        ),
        _ => format!("{:+.1} %", c.delta_pct),
    }
}

/// The verdicts in a few words: the TPS one, and latency ones that differ from it.
pub fn verdicts(c: &Comparisons) -> String {
    let tps = c.tps.as_ref().map(|c| c.verdict);
    let mut words = vec![tps.map_or("-".to_string(), |v| v.as_str().to_string())];
    for (metric, comparison) in [("p95", &c.p95), ("p99", &c.p99)] {
        if let Some(x) = comparison
            && Some(x.verdict) != tps
            && matches!(x.verdict, Verdict::Regression | Verdict::Improvement)
        {
            words.push(format!("{metric} {}", x.verdict.as_str()));
        }
    }
    words.join("; ")
}

fn escape_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn machine_line(m: &MachineInfo) -> String {
    format!(
        "{} — {} × {}, {} MB memory, {:.0} GB disk, kernel {}",
        m.hostname, m.cores, m.cpu_model, m.memory_mb, m.disk_gb, m.kernel
    )
}

pub fn markdown(report: &Report) -> String {
    let mut out = format!("# Suite `{}`: {}\n\n", report.name, report.status.as_str());
    if let Some(e) = &report.error {
        out.push_str(&format!("> {}\n\n", escape_cell(e)));
    }
    let Some(result) = &report.result else {
        out.push_str("The suite has not finished: no results yet.\n");
        return out;
    };
    out.push_str(&format!(
        "Baseline `{}`; a difference counts when the {:.0} % interval of the ratio of medians lies beyond ±{:.1} % (bootstrap, seed {}). Order: {}.\n\n",
        result.baseline,
        result.significance.confidence * 100.0,
        result.significance.min_effect * 100.0,
        result.seed,
        report.order.as_str()
    ));
    out.push_str(&format!("| {} |\n", COLUMNS.join(" | ")));
    out.push_str(&format!("|{}\n", "---|".repeat(COLUMNS.len())));
    for row in &result.tests {
        let cells = cells(row, &result.baseline).map(|c| escape_cell(&c));
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out.push('\n');
    for row in &result.tests {
        for c in row.comparison.iter().flat_map(|c| c.tps.iter()) {
            out.push_str(&format!(
                "- `{}` TPS: {} — {}\n",
                row.name,
                c.verdict.as_str(),
                c.reason
            ));
        }
        if let Some(e) = &row.error {
            out.push_str(&format!("- `{}` failed: {}\n", row.name, escape_cell(e)));
        }
    }
    if !result.unsteady.is_empty() {
        out.push_str(&format!(
            "- Not steady (a trend or a stall inside the measured window): {}\n",
            result.unsteady.join(", ")
        ));
    }
    out.push_str("\n## What was measured\n\n");
    for env in &report.environments {
        out.push_str(&format!("### `{}`\n\n", env.test));
        if let Some(v) = &env.postgres_version {
            out.push_str(&format!("- PostgreSQL {v}\n"));
        }
        if let Some(m) = &env.database_machine {
            out.push_str(&format!("- database machine: {}\n", machine_line(m)));
        }
        if let Some(m) = &env.loader_machine {
            out.push_str(&format!("- load machine: {}\n", machine_line(m)));
        }
        if env
            .nodes
            .iter()
            .any(|n| n.serves != "single" && n.serves != "load")
        {
            let nodes: Vec<String> = env.nodes.iter().map(node_line).collect();
            out.push_str(&format!("- topology: {}\n", nodes.join("; ")));
        }
        if let Some(line) = fault_line(env.fault.as_ref(), env.outage.as_ref()) {
            out.push_str(&line);
        }
        if let Some(p) = &env.pooler {
            out.push_str(&format!(
                "- through the pooler: {:.0} transactions, {:.0} queries, clients waited {:.0} ms for a server connection in all\n",
                p.transactions, p.queries, p.wait_ms
            ));
        }
        if let Some(tool) = &env.tool {
            out.push_str(&format!(
                "- load: {}{}\n",
                env.tool_version.as_deref().unwrap_or(tool),
                env.command
                    .as_ref()
                    .map_or(String::new(), |c| format!(": `{c}`"))
            ));
        }
        if let Some(p) = &env.during_load {
            let waits: Vec<String> = p
                .top_waits
                .iter()
                .map(|(w, n)| format!("{w} ({n})"))
                .collect();
            out.push_str(&format!(
                "- during the load: CPU {:.0} % user, {:.0} % system, {:.0} % iowait{}; disk writes {:.1} MB/s (busiest disk {:.0} % busy); {:.0} commits/s{}; {} checkpoints{}\n",
                p.cpu_user_pct,
                p.cpu_system_pct,
                p.cpu_iowait_pct,
                p.database_cpu_pct.map_or(String::new(), |c| format!(" (database machine {c:.0} %)")),
                p.disk_write_bytes_ps / 1e6,
                p.disk_util_pct,
                p.commits_ps,
                p.cache_hit_pct.map_or(String::new(), |h| format!(", {h:.1} % buffer hits")),
                p.checkpoints,
                if waits.is_empty() { String::new() } else { format!("; waits: {}", waits.join(", ")) },
            ));
        }
        if !env.top_statements.is_empty() {
            out.push_str("\n| top statements | calls | total ms | mean ms |\n|---|---|---|---|\n");
            for st in env.top_statements.iter().take(5) {
                out.push_str(&format!(
                    "| `{}` | {:.0} | {:.1} | {:.3} |\n",
                    escape_cell(&st.query).replace('`', "'"),
                    st.calls,
                    st.total_ms,
                    st.mean_ms
                ));
            }
        }
        if !env.vs_baseline.is_empty() {
            out.push_str("\n| setting | baseline | this test |\n|---|---|---|\n");
            for d in &env.vs_baseline {
                out.push_str(&format!(
                    "| {} | {} | {} |\n",
                    d.name,
                    escape_cell(d.baseline.as_deref().unwrap_or("(default)")),
                    escape_cell(d.this.as_deref().unwrap_or("(default)"))
                ));
            }
        }
        out.push('\n');
    }
    out
}

/// JUnit XML: the suite a test suite, each test a test case, failed when the test failed
/// or regressed on any metric.
pub fn junit(report: &Report) -> String {
    use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new(report.name.clone());
    for row in report.result.iter().flat_map(|r| r.tests.iter()) {
        let regressed = row
            .comparison
            .as_ref()
            .map(|c| c.with(Verdict::Regression))
            .unwrap_or_default();
        let status = if row.status != "COMPLETED" {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(format!(
                "{}: {}",
                row.status,
                row.error.as_deref().unwrap_or("no error recorded")
            ));
            s
        } else if !regressed.is_empty() {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let reasons: Vec<String> = row
                .comparison
                .iter()
                .flat_map(|c| c.all())
                .filter(|(_, c)| c.verdict == Verdict::Regression)
                .map(|(m, c)| format!("{m} {:+.1} % ({})", c.delta_pct, c.reason))
                .collect();
            s.set_message(format!("regression: {}", reasons.join("; ")));
            s.set_type("regression");
            s
        } else {
            TestCaseStatus::success()
        };
        let mut case = TestCase::new(row.name.clone(), status);
        case.set_classname(report.name.clone());
        let baseline = report.result.as_ref().map_or("", |r| r.baseline.as_str());
        let out: Vec<String> = COLUMNS
            .iter()
            .zip(cells(row, baseline))
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        case.set_system_out(out.join("\n"));
        suite.add_test_case(case);
    }
    let mut junit = Junit::new(format!("ratchet {}", report.name));
    junit.add_test_suite(suite);
    junit
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot write the report: {e} -->"))
}
