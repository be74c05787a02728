//! Expansion: every test merged over `defaults` (layer by layer, the later one winning),
//! the matrix multiplied out, defaults filled in, and every value checked — collecting
//! every problem at once, each at its path.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::checks::*;
use super::*;
use crate::document::DocPath;
use crate::stroppy::stats::Significance;

/// A test's machines may be given at least this long, and at most a week (the TTL must
/// also outlast every test's load: checked below).
pub(super) const MIN_TTL: std::time::Duration = std::time::Duration::from_secs(60);
pub(super) const MAX_TTL: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);
pub(super) const MAX_CORES: u32 = 256;
pub(super) const MAX_MEMORY_GB: u32 = 2048;
pub(super) const MAX_DISK_GB: u32 = 65536;
/// Most repetitions of one test, and of all tests together.
pub(super) const MAX_REPEAT: u32 = 50;
pub(super) const MAX_RUNS: u64 = 1000;

impl SuiteSpec {
    /// Merge every test over `defaults`, multiply out the matrix, fill in defaults and
    /// check everything. Returns *all* problems found; their paths are set but not their
    /// line and column (this has no text), which [`DocumentErrors::locate`] or [`load`] add.
    pub fn expand(&self) -> Result<Suite, DocumentErrors> {
        let mut x = Expander {
            target: self.target,
            order: self.order.unwrap_or_default(),
            issues: Issues::default(),
        };
        x.check_name(&DocPath::root().key("name"), &self.name, "suite");
        if let Some(ttl) = self.ttl
            && !(MIN_TTL..=MAX_TTL).contains(&ttl.0)
        {
            x.issues.push(
                DocPath::root().key("ttl"),
                format!(
                    "ttl {} is out of range: use {} to {}",
                    humantime::format_duration(ttl.0),
                    humantime::format_duration(MIN_TTL),
                    humantime::format_duration(MAX_TTL)
                ),
            );
        }

        let defaults = self.defaults.as_ref();
        let defaults_layer = Layer {
            database: defaults.and_then(|d| d.database.as_ref()),
            workload: defaults.and_then(|d| d.workload.as_ref()),
            loader: defaults.and_then(|d| d.loader.as_ref()),
            origin: Origin::Under(DocPath::root().key("defaults")),
        };
        x.check_layer(&defaults_layer);

        let mut tests: Vec<TestSpec> = Vec::new();
        let mut names: HashMap<String, String> = HashMap::new();
        for (i, entry) in self.tests.iter().enumerate() {
            let at = DocPath::root().key("tests").index(i);
            if x.check_name(&at.key("name"), &entry.name, "test") {
                if let Some(first) = names.get(&entry.name) {
                    x.issues.push(
                        at.key("name"),
                        format!(
                            "duplicate test name `{}` (first used at {first})",
                            entry.name
                        ),
                    );
                } else {
                    names.insert(entry.name.clone(), at.key("name").0);
                }
            }
            let layer = Layer {
                database: entry.database.as_ref(),
                workload: entry.workload.as_ref(),
                loader: entry.loader.as_ref(),
                origin: Origin::Under(at.clone()),
            };
            x.check_layer(&layer);
            let missing = Missing {
                at,
                hint: "set it in this test or in defaults",
            };
            if let Some(test) = x.resolve(
                entry.name.clone(),
                &[defaults_layer.clone(), layer],
                &missing,
            ) {
                tests.push(test);
            }
        }

        let mut total = self.tests.len();
        if let Some(matrix) = &self.matrix {
            total = total.saturating_add(x.expand_matrix(
                matrix,
                &defaults_layer,
                self.tests.len(),
                &mut names,
                &mut tests,
            ));
        }

        if total == 0 {
            x.issues.push(
                DocPath::root().key("tests"),
                "the suite has no tests: add at least one under `tests` or a `matrix`",
            );
        } else if total > MAX_TESTS {
            let at = if self.matrix.is_some() {
                "matrix"
            } else {
                "tests"
            };
            x.issues.push(
                DocPath::root().key(at),
                format!("the suite expands to {total} tests; at most {MAX_TESTS} are allowed"),
            );
        }

        let mut named_baseline = None;
        let baseline = match &self.baseline {
            Some(BaselineRef::Test(b)) if names.contains_key(b) => b.clone(),
            Some(BaselineRef::Test(b)) => {
                let mut known: Vec<&str> = names.keys().map(String::as_str).collect();
                known.sort_unstable();
                x.issues.push(
                    DocPath::root().key("baseline"),
                    format!("no test is named `{b}`; tests: {}", list_names(&known)),
                );
                String::new()
            }
            Some(BaselineRef::Named(n)) => {
                let at = DocPath::root().key("baseline");
                x.check_name(&at.key("suite"), &n.suite, "baseline");
                x.check_name(&at.key("test"), &n.test, "test");
                named_baseline = Some(NamedBaseline {
                    name: n.suite.clone(),
                    test: n.test.clone(),
                    suite_id: None,
                });
                format!("{}/{}", n.suite, n.test)
            }
            None => tests.first().map(|t| t.name.clone()).unwrap_or_default(),
        };

        if let Some(ttl) = self.ttl
            && let Some(longest) = tests.iter().max_by_key(|t| t.machine_load_s())
            && longest.machine_load_s() >= ttl.0.as_secs()
        {
            x.issues.push(
                DocPath::root().key("ttl"),
                format!(
                    "ttl {} is shorter than the load of test `{}` ({}): its machines would be destroyed mid-test",
                    humantime::format_duration(ttl.0),
                    longest.name,
                    humantime::format_duration(std::time::Duration::from_secs(longest.machine_load_s()))
                ),
            );
        }
        let runs: u64 = tests.iter().map(|t| u64::from(t.repeat)).sum();
        if runs > MAX_RUNS {
            x.issues.push(
                DocPath::root().key("tests"),
                format!("the suite's tests repeat to {runs} runs; at most {MAX_RUNS} are allowed"),
            );
        }
        let significance = x.significance(self.significance.as_ref());
        if !x.issues.is_empty() {
            return Err(x.issues.into_errors());
        }
        Ok(Suite {
            name: self.name.clone(),
            description: self.description.clone(),
            target: self.target,
            baseline,
            named_baseline,
            ttl: self.ttl,
            tests,
            order: self.order.unwrap_or_default(),
            // Expansion is pure: a submission without a seed gets a fresh one (`fresh_seed`).
            seed: self.seed.unwrap_or(0),
            significance,
        })
    }
}

