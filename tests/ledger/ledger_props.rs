//! Properties of the ledger: coins are conserved, replays are refused, a
//! flipped bit invalidates a signed thing, the leader draw is deterministic
//! and follows the weights, and undoing a block restores the state exactly.
//!
//! Case counts are small: ed25519 in a debug build is slow, and the default
//! suite must stay fast on a 2-core machine.

use crate::common;

use common::*;
use goodwill::chain::block::{Header, SignedHeader, VERSION};
use goodwill::chain::codec::{encode, Bytes};
use goodwill::chain::crypto::{Hash, Keypair, PublicKey, Signature};
use goodwill::chain::genesis::ChainParams;
use goodwill::chain::tx::{
    association_proof, SignedTransaction, StatelessError, Transaction, TxKind,
};
use goodwill::ledger::schedule::{self, WeightTable};
use goodwill::ledger::state::{MemState, StateKey, StateReadExt};
use goodwill::ledger::{self, BlockError, Parallelism, TxError};
use proptest::prelude::*;
use proptest::sample::Index;

/// The accounts the generated transactions use: the three bootstrap
/// forgers, three users, and (as a receiver only) an account that starts
/// empty.
fn actors() -> Vec<Keypair> {
    let mut v = forgers();
    v.extend(users().into_iter().take(3));
    v.push(kp(200));
    v
}

/// Senders are the first six actors.
const SENDERS: usize = 6;

