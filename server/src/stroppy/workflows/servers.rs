//! The servers a test's topology runs, as the inputs of their agent steps: the primary (or
//! the first Patroni member), each replica, the pooler, the router and the cluster's etcd,
//! the scheduled fault — and where the load connects.

use std::collections::BTreeMap;

use engine::TaskError;
use protocol::actions::{
    Endpoint, EtcdStartInput, HaproxyStartInput, HttpCheck, PatroniMember, PgbouncerStartInput,
    PostgresFaultInput, PostgresRuntime, PostgresStartInput, Replication,
};
use uuid::Uuid;

use super::fatal;
use crate::infra::MachinePlan;
use crate::stroppy::spec::{ConnectTo, TestSpec, TopologyKind};

/// The machines' roles (their agents' `machine` label): the database's (the primary),
/// its replicas', its pooler's, its router's and the load's.
pub(super) const DB_ROLE: &str = "db";
pub(super) const POOLER_ROLE: &str = "pooler";
pub(super) const ROUTER_ROLE: &str = "router";
pub(super) const LOADER_ROLE: &str = "loader";

/// Replica `i`'s (from 0) machine role: `replica-1`...
pub(super) fn replica_role(i: usize) -> String {
    format!("replica-{}", i + 1)
}

/// The port PostgreSQL listens on (each machine has its own address), PgBouncer's,
/// Patroni's REST API on each member, and etcd's client port on the router machine.
pub(super) const DB_PORT: u16 = 5432;
const POOLER_PORT: u16 = 6432;
const PATRONI_PORT: u16 = 8008;
const ETCD_PORT: u16 = 2379;

pub(super) struct Servers {
    pub primary: PostgresStartInput,
    /// By machine role.
    pub replicas: BTreeMap<String, PostgresStartInput>,
    pub pooler: Option<PgbouncerStartInput>,
    /// HAProxy: over the standbys for a load on them, to the leader of a Patroni cluster.
    pub router: Option<HaproxyStartInput>,
    /// A Patroni cluster's store, on the router machine.
    pub etcd: Option<EtcdStartInput>,
    pub fault: Option<PostgresFaultInput>,
    /// Where the load connects: the pooler, the router or the primary.
    pub load_at: Endpoint,
}

fn endpoint(host: &str, port: u16) -> Endpoint {
    Endpoint {
        host: host.to_string(),
        port,
    }
}

impl Servers {
    /// The servers of `test` on `machines`, for test run `run_id`; every connection to
    /// them needs `password`.
    pub fn plan(
        test: &TestSpec,
        machines: &[MachinePlan],
        run_id: Uuid,
        runtime: PostgresRuntime,
        password: &str,
    ) -> Result<Servers, TaskError> {
        let address_of = |role: &str| {
            machines
                .iter()
                .find(|m| m.role == role)
                .map(|m| m.address.clone())
                .ok_or_else(|| fatal(format!("no {role} machine was planned")))
        };
        let db_host = address_of(DB_ROLE)?;
        let topology = test.database.topology;
        let patroni = topology.kind == TopologyKind::Patroni;
        let replica_roles: Vec<String> =
            (0..topology.replicas as usize).map(replica_role).collect();
        // A standby's name on the primary: its role, as an identifier.
        let standby_name = |role: &str| role.replace('-', "_");
        let etcd = match patroni {
            true => Some(EtcdStartInput {
                listen_address: address_of(ROUTER_ROLE)?,
                client_port: ETCD_PORT,
                peer_port: ETCD_PORT + 1,
            }),
            false => None,
        };
        let cluster = format!("t-{}", &run_id.simple().to_string()[..12]);
        let member = |role: &str| {
            etcd.as_ref().map(|e| PatroniMember {
                cluster: cluster.clone(),
                member: role.to_string(),
                rest_port: PATRONI_PORT,
                etcd: endpoint(&e.listen_address, e.client_port),
                synchronous: topology.synchronous,
            })
        };
        let primary = PostgresStartInput {
            name: "bench".into(),
            version: test.database.version,
            runtime,
            listen_address: db_host.clone(),
            port: DB_PORT,
            settings: test.database.settings.clone(),
            image: None,
            password: password.to_string(),
            stat_statements: test.database.stat_statements,
            replication: (!patroni && !replica_roles.is_empty()).then(|| Replication::Primary {
                standbys: replica_roles.iter().map(|r| standby_name(r)).collect(),
                synchronous: topology.synchronous,
            }),
            patroni: member(DB_ROLE),
        };
        let mut replicas = BTreeMap::new();
        for role in &replica_roles {
            let standby = PostgresStartInput {
                listen_address: address_of(role)?,
                replication: (!patroni).then(|| Replication::Standby {
                    primary_host: db_host.clone(),
                    primary_port: DB_PORT,
                    application_name: standby_name(role),
                }),
                patroni: member(role),
                ..primary.clone()
            };
            replicas.insert(role.clone(), standby);
        }
        // In front of a Patroni cluster, the pooler's server is the router (whichever
        // member leads).
        let pooled_server = match patroni {
            true => address_of(ROUTER_ROLE)?,
            false => db_host.clone(),
        };
        let pooler = match test.database.pooler {
            Some(p) => Some(PgbouncerStartInput {
                listen_address: address_of(POOLER_ROLE)?,
                port: POOLER_PORT,
                server_host: pooled_server,
                server_port: DB_PORT,
                password: password.to_string(),
                pool_mode: p.pool_mode.as_str().into(),
                pool_size: p.pool_size,
                max_clients: 1000,
            }),
            None => None,
        };
        // A Patroni cluster's members are all behind the router, each let through while
        // its REST API says it leads (or follows).
        let members: Vec<Endpoint> = std::iter::once(&db_host)
            .chain(replicas.values().map(|r| &r.listen_address))
            .map(|h| endpoint(h, DB_PORT))
            .collect();
        let health = |path: &str| HttpCheck {
            port: PATRONI_PORT,
            path: path.into(),
        };
        let (servers, http_check) = match (patroni, test.connect_to) {
            (true, ConnectTo::Primary) => (members.clone(), Some(health("/primary"))),
            (true, ConnectTo::Replicas) => (members.clone(), Some(health("/replica"))),
            (false, ConnectTo::Replicas) => (members[1..].to_vec(), None),
            (false, ConnectTo::Primary) => (Vec::new(), None),
        };
        let router = match servers.is_empty() {
            false => Some(HaproxyStartInput {
                listen_address: address_of(ROUTER_ROLE)?,
                port: DB_PORT,
                servers,
                http_check,
            }),
            true => None,
        };
        let fault = test.faults.first().map(|f| PostgresFaultInput {
            name: primary.name.clone(),
            kind: f.kind,
            at_s: f.at_s,
            host: db_host.clone(),
            port: DB_PORT,
            password: password.to_string(),
            load_marker: protocol::actions::MEASURED_LOAD_MARKER.into(),
            // The load's first session (its initialisation) comes within moments.
            wait_s: 600,
            // Who may lead after: the other members, by name.
            peers: match patroni {
                true => replicas
                    .iter()
                    .map(|(role, r)| (role.clone(), endpoint(&r.listen_address, PATRONI_PORT)))
                    .collect(),
                false => BTreeMap::new(),
            },
        });
        let load_at = match (&pooler, &router) {
            (Some(p), _) => endpoint(&p.listen_address, p.port),
            (None, Some(r)) => endpoint(&r.listen_address, r.port),
            (None, None) => endpoint(&db_host, DB_PORT),
        };
        Ok(Servers {
            primary,
            replicas,
            pooler,
            router,
            etcd,
            fault,
            load_at,
        })
    }

