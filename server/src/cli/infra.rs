//! `ratchet infra list` shows what is provisioned (deployments: run, provider, age, TTL,
//! machines); `ratchet infra destroy <run>` destroys one now (cancelling its run).

use serde_json::Value;

use crate::cli::run::Client;

#[derive(Debug, Clone, clap::Args)]
pub struct InfraArgs {
    #[command(subcommand)]
    pub command: InfraCommand,
    /// The Ratchet server.
    #[arg(
        long,
        env = "RATCHET_SERVER_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub server: String,
    /// An API token (`read` to list, `admin` to destroy).
    #[arg(long, env = "RATCHET_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum InfraCommand {
    /// The deployments that exist now.
    List {
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Destroy a test run's machines now (the run is cancelled if it is still going).
    Destroy {
        /// The test run holding them (the `run_id` of `infra list`).
        run_id: uuid::Uuid,
    },
}

pub async fn run(args: InfraArgs) -> anyhow::Result<()> {
    let token = args
        .token
        .ok_or_else(|| anyhow::anyhow!("give an API token: --token or RATCHET_TOKEN"))?;
    let client = Client::new(&args.server, &token);
    match args.command {
        InfraCommand::List { json } => {
            let infra: Value = client.send(client.get("/api/v1/infrastructure")).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&infra)?);
            } else {
                print_deployments(&infra);
            }
        }
        InfraCommand::Destroy { run_id } => {
            let done: Value = client
                .send(client.post(&format!("/api/v1/infrastructure/{run_id}/destroy")))
                .await?;
            let destroyed: Vec<&str> = done["destroyed"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if done["cancelled"].as_bool() == Some(true) {
                eprintln!("run {run_id} cancelled");
            }
            if destroyed.is_empty() {
                println!("nothing left to destroy for run {run_id}");
            } else {
                println!("destroyed {}", destroyed.join(", "));
            }
        }
    }
    Ok(())
}

fn print_deployments(infra: &Value) {
    let deployments = infra["deployments"].as_array().cloned().unwrap_or_default();
    if deployments.is_empty() {
        println!("nothing is provisioned");
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let ago = |at: Option<i64>| {
        at.map_or("-".to_string(), |at| {
            let s = (now - at).max(0) / 1000;
            humantime::format_duration(std::time::Duration::from_secs(s as u64)).to_string()
        })
    };
    let until = |at: Option<i64>| {
        at.map_or("-".to_string(), |at| {
            if at <= now {
                "expired".to_string()
            } else {
                let s = (at - now) / 1000;
                format!(
                    "in {}",
                    humantime::format_duration(std::time::Duration::from_secs(s as u64))
                )
            }
        })
    };
    println!(
        "{:<36}  {:<8}  {:<10}  {:<12}  {:<14}  machines",
        "run", "provider", "status", "age", "expires"
    );
    for d in deployments {
        let machines: Vec<String> = d["machines"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                let name = m["name"].as_str().unwrap_or("?");
                match m["address"].as_str() {
                    Some(address) => format!("{name} ({address})"),
                    None => name.to_string(),
                }
            })
            .collect();
        println!(
            "{:<36}  {:<8}  {:<10}  {:<12}  {:<14}  {}",
            d["run_id"].as_str().unwrap_or("?"),
            d["provider"].as_str().unwrap_or("?"),
            d["run_status"].as_str().unwrap_or("GONE"),
            ago(d["created_at"].as_i64()),
            until(d["expires_at"].as_i64()),
            machines.join(", ")
        );
        if let Some(error) = d["destroy_error"].as_str() {
            println!(
                "{:<36}  {error} ({} attempts; the leak guard tries again)",
                "",
                d["destroy_attempts"].as_u64().unwrap_or(1)
            );
        }
    }
}
