//! The mempool as pure logic, against an in-memory ledger state from the
//! test kit: fee order, nonce order and gaps, duplicates and replacement,
//! the bounds and eviction, pruning after a block, ledger-rule refusals.

use goodwill::chain::codec::Bytes;
use goodwill::chain::crypto::{Hash, Keypair, PublicKey};
use goodwill::chain::genesis::COIN;
use goodwill::chain::tx::{SignedTransaction, Transaction, TxKind};
use goodwill::ledger::mempool::{Admitted, Mempool, MempoolError, MempoolLimits};
use goodwill::ledger::state::{MemState, StateReadExt};
use goodwill::ledger::TxError;
use goodwill::testkit::{TestChain, TestNet, TestNetConfig};

const MIN_FEE: u64 = 10;

fn net() -> TestNet {
    let net = TestNet::new(&TestNetConfig {
        users: 6,
        ..TestNetConfig::default()
    });
    assert_eq!(net.params.genesis().min_fee, MIN_FEE);
    net
}

/// A transfer of `amount` from `from` to the association's account.
fn tx(net: &TestNet, from: &Keypair, nonce: u64, fee: u64, amount: u64) -> SignedTransaction {
    Transaction {
        chain_id: net.params.chain_id(),
        sender: from.public(),
        nonce,
        fee,
        kind: TxKind::Transfer {
            to: net.association.public(),
            amount,
        },
        memo: Bytes::empty(),
    }
    .sign(from)
}

/// Admits `t` as a node does: stateless checks first (they give the id),
/// then the pool, for the slot after the tip.
fn admit(
    pool: &mut Mempool,
    net: &TestNet,
    state: &MemState,
    t: &SignedTransaction,
) -> Result<Admitted, MempoolError> {
    let id = t.check().expect("a well-formed transaction").id;
    let slot = state.tip().expect("a tip").slot + 1;
    pool.admit(&net.params, state, t.clone(), id, slot)
}

fn id(t: &SignedTransaction) -> Hash {
    t.check().expect("well-formed").id
}

fn fees(txs: &[SignedTransaction]) -> Vec<u64> {
    txs.iter().map(|t| t.tx.fee).collect()
}

fn senders_nonces(txs: &[SignedTransaction]) -> Vec<(PublicKey, u64)> {
    txs.iter().map(|t| (t.tx.sender, t.tx.nonce)).collect()
}

fn genesis(net: &TestNet) -> TestChain {
    net.chain()
}

#[test]
fn candidates_come_highest_fee_first() {
    let net = net();
    let chain = genesis(&net);
    let mut pool = Mempool::new(MempoolLimits::default());
    for (i, fee) in [30, 10, 50, 20].into_iter().enumerate() {
        let t = tx(&net, &net.users[i], 0, fee, 1);
        assert_eq!(
            admit(&mut pool, &net, &chain.state, &t),
            Ok(Admitted::Added)
        );
    }
    assert_eq!(pool.len(), 4);
    let c = pool.candidates(&chain.state, 100).unwrap();
    assert_eq!(fees(&c), vec![50, 30, 20, 10]);
    // `max` bounds the answer, keeping the best.
    let c = pool.candidates(&chain.state, 2).unwrap();
    assert_eq!(fees(&c), vec![50, 30]);
}

#[test]
fn each_senders_transactions_come_in_nonce_order() {
    let net = net();
    let chain = genesis(&net);
    let (a, b) = (&net.users[0], &net.users[1]);
    let mut pool = Mempool::new(MempoolLimits::default());
    // a's later nonces pay more than its first: they still wait for it.
    for t in [
        tx(&net, a, 2, 50, 1),
        tx(&net, a, 1, 100, 1),
        tx(&net, a, 0, 10, 1),
        tx(&net, b, 0, 20, 1),
    ] {
        assert_eq!(
            admit(&mut pool, &net, &chain.state, &t),
            Ok(Admitted::Added)
        );
    }
    let c = pool.candidates(&chain.state, 100).unwrap();
    assert_eq!(
        senders_nonces(&c),
        vec![
            (b.public(), 0),
            (a.public(), 0),
            (a.public(), 1),
            (a.public(), 2)
        ]
    );
    // The block built from them applies in full.
    let mut chain = chain;
    let block = chain.forge(c);
    assert_eq!(block.txs.len(), 4);
}

