//! `postgres.start` of a Patroni member: Patroni (a daemon, under the unprivileged
//! PostgreSQL user when the agent is root) runs the server, bootstraps the cluster on the
//! first member to start and makes the others its replicas, keeps the leader lock in etcd
//! and elects a new leader when the leader goes. Its files are the instance's
//! (`<work dir>/postgres/<name>`): `patroni.yml`, the data dir, its logs.

use std::ffi::OsString;
use std::time::Duration;

use protocol::actions::{PatroniMember, PostgresStartInput};
use serde_json::{Value, json};

use crate::actions::postgres::{
    NETWORKS, Psql, create_stat_statements, find_bin_dir, instance_dir, native_instance, run_as,
    socket_dir, wait_ready, write_private,
};
use crate::actions::{ActionContext, ActionError, ActionResult, output, plain_host, process};

/// Bootstrapping the cluster, or copying the leader, and starting.
const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// Patroni's leader lock lives this long without its holder renewing it: about the time a
/// lost leader takes to be replaced.
const LEADER_TTL_S: u64 = 10;

pub async fn start_member(
    ctx: &ActionContext,
    input: &PostgresStartInput,
    member: &PatroniMember,
    settings: &[(String, String)],
) -> ActionResult {
    check(member)?;
    let bin = find_bin_dir(ctx, input.version).await?;
    let ids = run_as(ctx)?;
    let dir = instance_dir(ctx, &input.name);
    // What an earlier attempt left, its Patroni included (it would start the server again).
    crate::actions::fresh_dir(&dir, ids)?;
    let config = dir.join("patroni.yml");
    // JSON is YAML: the file is written as JSON, its values escaped by serde.
    let text = serde_json::to_string_pretty(&config_of(input, member, settings, &bin, &dir))
        .map_err(|e| ActionError::fatal(format!("cannot write Patroni's config: {e}")))?;
    write_private(&config, &text, ids)?;
    let program = process::system_program("patroni");
    let log = dir.join("patroni.out");
    process::spawn_daemon(ctx, &program, &[OsString::from(&config)], &log, &dir, ids)?;
    ctx.log.line(format!(
        "ratchet-agent: Patroni member {} of cluster {} (PostgreSQL {} from {}), REST API on {}:{}",
        member.member,
        member.cluster,
        input.version,
        bin.display(),
        input.listen_address,
        member.rest_port
    ));

    let rest = format!("http://{}:{}", input.listen_address, member.rest_port);
    let running = crate::actions::wait_http_ok(ctx, &format!("{rest}/health"), READY_TIMEOUT)
        .await
        .inspect_err(|_| {
            for line in process::tail_of(&dir.join("patroni.log"), 15) {
                ctx.log.line(format!("patroni: {line}"));
            }
            for line in process::tail_of(&log, 5) {
                ctx.log.line(format!("patroni: {line}"));
            }
        });
    running?;
    let role = role_of(&rest).await.unwrap_or_else(|| "unknown".into());
    let psql = Psql {
        bin: &bin,
        host: &input.listen_address,
        port: input.port,
        password: &input.password,
    };
    let server_version = wait_ready(ctx, &psql).await?;
    ctx.log.line(format!(
        "ratchet-agent: PostgreSQL {server_version} runs as the cluster's {role} on {}:{}",
        input.listen_address, input.port
    ));
    if input.stat_statements && matches!(role.as_str(), "master" | "primary") {
        create_stat_statements(ctx, &psql).await?;
    }
    output(&native_instance(ctx, input, &psql, &dir.join("data"), server_version).await)
}

/// The names land in etcd keys and Patroni's config; the etcd address in its config.
fn check(member: &PatroniMember) -> Result<(), ActionError> {
    for (field, name) in [("cluster", &member.cluster), ("member", &member.member)] {
        let ok = !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return Err(ActionError::fatal(format!(
                "invalid input at `patroni.{field}`: `{name}` must be 1-63 of [a-z0-9-]"
            )));
        }
    }
    plain_host("patroni.etcd.host", &member.etcd.host)
}