pub(super) fn list_names(names: &[&str]) -> String {
    const SHOWN: usize = 10;
    let mut s = names
        .iter()
        .take(SHOWN)
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    if s.is_empty() {
        s.push_str("none");
    }
    s
}

/// Problems found so far; the same problem reached from several tests (a bad value in
/// `defaults`) is kept once.
#[derive(Default)]
pub(super) struct Issues {
    pub(super) list: Vec<DocumentError>,
    pub(super) seen: HashSet<(String, String)>,
}

impl Issues {
    pub(super) fn push(&mut self, path: DocPath, message: impl Into<String>) {
        let message = message.into();
        if self.seen.insert((path.0.clone(), message.clone())) {
            self.list.push(DocumentError::new(path.0, message));
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub(super) fn into_errors(self) -> DocumentErrors {
        DocumentErrors(self.list)
    }
}

/// Where a layer's fields are reported.
#[derive(Debug, Clone)]
pub(super) enum Origin {
    /// At the field's own path under this prefix (`defaults`, `tests[2]`).
    Under(DocPath),
    /// Always at this path: a matrix axis value (`matrix.axes.workload.clients[1]`).
    At(DocPath),
}

impl Origin {
    pub(super) fn at(&self, rel: &[&str]) -> DocPath {
        match self {
            Origin::Under(base) => base.keys(rel),
            Origin::At(p) => p.clone(),
        }
    }
}

/// One source of values for a test, later layers overriding earlier ones.
#[derive(Debug, Clone)]
pub(super) struct Layer<'a> {
    pub(super) database: Option<&'a DatabasePatch>,
    pub(super) workload: Option<&'a WorkloadPatch>,
    pub(super) loader: Option<&'a LoaderPatch>,
    pub(super) origin: Origin,
}

impl Layer<'_> {
    pub(super) fn hardware(&self, section: HwSection) -> Option<&HardwarePatch> {
        match section {
            HwSection::Database => self.database.and_then(|d| d.hardware.as_ref()),
            HwSection::Loader => self.loader.and_then(|l| l.hardware.as_ref()),
        }
    }