#[test]
fn a_nonce_gap_is_held_back_until_filled() {
    let net = net();
    let chain = genesis(&net);
    let a = &net.users[0];
    let mut pool = Mempool::new(MempoolLimits::default());
    let t1 = tx(&net, a, 1, 10, 1);
    let t2 = tx(&net, a, 2, 10, 1);
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &t2),
        Ok(Admitted::Added)
    );
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &t1),
        Ok(Admitted::Added)
    );
    assert_eq!(pool.len(), 2);
    assert!(
        pool.candidates(&chain.state, 100).unwrap().is_empty(),
        "nonce 0 is missing: nothing may be offered"
    );
    assert_eq!(pool.next_nonce(&a.public(), 0), 0);

    let t0 = tx(&net, a, 0, 10, 1);
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &t0),
        Ok(Admitted::Added)
    );
    let c = pool.candidates(&chain.state, 100).unwrap();
    assert_eq!(c, vec![t0, t1, t2]);
    assert_eq!(pool.next_nonce(&a.public(), 0), 3);
}

#[test]
fn a_gap_in_the_middle_stops_the_run() {
    let net = net();
    let chain = genesis(&net);
    let a = &net.users[0];
    let mut pool = Mempool::new(MempoolLimits::default());
    for n in [0, 1, 3, 4] {
        admit(&mut pool, &net, &chain.state, &tx(&net, a, n, 10, 1)).unwrap();
    }
    let c = pool.candidates(&chain.state, 100).unwrap();
    assert_eq!(
        senders_nonces(&c),
        vec![(a.public(), 0), (a.public(), 1)],
        "never across the gap at nonce 2"
    );
    assert_eq!(pool.next_nonce(&a.public(), 0), 2);
    admit(&mut pool, &net, &chain.state, &tx(&net, a, 2, 10, 1)).unwrap();
    assert_eq!(pool.candidates(&chain.state, 100).unwrap().len(), 5);
    assert_eq!(pool.next_nonce(&a.public(), 0), 5);
}

#[test]
fn a_duplicate_changes_nothing() {
    let net = net();
    let chain = genesis(&net);
    let t = tx(&net, &net.users[0], 0, 10, 1);
    let mut pool = Mempool::new(MempoolLimits::default());
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &t),
        Ok(Admitted::Added)
    );
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &t),
        Ok(Admitted::Duplicate)
    );
    assert_eq!(pool.len(), 1);
    assert!(pool.contains(&id(&t)));
    assert_eq!(pool.candidates(&chain.state, 100).unwrap(), vec![t]);
}

#[test]
fn same_nonce_replaces_only_for_a_higher_fee() {
    let net = net();
    let chain = genesis(&net);
    let a = &net.users[0];
    let mut pool = Mempool::new(MempoolLimits::default());
    let first = tx(&net, a, 0, 20, 1);
    admit(&mut pool, &net, &chain.state, &first).unwrap();

    // Same fee, other content: refused, naming the fee to beat.
    let same_fee = tx(&net, a, 0, 20, 2);
    let e = admit(&mut pool, &net, &chain.state, &same_fee).unwrap_err();
    assert_eq!(
        e,
        MempoolError::NonceTaken {
            sender: a.public(),
            nonce: 0,
            pending_fee: 20
        }
    );
    assert!(e.to_string().contains("20"), "{e}");
    // Lower fee: refused.
    let lower = tx(&net, a, 0, 15, 1);
    assert!(matches!(
        admit(&mut pool, &net, &chain.state, &lower),
        Err(MempoolError::NonceTaken {
            pending_fee: 20,
            ..
        })
    ));
    assert!(pool.contains(&id(&first)));

    // Higher fee: replaces it.
    let higher = tx(&net, a, 0, 21, 1);
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &higher),
        Ok(Admitted::Replaced(id(&first)))
    );
    assert_eq!(pool.len(), 1);
    assert!(!pool.contains(&id(&first)));
    assert!(pool.contains(&id(&higher)));
    assert_eq!(pool.candidates(&chain.state, 100).unwrap(), vec![higher]);

    // A held-back nonce is replaced the same way.
    let held = tx(&net, a, 3, 10, 1);
    admit(&mut pool, &net, &chain.state, &held).unwrap();
    assert!(matches!(
        admit(&mut pool, &net, &chain.state, &tx(&net, a, 3, 10, 2)),
        Err(MempoolError::NonceTaken { nonce: 3, .. })
    ));
    let held_higher = tx(&net, a, 3, 11, 1);
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &held_higher),
        Ok(Admitted::Replaced(id(&held)))
    );
    assert_eq!(pool.len(), 2);
}

