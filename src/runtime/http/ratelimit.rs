//! The per-address rate limit on submissions (`POST /api/v1/tx` and
//! `POST /api/v1/tx/encode`): a token bucket per client address, in a
//! bounded table. Pure: the time comes in as `now_ms`.
//!
//! Each address may make [`RateLimit::burst`] submissions at once and then
//! [`RateLimit::per_s`] a second. An IPv6 client is counted by its /64
//! (one subscriber's usual share), so that the 2^64 addresses of one
//! network are one bucket. The table holds at most
//! [`RateLimit::max_addresses`] buckets: a new address past that takes the
//! place of the one heard from longest ago, so an attacker with many
//! addresses cannot grow the node's memory (and what it evicts is a bucket
//! that had time to refill anyway).

use std::collections::BTreeMap;
use std::net::IpAddr;

/// Submissions a second per address, by default.
pub const PER_S: u32 = 20;
/// Submissions at once per address, by default.
pub const BURST: u32 = 40;
/// Addresses tracked at once, by default.
pub const MAX_ADDRESSES: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens × 1000 (a token is one submission).
    milli: u64,
    /// When it was last filled (ms).
    at_ms: u64,
    /// Its place in the eviction order.
    seq: u64,
}

/// Token buckets per client address.
#[derive(Debug, Clone)]
pub struct RateLimit {
    per_s: u32,
    burst: u32,
    max_addresses: usize,
    buckets: BTreeMap<IpAddr, Bucket>,
    /// seq → address: the first is the one heard from longest ago.
    order: BTreeMap<u64, IpAddr>,
    next_seq: u64,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit::new(PER_S, BURST, MAX_ADDRESSES)
    }
}

/// The bucket an address counts in: itself (IPv4), its /64 (IPv6).
fn key_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl RateLimit {
    /// `per_s` a second, `burst` at once, `max_addresses` tracked (each at
    /// least 1).
    pub fn new(per_s: u32, burst: u32, max_addresses: usize) -> RateLimit {
        RateLimit {
            per_s: per_s.max(1),
            burst: burst.max(1),
            max_addresses: max_addresses.max(1),
            buckets: BTreeMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// Submissions a second per address.
    pub fn per_s(&self) -> u32 {
        self.per_s
    }

    /// Submissions at once per address.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Addresses tracked at most.
    pub fn max_addresses(&self) -> usize {
        self.max_addresses
    }

    /// Addresses tracked now.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Takes one submission from `ip`'s bucket at `now_ms`; or, refused,
    /// the seconds until one is there again (at least 1).
    pub fn allow(&mut self, ip: IpAddr, now_ms: u64) -> Result<(), u64> {
        let key = key_of(ip);
        let full = self.burst as u64 * 1000;
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut b = match self.buckets.get(&key) {
            Some(b) => {
                self.order.remove(&b.seq);
                *b
            }
            None => {
                if self.buckets.len() >= self.max_addresses {
                    if let Some((_, oldest)) = self.order.pop_first() {
                        self.buckets.remove(&oldest);
                    }
                }
                Bucket {
                    milli: full,
                    at_ms: now_ms,
                    seq,
                }
            }
        };
        // Refill: per_s tokens a second = per_s milli-tokens a ms.
        let elapsed = now_ms.saturating_sub(b.at_ms);
        b.milli = (b.milli + elapsed.saturating_mul(self.per_s as u64)).min(full);
        b.at_ms = now_ms.max(b.at_ms);
        b.seq = seq;
        let verdict = if b.milli >= 1000 {
            b.milli -= 1000;
            Ok(())
        } else {
            let missing_ms = (1000 - b.milli).div_ceil(self.per_s as u64);
            Err(missing_ms.div_ceil(1000).max(1))
        };
        self.buckets.insert(key, b);
        self.order.insert(seq, key);
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_burst_then_the_rate_then_a_refusal_saying_when() {
        let mut r = RateLimit::new(20, 40, 16);
        let a = ip("10.0.0.1");
        for i in 0..40 {
            assert_eq!(r.allow(a, 1_000), Ok(()), "submission {i}");
        }
        assert_eq!(r.allow(a, 1_000), Err(1));
        // Another address has its own bucket.
        assert_eq!(r.allow(ip("10.0.0.2"), 1_000), Ok(()));
        // 20 a second: one every 50 ms.
        assert_eq!(r.allow(a, 1_049), Err(1));
        assert_eq!(r.allow(a, 1_050), Ok(()));
        assert_eq!(r.allow(a, 1_050), Err(1));
        // A second later, 20 more (not 40: the burst refills at the rate).
        for _ in 0..20 {
            assert_eq!(r.allow(a, 2_050), Ok(()));
        }
        assert!(r.allow(a, 2_050).is_err());
        // Long silence refills to the burst, no more.
        let n = (0..100).filter(|_| r.allow(a, 100_000).is_ok()).count();
        assert_eq!(n, 40);
        // A slow rate says how many seconds to wait.
        let mut slow = RateLimit::new(1, 1, 4);
        assert_eq!(slow.allow(a, 0), Ok(()));
        assert_eq!(slow.allow(a, 0), Err(1));
        let mut slower = RateLimit::new(1, 1, 4);
        slower.allow(a, 0).unwrap();
        assert_eq!(slower.allow(a, 10), Err(1));
    }

    #[test]
    fn the_table_is_bounded_and_forgets_the_longest_silent_first() {
        let mut r = RateLimit::new(1, 2, 3);
        let [a, b, c, d] = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"].map(ip);
        for x in [a, b, c] {
            r.allow(x, 0).unwrap();
            r.allow(x, 0).unwrap();
            assert!(r.allow(x, 0).is_err());
        }
        // a heard again (refused still counts as heard): b is now the oldest.
        assert!(r.allow(a, 0).is_err());
        for n in 0..10_000u32 {
            let many = IpAddr::from(std::net::Ipv4Addr::from(0x0b00_0000 + n));
            r.allow(many, 0).unwrap();
            assert!(r.len() <= 3);
        }
        // Fresh addresses pushed everyone out; d, new, starts full.
        assert_eq!(r.allow(d, 0), Ok(()));
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn an_ipv6_network_is_one_bucket() {
        let mut r = RateLimit::new(1, 2, 16);
        r.allow(ip("2001:db8:1:2::1"), 0).unwrap();
        r.allow(ip("2001:db8:1:2:ffff::9"), 0).unwrap();
        assert!(r.allow(ip("2001:db8:1:2:aaaa::7"), 0).is_err());
        // Another /64 is another bucket; a mapped IPv4 is its IPv4.
        assert!(r.allow(ip("2001:db8:1:3::1"), 0).is_ok());
        r.allow(ip("10.1.1.1"), 0).unwrap();
        r.allow(ip("::ffff:10.1.1.1"), 0).unwrap();
        assert!(r.allow(ip("10.1.1.1"), 0).is_err());
        assert_eq!(r.len(), 3);
    }
}