    pub(super) fn driver(&self) -> Option<Driver> {
        self.workload.and_then(|w| w.driver)
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum HwSection {
    Database,
    Loader,
}

impl HwSection {
    pub(super) fn key(self) -> &'static str {
        match self {
            HwSection::Database => "database",
            HwSection::Loader => "loader",
        }
    }
}

/// Where a missing required field is reported, and how to fix it.
pub(super) struct Missing {
    pub(super) at: DocPath,
    pub(super) hint: &'static str,
}

/// A value and the layer it came from.
pub(super) struct Picked<T> {
    pub(super) value: T,
    pub(super) path: DocPath,
    pub(super) layer: usize,
}

/// The value of the last layer that sets it.
pub(super) fn pick<'a, T>(
    layers: &[&Layer<'a>],
    rel: &[&str],
    get: impl Fn(&Layer<'a>) -> Option<T>,
) -> Option<Picked<T>> {
    layers.iter().enumerate().rev().find_map(|(i, l)| {
        get(l).map(|value| Picked {
            value,
            path: l.origin.at(rel),
            layer: i,
        })
    })
}

/// The workload fields only one driver understands.
pub(super) fn foreign_fields(w: &WorkloadPatch, driver: Driver) -> Vec<&'static str> {
    let mut out = Vec::new();
    match driver {
        Driver::Pgbench => {
            if w.version.is_some() {
                out.push("version");
            }
            if w.sha256.is_some() {
                out.push("sha256");
            }
            if w.workload.is_some() {
                out.push("workload");
            }
            if w.vus.is_some() {
                out.push("vus");
            }
            if !w.env.is_empty() {
                out.push("env");
            }
        }
        Driver::Stroppy => {
            if w.clients.is_some() {
                out.push("clients");
            }
            if w.threads.is_some() {
                out.push("threads");
            }
            if w.builtin.is_some() {
                out.push("builtin");
            }
        }
    }
    out
}

pub(super) fn other(driver: Driver) -> Driver {
    match driver {
        Driver::Pgbench => Driver::Stroppy,
        Driver::Stroppy => Driver::Pgbench,
    }
}

pub(super) struct Expander {
    pub(super) target: Target,
    pub(super) order: Order,
    pub(super) issues: Issues,
}

impl Expander {
    /// Suite and test names: they become parts of host, container and cloud resource
    /// names, hence DNS-label rules.
    pub(super) fn check_name(&mut self, path: &DocPath, name: &str, what: &str) -> bool {
        match name_problem(name) {
            None => true,
            Some(problem) => {
                self.issues.push(
                    path.clone(),
                    format!("invalid {what} name `{name}`: {problem}"),
                );
                false
            }
        }
    }

    /// Check each value a layer sets on its own, whether or not a later layer overrides
    /// it: a wrong value is worth fixing wherever it is.
    pub(super) fn check_layer(&mut self, layer: &Layer) {
        let o = &layer.origin;
        if let Some(db) = layer.database {
            if let Some(v) = db.version
                && !(MIN_PG_VERSION..=MAX_PG_VERSION).contains(&v)
            {
                self.issues.push(
                    o.at(&["database", "version"]),
                    format!(
                        "PostgreSQL {v} is not supported: use a major version from \
                         {MIN_PG_VERSION} to {MAX_PG_VERSION}"
                    ),
                );
            }
            for (key, value) in &db.settings {
                let at = match o {
                    Origin::Under(base) => base.keys(&["database", "settings"]).key(key),
                    Origin::At(p) => p.clone(),
                };
                if let Some(problem) = setting_name_problem(key) {
                    self.issues.push(
                        at.clone(),
                        format!("invalid setting name `{key}`: {problem}"),
                    );
                } else if let Some(why) = protocol::settings::refused(key) {
                    self.issues.push(
                        at.clone(),
                        format!(
                            "setting `{key}` is not allowed in a suite: {why} (see \"Security model\" in the README)"
                        ),
                    );
                }
                if let Some(problem) = setting_value_problem(value) {
                    self.issues.push(at, format!("setting `{key}` {problem}"));
                }
            }
        }
        for section in [HwSection::Database, HwSection::Loader] {
            if let Some(hw) = layer.hardware(section) {
                self.check_hardware(o, section, hw);
            }
        }
        if let Some(w) = layer.workload {
            self.check_workload(o, w);
        }
    }