#[test]
fn a_full_pool_evicts_the_cheapest_and_refuses_a_cheaper_one() {
    let net = net();
    let chain = genesis(&net);
    let mut pool = Mempool::new(MempoolLimits {
        max_txs: 3,
        ..MempoolLimits::default()
    });
    let u = &net.users;
    let t20 = tx(&net, &u[0], 0, 20, 1);
    let t30 = tx(&net, &u[1], 0, 30, 1);
    let t40 = tx(&net, &u[2], 0, 40, 1);
    for t in [&t20, &t30, &t40] {
        assert_eq!(admit(&mut pool, &net, &chain.state, t), Ok(Admitted::Added));
    }

    // Cheaper than the cheapest: refused, naming both fees.
    let e = admit(&mut pool, &net, &chain.state, &tx(&net, &u[3], 0, 10, 1)).unwrap_err();
    assert_eq!(
        e,
        MempoolError::Full {
            fee: 10,
            lowest: 20
        }
    );
    let text = e.to_string();
    assert!(text.contains("10") && text.contains("20"), "{text}");
    // As cheap as the cheapest: refused too (it must pay more).
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &tx(&net, &u[3], 0, 20, 1)),
        Err(MempoolError::Full {
            fee: 20,
            lowest: 20
        })
    );
    assert_eq!(pool.len(), 3);

    // Paying more evicts the cheapest.
    let t50 = tx(&net, &u[3], 0, 50, 1);
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &t50),
        Ok(Admitted::Added)
    );
    assert_eq!(pool.len(), 3);
    assert!(!pool.contains(&id(&t20)), "the cheapest was evicted");
    assert_eq!(
        fees(&pool.candidates(&chain.state, 100).unwrap()),
        vec![50, 40, 30]
    );

    // A replacement in a full pool takes its old place: nothing evicted.
    let t31 = tx(&net, &u[1], 0, 31, 1);
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &t31),
        Ok(Admitted::Replaced(id(&t30)))
    );
    assert_eq!(pool.len(), 3);
    assert!(pool.contains(&id(&t40)) && pool.contains(&id(&t50)));
}