    /// The primary (a Patroni cluster's first leader).
    pub fn primary_at(&self) -> Endpoint {
        endpoint(&self.primary.listen_address, self.primary.port)
    }

    /// Whether the load connects elsewhere than to the primary.
    pub fn load_elsewhere(&self) -> bool {
        self.pooler.is_some() || self.router.is_some()
    }

    /// The replicas' servers by role: sampled beside the primary.
    pub fn replicas_at(&self) -> BTreeMap<String, Endpoint> {
        self.replicas
            .iter()
            .map(|(role, r)| (role.clone(), endpoint(&r.listen_address, r.port)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stroppy::spec::{Format, load};

    fn servers_of(yaml: &str) -> Servers {
        let suite = load(yaml, Format::Yaml).unwrap().suite;
        let test = &suite.tests[0];
        let roles = ["db", "replica-1", "replica-2", "pooler", "router", "loader"];
        let machines: Vec<MachinePlan> = roles
            .iter()
            .enumerate()
            .map(|(i, role)| MachinePlan {
                role: role.to_string(),
                name: format!("m-{role}"),
                address: format!("127.1.0.{}", 10 * (i + 1)),
                cores: 1,
                memory_gb: 1,
                disk_gb: 20,
            })
            .collect();
        Servers::plan(
            test,
            &machines,
            Uuid::nil(),
            PostgresRuntime::Native,
            "a-per-run-password-0123",
        )
        .unwrap()
    }

    const BASE: &str = "name: s\ntarget: local\ndefaults:\n  workload: {driver: pgbench, duration: 20s}\ntests:\n  - name: a\n    database:\n      version: 15\n";

    #[test]
    fn a_patroni_cluster_sits_behind_its_router_and_a_pooler_in_front_of_that() {
        let s = servers_of(&format!(
            "{BASE}      topology: {{kind: patroni, replicas: 2}}\n      pooler: {{}}\n"
        ));
        // Every member under Patroni, over the router machine's etcd.
        let members = std::iter::once(&s.primary).chain(s.replicas.values());
        for m in members {
            let p = m.patroni.as_ref().unwrap();
            assert_eq!(p.etcd.host, "127.1.0.50");
            assert!(m.replication.is_none());
        }
        let router = s.router.as_ref().unwrap();
        assert_eq!(router.servers.len(), 3);
        assert_eq!(router.http_check.as_ref().unwrap().path, "/primary");
        // The pooler pools to the router, the load goes to the pooler.
        assert_eq!(s.pooler.as_ref().unwrap().server_host, "127.1.0.50");
        assert_eq!(s.load_at.host, "127.1.0.40");
        assert!(s.load_elsewhere());
    }

    #[test]
    fn streaming_replicas_stream_from_the_primary_and_a_read_load_goes_round_them() {
        let s = servers_of(&format!(
            "{BASE}      topology: {{replicas: 2, synchronous: true}}\n    workload: {{builtin: select-only, connect_to: replicas}}\n"
        ));
        assert!(matches!(
            s.primary.replication,
            Some(Replication::Primary { synchronous: true, ref standbys }) if standbys == &["replica_1", "replica_2"]
        ));
        assert!(matches!(
            &s.replicas["replica-2"].replication,
            Some(Replication::Standby { primary_host, application_name, .. })
                if primary_host == "127.1.0.10" && application_name == "replica_2"
        ));
        let router = s.router.as_ref().unwrap();
        let hosts: Vec<&str> = router.servers.iter().map(|e| e.host.as_str()).collect();
        assert_eq!(hosts, ["127.1.0.20", "127.1.0.30"]);
        assert!(router.http_check.is_none());
        assert_eq!(s.load_at.host, "127.1.0.50");
        assert!(s.etcd.is_none() && s.pooler.is_none() && s.fault.is_none());
    }
}
