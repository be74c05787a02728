//! Network blocks for local machines: each test run gets its own 127.x.y.0/24, so its
//! database and load generator have addresses nobody else uses. The allocation is a lease,
//! so it survives a restart and is given back when the run's machines are destroyed.

use engine::store::{Lease, LeaseStore};

use crate::infra::ProviderError;

pub const NETWORK: &str = "network";

/// Blocks handed out: 127.10.0.0/24 … 127.250.255.0/24 (127.0.x.x stays for the host),
/// from a random starting point, so servers sharing a host (tests, a forgotten second
/// server) rarely reach for the same block at once.
fn candidates() -> impl Iterator<Item = (u8, u8)> {
    let all: Vec<(u8, u8)> = (10u8..=250)
        .flat_map(|b| (0u8..=255).map(move |c| (b, c)))
        .collect();
    let start = (uuid::Uuid::new_v4().as_u128() % all.len() as u128) as usize;
    let (head, tail) = all.split_at(start);
    tail.iter()
        .chain(head)
        .copied()
        .collect::<Vec<_>>()
        .into_iter()
}

/// Is the block's first host address free on this machine (nothing listens there, e.g. a
/// database left by another server)?
fn looks_free(cidr: &str) -> bool {
    std::net::TcpListener::bind((host(cidr, 10).as_str(), 5432)).is_ok()
}

/// A free block for `holder` (the same one again if it already holds one).
pub async fn acquire(
    store: &dyn LeaseStore,
    holder: &str,
    now: i64,
) -> Result<String, ProviderError> {
    if let Some(held) = store
        .leases(Some(NETWORK), Some(holder))
        .await?
        .into_iter()
        .next()
    {
        return Ok(held.key);
    }
    let taken: std::collections::HashSet<String> = store
        .leases(Some(NETWORK), None)
        .await?
        .into_iter()
        .map(|l| l.key)
        .collect();
    for (b, c) in candidates() {
        let cidr = format!("127.{b}.{c}.0/24");
        if taken.contains(&cidr) || !looks_free(&cidr) {
            continue;
        }
        let lease = Lease {
            kind: NETWORK.into(),
            key: cidr.clone(),
            holder: holder.into(),
            amount: 0,
            data: None,
        };
        // Another replica may take it between our look and our insert: try the next one.
        if store.acquire_lease(&lease, None, now).await? {
            return Ok(cidr);
        }
    }
    Err(ProviderError::Failed(
        "every local network block is in use".into(),
    ))
}

/// The address of host `n` in a `a.b.c.0/24` block.
pub fn host(cidr: &str, n: u8) -> String {
    let prefix = cidr.trim_end_matches(".0/24");
    format!("{prefix}.{n}")
}