/// Found by the simulation: a spammer filled every mempool with
/// transactions held back behind a nonce gap, paying a little more than the
/// minimum. They never go in a block (and so never cost their fee), and an
/// equivocation report at the minimum fee was refused for the rest of the
/// run. Held-back transactions now go first, and never push out one that
/// can go in a block.
#[test]
fn held_back_transactions_are_evicted_first_and_never_evict_ready_ones() {
    let net = net();
    let chain = genesis(&net);
    let u = &net.users;
    let mut pool = Mempool::new(MempoolLimits {
        max_txs: 3,
        ..MempoolLimits::default()
    });
    // Full of held-back transactions paying well.
    let held: Vec<_> = (0..3)
        .map(|i| tx(&net, &u[i], 1, 90 + i as u64, 1))
        .collect();
    for t in &held {
        assert_eq!(admit(&mut pool, &net, &chain.state, t), Ok(Admitted::Added));
    }
    assert_eq!(pool.held_back(), 3);
    // One that can go in a block, at the minimum fee, evicts the cheapest.
    let ready = tx(&net, &u[3], 0, MIN_FEE, 1);
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &ready),
        Ok(Admitted::Added)
    );
    assert!(!pool.contains(&id(&held[0])) && pool.contains(&id(&ready)));
    assert_eq!(pool.held_back(), 2);
    // A held-back one must outbid the cheapest held-back one…
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &tx(&net, &u[4], 1, 50, 1)),
        Err(MempoolError::Full {
            fee: 50,
            lowest: 91
        })
    );
    let rich = tx(&net, &u[4], 1, 95, 1);
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &rich),
        Ok(Admitted::Added)
    );
    assert!(!pool.contains(&id(&held[1])));
    // … and never pushes out one that can go in a block.
    for t in [
        tx(&net, &u[5], 0, MIN_FEE, 1),
        tx(&net, &u[1], 0, MIN_FEE, 1),
    ] {
        admit(&mut pool, &net, &chain.state, &t).unwrap();
    }
    assert_eq!(pool.held_back(), 0, "{pool:?}");
    let e = admit(&mut pool, &net, &chain.state, &tx(&net, &u[0], 2, 500, 1)).unwrap_err();
    assert!(matches!(e, MempoolError::Full { .. }), "{e}");
    assert_eq!(pool.len(), 3);
    assert_eq!(pool.candidates(&chain.state, 100).unwrap().len(), 3);
}

#[test]
fn among_equal_fees_the_highest_nonce_is_evicted_first() {
    let net = net();
    let chain = genesis(&net);
    let a = &net.users[0];
    let mut pool = Mempool::new(MempoolLimits {
        max_txs: 3,
        ..MempoolLimits::default()
    });
    let ts: Vec<_> = (0..3).map(|n| tx(&net, a, n, 10, 1)).collect();
    for t in &ts {
        admit(&mut pool, &net, &chain.state, t).unwrap();
    }
    admit(
        &mut pool,
        &net,
        &chain.state,
        &tx(&net, &net.users[1], 0, 11, 1),
    )
    .unwrap();
    // Evicting nonce 2 leaves 0 and 1 offerable; evicting 0 would strand both.
    assert!(!pool.contains(&id(&ts[2])));
    assert!(pool.contains(&id(&ts[0])) && pool.contains(&id(&ts[1])));
    assert_eq!(pool.candidates(&chain.state, 100).unwrap().len(), 3);
}

#[test]
fn a_sender_may_hold_only_so_many() {
    let net = net();
    let chain = genesis(&net);
    let a = &net.users[0];
    let mut pool = Mempool::new(MempoolLimits {
        max_per_sender: 2,
        ..MempoolLimits::default()
    });
    admit(&mut pool, &net, &chain.state, &tx(&net, a, 0, 10, 1)).unwrap();
    let t1 = tx(&net, a, 1, 10, 1);
    admit(&mut pool, &net, &chain.state, &t1).unwrap();
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &tx(&net, a, 2, 100, 1)),
        Err(MempoolError::SenderFull {
            sender: a.public(),
            count: 2
        })
    );
    // Replacing one of its own is still allowed.
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &tx(&net, a, 1, 11, 1)),
        Ok(Admitted::Replaced(id(&t1)))
    );
    // Other senders are not affected.
    admit(
        &mut pool,
        &net,
        &chain.state,
        &tx(&net, &net.users[1], 0, 10, 1),
    )
    .unwrap();
    assert_eq!(pool.len(), 3);
}

#[test]
fn a_nonce_too_far_ahead_is_refused() {
    let net = net();
    let chain = genesis(&net);
    let a = &net.users[0];
    let mut pool = Mempool::new(MempoolLimits {
        max_nonce_gap: 4,
        ..MempoolLimits::default()
    });
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &tx(&net, a, 4, 10, 1)),
        Ok(Admitted::Added)
    );
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &tx(&net, a, 5, 10, 1)),
        Err(MempoolError::NonceTooFar {
            sender: a.public(),
            nonce: 5,
            next: 0,
            max_gap: 4
        })
    );
}

