//! Every balance a block changes, transaction by transaction: what an
//! exchange reconciles an account against (the Mesh Data API's
//! operations, docs/mesh.md).
//!
//! Most transactions change balances by a rule that follows from the
//! transaction and its receipt alone ([`rule_deltas`]): a transfer moves
//! its amount, every sender pays its fee. Two kinds depend on the state at
//! the instant they apply: a contract call whose contract pays someone (the
//! payments are not in its receipt), and an equivocation report (the
//! bounty is what the offender still holds, and only the first report
//! pays). [`apply_block_traced`](super::apply_block_traced) measures what
//! each transaction really changed; a main node keeps only the
//! transactions where that differs from the rule ([`residual`]), so a
//! block of transfers costs nothing more on disk.
//!
//! Pure: no clock, no I/O.

use std::collections::BTreeMap;

use super::state::{Receipt, ReceiptStatus};
use crate::chain::crypto::{Hash, PublicKey};
use crate::chain::tx::{SignedTransaction, TxKind};

/// Who holds a balance: an account (a key) or a contract (its address).
/// The two are apart: a contract's address may also be a key's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Holder {
    /// The account of a key.
    Account(PublicKey),
    /// The balance of a contract.
    Contract(Hash),
}

/// One holder's net balance change in one transaction (never zero).
pub type Delta = (Holder, i128);

/// What one block changed: each transaction's net deltas, in block order,
/// sorted by holder; and the forger's reward (block reward + the fees
/// its transactions paid).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlockBalances {
    /// Per transaction, its deltas sorted by holder, none zero.
    pub txs: Vec<Vec<Delta>>,
    /// The forger's credit at the end of the block.
    pub reward: u64,
}

/// Sums `deltas` per holder, drops the zeros, sorts by holder.
pub fn normalize(deltas: impl IntoIterator<Item = Delta>) -> Vec<Delta> {
    let mut m: BTreeMap<Holder, i128> = BTreeMap::new();
    for (h, d) in deltas {
        *m.entry(h).or_default() += d;
    }
    m.into_iter().filter(|(_, d)| *d != 0).collect()
}

/// The fee a transaction was finally charged: its receipt's for a contract
/// transaction (the fuel it did not use came back), else the fee it names.
pub fn fee_charged(stx: &SignedTransaction, receipt: Option<&Receipt>) -> u64 {
    match (stx.tx.kind.fuel_limit(), receipt) {
        (Some(_), Some(r)) => r.fee,
        _ => stx.tx.fee,
    }
}

/// The balance changes `stx` makes by rule, from itself and its receipt
/// (a contract transaction's; none for the others): sorted by holder,
/// none zero. A contract's payments and an equivocation bounty are not
/// here (see the module's text).
pub fn rule_deltas(stx: &SignedTransaction, receipt: Option<&Receipt>) -> Vec<Delta> {
    let tx = &stx.tx;
    let sender = Holder::Account(tx.sender);
    let fee = fee_charged(stx, receipt) as i128;
    let mut v: Vec<Delta> = vec![(sender, -fee)];
    match &tx.kind {
        TxKind::Transfer { to, amount } => {
            v.push((sender, -(*amount as i128)));
            v.push((Holder::Account(*to), *amount as i128));
        }
        TxKind::BuyWeight {
            amount,
            association,
            ..
        } => {
            v.push((sender, -(*amount as i128)));
            v.push((Holder::Account(*association), *amount as i128));
        }
        TxKind::DeployContract { .. } | TxKind::CallContract { .. } => {
            if let Some(r) = receipt {
                v.push((sender, -(r.storage_charge as i128)));
                if let (
                    TxKind::CallContract {
                        contract, value, ..
                    },
                    ReceiptStatus::Ok,
                ) = (&tx.kind, &r.status)
                {
                    v.push((sender, -(*value as i128)));
                    v.push((Holder::Contract(*contract), *value as i128));
                }
            }
        }
        TxKind::ProposeAssociation { .. }
        | TxKind::VoteAssociation { .. }
        | TxKind::PutData { .. }
        | TxKind::ReportEquivocation { .. } => {}
    }
    normalize(v)
}

