//! What the devnet does on its own, decided without I/O: which weight each
//! forger buys, and the demo traffic of `--demo-traffic`.

use crate::chain::genesis::COIN;
use crate::tools::demo::SplitMix;

/// The weight forger `i` (from 0) buys each epoch: 10, 20, 30 … GWL, so the
/// weighted draw visibly favours the forgers who donate more.
pub fn weight_amount(i: usize) -> u64 {
    (i as u64 + 1) * 10 * COIN
}

/// The epoch a purchase made during `epoch` is for: the nearest whose
/// weight table is still open (it is fixed when the epoch before it starts).
pub fn purchase_epoch(epoch: u64) -> u64 {
    epoch + 2
}

/// Whether the forgers buy weight now: once per epoch, after the chain has
/// its first block (the devnet is running), and not again in an epoch they
/// already bought in.
pub fn time_to_buy(epoch: u64, height: u64, last_bought_in: Option<u64>) -> bool {
    height >= 1 && last_bought_in.is_none_or(|e| e < epoch)
}

/// One transaction of demo traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Demo {
    /// A transfer between two demo users.
    Transfer {
        /// Sender (index into the users).
        from: usize,
        /// Receiver.
        to: usize,
        /// Units.
        amount: u64,
        /// Memo.
        memo: String,
    },
    /// A record written by a demo user.
    Record {
        /// Writer.
        from: usize,
        /// Record name.
        name: String,
        /// Value.
        value: String,
    },
}

/// The `n`th demo transaction among `users` (≥ 2) users: mostly transfers
/// of 0.01 to 5 GWL, sometimes a record.
pub fn demo(rng: &mut SplitMix, users: usize, n: u64) -> Demo {
    let from = rng.below(users as u64) as usize;
    if rng.below(4) == 0 {
        return Demo::Record {
            from,
            name: format!("note-{}", n % 8),
            value: format!("demo note {n}"),
        };
    }
    let to = (from + 1 + rng.below(users as u64 - 1) as usize) % users;
    Demo::Transfer {
        from,
        to,
        amount: COIN / 100 * (1 + rng.below(500)),
        memo: format!("demo {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgers_buy_once_per_epoch_once_the_chain_runs() {
        assert!(!time_to_buy(0, 0, None), "no block yet");
        assert!(time_to_buy(0, 1, None));
        assert!(!time_to_buy(0, 5, Some(0)));
        assert!(time_to_buy(1, 5, Some(0)));
        assert_eq!(purchase_epoch(0), 2);
        assert_eq!(weight_amount(2), 30 * COIN);
    }

    #[test]
    fn demo_traffic_never_pays_the_sender_and_stays_in_bounds() {
        let mut rng = SplitMix::new(7);
        let (mut transfers, mut records) = (0, 0);
        for n in 0..2_000 {
            match demo(&mut rng, 3, n) {
                Demo::Transfer {
                    from, to, amount, ..
                } => {
                    transfers += 1;
                    assert!(from < 3 && to < 3 && from != to);
                    assert!((COIN / 100..=5 * COIN).contains(&amount), "{amount}");
                }
                Demo::Record { from, name, .. } => {
                    records += 1;
                    assert!(from < 3 && name.len() <= 64);
                }
            }
        }
        assert!(transfers > 1_200 && records > 300, "{transfers} {records}");
    }
}