#[test]
fn prune_drops_what_a_block_included_and_releases_what_waited() {
    let net = net();
    let mut chain = genesis(&net);
    let (a, b) = (&net.users[0], &net.users[1]);
    let mut pool = Mempool::new(MempoolLimits::default());
    let a0 = tx(&net, a, 0, 10, 1);
    let a1 = tx(&net, a, 1, 10, 1);
    let a2 = tx(&net, a, 2, 10, 1);
    let b0 = tx(&net, b, 0, 10, 1);
    for t in [&a0, &a2, &b0] {
        admit(&mut pool, &net, &chain.state, t).unwrap();
    }
    // A block holds a0 and a1 (a1 never reached this pool) and not b0.
    chain.forge(vec![a0.clone(), a1.clone()]);
    assert_eq!(chain.state.account(&a.public()).unwrap().nonce, 2);
    assert_eq!(pool.prune(&chain.state).unwrap(), 1);
    assert_eq!(pool.len(), 2);
    assert!(!pool.contains(&id(&a0)));
    // a2 waited for a1; now it is next.
    let c = pool.candidates(&chain.state, 100).unwrap();
    assert_eq!(senders_nonces(&c).len(), 2);
    assert!(c.contains(&a2) && c.contains(&b0));
    assert_eq!(pool.next_nonce(&a.public(), 2), 3);
    // Pruning again changes nothing.
    assert_eq!(pool.prune(&chain.state).unwrap(), 0);

    // The included transaction, sent again, is a replay.
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &a0),
        Err(MempoolError::Invalid(TxError::NonceUsed {
            sender: a.public(),
            expected: 2,
            got: 0
        }))
    );
}

#[test]
fn a_next_transaction_that_no_longer_applies_is_dropped_with_its_reason() {
    let net = net();
    let mut chain = genesis(&net);
    let (a, b) = (&net.users[0], &net.users[1]);
    let balance = chain.state.account(&a.public()).unwrap().balance;
    let mut pool = Mempool::new(MempoolLimits::default());
    // a1 waits behind a0; another nonce 0 (sent elsewhere, never seen
    // here) lands instead of a0 and leaves 90.
    let a0 = tx(&net, a, 0, 10, 1);
    let a1 = tx(&net, a, 1, 10, 200);
    let a2 = tx(&net, a, 2, 10, 1);
    let b0 = tx(&net, b, 0, 10, 1);
    for t in [&a0, &a1, &a2, &b0] {
        admit(&mut pool, &net, &chain.state, t).unwrap();
    }
    chain.forge(vec![tx(&net, a, 0, 11, balance - 101)]);
    assert_eq!(pool.prune(&chain.state).unwrap(), 1);
    // a1 is next and can never apply as it is: dropped, with the reason.
    let slot = chain.state.tip().unwrap().slot + 1;
    let dropped = pool
        .drop_failing_heads(&net.params, &chain.state, slot)
        .unwrap();
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert_eq!(dropped[0].0, id(&a1));
    assert!(
        matches!(
            dropped[0].1,
            TxError::InsufficientBalance { balance: 90, .. }
        ),
        "{dropped:?}"
    );
    assert!(!pool.contains(&id(&a1)));
    // a2 waits for a nonce 1 again; b0, whose head applies, stays.
    assert!(pool.contains(&id(&a2)) && pool.contains(&id(&b0)));
    assert_eq!(
        pool.candidates(&chain.state, 100).unwrap(),
        vec![b0.clone()]
    );
    assert!(pool
        .drop_failing_heads(&net.params, &chain.state, slot)
        .unwrap()
        .is_empty());
    // Sent again, a1 is refused with the same reason.
    assert!(matches!(
        admit(&mut pool, &net, &chain.state, &a1),
        Err(MempoolError::Invalid(TxError::InsufficientBalance { .. }))
    ));
}

