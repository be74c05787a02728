//! A data dir PostgreSQL's unprivileged user cannot reach (the server runs as root; the
//! dir was made by `mktemp -d`): the server makes its own dir traversable, and names the
//! directory and the user when a directory above it is in the way.

use std::os::unix::fs::PermissionsExt;

use crate::common::{ADMIN_TOKEN, Api, Server, assert_nothing_left, ended, submit, wait_suite};
use crate::short_suite;

async fn run_suite(api: &Api) -> serde_json::Value {
    let (status, suite) = submit(api, &short_suite(1, "2s")).await;
    assert_eq!(status, 201, "{suite}");
    wait_suite(
        api,
        suite["id"].as_str().unwrap(),
        180,
        "the suite to end",
        ended,
    )
    .await
}

#[tokio::test]
async fn a_data_dir_the_database_user_cannot_reach_is_fixed_or_named_with_the_user() {
    let root = nix::unistd::Uid::effective().is_root();
    // Both as `mktemp -d` makes them: mode 0700, owned by whoever runs the server.
    let outer = tempfile::tempdir().unwrap();
    let data = outer.path().join("data");
    std::fs::create_dir(&data).unwrap();
    for dir in [outer.path(), &data] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    if root {
        let server = Server::start(&data, &[]).await;
        let api = Api::new(&server.base, ADMIN_TOKEN);
        let suite = run_suite(&api).await;
        let error = suite["tests"][0]["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("user `postgres`")
                && error.contains(&format!(
                    "cannot enter {} (mode 0700",
                    outer.path().display()
                )),
            "the error names the directory and the user: {suite:#}"
        );
        assert_nothing_left(&api, &data).await;
    }
    // With the directory above passable, the server's own 0700 data dir is no obstacle.
    std::fs::set_permissions(outer.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = Server::start(&data, &[]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let suite = run_suite(&api).await;
    assert_eq!(suite["tests"][0]["status"], "COMPLETED", "{suite:#}");
    assert_nothing_left(&api, &data).await;
}