/// The transactions of a block whose measured deltas (`traced`, one entry
/// per transaction, normalized) differ from the rule: (index, deltas).
/// `receipt_of` gives a contract transaction's receipt.
pub fn residual<'a>(
    txs: &'a [SignedTransaction],
    traced: &'a [Vec<Delta>],
    receipt_of: impl Fn(&SignedTransaction) -> Option<Receipt>,
) -> Vec<(u32, Vec<Delta>)> {
    txs.iter()
        .zip(traced)
        .enumerate()
        .filter_map(|(i, (stx, t))| {
            let rule = rule_deltas(stx, receipt_of(stx).as_ref());
            (rule != *t).then(|| (i as u32, t.clone()))
        })
        .collect()
}

/// Bytes of one delta in [`encode_residual`]: holder tag, 32 bytes, sign,
/// magnitude (u64 little-endian; a delta of a u64 balance fits).
const DELTA_BYTES: usize = 1 + 32 + 1 + 8;

/// A block's residual as bytes: per transaction, its index (u32 LE), its
/// delta count (u16 LE), then each delta.
pub fn encode_residual(r: &[(u32, Vec<Delta>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, deltas) in r {
        out.extend_from_slice(&i.to_le_bytes());
        out.extend_from_slice(&(deltas.len() as u16).to_le_bytes());
        for (h, d) in deltas {
            let (tag, bytes) = match h {
                Holder::Account(k) => (0u8, k.0),
                Holder::Contract(c) => (1u8, c.0),
            };
            out.push(tag);
            out.extend_from_slice(&bytes);
            out.push(u8::from(*d < 0));
            out.extend_from_slice(&(d.unsigned_abs() as u64).to_le_bytes());
        }
    }
    out
}

/// Reads [`encode_residual`]'s bytes back; `txs` is the block's
/// transaction count (an index past it is refused). Names what is wrong.
pub fn decode_residual(bytes: &[u8], txs: usize) -> Result<Vec<(u32, Vec<Delta>)>, String> {
    let mut out = Vec::new();
    let mut rest = bytes;
    let take = |rest: &mut &[u8], n: usize, what: &str| -> Result<Vec<u8>, String> {
        if rest.len() < n {
            return Err(format!("balance residual cut short in {what}"));
        }
        let (a, b) = rest.split_at(n);
        *rest = b;
        Ok(a.to_vec())
    };
    while !rest.is_empty() {
        let i = u32::from_le_bytes(take(&mut rest, 4, "an index")?.try_into().expect("4"));
        if i as usize >= txs {
            return Err(format!(
                "balance residual names transaction {i} of a block of {txs}"
            ));
        }
        let n = u16::from_le_bytes(take(&mut rest, 2, "a count")?.try_into().expect("2"));
        if n as usize * DELTA_BYTES > rest.len() {
            return Err(format!(
                "balance residual of transaction {i}: {n} deltas cut short"
            ));
        }
        let mut deltas = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let d = take(&mut rest, DELTA_BYTES, "a delta")?;
            let key: [u8; 32] = d[1..33].try_into().expect("32");
            let holder = match d[0] {
                0 => Holder::Account(PublicKey(key)),
                1 => Holder::Contract(Hash(key)),
                t => return Err(format!("balance residual: holder tag {t}")),
            };
            let m = u64::from_le_bytes(d[34..42].try_into().expect("8")) as i128;
            deltas.push((holder, if d[33] == 1 { -m } else { m }));
        }
        out.push((i, deltas));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_residual_reads_back_and_bad_bytes_are_named() {
        let r = vec![
            (
                0u32,
                vec![
                    (Holder::Account(PublicKey([1; 32])), -5i128),
                    (Holder::Contract(Hash([2; 32])), u64::MAX as i128),
                ],
            ),
            (3, vec![]),
        ];
        let b = encode_residual(&r);
        assert_eq!(decode_residual(&b, 4).unwrap(), r);
        assert!(decode_residual(&b, 3)
            .unwrap_err()
            .contains("transaction 3"));
        assert!(decode_residual(&b[..b.len() - 1], 4).is_err());
        let mut bad = b.clone();
        bad[6] = 9;
        assert!(decode_residual(&bad, 4).unwrap_err().contains("tag 9"));
    }

    #[test]
    fn normalize_sums_and_drops_zeros() {
        let a = Holder::Account(PublicKey([1; 32]));
        let b = Holder::Account(PublicKey([0; 32]));
        assert_eq!(normalize([(a, 3), (b, 2), (a, -3)]), vec![(b, 2)]);
    }
}