    pub(super) fn check_hardware(&mut self, o: &Origin, section: HwSection, hw: &HardwarePatch) {
        let s = section.key();
        let fields = [
            ("cores", hw.cores, MAX_CORES),
            ("memory_gb", hw.memory_gb, MAX_MEMORY_GB),
            ("disk_gb", hw.disk_gb, MAX_DISK_GB),
        ];
        for (field, value, max) in fields {
            if let Some(v) = value
                && !(1..=max).contains(&v)
            {
                self.issues.push(
                    o.at(&[s, "hardware", field]),
                    format!("{field} must be from 1 to {max}, not {v}"),
                );
            }
        }
    }

    /// The suite's threshold, its values checked.
    fn significance(&mut self, patch: Option<&SignificancePatch>) -> Significance {
        let mut sig = Significance::default();
        let at = DocPath::root().key("significance");
        if let Some(Percent(pct)) = patch.and_then(|p| p.min_effect) {
            if pct > 0.0 && pct <= 50.0 {
                sig.min_effect = pct / 100.0;
            } else {
                self.issues.push(
                    at.key("min_effect"),
                    format!("min_effect {pct}% is out of range: use more than 0% and at most 50%"),
                );
            }
        }
        if let Some(c) = patch.and_then(|p| p.confidence) {
            if (0.5..=0.999).contains(&c) {
                sig.confidence = c;
            } else {
                self.issues.push(
                    at.key("confidence"),
                    format!("confidence {c} is out of range: use 0.5 to 0.999 (e.g. 0.95)"),
                );
            }
        }
        sig
    }

    pub(super) fn check_workload(&mut self, o: &Origin, w: &WorkloadPatch) {
        if let Some(d) = w.warmup {
            let d = d.0;
            let at = o.at(&["workload", "warmup"]);
            if d > MAX_DURATION {
                self.issues.push(
                    at,
                    format!(
                        "warmup {} is out of range: use 0s to {}",
                        humantime::format_duration(d),
                        humantime::format_duration(MAX_DURATION)
                    ),
                );
            } else if d.subsec_nanos() != 0 {
                self.issues.push(
                    at,
                    format!(
                        "warmup {} is not a whole number of seconds (the tools take seconds)",
                        humantime::format_duration(d)
                    ),
                );
            }
        }
        if let Some(r) = w.repeat
            && !(1..=MAX_REPEAT).contains(&r)
        {
            self.issues.push(
                o.at(&["workload", "repeat"]),
                format!("repeat must be from 1 to {MAX_REPEAT}, not {r}"),
            );
        }
        if let Some(d) = w.duration {
            let d = d.0;
            let at = o.at(&["workload", "duration"]);
            if d < MIN_DURATION || d > MAX_DURATION {
                self.issues.push(
                    at,
                    format!(
                        "duration {} is out of range: use {} to {}",
                        humantime::format_duration(d),
                        humantime::format_duration(MIN_DURATION),
                        humantime::format_duration(MAX_DURATION)
                    ),
                );
            } else if d.subsec_nanos() != 0 {
                self.issues.push(
                    at,
                    format!(
                        "duration {} is not a whole number of seconds (the tools take seconds)",
                        humantime::format_duration(d)
                    ),
                );
            }
        }
        for (field, value) in [
            ("scale", w.scale),
            ("clients", w.clients),
            ("threads", w.threads),
            ("vus", w.vus),
        ] {
            if value == Some(0) {
                self.issues.push(
                    o.at(&["workload", field]),
                    format!("{field} must be at least 1"),
                );
            }
        }
        if let Some(v) = &w.version
            && let Some(problem) = stroppy_version_problem(v)
        {
            self.issues.push(
                o.at(&["workload", "version"]),
                format!("invalid stroppy version `{v}`: {problem}"),
            );
        }
        if let Some(h) = &w.sha256
            && let Some(problem) = sha256_problem(h)
        {
            self.issues.push(
                o.at(&["workload", "sha256"]),
                format!("invalid sha256 `{h}`: {problem}"),
            );
        }
        if let Some(wl) = &w.workload
            && let Some(problem) = stroppy_workload_problem(wl)
        {
            self.issues.push(
                o.at(&["workload", "workload"]),
                format!("invalid stroppy workload `{wl}`: {problem}"),
            );
        }
        for (key, value) in &w.env {
            let at = match o {
                Origin::Under(base) => base.keys(&["workload", "env"]).key(key),
                Origin::At(p) => p.clone(),
            };
            if !is_env_name(key) {
                self.issues.push(
                    at.clone(),
                    format!(
                        "invalid environment variable name `{key}`: use [A-Za-z_][A-Za-z0-9_]*"
                    ),
                );
            }
            if value.contains('\0') {
                self.issues.push(
                    at,
                    format!("environment variable `{key}` contains a NUL character"),
                );
            }
        }
        if let Some(driver) = w.driver {
            for field in foreign_fields(w, driver) {
                self.issues.push(
                    o.at(&["workload", field]),
                    format!(
                        "`{field}` is a {} option, but the driver here is {}",
                        other(driver).as_str(),
                        driver.as_str()
                    ),
                );
            }
        }
    }