/// One generated transaction (valid or not: the builder sorts them out).
#[derive(Debug, Clone)]
enum Op {
    Transfer {
        from: usize,
        to: usize,
        amount: u64,
        fee: u64,
        skew: i64,
    },
    Buy {
        from: usize,
        ahead: u64,
        amount: u64,
    },
    Put {
        from: usize,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    /// Offenders are F2 and the users, never F0 or F1, so that the
    /// bootstrap turns never all lose their leader.
    Report {
        offender: usize,
        reporter: usize,
        valid: bool,
    },
    /// A vote about association X (a no-vote asks for its removal).
    Vote { from: usize, approve: bool },
    /// A transfer to a key no account holds yet: a fresh valid one, or one
    /// of [`bad_keys`] (which no block may ever credit).
    TransferNew { from: usize, to: Receiver },
}

#[derive(Debug, Clone, Copy)]
enum Receiver {
    Fresh(u8),
    Bad(usize),
}

/// Keys that may never receive coins: small-order points, a non-canonical
/// encoding, and bytes that decode to no point at all.
fn bad_keys() -> Vec<PublicKey> {
    let mut v = vec![
        PublicKey([0; 32]),
        {
            let mut identity = [0; 32];
            identity[0] = 1;
            PublicKey(identity)
        },
        {
            // y = p = 2^255 - 19: the canonical form would be y = 0.
            let mut y = [0xff; 32];
            y[0] = 0xed;
            y[31] = 0x7f;
            PublicKey(y)
        },
    ];
    v.extend(
        (2u8..)
            .map(|b| PublicKey([b; 32]))
            .filter(|k| k.validate().is_err())
            .take(2),
    );
    for k in &v {
        assert!(k.validate().is_err(), "{k} should be a bad key");
    }
    v
}

fn op() -> impl Strategy<Value = Op> {
    let from = 0..SENDERS;
    let amount = prop_oneof![
        4 => 1..5_000u64,
        1 => 0..=2 * START,
        1 => Just(0u64),
    ];
    prop_oneof![
        5 => (
            from.clone(),
            0..SENDERS + 1,
            amount.clone(),
            prop_oneof![3 => Just(MIN_FEE), 1 => 0..3 * MIN_FEE],
            prop_oneof![6 => Just(0i64), 1 => -2..=2i64],
        )
            .prop_map(|(from, to, amount, fee, skew)| Op::Transfer {
                from,
                to,
                amount,
                fee,
                skew
            }),
        3 => (from.clone(), 0..=AHEAD + 1, amount)
            .prop_map(|(from, ahead, amount)| Op::Buy { from, ahead, amount }),
        2 => (
            from.clone(),
            proptest::collection::vec(any::<u8>(), 0..4),
            proptest::collection::vec(any::<u8>(), 0..24),
        )
            .prop_map(|(from, key, value)| Op::Put { from, key, value }),
        1 => (2..SENDERS, from.clone(), prop_oneof![3 => Just(true), 1 => Just(false)])
            .prop_map(|(offender, reporter, valid)| Op::Report {
                offender,
                reporter,
                valid
            }),
        1 => (from.clone(), any::<bool>()).prop_map(|(from, approve)| Op::Vote { from, approve }),
        1 => (
            from,
            prop_oneof![
                Just(Receiver::Fresh(201)),
                (201..205u8).prop_map(Receiver::Fresh),
                (0..5usize).prop_map(Receiver::Bad),
            ],
        )
            .prop_map(|(from, to)| Op::TransferNew { from, to }),
    ]
}

/// Whether the checker accepted every transaction of `block`, a block built
/// with [`Chain::forced_block`]: its header carries the state digest of an
/// empty block, so a block whose transactions all apply fails only at the
/// digest, which is checked after them.
fn every_tx_accepted(c: &Chain, block: &goodwill::chain::block::Block) -> bool {
    match c.check(block) {
        Ok(_) => true,
        Err(BlockError::StateDigest { .. }) => true,
        Err(_) => false,
    }
}

/// Blocks: how many slots to leave empty before each, and its candidates.
fn blocks(max_blocks: usize, max_ops: usize) -> impl Strategy<Value = Vec<(u64, Vec<Op>)>> {
    proptest::collection::vec(
        (0..3u64, proptest::collection::vec(op(), 0..=max_ops)),
        1..=max_blocks,
    )
}

/// Turns `ops` into signed candidates for the next block of `c`.
fn candidates(c: &Chain, ops: &[Op]) -> Vec<SignedTransaction> {
    let who = actors();
    let x = assoc_x().public();
    let x_id = ChainParams::genesis_association_id(&x);
    let mut next: Vec<u64> = who.iter().map(|k| c.account(&k.public()).nonce).collect();
    let epoch = c.next_epoch();
    let mut nonce = |i: usize, skew: i64| {
        let n = next[i].saturating_add_signed(skew);
        next[i] += 1;
        n
    };
    ops.iter()
        .map(|op| match op {
            Op::Transfer {
                from,
                to,
                amount,
                fee,
                skew,
            } => c.tx_full(
                &who[*from],
                nonce(*from, *skew),
                *fee,
                transfer(&who[*to].public(), *amount),
            ),
            Op::Buy {
                from,
                ahead,
                amount,
            } => c.tx_n(
                &who[*from],
                nonce(*from, 0),
                buy(epoch + ahead, *amount, &x),
            ),
            Op::Put { from, key, value } => c.tx_n(&who[*from], nonce(*from, 0), put(key, value)),
            Op::Report {
                offender,
                reporter,
                valid,
            } => {
                let (ha, hb) = c.equivocation(&who[*offender], c.tip().slot);
                let hb = if *valid { hb } else { ha.clone() };
                c.tx_n(
                    &who[*reporter],
                    nonce(*reporter, 0),
                    Chain::report_kind(ha, hb),
                )
            }
            Op::Vote { from, approve } => {
                c.tx_n(&who[*from], nonce(*from, 0), vote(x_id, *approve))
            }
            Op::TransferNew { from, to } => {
                let to = match to {
                    Receiver::Fresh(i) => kp(*i).public(),
                    Receiver::Bad(i) => bad_keys()[*i],
                };
                c.tx_n(
                    &who[*from],
                    nonce(*from, 0),
                    transfer(&to, 1 + *from as u64),
                )
            }
        })
        .collect()
}

/// Forges `plan` on a fresh base chain (every block is checked by
/// `apply_block` against what `prepare_block` built), calling `each` with
/// the state before and the chain after every block.
fn run(plan: &[(u64, Vec<Op>)], mut each: impl FnMut(&MemState, &Chain, &Forged)) -> Chain {
    let mut c = Chain::new();
    for (skip, ops) in plan {
        let txs = candidates(&c, ops);
        let (slot, _) = c.led_slot_from(c.tip().slot + 1 + skip);
        let before = c.state.clone();
        let f = c.forge_at(slot, txs);
        each(&before, &c, &f);
    }
    c
}

proptest! {
    #![proptest_config(common::proptest_cases(32))]

    /// (a) The sum of all balances, plus what equivocation bounties burned,
    /// is the initial supply plus one block reward per block, whatever the
    /// blocks hold.
    #[test]
    fn coins_are_conserved(plan in blocks(6, 6)) {
        let supply = Chain::new().params.initial_supply() as u128;
        let c = run(&plan, |_, c, _| {
            let height = c.tip().height as u128;
            assert_eq!(
                c.state.total_balance() + c.state.burned().unwrap() as u128,
                supply + REWARD as u128 * height,
                "after block {height}"
            );
        });
        prop_assert_eq!(c.tip().height, plan.len() as u64);
    }

    /// (e) Undoing a block's changes restores the exact prior state, and
    /// undoing them all, newest first, restores the genesis state.
    #[test]
    fn undo_restores_the_prior_state(plan in blocks(5, 5)) {
        let mut history = Vec::new();
        let mut c = run(&plan, |before, c, f| {
            let mut s = c.state.clone();
            s.undo(&f.changes);
            assert_eq!(&s, before, "undo of block {}", f.block.height());
            s.apply(&f.changes);
            assert_eq!(s, c.state, "redo of block {}", f.block.height());
            history.push(f.changes.clone());
        });
        for changes in history.iter().rev() {
            c.state.undo(changes);
        }
        prop_assert_eq!(c.state, Chain::new().state);
    }

    /// (f) Every key that holds an account is a valid key (the ledger
    /// checks a transfer's receiver only when it has no account yet, so this
    /// is what keeps that rule the same as checking every receiver). The
    /// generated blocks mix in transfers to bad keys, which the builder and
    /// the checker must both refuse.
    #[test]
    fn every_account_holds_a_valid_key(plan in blocks(5, 6)) {
        let valid_accounts = |c: &Chain| {
            for (key, _) in c.state.iter() {
                if let StateKey::Account(pk) = key {
                    assert!(pk.validate().is_ok(), "account {pk} holds an invalid key");
                }
            }
        };
        let c = run(&plan, |_, c, _| valid_accounts(c));
        valid_accounts(&c);
    }

    /// (g) A transfer to a bad key in a block of otherwise valid transfers
    /// is refused at its index, by name — whether the block is checked on
    /// one thread or on several; the same block paying a valid new key
    /// instead has every transaction accepted.
    #[test]
    fn a_bad_receiver_is_refused_in_a_block(
        before in 0..6usize,
        after in 0..4usize,
        which in 0..5usize,
    ) {
        let c = Chain::new();
        let who = actors();
        let bad = bad_keys()[which];
        let mut txs: Vec<SignedTransaction> = (0..before)
            .map(|i| c.tx_n(&who[i], 0, transfer(&kp(210 + i as u8).public(), 5)))
            .collect();
        let bad_tx = |to: &PublicKey| c.tx_n(&who[before], 0, transfer(to, 5));
        txs.push(bad_tx(&bad));
        // Senders 0..=before have sent one transaction already.
        txs.extend((0..after).map(|i| {
            c.tx_n(&who[i], u64::from(i <= before), transfer(&who[SENDERS].public(), 5))
        }));
        // The same block paying a valid new key instead applies: every other
        // transfer in it is valid.
        let mut control = txs.clone();
        control[before] = bad_tx(&kp(220).public());
        prop_assert!(every_tx_accepted(&c, &c.forced_block(control)));
        let block = c.forced_block(txs);
        for parallelism in [Parallelism::Single, Parallelism::Threads(2)] {
            match ledger::apply_block(&c.params, &c.state, &block, parallelism) {
                Err(BlockError::Tx { index, error: TxError::Stateless(StatelessError::BadReceiver { to }), .. }) => {
                    prop_assert_eq!(index, before);
                    prop_assert_eq!(to, bad);
                }
                other => prop_assert!(false, "expected a bad receiver at {}, got {:?}", before, other),
            }
        }
    }

    /// (b) A transaction already in the chain, replayed in any later block,
    /// is refused as a used nonce — by the builder and by the checker.
    #[test]
    fn replays_are_refused(
        plan in proptest::collection::vec(
            (0..2u64, proptest::collection::vec(
                (0..SENDERS, 0..SENDERS + 1, 1..1_000u64).prop_map(|(from, to, amount)| Op::Transfer {
                    from, to, amount, fee: MIN_FEE, skew: 0,
                }),
                1..4,
            )),
            1..5,
        ),
        which_block in any::<Index>(),
        which_tx in any::<Index>(),
        later in any::<Index>(),
    ) {
        let mut states = Vec::new();
        let mut blocks = Vec::new();
        run(&plan, |_, c, f| {
            states.push(c.state.clone());
            blocks.push(f.block.clone());
        });
        let i = which_block.index(blocks.len());
        prop_assume!(!blocks[i].txs.is_empty());
        let tx = which_tx.get(&blocks[i].txs).clone();
        let j = i + later.index(blocks.len() - i);
        let mut c = Chain::new();
        c.state = states[j].clone();
        let sender = tx.tx.sender;
        let expected = c.account(&sender).nonce;
        prop_assert!(expected > tx.tx.nonce);
        let e = c.reject(tx.clone());
        prop_assert_eq!(e, TxError::NonceUsed { sender, expected, got: tx.tx.nonce });
        // Twice in one block: the second copy is the replay.
        let mut fresh = Chain::new();
        fresh.state = if i == 0 { Chain::new().state } else { states[i - 1].clone() };
        let twice = fresh.forced_block(blocks[i].txs.iter().chain([&blocks[i].txs[0]]).cloned().collect());
        match fresh.check(&twice) {
            Err(BlockError::Tx { index, error: TxError::NonceUsed { .. }, .. }) => {
                prop_assert_eq!(index, blocks[i].txs.len());
            }
            other => prop_assert!(false, "expected a replay error, got {:?}", other),
        }
    }
}

/// A transaction of any kind, with random fields, signed by one of a few keys.
fn signed_tx() -> impl Strategy<Value = SignedTransaction> {
    let key = (1u8..=4).prop_map(kp);
    let pk = any::<[u8; 32]>().prop_map(|b| kp(b[0].max(1)).public());
    let bytes = |n: usize| proptest::collection::vec(any::<u8>(), 0..n);
    let kind = prop_oneof![
        (pk.clone(), any::<u64>()).prop_map(|(to, amount)| TxKind::Transfer { to, amount }),
        (any::<u64>(), any::<u64>(), pk.clone()).prop_map(|(epoch, amount, association)| {
            TxKind::BuyWeight {
                epoch,
                amount,
                association,
            }
        }),
        (bytes(64), bytes(64), 1u8..=255).prop_map(|(name, url, s)| {
            let k = kp(s);
            TxKind::ProposeAssociation {
                proof: association_proof(&k, &Hash([1; 32]), &name, &url),
                name: Bytes::new(name).unwrap(),
                url: Bytes::new(url).unwrap(),
                account: k.public(),
            }
        }),
        (any::<[u8; 32]>(), any::<bool>()).prop_map(|(h, approve)| TxKind::VoteAssociation {
            proposal: Hash(h),
            approve
        }),
        (bytes(64), bytes(200)).prop_map(|(key, value)| TxKind::PutData {
            key: Bytes::new(key).unwrap(),
            value: Bytes::new(value).unwrap(),
        }),
        (header(), header()).prop_map(|(a, b)| TxKind::ReportEquivocation {
            header_a: Box::new(a),
            header_b: Box::new(b),
        }),
    ];
    (
        key,
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<u64>(),
        kind,
        bytes(64),
    )
        .prop_map(|(key, chain, nonce, fee, kind, memo)| {
            Transaction {
                chain_id: Hash(chain),
                sender: key.public(),
                nonce,
                fee,
                kind,
                memo: Bytes::new(memo).unwrap(),
            }
            .sign(&key)
        })
}

/// A header with random fields, signed by its forger.
fn header() -> impl Strategy<Value = SignedHeader> {
    (
        1u8..=8,
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<u64>(),
        any::<[[u8; 32]; 3]>(),
        any::<u16>(),
    )
        .prop_map(
            |(k, chain, height, slot, [parent, root, digest], version)| {
                let key = kp(k);
                Header {
                    version: if version % 4 == 0 { version } else { VERSION },
                    chain_id: Hash(chain),
                    height,
                    slot,
                    parent: Hash(parent),
                    tx_root: Hash(root),
                    state_digest: Hash(digest),
                    forger: key.public(),
                    vrf: goodwill::chain::crypto::VrfProof([k; 80]),
                }
                .sign(&key)
            },
        )
}

proptest! {
    #![proptest_config(common::proptest_cases(64))]

    /// (c) A single flipped bit anywhere in a signed transaction's
    /// canonical bytes makes it undecodable or invalid.
    #[test]
    fn a_flipped_bit_invalidates_a_transaction(
        stx in signed_tx(),
        flips in proptest::collection::vec(any::<Index>(), 1..6),
    ) {
        let bytes = stx.to_bytes();
        prop_assert!(stx.check().is_ok(), "the unflipped transaction is valid");
        prop_assert_eq!(SignedTransaction::from_bytes(&bytes).unwrap(), stx.clone());
        for flip in flips {
            let bit = flip.index(bytes.len() * 8);
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            if let Ok(t) = SignedTransaction::from_bytes(&b) {
                prop_assert_ne!(&t, &stx);
                prop_assert!(t.check().is_err(), "bit {} of {}: still valid", bit, bytes.len() * 8);
            }
        }
    }

    /// (c) The same for a signed header.
    #[test]
    fn a_flipped_bit_invalidates_a_header(
        h in header(),
        flips in proptest::collection::vec(any::<Index>(), 1..6),
    ) {
        let bytes = encode(&h);
        prop_assert!(h.verify().is_ok());
        prop_assert_eq!(SignedHeader::from_bytes(&bytes).unwrap(), h.clone());
        for flip in flips {
            let bit = flip.index(bytes.len() * 8);
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            if let Ok(x) = SignedHeader::from_bytes(&b) {
                prop_assert_ne!(&x, &h);
                prop_assert!(x.verify().is_err(), "bit {} of {}: still valid", bit, bytes.len() * 8);
            }
        }
    }

    /// (d) The draw is a function of (table, seed, slot): drawing twice, or
    /// from a table rebuilt from the same pairs, gives the same holder, and
    /// only holders with weight are drawn.
    #[test]
    fn the_draw_is_deterministic(
        weights in proptest::collection::vec((any::<[u8; 32]>(), 0..1_000_000u64), 1..12),
        seed in any::<[u8; 32]>(),
        slots in proptest::collection::vec(any::<u64>(), 1..16),
    ) {
        let mut pairs: Vec<(PublicKey, u64)> = weights.into_iter().map(|(k, w)| (PublicKey(k), w)).collect();
        pairs.sort();
        pairs.dedup_by_key(|p| p.0);
        let t = WeightTable::new(&pairs);
        let again = WeightTable::new(&pairs.clone());
        let seed = Hash(seed);
        for s in slots {
            let d = t.draw(&seed, s);
            prop_assert_eq!(d, t.draw(&seed, s));
            prop_assert_eq!(d, again.draw(&seed, s));
            match d {
                Some(k) => prop_assert!(pairs.iter().any(|&(p, w)| p == k && w > 0)),
                None => prop_assert!(pairs.iter().all(|&(_, w)| w == 0)),
            }
        }
    }
}

/// (d) The same state and slot give the same leader, on two chains built
/// apart from the same blocks, in bootstrap and in weighted epochs.
#[test]
fn the_leader_is_a_function_of_state_and_slot() {
    let x = assoc_x().public();
    let build = || {
        let mut c = Chain::new();
        let u = users();
        // Together at least the bootstrap threshold: the bootstrap
        // forgers' notional weight no longer counts in epochs 2 and 3.
        c.forge_ok(vec![
            c.tx(&u[0], buy(2, 100, &x)),
            c.tx(&u[1], buy(2, 200, &x)),
            c.tx(&u[2], buy(2, 700, &x)),
            c.tx(&u[3], buy(3, BOOTSTRAP_WEIGHT, &x)),
        ]);
        c
    };
    let (a, b) = (build(), build());
    assert_eq!(a.state, b.state);
    let tip = a.tip();
    let mut drawn = std::collections::BTreeSet::new();
    for s in tip.slot + 1..a.params.first_slot(5) {
        let la = schedule::leader(&a.params, &a.state, &tip, s).unwrap();
        let lb = schedule::leader(&b.params, &b.state, &b.tip(), s).unwrap();
        assert_eq!(la, lb, "slot {s}");
        assert_eq!(la, schedule::leader(&a.params, &a.state, &tip, s).unwrap());
        drawn.insert(la.unwrap());
    }
    // Epochs 2 and 3 are weighted: users lead there.
    assert!(users().iter().any(|k| drawn.contains(&k.public())));
}

/// The chi-square statistic of `observed` counts against `weights`.
fn chi_square(observed: &[u64], weights: &[u64]) -> f64 {
    let n: u64 = observed.iter().sum();
    let total: u64 = weights.iter().sum();
    observed
        .iter()
        .zip(weights)
        .map(|(&o, &w)| {
            let e = n as f64 * w as f64 / total as f64;
            (o as f64 - e).powi(2) / e
        })
        .sum()
}

/// Draws `n` slots from a table of `weights` with `seed`; counts per holder.
fn frequencies(weights: &[u64], seed: &Hash, n: u64) -> Vec<u64> {
    let keys: Vec<PublicKey> = (0..weights.len() as u8)
        .map(|i| PublicKey([i; 32]))
        .collect();
    let pairs: Vec<(PublicKey, u64)> = keys.iter().copied().zip(weights.iter().copied()).collect();
    let t = WeightTable::new(&pairs);
    let mut counts = vec![0u64; weights.len()];
    for s in 0..n {
        let k = t.draw(seed, s).unwrap();
        counts[k.0[0] as usize] += 1;
    }
    counts
}

/// (d) Over 100 000 slots, leaders follow the weights: chi-square below
/// the p = 0.001 critical value (18.467 for 4 degrees of freedom), for a
/// few fixed seeds, with small weights and with coin-sized ones.
#[test]
fn draw_frequencies_follow_the_weights() {
    const CRITICAL_DF4_P001: f64 = 18.467;
    let small = [1u64, 2, 3, 4, 10];
    let large: Vec<u64> = small.iter().map(|w| w * 1_000_000_000_000).collect();
    for (i, weights) in [&small[..], &large[..]].into_iter().enumerate() {
        for s in 1..=2u8 {
            let seed = Hash::of(&[&[s, i as u8]]);
            let counts = frequencies(weights, &seed, 100_000);
            let chi = chi_square(&counts, weights);
            assert!(
                chi < CRITICAL_DF4_P001,
                "weights {weights:?}, seed {s}: counts {counts:?}, chi-square {chi:.2}"
            );
        }
    }
    // The statistic can fail: the same counts against other weights do.
    let counts = frequencies(&small, &Hash::of(&[b"x"]), 10_000);
    assert!(chi_square(&counts, &[1, 1, 1, 1, 1]) > 1_000.0);
}

/// A signature is no more than its bytes: one made over another message
/// does not pass for this one (the flip tests' premise, checked once).
#[test]
fn a_signature_from_another_transaction_does_not_verify() {
    let c = Chain::new();
    let a = c.tx(&users()[0], transfer(&users()[1].public(), 1));
    let mut b = c.tx(&users()[0], transfer(&users()[1].public(), 2));
    assert!(b.check().is_ok());
    b.signature = a.signature;
    assert!(b.check().is_err());
    b.signature = Signature([0; 64]);
    assert!(b.check().is_err());
}

/// (c) Every single-bit flip of one signed transfer and of one signed
/// header, exhaustively.
#[test]
fn every_single_bit_flip_is_caught() {
    let c = Chain::new();
    let stx = c.tx_full(&users()[0], 7, 25, transfer(&users()[1].public(), 123_456));
    let bytes = stx.to_bytes();
    let mut decoded = 0;
    for bit in 0..bytes.len() * 8 {
        let mut b = bytes.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        if let Ok(t) = SignedTransaction::from_bytes(&b) {
            decoded += 1;
            assert!(t.check().is_err(), "transaction bit {bit}: still valid");
        }
    }
    // Most flips decode (fixed-size fields): the signature is what catches them.
    assert!(decoded > bytes.len() * 4, "{decoded}");

    let h = c.forced_block(vec![stx]).header;
    let bytes = encode(&h);
    for bit in 0..bytes.len() * 8 {
        let mut b = bytes.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        if let Ok(x) = SignedHeader::from_bytes(&b) {
            assert!(x.verify().is_err(), "header bit {bit}: still valid");
        }
    }
}