/// Patroni's configuration of this member: the suite's settings cluster-wide, the run's
/// password for every connection, streaming replication through slots.
fn config_of(
    input: &PostgresStartInput,
    member: &PatroniMember,
    settings: &[(String, String)],
    bin: &std::path::Path,
    dir: &std::path::Path,
) -> Value {
    let at = |port: u16| format!("{}:{port}", input.listen_address);
    let parameters: serde_json::Map<String, Value> = settings
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    let mut local = json!({ "unix_socket_directories": socket_dir(dir) });
    if input.stat_statements {
        local["shared_preload_libraries"] = json!("pg_stat_statements");
    }
    let mut hba: Vec<String> = Vec::new();
    for database in ["replication", "all"] {
        for network in NETWORKS {
            hba.push(format!("host {database} all {network} scram-sha-256"));
        }
    }
    let user = |name: &str| json!({ "username": name, "password": input.password });
    json!({
        "scope": member.cluster,
        "name": member.member,
        "log": { "level": "INFO", "dir": dir },
        "restapi": { "listen": at(member.rest_port), "connect_address": at(member.rest_port) },
        "etcd": { "host": format!("{}:{}", member.etcd.host, member.etcd.port) },
        "bootstrap": {
            "dcs": {
                "ttl": LEADER_TTL_S,
                "loop_wait": 1,
                "retry_timeout": 5,
                "maximum_lag_on_failover": 16 * 1024 * 1024,
                "synchronous_mode": member.synchronous,
                "postgresql": { "use_slots": true, "parameters": parameters },
            },
            "initdb": [{ "encoding": "UTF8" }, { "auth": "scram-sha-256" }],
        },
        "postgresql": {
            "listen": at(input.port),
            "connect_address": at(input.port),
            "data_dir": dir.join("data"),
            "bin_dir": bin,
            "pgpass": dir.join("pgpass"),
            "authentication": { "superuser": user("postgres"), "replication": user("replicator") },
            "pg_hba": hba,
            "parameters": local,
        },
    })
}

/// The member's role as its REST API says (`master`/`primary`, `replica`).
async fn role_of(rest: &str) -> Option<String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .ok()?;
    let state: Value = client
        .get(format!("{rest}/patroni"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    state.get("role")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::actions::Endpoint;

    #[test]
    fn a_member_is_configured_for_its_cluster_with_the_runs_password_everywhere() {
        let input: PostgresStartInput = serde_json::from_value(json!({
            "name": "bench", "version": 15, "listen_address": "127.1.0.20",
            "password": "a-per-run-password-0123", "settings": {"work_mem": "8MB"}
        }))
        .unwrap();
        let member = PatroniMember {
            cluster: "t-01a2".into(),
            member: "replica-1".into(),
            rest_port: 8008,
            etcd: Endpoint {
                host: "127.1.0.50".into(),
                port: 2379,
            },
            synchronous: true,
        };
        let cfg = config_of(
            &input,
            &member,
            &[("work_mem".into(), "8MB".into())],
            std::path::Path::new("/usr/lib/postgresql/15/bin"),
            std::path::Path::new("/w/postgres/bench"),
        );
        assert_eq!(cfg["restapi"]["listen"], "127.1.0.20:8008");
        assert_eq!(cfg["etcd"]["host"], "127.1.0.50:2379");
        assert_eq!(cfg["bootstrap"]["dcs"]["synchronous_mode"], true);
        assert_eq!(
            cfg["bootstrap"]["dcs"]["postgresql"]["parameters"]["work_mem"],
            "8MB"
        );
        assert_eq!(cfg["postgresql"]["listen"], "127.1.0.20:5432");
        let hba = cfg["postgresql"]["pg_hba"].to_string();
        assert!(hba.contains("host replication all 127.0.0.0/8 scram-sha-256"));
        assert!(!hba.contains("trust"));
        assert_eq!(
            cfg["postgresql"]["authentication"]["replication"]["password"],
            "a-per-run-password-0123"
        );
        assert!(check(&member).is_ok());
        let bad = PatroniMember {
            member: "Node 1".into(),
            ..member
        };
        assert!(check(&bad).unwrap_err().message.contains("patroni.member"));
    }
}