    /// Merge `layers` (lowest first) into one complete test, or record why it cannot be.
    pub(super) fn resolve(
        &mut self,
        name: String,
        layers: &[Layer],
        missing: &Missing,
    ) -> Option<TestSpec> {
        let all: Vec<&Layer> = layers.iter().collect();
        let before = self.issues.list.len();

        let version = pick(&all, &["database", "version"], |l| {
            l.database.and_then(|d| d.version)
        });
        if version.is_none() {
            self.missing(missing, &["database", "version"]);
        }
        let mut settings = BTreeMap::new();
        for l in &all {
            if let Some(db) = l.database {
                settings.extend(db.settings.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        let db_hardware = self.resolve_hardware(&all, HwSection::Database, missing);
        let stat_statements = pick(&all, &["database", "stat_statements"], |l| {
            l.database.and_then(|d| d.stat_statements)
        })
        .is_some_and(|p| p.value);
        let topology = self.resolve_topology(&all);
        let pooler = self.resolve_pooler(&all);
        let workload = self.resolve_workload(&all, missing);
        let repeat = pick(&all, &["workload", "repeat"], |l| {
            l.workload.and_then(|w| w.repeat)
        })
        .map_or(1, |p| p.value);
        let warmup = pick(&all, &["workload", "warmup"], |l| {
            l.workload.and_then(|w| w.warmup)
        })
        .map_or(std::time::Duration::ZERO, |p| p.value.0);
        // Back to back is possible on machines of the test's own, or in sequential order.
        let back_to_back = self.target != Target::Local || self.order == Order::Sequential;
        let reuse = pick(&all, &["workload", "reuse_database"], |l| {
            l.workload.and_then(|w| w.reuse_database)
        });
        if let Some(p) = &reuse
            && p.value
            && !back_to_back
            && repeat > 1
        {
            self.issues.push(
                p.path.clone(),
                format!(
                    "the {} repetitions of a local suite share this host's turn by turn, each on a fresh database: reusing one needs `order: sequential` (or set reuse_database: false)",
                    self.order.as_str()
                ),
            );
        }
        let reuse_database = reuse.map_or(back_to_back, |p| p.value);
        let loader_hardware = self.resolve_hardware(&all, HwSection::Loader, missing);
        let connect_to = pick(&all, &["workload", "connect_to"], |l| {
            l.workload.and_then(|w| w.connect_to)
        });
        let faults = self.resolve_faults(&all, workload.as_ref());
        if let (Some(c), Some(topology), Some(workload)) = (&connect_to, &topology, &workload)
            && c.value == ConnectTo::Replicas
        {
            let problem = if topology.replicas == 0 {
                Some("a load on the replicas needs some: set `database.topology.replicas`")
            } else if pooler.as_ref().is_some_and(Option::is_some) {
                Some(
                    "the pooler sits in front of the primary: a load on the replicas goes round them without it (drop `database.pooler`)",
                )
            } else {
                match workload {
                    Workload::Pgbench { builtin, .. } if *builtin != Builtin::SelectOnly => Some(
                        "standbys take no writes: a load on the replicas needs `builtin: select-only`",
                    ),
                    Workload::Stroppy { .. } => Some(
                        "Stroppy's workloads write, and standbys take no writes: use pgbench's `select-only`",
                    ),
                    Workload::Pgbench { .. } => None,
                }
            };
            if let Some(problem) = problem {
                self.issues.push(c.path.clone(), problem);
            }
        }

        if self.issues.list.len() > before {
            return None;
        }
        Some(TestSpec {
            name,
            database: DatabaseSpec {
                version: version?.value,
                settings,
                hardware: db_hardware,
                stat_statements,
                topology: topology?,
                pooler: pooler?,
            },
            workload: workload?,
            loader: LoaderSpec {
                hardware: loader_hardware,
            },
            repeat,
            warmup,
            reuse_database,
            connect_to: connect_to.map_or_else(ConnectTo::default, |c| c.value),
            faults: faults?,
        })
    }

    /// The servers: `kind` said or implied by `replicas`, replicas only where there are
    /// replicas to have.
    fn resolve_topology(&mut self, all: &[&Layer]) -> Option<Topology> {
        let topo = |l: &Layer| l.database.and_then(|d| d.topology.clone());
        let kind = pick(all, &["database", "topology", "kind"], |l| topo(l)?.kind);
        let replicas = pick(all, &["database", "topology", "replicas"], |l| {
            topo(l)?.replicas
        });
        let synchronous = pick(all, &["database", "topology", "synchronous"], |l| {
            topo(l)?.synchronous
        });
        let kind_value = match (&kind, &replicas) {
            (Some(k), _) => k.value,
            (None, Some(_)) => TopologyKind::Replicas,
            (None, None) => TopologyKind::Single,
        };
        let before = self.issues.list.len();
        match kind_value {
            TopologyKind::Single => {
                for (field, path) in [
                    ("replicas", replicas.as_ref().map(|p| &p.path)),
                    ("synchronous", synchronous.as_ref().map(|p| &p.path)),
                ] {
                    if let Some(path) = path {
                        self.issues.push(
                            path.clone(),
                            format!("a `single` topology has no `{field}`: set `kind: replicas` (or leave `kind` out)"),
                        );
                    }
                }
            }
            TopologyKind::Replicas | TopologyKind::Patroni => match &replicas {
                None => self.issues.push(
                    kind.as_ref().map_or_else(DocPath::root, |k| k.path.clone()),
                    format!(
                        "a `{}` topology needs `replicas`: how many (1 to {MAX_REPLICAS})",
                        if kind_value == TopologyKind::Patroni {
                            "patroni"
                        } else {
                            "replicas"
                        }
                    ),
                ),
                Some(p) if !(1..=MAX_REPLICAS).contains(&p.value) => self.issues.push(
                    p.path.clone(),
                    format!("{} replicas: give 1 to {MAX_REPLICAS}", p.value),
                ),
                Some(_) => {}
            },
        }
        if kind_value != TopologyKind::Single && self.target != Target::Local {
            let at = kind
                .as_ref()
                .map(|k| &k.path)
                .or(replicas.as_ref().map(|r| &r.path));
            self.issues.push(
                at.cloned().unwrap_or_else(DocPath::root),
                "replicas and Patroni run on the local target so far (the docker runtime of cloud machines makes no standbys yet)",
            );
        }
        (self.issues.list.len() == before).then(|| Topology {
            kind: kind_value,
            replicas: replicas.map_or(0, |p| p.value),
            synchronous: synchronous.is_some_and(|p| p.value),
        })
    }

    /// The faults of the last layer that lists any: one, in the measured window, with
    /// pgbench (which the agent keeps going through it).
    fn resolve_faults(
        &mut self,
        all: &[&Layer],
        workload: Option<&Workload>,
    ) -> Option<Vec<Fault>> {
        let Some(listed) = pick(all, &["workload", "faults"], |l| {
            l.workload.and_then(|w| w.faults.clone())
        }) else {
            return Some(Vec::new());
        };
        let before = self.issues.list.len();
        if listed.value.len() > 1 {
            self.issues.push(
                listed.path.clone(),
                format!("{} faults: one per test so far", listed.value.len()),
            );
        }
        if self.target != Target::Local {
            self.issues
                .push(listed.path.clone(), "faults run on the local target so far");
        }
        if let Some(Workload::Stroppy { .. }) = workload {
            self.issues.push(
                listed.path.clone(),
                "faults need the pgbench driver (its load is started again through them)",
            );
        }
        let mut faults = Vec::new();
        for (i, f) in listed.value.iter().enumerate() {
            let at = listed.path.index(i);
            let (kind, target) = match (f.kill, f.restart) {
                (Some(t), None) => (protocol::actions::FaultKind::Kill, t),
                (None, Some(t)) => (protocol::actions::FaultKind::Restart, t),
                _ => {
                    self.issues.push(
                        at,
                        "a fault is one of `kill: primary` or `restart: primary`",
                    );
                    continue;
                }
            };
            let duration = workload.map_or(u64::MAX, Workload::duration_s);
            if f.at.0.as_secs() >= duration || f.at.0.subsec_nanos() != 0 {
                self.issues.push(
                    at.key("at"),
                    format!(
                        "at {}: give whole seconds inside the measured window ({duration} s)",
                        humantime::format_duration(f.at.0)
                    ),
                );
                continue;
            }
            faults.push(Fault {
                at_s: f.at.0.as_secs(),
                kind,
                target,
            });
        }
        (self.issues.list.len() == before).then_some(faults)
    }

    /// The pooler, when any layer asks for one: every field has a default.
    fn resolve_pooler(&mut self, all: &[&Layer]) -> Option<Option<Pooler>> {
        let pooler = |l: &Layer| l.database.and_then(|d| d.pooler.clone());
        let Some(any) = pick(all, &["database", "pooler"], pooler) else {
            return Some(None);
        };
        let kind = pick(all, &["database", "pooler", "kind"], |l| pooler(l)?.kind);
        let pool_mode = pick(all, &["database", "pooler", "pool_mode"], |l| {
            pooler(l)?.pool_mode
        });
        let pool_size = pick(all, &["database", "pooler", "pool_size"], |l| {
            pooler(l)?.pool_size
        });
        if let Some(p) = &pool_size
            && !(1..=MAX_POOL_SIZE).contains(&p.value)
        {
            self.issues.push(
                p.path.clone(),
                format!(
                    "a pool of {}: give 1 to {MAX_POOL_SIZE} server connections",
                    p.value
                ),
            );
            return None;
        }
        if self.target != Target::Local {
            self.issues.push(
                any.path,
                "a pooler runs on the local target so far (cloud machines have no PgBouncer yet)",
            );
            return None;
        }
        Some(Some(Pooler {
            kind: kind.map_or_else(PoolerKind::default, |p| p.value),
            pool_mode: pool_mode.map_or_else(PoolMode::default, |p| p.value),
            pool_size: pool_size.map_or(DEFAULT_POOL_SIZE, |p| p.value),
        }))
    }

    pub(super) fn missing(&mut self, missing: &Missing, rel: &[&str]) {
        self.issues.push(
            missing.at.keys(rel),
            format!("`{}` is not set: {}", rel.join("."), missing.hint),
        );
    }

    pub(super) fn resolve_hardware(
        &mut self,
        layers: &[&Layer],
        section: HwSection,
        missing: &Missing,
    ) -> Option<Hardware> {
        let s = section.key();
        let cores = pick(layers, &[s, "hardware", "cores"], |l| {
            l.hardware(section).and_then(|h| h.cores)
        });
        let memory = pick(layers, &[s, "hardware", "memory_gb"], |l| {
            l.hardware(section).and_then(|h| h.memory_gb)
        });
        let disk = pick(layers, &[s, "hardware", "disk_gb"], |l| {
            l.hardware(section).and_then(|h| h.disk_gb)
        });
        if cores.is_none() && memory.is_none() && disk.is_none() {
            if self.target == Target::Yandex {
                self.issues.push(
                    missing.at.keys(&[s, "hardware"]),
                    format!(
                        "`{s}.hardware` (cores, memory_gb) is required when the target is \
                         yandex: {}",
                        missing.hint
                    ),
                );
            }
            return None;
        }
        if cores.is_none() {
            self.missing(missing, &[s, "hardware", "cores"]);
        }
        if memory.is_none() {
            self.missing(missing, &[s, "hardware", "memory_gb"]);
        }
        Some(Hardware {
            cores: cores?.value,
            memory_gb: memory?.value,
            disk_gb: disk.map_or(DEFAULT_DISK_GB, |d| d.value),
        })
    }

    pub(super) fn resolve_workload(
        &mut self,
        all: &[&Layer],
        missing: &Missing,
    ) -> Option<Workload> {
        let Some(driver) = pick(all, &["workload", "driver"], Layer::driver) else {
            self.missing(missing, &["workload", "driver"]);
            return None;
        };
        let driver = driver.value;
        // A layer that names another driver (defaults for pgbench, a test switching to
        // stroppy) keeps its driver's options to itself; a layer that names none must
        // only use options of the driver the test ends up with.
        let applicable: Vec<&Layer> = all
            .iter()
            .copied()
            .filter(|l| l.driver().is_none_or(|d| d == driver))
            .collect();
        for l in &applicable {
            if let Some(w) = l.workload
                && w.driver.is_none()
            {
                for field in foreign_fields(w, driver) {
                    self.issues.push(
                        l.origin.at(&["workload", field]),
                        format!(
                            "`{field}` is a {} option, but this test's driver is {}",
                            other(driver).as_str(),
                            driver.as_str()
                        ),
                    );
                }
            }
        }

        let duration = pick(all, &["workload", "duration"], |l| {
            l.workload.and_then(|w| w.duration)
        });
        if duration.is_none() {
            self.missing(missing, &["workload", "duration"]);
        }
        let scale = pick(all, &["workload", "scale"], |l| {
            l.workload.and_then(|w| w.scale)
        });

        match driver {
            Driver::Pgbench => {
                let clients = pick(&applicable, &["workload", "clients"], |l| {
                    l.workload.and_then(|w| w.clients)
                });
                let threads = pick(&applicable, &["workload", "threads"], |l| {
                    l.workload.and_then(|w| w.threads)
                });
                let builtin = pick(&applicable, &["workload", "builtin"], |l| {
                    l.workload.and_then(|w| w.builtin)
                });
                let n_clients = clients.as_ref().map_or(1, |c| c.value);
                if let Some(t) = &threads
                    && t.value > n_clients
                {
                    // Point at whichever of the two was set last: changing it fixes this test.
                    let at = match &clients {
                        Some(c) if c.layer > t.layer => c.path.clone(),
                        _ => t.path.clone(),
                    };
                    self.issues.push(
                        at,
                        format!(
                            "threads ({}) must not exceed clients ({n_clients})",
                            t.value
                        ),
                    );
                }
                Some(Workload::Pgbench {
                    duration: duration?.value.0,
                    scale: scale.map_or(1, |s| s.value),
                    clients: n_clients,
                    threads: threads.map_or(1, |t| t.value),
                    builtin: builtin.map_or_else(Builtin::default, |b| b.value),
                })
            }
            Driver::Stroppy => {
                let version = pick(&applicable, &["workload", "version"], |l| {
                    l.workload.and_then(|w| w.version.clone())
                });
                if version.is_none() {
                    self.missing(missing, &["workload", "version"]);
                }
                let workload = pick(&applicable, &["workload", "workload"], |l| {
                    l.workload.and_then(|w| w.workload.clone())
                });
                if workload.is_none() {
                    self.missing(missing, &["workload", "workload"]);
                }
                // A checksum belongs to the version set beside it (or later): one left in
                // `defaults` does not follow a test to another version.
                let sha256 = pick(&applicable, &["workload", "sha256"], |l| {
                    l.workload.and_then(|w| w.sha256.clone())
                })
                .filter(|h| version.as_ref().is_none_or(|v| h.layer >= v.layer))
                .map(|h| h.value.to_ascii_lowercase());
                let vus = pick(&applicable, &["workload", "vus"], |l| {
                    l.workload.and_then(|w| w.vus)
                });
                let mut env = BTreeMap::new();
                for l in &applicable {
                    if let Some(w) = l.workload {
                        env.extend(w.env.iter().map(|(k, v)| (k.clone(), v.clone())));
                    }
                }
                Some(Workload::Stroppy {
                    version: version?.value,
                    sha256,
                    workload: workload?.value,
                    duration: duration?.value.0,
                    scale: scale.map(|s| s.value),
                    vus: vus.map_or(1, |v| v.value),
                    env,
                })
            }
        }
    }
}
