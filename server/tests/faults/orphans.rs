//! Orphans are impossible by construction: what a server killed mid-provision leaves is
//! found again from its lease alone, and a PID reused by a stranger is never signalled.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use engine::store::{self, DatabaseTarget, Lease};
use nix::sys::signal::kill;
use nix::unistd::Pid;
use serde_json::json;

use crate::common::{ADMIN_TOKEN, Api, Server, Spawned, assert_nothing_left_within, open_dir};

/// A process in a group of its own (as the provider starts agents), with `env`.
fn sleeper(env: &[(&str, &std::path::Path)]) -> Spawned {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new("sleep");
    command.arg("300").stdin(Stdio::null()).process_group(0);
    for (k, v) in env {
        command.env(k, v);
    }
    Spawned(command.spawn().unwrap())
}

fn alive(pid: u32) -> bool {
    // A zombie (dead, not yet reaped by this test) counts as gone.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    }) && kill(Pid::from_raw(pid as i32), None).is_ok()
}

#[tokio::test]
async fn an_agent_spawned_before_its_lease_was_confirmed_is_destroyed_and_a_reused_pid_is_spared() {
    let data = open_dir();
    // The server's state as a kill between spawn and confirm leaves it, made by hand: a run
    // that is gone, one machine lease with only the intent (its agent runs, unrecorded),
    // and one whose recorded PID now belongs to a stranger.
    let (orphan_name, reused_name) = ("orphan-db-0001", "reused-db-0001");
    let orphan_dir = data.path().join("machines").join(orphan_name);
    std::fs::create_dir_all(&orphan_dir).unwrap();
    let orphan = sleeper(&[("RATCHET_AGENT_WORK_DIR", &orphan_dir)]);
    let stranger = sleeper(&[]);
    let gone_run = uuid::Uuid::now_v7().to_string();
    let target = DatabaseTarget::from_url(None, data.path()).unwrap();
    let leases = store::connect(&target).await.unwrap();
    for (key, data) in [
        (
            orphan_name,
            json!({"state": "starting", "work_dir": orphan_dir, "address": "127.0.0.10"}),
        ),
        (
            reused_name,
            json!({"state": "started", "pid": stranger.0.id(), "address": "127.0.0.11"}),
        ),
    ] {
        let lease = Lease {
            kind: "machine".into(),
            key: key.into(),
            holder: gone_run.clone(),
            amount: 1,
            data: Some(data),
        };
        assert!(leases.acquire_lease(&lease, None, 0).await.unwrap());
    }
    leases.close().await;

    let server = Server::start(data.path(), &[("RATCHET_LEAK_GUARD_INTERVAL", "1s")]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    assert_nothing_left_within(&api, data.path(), 30).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(orphan.0.id()) {
        assert!(
            Instant::now() < deadline,
            "the unrecorded agent is still running"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        alive(stranger.0.id()),
        "a stranger with a recorded PID was signalled"
    );
}