#[test]
fn a_transaction_breaking_a_ledger_rule_is_refused_with_its_error() {
    let net = net();
    let chain = genesis(&net);
    let a = &net.users[0];
    let balance = chain.state.account(&a.public()).unwrap().balance;
    assert_eq!(balance, 1_000 * COIN);
    let mut pool = Mempool::new(MempoolLimits::default());

    // Next nonce: checked in full against the state.
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &tx(&net, a, 0, 10, balance)),
        Err(MempoolError::Invalid(TxError::InsufficientBalance {
            sender: a.public(),
            balance,
            needed: balance as u128 + 10
        }))
    );
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &tx(&net, a, 0, 9, 1)),
        Err(MempoolError::Invalid(TxError::FeeTooLow {
            fee: 9,
            min: 10
        }))
    );
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &tx(&net, a, 0, 10, 0)),
        Err(MempoolError::Invalid(TxError::ZeroAmount))
    );
    // A transaction for another chain.
    let other = TestNet::new(&TestNetConfig {
        epoch_slots: 12,
        ..TestNetConfig::default()
    });
    assert_ne!(other.params.chain_id(), net.params.chain_id());
    let foreign = tx(&other, a, 0, 10, 1);
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &foreign),
        Err(MempoolError::Invalid(TxError::WrongChain {
            expected: net.params.chain_id(),
            got: other.params.chain_id()
        }))
    );

    // Held back (a gap): what can be checked without the nonces before it is.
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &tx(&net, a, 3, 10, balance)),
        Err(MempoolError::Invalid(TxError::InsufficientBalance {
            sender: a.public(),
            balance,
            needed: balance as u128 + 10
        }))
    );
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &tx(&net, a, 3, 9, 1)),
        Err(MempoolError::Invalid(TxError::FeeTooLow {
            fee: 9,
            min: 10
        }))
    );
    let foreign_held = tx(&other, a, 3, 10, 1);
    assert!(matches!(
        admit(&mut pool, &net, &chain.state, &foreign_held),
        Err(MempoolError::Invalid(TxError::WrongChain { .. }))
    ));
    // An account with nothing cannot pay a fee.
    let nobody = goodwill::testkit::key(9, 0);
    assert!(matches!(
        admit(&mut pool, &net, &chain.state, &tx(&net, &nobody, 0, 10, 1)),
        Err(MempoolError::Invalid(TxError::InsufficientBalance { .. }))
    ));
    assert!(pool.is_empty(), "nothing refused was kept");
}

#[test]
fn next_nonce_counts_the_pending_run() {
    let net = net();
    let chain = genesis(&net);
    let (a, b) = (&net.users[0], &net.users[1]);
    let mut pool = Mempool::new(MempoolLimits::default());
    assert_eq!(pool.next_nonce(&a.public(), 0), 0);
    assert_eq!(pool.next_nonce(&a.public(), 7), 7, "the state's nonce");
    for n in 0..3 {
        admit(&mut pool, &net, &chain.state, &tx(&net, a, n, 10, 1)).unwrap();
    }
    admit(&mut pool, &net, &chain.state, &tx(&net, a, 5, 10, 1)).unwrap();
    assert_eq!(
        pool.next_nonce(&a.public(), 0),
        3,
        "held-back 5 not counted"
    );
    assert_eq!(pool.next_nonce(&b.public(), 0), 0, "others not counted");
    // Removing one breaks the run there.
    let t1 = tx(&net, a, 1, 10, 1);
    assert_eq!(pool.remove(&id(&t1)), Some(t1));
    assert_eq!(pool.next_nonce(&a.public(), 0), 1);
    assert_eq!(pool.remove(&id(&tx(&net, b, 0, 10, 1))), None);
}

/// A PutData from `from`: it moves no coins, so it costs only its fee.
fn put(net: &TestNet, from: &Keypair, nonce: u64, fee: u64) -> SignedTransaction {
    Transaction {
        chain_id: net.params.chain_id(),
        sender: from.public(),
        nonce,
        fee,
        kind: TxKind::PutData {
            key: Bytes::new(*b"k").unwrap(),
            value: Bytes::new(nonce.to_le_bytes().to_vec()).unwrap(),
        },
        memo: Bytes::empty(),
    }
    .sign(from)
}

