//! Child processes that must not outlive the test, and the unprivileged user PostgreSQL
//! needs when the tests run as root (as CI does).

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, Uid, User, chown};

/// The user servers run as: ourselves, or the `postgres` system user when we are root.
#[derive(Clone, Copy)]
pub(crate) struct RunAs {
    ids: Option<(u32, u32)>,
}

impl RunAs {
    pub(crate) fn unprivileged() -> RunAs {
        if !Uid::effective().is_root() {
            return RunAs { ids: None };
        }
        let user = User::from_name("postgres")
            .ok()
            .flatten()
            .expect("tests run as root, and PostgreSQL refuses root: create the `postgres` system user (apt-get install postgresql-common, or useradd --system postgres)");
        RunAs {
            ids: Some((user.uid.as_raw(), user.gid.as_raw())),
        }
    }

    /// Hand `path` (and everything below it) to the server's user.
    pub(crate) fn own(&self, path: &Path) {
        let Some((uid, gid)) = self.ids else { return };
        chown(path, Some(uid.into()), Some(gid.into()))
            .unwrap_or_else(|e| panic!("chown {} to the postgres user: {e}", path.display()));
    }

    pub(crate) fn apply(&self, command: &mut Command) {
        use std::os::unix::process::CommandExt;
        if let Some((uid, gid)) = self.ids {
            command.uid(uid).gid(gid);
        }
    }
}

/// A server process stopped with `signal` (then SIGKILL) when dropped.
pub(crate) struct Guard {
    pub(crate) child: Child,
    pub(crate) signal: Signal,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let pid = Pid::from_raw(self.child.id() as i32);
        let _ = kill(pid, self.signal);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Wait until `ready()` says yes, or panic with `what` and the server's log.
pub(crate) fn wait_until(
    what: &str,
    log: &Path,
    child: &mut Child,
    mut ready: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if ready() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited with {status} before it was ready; its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!(
        "{what} was not ready after 60s; its log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}
