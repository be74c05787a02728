//! Network blocks: each test run gets its own /24, so its database and load generator have
//! addresses nobody else uses. Local machines take theirs from loopback (127.10.0.0 to
//! 127.250.255.0); cloud machines from the provider's subnet pool. The allocation is a
//! lease, so it survives a restart and is given back when the run's machines are destroyed.

use std::net::Ipv4Addr;

use engine::store::{Lease, LeaseStore};

use crate::infra::ProviderError;

pub const NETWORK: &str = "network";

/// Where a provider's /24 blocks come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPool {
    /// The first block's first address.
    first: u32,
    /// How many consecutive /24 blocks.
    blocks: u32,
}

impl NetworkPool {
    /// 127.10.0.0/24 … 127.250.255.0/24 (127.0.x.x stays for the host).
    pub fn loopback() -> NetworkPool {
        NetworkPool {
            first: u32::from(Ipv4Addr::new(127, 10, 0, 0)),
            blocks: (250 - 10 + 1) * 256,
        }
    }

    /// The /24 blocks of a CIDR block of /8 to /24, e.g. `10.130.0.0/16`.
    pub fn parse(cidr: &str) -> Result<NetworkPool, String> {
        let (addr, prefix) = cidr
            .split_once('/')
            .ok_or_else(|| format!("`{cidr}` is not a CIDR block such as 10.130.0.0/16"))?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("`{cidr}`: `{addr}` is not an IPv4 address"))?;
        let prefix: u32 = prefix
            .parse()
            .ok()
            .filter(|p| (8..=24).contains(p))
            .ok_or_else(|| format!("`{cidr}`: the prefix must be /8 to /24"))?;
        let mask = u32::MAX << (32 - prefix);
        Ok(NetworkPool {
            first: u32::from(addr) & mask,
            blocks: 1 << (24 - prefix),
        })
    }

    /// The pool's first block (an example block, for a dry run).
    pub fn first_block(&self) -> String {
        format!("{}/24", Ipv4Addr::from(self.first))
    }

    /// A loopback pool's blocks are probed before use: another program on this host (a
    /// forgotten server, another test) may be listening there.
    fn is_loopback(&self) -> bool {
        Ipv4Addr::from(self.first).is_loopback()
    }

    /// Every block, from a random starting point, so servers sharing a pool rarely reach
    /// for the same block at once.
    fn candidates(&self) -> impl Iterator<Item = String> + '_ {
        let start = (uuid::Uuid::new_v4().as_u128() % u128::from(self.blocks)) as u32;
        (0..self.blocks).map(move |i| {
            let block = (start + i) % self.blocks;
            format!("{}/24", Ipv4Addr::from(self.first + (block << 8)))
        })
    }
}

/// Is the block's first host address free on this machine (nothing listens there)?
fn looks_free(cidr: &str) -> bool {
    std::net::TcpListener::bind((host(cidr, 10).as_str(), 5432)).is_ok()
}

/// A free block of `pool` for `holder` (the same one again if it already holds one).
pub async fn acquire(
    store: &dyn LeaseStore,
    pool: &NetworkPool,
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
    for cidr in pool.candidates() {
        if taken.contains(&cidr) || (pool.is_loopback() && !looks_free(&cidr)) {
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
        "every network block of the pool is in use".into(),
    ))
}

/// The address of host `n` in an `a.b.c.0/24` block.
pub fn host(cidr: &str, n: u8) -> String {
    let prefix = cidr.trim_end_matches(".0/24");
    format!("{prefix}.{n}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_are_cut_into_24s() {
        let pool = NetworkPool::parse("10.130.0.0/16").unwrap();
        assert_eq!(pool.blocks, 256);
        let all: std::collections::HashSet<String> = pool.candidates().collect();
        assert_eq!(all.len(), 256);
        assert!(all.contains("10.130.0.0/24") && all.contains("10.130.255.0/24"));
        assert!(!pool.is_loopback());
        assert_eq!(
            NetworkPool::parse("10.1.2.3/24")
                .unwrap()
                .candidates()
                .next()
                .unwrap(),
            "10.1.2.0/24"
        );
        assert!(NetworkPool::parse("10.0.0.0/25").is_err());
        assert!(NetworkPool::parse("nonsense").is_err());
        assert!(NetworkPool::loopback().is_loopback());
        assert_eq!(host("10.130.7.0/24", 20), "10.130.7.20");
    }
}