#[test]
fn unpayable_runs_do_not_crowd_honest_transactions_out_of_a_block() {
    // The attack: 32 accounts holding one fee each queue 64 transactions
    // each (2,048, paying ten times the minimum), beside 500 honest ones.
    const FEE: u64 = 100;
    let net = TestNet::new(&TestNetConfig {
        users: 532,
        ..TestNetConfig::default()
    });
    let mut chain = net.chain();
    let attackers: Vec<Keypair> = (0..32).map(|i| goodwill::testkit::key(9, i)).collect();
    let funding: Vec<SignedTransaction> = attackers
        .iter()
        .enumerate()
        .map(|(i, k)| net.transfer(&net.users[i], 0, k.public(), FEE))
        .collect();
    assert_eq!(chain.forge(funding).txs.len(), 32);
    let mut pool = Mempool::new(MempoolLimits::default());
    let mut attack_admitted = 0;
    for k in &attackers {
        assert_eq!(chain.state.account(&k.public()).unwrap().balance, FEE);
        for n in 0..64 {
            if admit(&mut pool, &net, &chain.state, &put(&net, k, n, FEE)).is_ok() {
                attack_admitted += 1;
            }
        }
    }
    let honest: Vec<SignedTransaction> = net.users[32..]
        .iter()
        .map(|k| tx(&net, k, 0, MIN_FEE, 1))
        .collect();
    for t in &honest {
        admit(&mut pool, &net, &chain.state, t).unwrap();
    }
    let max = net.params.limits().max_block_txs as usize;
    let block = chain.forge(pool.candidates(&chain.state, max).unwrap());
    let honest_ids: std::collections::BTreeSet<Hash> = honest.iter().map(id).collect();
    let in_block = block
        .txs
        .iter()
        .filter(|t| honest_ids.contains(&id(t)))
        .count();
    assert_eq!(in_block, 500, "honest transactions in the block");
    assert_eq!(block.txs.len(), 532);
    // Admission counts each sender's running total: one fee pays for one.
    assert_eq!(attack_admitted, 32, "unpayable transactions were admitted");
}

#[test]
fn a_run_its_balance_no_longer_pays_is_cut_at_selection() {
    let net = net();
    let chain = genesis(&net);
    let (a, b) = (&net.users[0], &net.users[1]);
    let balance = chain.state.account(&a.public()).unwrap().balance;
    let mut pool = Mempool::new(MempoolLimits::default());
    for n in 0..3 {
        admit(&mut pool, &net, &chain.state, &put(&net, a, n, 50)).unwrap();
    }
    // A held-back transaction whose running total (the 150 before it and
    // its own amount + fee) exceeds the balance is refused.
    let over = tx(&net, a, 3, 10, balance - 150);
    assert_eq!(
        admit(&mut pool, &net, &chain.state, &over),
        Err(MempoolError::Invalid(TxError::InsufficientBalance {
            sender: a.public(),
            balance,
            needed: balance as u128 + 10
        }))
    );
    // Nonce 0 replaced by one spending the whole balance: nonces 1 and 2
    // stay pending, but nothing pays them any more.
    let all_in = tx(&net, a, 0, 60, balance - 60);
    assert!(matches!(
        admit(&mut pool, &net, &chain.state, &all_in),
        Ok(Admitted::Replaced(_))
    ));
    admit(&mut pool, &net, &chain.state, &tx(&net, b, 0, 10, 1)).unwrap();
    assert_eq!(pool.len(), 4);
    let picked = pool.candidates(&chain.state, 10).unwrap();
    assert_eq!(
        senders_nonces(&picked),
        vec![(a.public(), 0), (b.public(), 0)],
        "the unpayable run was offered to the block"
    );
    // Lazily, the same.
    assert_eq!(
        pool.select(&chain.state).unwrap().collect::<Vec<_>>(),
        picked
    );
}
