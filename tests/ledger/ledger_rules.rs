//! The ledger's rules, one test per rejection path and per happy path, with
//! exact numbers. Every rejected transaction is checked twice: the builder
//! (`prepare_block`) must leave it out and the checker (`apply_block`) must
//! refuse a block holding it, for the same typed reason.

use crate::common;

use common::*;
use goodwill::chain::block::{Block, SignedHeader};
use goodwill::chain::codec::Bytes;
use goodwill::chain::crypto::{Hash, PublicKey, SignatureError};
use goodwill::chain::genesis::{Balance, ChainParams};
use goodwill::chain::tx::{StatelessError, Transaction, TxKind};
use goodwill::ledger::schedule::{self, WeightTable};
use goodwill::ledger::state::{
    ProposalStatus, ReadError, Record, StateKey, StateRead, StateReadExt, StateValue,
};
use goodwill::ledger::{self, BlockError, Parallelism, TxError};

fn a() -> goodwill::chain::crypto::Keypair {
    users()[0].clone()
}
fn b() -> goodwill::chain::crypto::Keypair {
    users()[1].clone()
}

/// A valid block at the next led slot holding one transfer, not yet applied,
/// and the key of its forger.
fn valid_block(c: &Chain) -> (Block, goodwill::chain::crypto::Keypair) {
    let t = c.tx(&a(), transfer(&b().public(), 5));
    let (slot, leader) = c.next_led_slot();
    let (u, _) = c.prepare_at(slot, vec![t]);
    assert!(u.rejected.is_empty());
    let key = c.key(&leader).clone();
    let block = u.sign(&key);
    c.check(&block).expect("the untampered block is valid");
    (block, key)
}

/// Re-signs a (tampered) header with `key`.
fn resign(block: &mut Block, key: &goodwill::chain::crypto::Keypair) {
    block.header = block.header.header.clone().sign(key);
}

/// The first slot after the tip, in `epoch` or later, led by someone other
/// than `not`.
fn slot_not_led_by(c: &Chain, not: &PublicKey) -> u64 {
    let mut s = c.tip().slot + 1;
    loop {
        match c.leader(s) {
            Some(l) if l != *not => return s,
            _ => s += 1,
        }
    }
}

// ---------------------------------------------------------------- happy paths

#[test]
fn transfer_moves_the_amount_and_pays_fee_and_reward_to_the_forger() {
    let mut c = Chain::new();
    let supply = c.state.total_balance();
    let t = c.tx_full(&a(), 0, 25, transfer(&b().public(), 1_234));
    let f = c.forge_ok(vec![t]);
    let forger = f.block.header.header.forger;
    assert!(forgers().iter().any(|k| k.public() == forger));
    assert_eq!(c.balance(&a().public()), START - 1_234 - 25);
    assert_eq!(c.account(&a().public()).nonce, 1);
    assert_eq!(c.balance(&b().public()), START + 1_234);
    assert_eq!(c.account(&b().public()).nonce, 0);
    assert_eq!(c.balance(&forger), START + REWARD + 25);
    assert_eq!(c.state.total_balance(), supply + REWARD as u128);
    assert_eq!(c.tip().height, 1);

    // Spending the whole balance, fee included, is allowed and leaves zero.
    let all = c.balance(&b().public()) - MIN_FEE;
    let t = c.tx(&b(), transfer(&a().public(), all));
    c.forge_ok(vec![t]);
    assert_eq!(c.balance(&b().public()), 0);
}

#[test]
fn an_empty_block_pays_the_reward_only() {
    let mut c = Chain::new();
    let f = c.forge(vec![]);
    let forger = f.block.header.header.forger;
    assert_eq!(c.balance(&forger), START + REWARD);
    assert_eq!(f.block.header.header.tx_root, Hash::ZERO);
}

#[test]
fn buy_weight_donates_to_the_association_and_adds_weight_for_that_epoch() {
    let mut c = Chain::new();
    let x = assoc_x().public();
    let x_id = ChainParams::genesis_association_id(&x);
    let me = a().public();
    assert_eq!(c.state.proposal(&x_id).unwrap().unwrap().donations, 0);
    c.forge_ok(vec![c.tx(&a(), buy(2, 5_000, &x))]);
    assert_eq!(c.balance(&me), START - 5_000 - MIN_FEE);
    assert_eq!(c.balance(&x), 5_000);
    assert_eq!(c.state.weight(2, &me).unwrap(), 5_000);
    assert_eq!(c.state.weight(3, &me).unwrap(), 0);
    assert_eq!(c.state.proposal(&x_id).unwrap().unwrap().donations, 5_000);

    // More for the same epoch adds up; the farthest epoch on sale is fine.
    let n = c.account(&me).nonce;
    c.forge_ok(vec![
        c.tx_n(&a(), n, buy(2, 700, &x)),
        c.tx_n(&a(), n + 1, buy(AHEAD, 1, &x)),
    ]);
    assert_eq!(c.state.weight(2, &me).unwrap(), 5_700);
    assert_eq!(c.state.weight(AHEAD, &me).unwrap(), 1);
    assert_eq!(c.balance(&x), 5_701);
    assert_eq!(c.state.proposal(&x_id).unwrap().unwrap().donations, 5_701);
    assert_eq!(
        c.state.epoch_weights(2).unwrap(),
        vec![(me, 5_700)],
        "the weight table of epoch 2"
    );

    // The sole holder of epoch 2's weight leads every slot of it, and is its
    // only live forger.
    let first = c.params.first_slot(2);
    for s in first..first + EPOCH_SLOTS {
        assert_eq!(c.leader(s), Some(me), "slot {s}");
    }
    assert_eq!(
        schedule::live_forgers(&c.params, &c.state, 2).unwrap(),
        vec![me]
    );
    // Epoch 1 (no weight) still belongs to the bootstrap forgers.
    let s1 = c.params.first_slot(1);
    assert_eq!(
        c.leader(s1),
        Some(forgers()[(s1 % 3) as usize].public()),
        "bootstrap turn in an epoch without weight"
    );
    c.advance_to_epoch(2);
    assert_eq!(c.tip().slot, first);
    assert_eq!(c.state.tip().unwrap().height, 3);
}

#[test]
fn association_with_three_bootstrap_forgers_needs_all_three_yes_votes() {
    let mut c = Chain::new();
    let y = assoc_y();
    let p = c.tx(&a(), c.propose_kind(&y, b"Y shelter"));
    let id = p.id();
    c.forge_ok(vec![p]);
    let prop = c.state.proposal(&id).unwrap().unwrap();
    assert_eq!(prop.status, ProposalStatus::Pending);
    assert_eq!(prop.proposer, a().public());
    assert_eq!(prop.account, y.public());
    assert_eq!(prop.proposed_epoch, 0);
    assert_eq!(prop.name.as_slice(), b"Y shelter");
    assert_eq!(c.state.association_of(&y.public()).unwrap(), Some(id));
    // Not approved yet: no donations.
    assert_eq!(
        c.reject(c.tx(&b(), buy(2, 100, &y.public()))),
        TxError::NotApproved {
            account: y.public()
        }
    );

    let f = forgers();
    c.forge_ok(vec![c.tx(&f[0], vote(id, true))]);
    let prop = c.state.proposal(&id).unwrap().unwrap();
    assert_eq!(prop.status, ProposalStatus::Pending);
    assert_eq!(prop.votes, vec![(f[0].public(), true)]);
    c.forge_ok(vec![c.tx(&f[1], vote(id, true))]);
    assert_eq!(
        c.state.proposal(&id).unwrap().unwrap().status,
        ProposalStatus::Pending,
        "2 of 3 is below 75 %"
    );
    c.forge_ok(vec![c.tx(&f[2], vote(id, true))]);
    let prop = c.state.proposal(&id).unwrap().unwrap();
    let since = c.epoch() + DELAY;
    assert_eq!(prop.status, ProposalStatus::Approved { since_epoch: since });
    assert!(prop.votes.is_empty(), "a new round starts");
    // Listed only DELAY epochs after the vote.
    assert_eq!(
        c.reject(c.tx(&b(), buy(c.next_epoch() + 2, 100, &y.public()))),
        TxError::NotApproved {
            account: y.public()
        }
    );
    c.advance_to_epoch(since);

    // Now it takes donations.
    let e = c.next_epoch() + 2;
    c.forge_ok(vec![c.tx(&b(), buy(e, 100, &y.public()))]);
    assert_eq!(c.balance(&y.public()), 100);
    assert_eq!(c.state.proposal(&id).unwrap().unwrap().donations, 100);
    assert_eq!(c.state.weight(e, &b().public()).unwrap(), 100);
}

#[test]
fn association_with_four_live_forgers_is_approved_at_the_third_yes_vote() {
    // Long epochs: the whole vote happens inside epoch 2.
    let mut g = base_genesis();
    g.epoch_slots = 40;
    let mut c = Chain::with(g);
    let x = assoc_x().public();
    let u = users();
    c.forge_ok(u.iter().map(|k| c.tx(k, buy(2, 1_000, &x))).collect());
    let first = c.advance_to_epoch(2);
    assert_eq!(c.epoch(), 2);
    let mut holders: Vec<PublicKey> = u.iter().map(|k| k.public()).collect();
    holders.sort();
    assert_eq!(
        schedule::live_forgers(&c.params, &c.state, 2).unwrap(),
        holders
    );
    // The first block of epoch 2 was forged by a weight holder.
    assert!(holders.contains(&first.block.header.header.forger));

    let f0 = &forgers()[0];
    let p = c.tx(f0, c.propose_kind(&assoc_y(), b"Y"));
    let id = p.id();
    c.forge_ok(vec![p]);
    // A bootstrap forger holds no weight in epoch 2: it does not vote.
    let e = c.reject(c.tx(f0, vote(id, true)));
    assert_eq!(
        e,
        TxError::NotLiveForger {
            voter: f0.public(),
            epoch: 2
        }
    );
    says(
        &e,
        &[&f0.public().to_string(), "not a live forger in epoch 2"],
    );

    c.forge_ok(vec![
        c.tx(&u[0], vote(id, true)),
        c.tx(&u[1], vote(id, true)),
    ]);
    let prop = c.state.proposal(&id).unwrap().unwrap();
    assert_eq!(prop.status, ProposalStatus::Pending, "2 of 4 is 50 %");
    assert_eq!(prop.votes.len(), 2);
    // A no-vote does not count towards approval.
    c.forge_ok(vec![c.tx(&u[3], vote(id, false))]);
    assert_eq!(
        c.state.proposal(&id).unwrap().unwrap().status,
        ProposalStatus::Pending
    );
    c.forge_ok(vec![c.tx(&u[2], vote(id, true))]);
    assert_eq!(c.epoch(), 2);
    assert_eq!(
        c.state.proposal(&id).unwrap().unwrap().status,
        ProposalStatus::Approved {
            since_epoch: 2 + DELAY
        },
        "3 of 4 is 75 % of the weight"
    );
    c.advance_to_epoch(2 + DELAY);
    c.forge_ok(vec![c.tx(f0, buy(5, 77, &assoc_y().public()))]);
    assert_eq!(c.balance(&assoc_y().public()), 77);
}

#[test]
fn an_association_is_removed_by_three_quarters_no_votes() {
    let mut c = Chain::new();
    let x = assoc_x().public();
    let x_id = ChainParams::genesis_association_id(&x);
    let f = forgers();
    c.forge_ok(vec![c.tx(&f[0], vote(x_id, false))]);
    c.forge_ok(vec![c.tx(&f[1], vote(x_id, false))]);
    let prop = c.state.proposal(&x_id).unwrap().unwrap();
    assert_eq!(prop.status, ProposalStatus::Approved { since_epoch: 0 });
    assert_eq!(prop.votes.len(), 2);
    // Still listed: donations still work.
    c.forge_ok(vec![c.tx(&a(), buy(c.next_epoch() + 2, 10, &x))]);

    c.forge_ok(vec![c.tx(&f[2], vote(x_id, false))]);
    // Delisted DELAY epochs after the vote: until then it takes donations.
    let at = c.epoch() + DELAY;
    let prop = c.state.proposal(&x_id).unwrap().unwrap();
    assert_eq!(prop.status, ProposalStatus::Removed { at_epoch: at });
    assert_eq!(prop.donations, 10);
    assert_eq!(c.state.association_of(&x).unwrap(), Some(x_id));
    c.forge_ok(vec![c.tx(&a(), buy(c.next_epoch() + 2, 5, &x))]);
    c.advance_to_epoch(at);

    let e = c.reject(c.tx(&a(), buy(c.next_epoch() + 2, 10, &x)));
    assert_eq!(e, TxError::NotApproved { account: x });
    says(&e, &[&x.to_string(), "not an approved association"]);

    let e = c.reject(c.tx(&f[0], vote(x_id, true)));
    assert_eq!(e, TxError::Removed { proposal: x_id, at });
    says(
        &e,
        &[
            &x_id.to_string(),
            "was removed in epoch",
            "delisted from then on",
            "propose it again",
        ],
    );

    // It may be proposed again.
    let p = c.tx(&b(), c.propose_kind(&assoc_x(), b"X again"));
    let id = p.id();
    c.forge_ok(vec![p]);
    assert_eq!(c.state.association_of(&x).unwrap(), Some(id));
}

#[test]
fn a_removal_round_that_fails_in_time_starts_over() {
    let mut c = Chain::new();
    let x_id = ChainParams::genesis_association_id(&assoc_x().public());
    let f = forgers();
    c.forge_ok(vec![c.tx(&f[0], vote(x_id, false))]);
    c.forge_ok(vec![c.tx(&f[1], vote(x_id, false))]);
    assert_eq!(c.state.proposal(&x_id).unwrap().unwrap().votes.len(), 2);
    // Past the round's window, the old no-votes are dropped.
    c.advance_to_epoch(TTL + 1);
    c.forge_ok(vec![c.tx(&f[2], vote(x_id, false))]);
    let prop = c.state.proposal(&x_id).unwrap().unwrap();
    assert_eq!(prop.status, ProposalStatus::Approved { since_epoch: 0 });
    assert_eq!(prop.votes, vec![(f[2].public(), false)]);
    assert_eq!(prop.round_epoch, TTL + 1);
    c.forge_ok(vec![c.tx(&f[0], vote(x_id, false))]);
    assert!(matches!(
        c.state.proposal(&x_id).unwrap().unwrap().status,
        ProposalStatus::Approved { .. }
    ));
    c.forge_ok(vec![c.tx(&f[1], vote(x_id, false))]);
    assert!(matches!(
        c.state.proposal(&x_id).unwrap().unwrap().status,
        ProposalStatus::Removed { .. }
    ));
}

#[test]
fn only_votes_of_forgers_live_now_count() {
    let mut g = base_genesis();
    g.epoch_slots = 40;
    let mut c = Chain::with(g);
    let x = assoc_x().public();
    let u = users();
    let f = forgers();
    let p = c.tx(&f[2], c.propose_kind(&assoc_y(), b"Y"));
    let id = p.id();
    let mut txs = vec![p];
    txs.extend(u.iter().map(|k| c.tx(k, buy(2, 1_000, &x))));
    c.forge_ok(txs);
    c.forge_ok(vec![
        c.tx(&f[0], vote(id, true)),
        c.tx(&f[1], vote(id, true)),
    ]);
    assert_eq!(
        c.state.proposal(&id).unwrap().unwrap().status,
        ProposalStatus::Pending
    );
    // In epoch 2 the live forgers are the four weight holders: the two
    // bootstrap yes-votes no longer count, so 2 more are not enough.
    c.advance_to_epoch(2);
    c.forge_ok(vec![
        c.tx(&u[0], vote(id, true)),
        c.tx(&u[1], vote(id, true)),
    ]);
    let prop = c.state.proposal(&id).unwrap().unwrap();
    assert_eq!(prop.status, ProposalStatus::Pending);
    assert_eq!(prop.votes.len(), 4);
    c.forge_ok(vec![c.tx(&u[2], vote(id, true))]);
    assert_eq!(
        c.state.proposal(&id).unwrap().unwrap().status,
        ProposalStatus::Approved {
            since_epoch: 2 + DELAY
        }
    );
}

#[test]
fn a_pending_proposal_lapses_after_its_ttl() {
    let mut c = Chain::new();
    let y = assoc_y();
    let p = c.tx(&a(), c.propose_kind(&y, b"Y"));
    let id = p.id();
    c.forge_ok(vec![p]);
    assert_eq!(c.epoch(), 0);
    // Epoch TTL is the last one with votes.
    c.advance_to_epoch(TTL);
    c.forge_ok(vec![c.tx(&forgers()[0], vote(id, true))]);
    c.advance_to_epoch(TTL + 1);
    let e = c.reject(c.tx(&forgers()[1], vote(id, true)));
    assert_eq!(
        e,
        TxError::Lapsed {
            proposal: id,
            deadline: TTL
        }
    );
    says(&e, &[&id.to_string(), "lapsed after epoch 2", "75 %"]);
    // A lapsed proposal does not block a new one for the same account.
    let p2 = c.tx(&b(), c.propose_kind(&y, b"Y again"));
    let id2 = p2.id();
    c.forge_ok(vec![p2]);
    assert_eq!(c.state.association_of(&y.public()).unwrap(), Some(id2));
    assert_eq!(
        c.state.proposal(&id2).unwrap().unwrap().proposed_epoch,
        TTL + 1
    );
}

#[test]
fn equivocation_voids_the_forger_and_pays_the_bounty() {
    let mut c = Chain::new();
    let f1 = forgers()[1].clone();
    let reporter = a();
    c.advance_to_epoch(1);
    let (ha, hb) = c.equivocation(&f1, c.params.first_slot(1) + 1);
    let slot = slot_not_led_by(&c, &f1.public());
    let before_f1 = c.balance(&f1.public());
    let before_r = c.balance(&reporter.public());
    assert!(before_f1 > BOUNTY);
    let t = c.tx(&reporter, Chain::report_kind(ha, hb));
    let f = c.forge_at(slot, vec![t]);
    assert!(f.rejected.is_empty());
    assert_eq!(c.state.voided_from(&f1.public()).unwrap(), Some(1));
    // The offender pays the bounty; the reporter gets its share, the rest
    // is burned: the supply falls by it.
    let share = BOUNTY * SHARE / 100;
    assert_eq!(c.balance(&f1.public()), before_f1 - BOUNTY);
    assert_eq!(c.balance(&reporter.public()), before_r - MIN_FEE + share);
    assert_eq!(c.state.burned().unwrap(), BOUNTY - share);
    let supply = c.params.initial_supply() as u128 + REWARD as u128 * c.tip().height as u128
        - (BOUNTY - share) as u128;
    assert_eq!(c.state.total_balance(), supply);

    // Its turns have no leader from epoch 1 on; the others' are untouched.
    let tip = c.tip().slot;
    for s in tip + 1..c.params.first_slot(4) {
        let turn = forgers()[(s % 3) as usize].public();
        let expected = if turn == f1.public() {
            None
        } else {
            Some(turn)
        };
        assert_eq!(c.leader(s), expected, "slot {s}");
    }
    let mut live: Vec<PublicKey> = [0, 2].iter().map(|&i| forgers()[i].public()).collect();
    live.sort();
    assert_eq!(
        schedule::live_forgers(&c.params, &c.state, 1).unwrap(),
        live
    );
    assert_eq!(
        schedule::live_forgers(&c.params, &c.state, 0)
            .unwrap()
            .len(),
        3,
        "epoch 0 is before the voided epoch"
    );

    // It cannot build a block in its turn, and a block it signs there is refused.
    let its_slot = (tip + 1..).find(|s| s % 3 == 1).unwrap();
    let e = ledger::prepare_block(&c.params, &c.state, &f1, its_slot, vec![]).unwrap_err();
    assert_eq!(
        e,
        BlockError::NotOurSlot {
            slot: its_slot,
            key: f1.public()
        }
    );
    says(&e, &[&format!("slot {its_slot}"), "is not its leader"]);
    let (mut block, _) = valid_block(&c);
    block.header.header.slot = its_slot;
    block.header.header.forger = f1.public();
    resign(&mut block, &f1);
    let e = c.check(&block).unwrap_err();
    assert_eq!(
        e,
        BlockError::NotLeader {
            height: c.tip().height + 1,
            slot: its_slot,
            forger: f1.public(),
            leader: None
        }
    );
    says(&e, &["does not lead slot", "nobody does", "void"]);
}

#[test]
fn a_voided_weight_holder_leads_nothing_and_the_draw_does_not_move() {
    // Long enough epochs that both holders are drawn in epoch 2.
    let mut g = base_genesis();
    g.epoch_slots = 16;
    let epoch_slots = g.epoch_slots;
    let mut c = Chain::with(g);
    let x = assoc_x().public();
    let (ua, ub) = (a(), b());
    c.forge_ok(vec![
        c.tx(&ua, buy(2, 1_000, &x)),
        c.tx(&ub, buy(2, 1_000, &x)),
    ]);
    let (ha, hb) = c.equivocation(&ua, c.tip().slot);
    c.forge_ok(vec![c.tx(&ub, Chain::report_kind(ha, hb))]);
    assert_eq!(c.state.voided_from(&ua.public()).unwrap(), Some(0));
    // The draw over the weight table, voids aside.
    let tip = c.tip();
    let table = WeightTable::new(&c.state.epoch_weights(2).unwrap());
    let seed = schedule::seed_for(&c.params, &c.state, &tip, 2).unwrap();
    let first = c.params.first_slot(2);
    let mut a_slots = 0;
    for s in first..first + epoch_slots {
        let drawn = table.draw(&seed, s).unwrap();
        let expected = if drawn == ua.public() {
            a_slots += 1;
            None
        } else {
            Some(drawn)
        };
        assert_eq!(c.leader(s), expected, "slot {s}");
    }
    // Its weight stays in the table (the draw is unchanged), but it is not
    // a live forger.
    assert_eq!(c.state.epoch_weights(2).unwrap().len(), 2);
    assert_eq!(
        schedule::live_forgers(&c.params, &c.state, 2).unwrap(),
        vec![ub.public()]
    );
    // With these keys and seeds A is drawn at least once in epoch 2 (if the
    // draw changes, pick another epoch length).
    assert!(a_slots > 0 && a_slots < epoch_slots, "{a_slots}");
}

#[test]
fn the_bounty_is_capped_at_the_offenders_balance() {
    let mut g = base_genesis();
    let f2 = forgers()[2].clone();
    g.balances
        .iter_mut()
        .find(|b| b.address == f2.public())
        .unwrap()
        .amount = 200;
    let mut c = Chain::with(g);
    let (ha, hb) = c.equivocation(&f2, 2);
    let slot = slot_not_led_by(&c, &f2.public());
    let t = c.tx(&a(), Chain::report_kind(ha, hb));
    c.forge_at(slot, vec![t]);
    assert_eq!(c.balance(&f2.public()), 0);
    assert_eq!(
        c.balance(&a().public()),
        START - MIN_FEE + 200 * SHARE / 100
    );
    assert_eq!(c.state.burned().unwrap(), 200 - 200 * SHARE / 100);
    assert_eq!(c.state.voided_from(&f2.public()).unwrap(), Some(0));

    // An offender with nothing pays nothing, and is voided all the same.
    let nobody = kp(200);
    let (ha, hb) = c.equivocation(&nobody, 9);
    c.forge_ok(vec![c.tx(&b(), Chain::report_kind(ha, hb))]);
    assert_eq!(c.balance(&b().public()), START - MIN_FEE);
    assert_eq!(
        c.state.voided_from(&nobody.public()).unwrap(),
        Some(c.params.epoch_of(9))
    );
}

#[test]
fn put_data_stores_the_record_and_the_latest_write_wins() {
    let mut c = Chain::new();
    let key = Bytes::new(*b"greeting").unwrap();
    let t1 = c.tx(&a(), put(b"greeting", b"hello"));
    let id1 = t1.id();
    let f1 = c.forge_ok(vec![t1]);
    assert_eq!(
        c.state.record(&a().public(), &key).unwrap(),
        Some(Record {
            value: Bytes::new(*b"hello").unwrap(),
            height: f1.block.height(),
            tx: id1,
        })
    );
    assert_eq!(c.balance(&a().public()), START - MIN_FEE);
    // Another owner's record under the same key is its own.
    let t_b = c.tx(&b(), put(b"greeting", b"other"));
    c.forge_ok(vec![t_b]);
    c.forge(vec![]);
    let t2 = c.tx(&a(), put(b"greeting", b"bye"));
    let id2 = t2.id();
    let f2 = c.forge_ok(vec![t2]);
    assert_eq!(f2.block.height(), 4);
    assert_eq!(
        c.state.record(&a().public(), &key).unwrap(),
        Some(Record {
            value: Bytes::new(*b"bye").unwrap(),
            height: 4,
            tx: id2,
        })
    );
    assert_eq!(
        c.state
            .record(&b().public(), &key)
            .unwrap()
            .unwrap()
            .value
            .as_slice(),
        b"other"
    );
    // The change list holds the previous record as "before": history can be
    // rebuilt (and undone).
    let change = f2
        .changes
        .changes
        .iter()
        .find(|ch| ch.key == StateKey::Record(a().public(), key.clone()))
        .unwrap();
    assert!(matches!(&change.before, Some(StateValue::Record(r)) if r.tx == id1 && r.height == 1));
}

// ------------------------------------------------------- transaction errors

#[test]
fn wrong_chain() {
    let c = Chain::new();
    let other = Hash([9; 32]);
    let t = Transaction {
        chain_id: other,
        sender: a().public(),
        nonce: 0,
        fee: MIN_FEE,
        kind: transfer(&b().public(), 1),
        memo: Bytes::empty(),
    }
    .sign(&a());
    let e = c.reject(t);
    assert_eq!(
        e,
        TxError::WrongChain {
            expected: c.id(),
            got: other
        }
    );
    says(&e, &[&other.to_string(), &c.id().to_string(), "chain"]);
}

#[test]
fn nonce_used() {
    let mut c = Chain::new();
    c.forge_ok(vec![c.tx(&a(), transfer(&b().public(), 1))]);
    let e = c.reject(c.tx_n(&a(), 0, transfer(&b().public(), 2)));
    assert_eq!(
        e,
        TxError::NonceUsed {
            sender: a().public(),
            expected: 1,
            got: 0
        }
    );
    says(
        &e,
        &[
            &a().public().to_string(),
            "nonce 0 already used",
            "next nonce is 1",
        ],
    );
}

#[test]
fn nonce_gap() {
    let c = Chain::new();
    let e = c.reject(c.tx_n(&a(), 3, transfer(&b().public(), 2)));
    assert_eq!(
        e,
        TxError::NonceGap {
            sender: a().public(),
            expected: 0,
            got: 3
        }
    );
    says(
        &e,
        &[
            "nonce 3 is ahead",
            &a().public().to_string(),
            "next nonce 0",
        ],
    );
    // Within a block, nonces follow each other.
    let e = c.reject_after(
        vec![c.tx_n(&a(), 0, transfer(&b().public(), 1))],
        c.tx_n(&a(), 2, transfer(&b().public(), 1)),
    );
    assert!(matches!(
        e,
        TxError::NonceGap {
            expected: 1,
            got: 2,
            ..
        }
    ));
}

#[test]
fn fee_too_low() {
    let c = Chain::new();
    let e = c.reject(c.tx_full(&a(), 0, MIN_FEE - 1, transfer(&b().public(), 2)));
    assert_eq!(
        e,
        TxError::FeeTooLow {
            fee: MIN_FEE - 1,
            min: MIN_FEE
        }
    );
    says(&e, &["fee 9 below the minimum 10"]);
}

#[test]
fn insufficient_balance() {
    let c = Chain::new();
    let e = c.reject(c.tx(&a(), transfer(&b().public(), START)));
    assert_eq!(
        e,
        TxError::InsufficientBalance {
            sender: a().public(),
            balance: START,
            needed: START as u128 + MIN_FEE as u128
        }
    );
    says(
        &e,
        &[&a().public().to_string(), "has 1000000", "needs 1000010"],
    );
    // The fee alone counts too, and for every kind.
    let e = c.reject(c.tx(&a(), buy(2, START - MIN_FEE + 1, &assoc_x().public())));
    assert!(matches!(
        e,
        TxError::InsufficientBalance {
            needed: 1_000_001,
            ..
        }
    ));
    // An account that never received anything cannot pay a fee.
    let e = c.reject(c.tx(&kp(200), put(b"k", b"v")));
    assert_eq!(
        e,
        TxError::InsufficientBalance {
            sender: kp(200).public(),
            balance: 0,
            needed: MIN_FEE as u128
        }
    );
}

#[test]
fn overflow_of_the_receivers_and_the_associations_balance() {
    let x = assoc_x().public();
    let mut g = base_genesis();
    g.balances = vec![Balance {
        address: x,
        amount: u64::MAX - 100,
    }];
    let mut c = Chain::with(g);
    // The forger of the first block earns the reward, then pays from it.
    let f = c.forge(vec![]);
    let rich = c.key(&f.block.header.header.forger).clone();
    assert_eq!(c.balance(&rich.public()), REWARD);
    let e = c.reject(c.tx(&rich, transfer(&x, 101)));
    assert_eq!(
        e,
        TxError::Overflow {
            what: "the receiver's balance"
        }
    );
    says(&e, &["the receiver's balance would overflow"]);
    let e = c.reject(c.tx(&rich, buy(2, 101, &x)));
    assert_eq!(
        e,
        TxError::Overflow {
            what: "the association's balance"
        }
    );
    // Up to the limit is fine.
    c.forge_ok(vec![c.tx(&rich, transfer(&x, 100))]);
    assert_eq!(c.balance(&x), u64::MAX);
}

#[test]
fn zero_amount() {
    let c = Chain::new();
    let e = c.reject(c.tx(&a(), transfer(&b().public(), 0)));
    assert_eq!(e, TxError::ZeroAmount);
    says(&e, &["amount must be positive"]);
    let e = c.reject(c.tx(&a(), buy(2, 0, &assoc_x().public())));
    assert_eq!(e, TxError::ZeroAmount);
}

#[test]
fn epoch_too_close() {
    let mut c = Chain::new();
    let x = assoc_x().public();
    for epoch in [0, 1] {
        let e = c.reject(c.tx(&a(), buy(epoch, 10, &x)));
        assert_eq!(
            e,
            TxError::EpochTooClose {
                epoch,
                current: 0,
                earliest: 2
            }
        );
    }
    c.advance_to_epoch(1);
    let e = c.reject(c.tx(&a(), buy(2, 10, &x)));
    assert_eq!(
        e,
        TxError::EpochTooClose {
            epoch: 2,
            current: 1,
            earliest: 3
        }
    );
    says(
        &e,
        &[
            "epoch 2 can no longer be bought",
            "current epoch is 1",
            "epoch 3 or later",
        ],
    );
}

#[test]
fn epoch_too_far() {
    let c = Chain::new();
    let e = c.reject(c.tx(&a(), buy(AHEAD + 1, 10, &assoc_x().public())));
    assert_eq!(
        e,
        TxError::EpochTooFar {
            epoch: AHEAD + 1,
            latest: AHEAD
        }
    );
    says(&e, &["epoch 6 is not on sale yet", "at most 5"]);
    let e = c.reject(c.tx(&a(), buy(u64::MAX, 10, &assoc_x().public())));
    assert!(matches!(e, TxError::EpochTooFar { .. }));
}

#[test]
fn not_approved() {
    let c = Chain::new();
    let e = c.reject(c.tx(&a(), buy(2, 10, &b().public())));
    assert_eq!(
        e,
        TxError::NotApproved {
            account: b().public()
        }
    );
    says(
        &e,
        &[&b().public().to_string(), "is not an approved association"],
    );
}

#[test]
fn sender_voided() {
    let mut c = Chain::new();
    let f1 = forgers()[1].clone();
    let (ha, hb) = c.equivocation(&f1, 1);
    let slot = slot_not_led_by(&c, &f1.public());
    c.forge_at(slot, vec![c.tx(&a(), Chain::report_kind(ha, hb))]);
    let e = c.reject(c.tx(&f1, buy(2, 10, &assoc_x().public())));
    assert_eq!(
        e,
        TxError::SenderVoided {
            sender: f1.public(),
            from: 0
        }
    );
    says(
        &e,
        &[
            &f1.public().to_string(),
            "void from epoch 0",
            "equivocation",
        ],
    );
    // Its coins still move.
    c.forge_ok(vec![c.tx(&f1, transfer(&a().public(), 1))]);
}

#[test]
fn bad_proof() {
    let c = Chain::new();
    let y = assoc_y();
    // Signed by another key than the association's.
    let mut kind = c.propose_kind(&assoc_x(), b"Y");
    if let TxKind::ProposeAssociation { account, .. } = &mut kind {
        *account = y.public();
    }
    let e = c.reject(c.tx(&a(), kind));
    assert_eq!(
        e,
        TxError::BadProof {
            account: y.public(),
            error: SignatureError::Mismatch
        }
    );
    says(&e, &[&y.public().to_string(), "does not verify"]);
    // A proof over another name.
    let mut kind = c.propose_kind(&y, b"Y");
    if let TxKind::ProposeAssociation { name, .. } = &mut kind {
        *name = Bytes::new(*b"Z").unwrap();
    }
    assert!(matches!(
        c.reject(c.tx(&a(), kind)),
        TxError::BadProof { .. }
    ));
    // A proof made for another chain.
    let proof = goodwill::chain::tx::association_proof(&y, &Hash([9; 32]), b"Y", b"u");
    let kind = TxKind::ProposeAssociation {
        name: Bytes::new(*b"Y").unwrap(),
        url: Bytes::new(*b"u").unwrap(),
        account: y.public(),
        proof,
    };
    assert!(matches!(
        c.reject(c.tx(&a(), kind)),
        TxError::BadProof { .. }
    ));
}

#[test]
fn empty_name() {
    let c = Chain::new();
    let e = c.reject(c.tx(&a(), c.propose_kind(&assoc_y(), b"")));
    assert_eq!(e, TxError::EmptyName);
    says(&e, &["name is empty"]);
}

#[test]
fn already_proposed() {
    let mut c = Chain::new();
    let x = assoc_x();
    let e = c.reject(c.tx(&a(), c.propose_kind(&x, b"X twice")));
    assert_eq!(
        e,
        TxError::AlreadyProposed {
            account: x.public(),
            what: "approved",
            proposal: ChainParams::genesis_association_id(&x.public())
        }
    );
    says(
        &e,
        &[&x.public().to_string(), "already approved under proposal"],
    );
    let y = assoc_y();
    let p = c.tx(&a(), c.propose_kind(&y, b"Y"));
    let id = p.id();
    c.forge_ok(vec![p]);
    let e = c.reject(c.tx(&b(), c.propose_kind(&y, b"Y bis")));
    assert_eq!(
        e,
        TxError::AlreadyProposed {
            account: y.public(),
            what: "pending",
            proposal: id
        }
    );
    says(&e, &["already pending under proposal", &id.to_string()]);
}

#[test]
fn unknown_proposal() {
    let c = Chain::new();
    let id = Hash([5; 32]);
    let e = c.reject(c.tx(&forgers()[0], vote(id, true)));
    assert_eq!(e, TxError::UnknownProposal(id));
    says(&e, &["no proposal", &id.to_string()]);
}

#[test]
fn not_live_forger() {
    let c = Chain::new();
    let x_id = ChainParams::genesis_association_id(&assoc_x().public());
    let e = c.reject(c.tx(&a(), vote(x_id, false)));
    assert_eq!(
        e,
        TxError::NotLiveForger {
            voter: a().public(),
            epoch: 0
        }
    );
    says(
        &e,
        &[&a().public().to_string(), "not a live forger in epoch 0"],
    );
}

#[test]
fn already_voted() {
    let mut c = Chain::new();
    let f0 = forgers()[0].clone();
    let p = c.tx(&a(), c.propose_kind(&assoc_y(), b"Y"));
    let id = p.id();
    c.forge_ok(vec![p]);
    c.forge_ok(vec![c.tx(&f0, vote(id, true))]);
    let e = c.reject(c.tx(&f0, vote(id, true)));
    assert_eq!(
        e,
        TxError::AlreadyVoted {
            voter: f0.public(),
            proposal: id,
            approve: true
        }
    );
    says(
        &e,
        &[
            &f0.public().to_string(),
            "already voted yes on proposal",
            &id.to_string(),
        ],
    );
    // Changing one's mind is allowed, once.
    c.forge_ok(vec![c.tx(&f0, vote(id, false))]);
    assert_eq!(
        c.state.proposal(&id).unwrap().unwrap().votes,
        vec![(f0.public(), false)]
    );
    let e = c.reject(c.tx(&f0, vote(id, false)));
    says(&e, &["already voted no"]);
}

#[test]
fn empty_key() {
    let c = Chain::new();
    let e = c.reject(c.tx(&a(), put(b"", b"value")));
    assert_eq!(e, TxError::EmptyKey);
    says(&e, &["data key is empty"]);
}

fn bad_evidence(c: &Chain, ha: SignedHeader, hb: SignedHeader, needle: &str) {
    let e = c.reject(c.tx(&a(), Chain::report_kind(ha, hb)));
    assert!(
        matches!(&e, TxError::BadEvidence(m) if m.to_string().contains(needle)),
        "{e:?}"
    );
    says(&e, &["equivocation evidence rejected", needle]);
}

#[test]
fn bad_evidence_other_chain() {
    let c = Chain::new();
    let f1 = forgers()[1].clone();
    let (mut ha, mut hb) = c.equivocation(&f1, 4);
    for h in [&mut ha, &mut hb] {
        h.header.chain_id = Hash([9; 32]);
        *h = h.header.clone().sign(&f1);
    }
    bad_evidence(&c, ha.clone(), hb.clone(), "another chain");
    // One of the two is enough.
    let (ha2, _) = c.equivocation(&f1, 4);
    bad_evidence(&c, ha2, hb, "another chain");
}

#[test]
fn bad_evidence_two_forgers() {
    let c = Chain::new();
    let (ha, _) = c.equivocation(&forgers()[1], 4);
    let (_, hb) = c.equivocation(&forgers()[2], 4);
    bad_evidence(&c, ha, hb, "two forgers");
}

#[test]
fn bad_evidence_two_slots() {
    let c = Chain::new();
    let (ha, _) = c.equivocation(&forgers()[1], 4);
    let (_, hb) = c.equivocation(&forgers()[1], 5);
    bad_evidence(&c, ha, hb, "two slots (4 and 5)");
}

#[test]
fn bad_evidence_same_header() {
    let c = Chain::new();
    let (ha, _) = c.equivocation(&forgers()[1], 4);
    bad_evidence(&c, ha.clone(), ha, "the same");
}

#[test]
fn bad_evidence_bad_signature() {
    let c = Chain::new();
    let f1 = &forgers()[1];
    let (ha, mut hb) = c.equivocation(f1, 4);
    hb.signature.0[10] ^= 1;
    bad_evidence(&c, ha.clone(), hb, "second header's signature");
    // A header changed after signing (framing a forger) is no evidence.
    let (mut ha2, hb2) = c.equivocation(f1, 4);
    ha2.header.height += 1;
    bad_evidence(&c, ha2, hb2, "first header's signature");
    // Headers signed by someone else in the forger's name.
    let (_, mut hb3) = c.equivocation(f1, 4);
    hb3 = hb3.header.clone().sign(&forgers()[2]);
    bad_evidence(&c, ha, hb3, "second header's signature");
}

#[test]
fn already_voided() {
    let mut c = Chain::new();
    let f1 = forgers()[1].clone();
    c.advance_to_epoch(1);
    let (ha, hb) = c.equivocation(&f1, c.params.first_slot(1));
    let slot = slot_not_led_by(&c, &f1.public());
    c.forge_at(
        slot,
        vec![c.tx(&a(), Chain::report_kind(ha.clone(), hb.clone()))],
    );
    // The same evidence again, or evidence for a later epoch.
    let e = c.reject(c.tx(&b(), Chain::report_kind(ha, hb)));
    assert_eq!(
        e,
        TxError::AlreadyVoided {
            forger: f1.public(),
            from: 1
        }
    );
    says(
        &e,
        &[&f1.public().to_string(), "already voided from epoch 1"],
    );
    let (ha, hb) = c.equivocation(&f1, c.params.first_slot(3));
    assert!(matches!(
        c.reject(c.tx(&b(), Chain::report_kind(ha, hb))),
        TxError::AlreadyVoided { from: 1, .. }
    ));
    // Evidence for an earlier epoch voids from that epoch (it is news), but
    // pays no second bounty: one per offender.
    let before = c.balance(&b().public());
    let before_f1 = c.balance(&f1.public());
    let burned = c.state.burned().unwrap();
    let (ha, hb) = c.equivocation(&f1, 0);
    c.forge_ok(vec![c.tx(&b(), Chain::report_kind(ha, hb))]);
    assert_eq!(c.state.voided_from(&f1.public()).unwrap(), Some(0));
    assert_eq!(c.balance(&b().public()), before - MIN_FEE);
    assert_eq!(c.balance(&f1.public()), before_f1);
    assert_eq!(c.state.burned().unwrap(), burned);
}

#[test]
fn a_forger_voided_in_a_block_cannot_vote_later_in_that_block() {
    let mut c = Chain::new();
    let f = forgers();
    let p = c.tx(&a(), c.propose_kind(&assoc_y(), b"Y"));
    let id = p.id();
    c.forge_ok(vec![p]);
    let (ha, hb) = c.equivocation(&f[1], c.tip().slot);
    let prefix = vec![
        c.tx(&f[0], vote(id, true)),
        c.tx(&a(), Chain::report_kind(ha, hb)),
    ];
    let e = c.reject_after(prefix, c.tx(&f[1], vote(id, true)));
    assert_eq!(
        e,
        TxError::NotLiveForger {
            voter: f[1].public(),
            epoch: 0
        }
    );
}

#[test]
fn stateless_bad_receiver() {
    let c = Chain::new();
    let nowhere = PublicKey([0; 32]);
    let e = c.reject(c.tx(&a(), transfer(&nowhere, 1)));
    assert_eq!(
        e,
        TxError::Stateless(StatelessError::BadReceiver { to: nowhere })
    );
    says(&e, &["receiver", "is not a valid public key"]);
}

#[test]
fn stateless_signature() {
    let c = Chain::new();
    let mut t = c.tx(&a(), transfer(&b().public(), 1));
    t.tx.kind = transfer(&b().public(), 1_000);
    let e = c.reject(t);
    assert_eq!(
        e,
        TxError::Stateless(StatelessError::Signature(SignatureError::Mismatch))
    );
    says(&e, &["signature by the sender", "does not verify"]);
    // Signed by someone else in the sender's name.
    let mut t = c.tx(&b(), transfer(&b().public(), 1));
    t.tx.sender = a().public();
    assert!(matches!(
        c.reject(t),
        TxError::Stateless(StatelessError::Signature(_))
    ));
}

#[test]
fn a_failed_transaction_leaves_nothing_behind() {
    // A BuyWeight that fails late (not approved) must not keep its debit,
    // its nonce or its fee.
    let c = Chain::new();
    let t = c.tx(&a(), buy(2, 10, &b().public()));
    let (slot, _) = c.next_led_slot();
    let (u, forger) = c.prepare_at(slot, vec![t]);
    assert_eq!(u.rejected.len(), 1);
    let keys: Vec<&StateKey> = u.changes.changes.iter().map(|ch| &ch.key).collect();
    assert!(
        !keys.contains(&&StateKey::Account(a().public())),
        "{keys:?}"
    );
    assert!(!keys.contains(&&StateKey::Account(b().public())));
    let paid = u
        .changes
        .changes
        .iter()
        .find(|ch| ch.key == StateKey::Account(forger))
        .and_then(|ch| ch.after.clone());
    assert!(
        matches!(paid, Some(StateValue::Account(acc)) if acc.balance == START + REWARD),
        "the forger is paid the reward and no fee: {paid:?}"
    );
    // And the block the builder made of it is one every checker accepts.
    let mut c = c;
    let t = c.tx(&a(), buy(2, 10, &b().public()));
    let f = c.forge_at(slot, vec![t]);
    assert_eq!(f.rejected.len(), 1);
    assert!(f.block.txs.is_empty());
    assert_eq!(c.balance(&forger), START + REWARD);
}

// ------------------------------------------------------------- block errors

#[test]
fn block_version() {
    let c = Chain::new();
    let (mut block, key) = valid_block(&c);
    block.header.header.version = 1;
    resign(&mut block, &key);
    let e = c.check(&block).unwrap_err();
    assert_eq!(e, BlockError::Version { height: 1, got: 1 });
    says(&e, &["block 1", "version 1", "knows version 2"]);
}

/// The VRF proof of `key` for `slot` on `c`'s tip (epoch 0's seed).
fn vrf_for(
    c: &Chain,
    key: &goodwill::chain::crypto::Keypair,
    slot: u64,
) -> goodwill::chain::crypto::VrfProof {
    let seed = schedule::seed_for(&c.params, &c.state, &c.tip(), c.params.epoch_of(slot)).unwrap();
    goodwill::chain::crypto::vrf_prove(
        key,
        &goodwill::chain::block::vrf_input(&c.id(), &seed, slot),
    )
    .0
}

#[test]
fn the_next_seed_comes_from_vrf_outputs_before_the_cutoff_not_from_block_contents() {
    let next =
        |c: &Chain| schedule::seed_for(&c.params, &c.state, &c.tip(), c.epoch() + 1).unwrap();
    // Four-slot epochs: slots 0–2 feed the mix, slot 3 is after the cutoff.
    let p = Chain::new().params;
    assert!(p.before_seed_cutoff(2) && !p.before_seed_cutoff(3) && p.before_seed_cutoff(4));
    let mut c = Chain::new();
    let s0 = next(&c);
    c.forge_at(1, vec![]);
    let s1 = next(&c);
    assert_ne!(s0, s1, "a block before the cutoff moves the next seed");
    // Two different blocks for slot 2 (other transactions, other hashes):
    // one VRF output, so one seed. Seeds from block hashes could be ground.
    let mut other = c.clone();
    let a_block = c.forge_at(2, vec![]).block;
    let t = other.tx(&a(), transfer(&b().public(), 5));
    let b_block = other.forge_at(2, vec![t]).block;
    assert_ne!(a_block.hash(), b_block.hash());
    assert_eq!(a_block.header.header.vrf, b_block.header.header.vrf);
    assert_eq!(next(&c), next(&other));
    assert_ne!(next(&c), s1);
    // After the cutoff a block leaves the next seed as it was.
    let s2 = next(&c);
    c.forge_at(3, vec![]);
    assert_eq!(next(&c), s2);
    // The next epoch starts with it.
    c.forge_at(5, vec![]);
    assert_eq!(c.state.seed(1).unwrap(), Some(s2));
}

#[test]
fn block_vrf_proof_must_be_the_forgers_for_its_slot_and_seed() {
    let c = Chain::new();
    let (block, key) = valid_block(&c);
    let slot = block.header.header.slot;
    // The honest proof verifies (valid_block is accepted as built).
    assert!(c.check(&block).is_ok());
    let cases: Vec<(&str, goodwill::chain::crypto::VrfProof)> = vec![
        ("another slot", vrf_for(&c, &key, slot + 1)),
        ("another key", vrf_for(&c, &forgers()[0], slot)),
        ("another seed", {
            let alpha = goodwill::chain::block::vrf_input(&c.id(), &Hash([9; 32]), slot);
            goodwill::chain::crypto::vrf_prove(&key, &alpha).0
        }),
        ("garbage", goodwill::chain::crypto::VrfProof([0x11; 80])),
    ];
    for (what, proof) in cases {
        let mut b = block.clone();
        b.header.header.vrf = proof;
        resign(&mut b, &key);
        let e = c.check(&b).unwrap_err();
        assert!(
            matches!(e, BlockError::BadVrf { height: 1, slot: s, .. } if s == slot),
            "{what}: {e:?}"
        );
        says(&e, &["block 1", "VRF proof"]);
    }
}

#[test]
fn block_wrong_chain() {
    let c = Chain::new();
    let (mut block, key) = valid_block(&c);
    block.header.header.chain_id = Hash([9; 32]);
    resign(&mut block, &key);
    let e = c.check(&block).unwrap_err();
    assert_eq!(
        e,
        BlockError::WrongChain {
            height: 1,
            expected: c.id(),
            got: Hash([9; 32])
        }
    );
    says(
        &e,
        &["block 1", &Hash([9; 32]).to_string(), &c.id().to_string()],
    );
}

#[test]
fn block_wrong_height() {
    let c = Chain::new();
    let (mut block, key) = valid_block(&c);
    block.header.header.height = 2;
    resign(&mut block, &key);
    let e = c.check(&block).unwrap_err();
    assert_eq!(
        e,
        BlockError::WrongHeight {
            expected: 1,
            got: 2
        }
    );
    says(&e, &["block 2", "the next height is 1"]);
}

#[test]
fn block_wrong_parent() {
    let c = Chain::new();
    let (mut block, key) = valid_block(&c);
    block.header.header.parent = Hash([7; 32]);
    resign(&mut block, &key);
    let e = c.check(&block).unwrap_err();
    assert_eq!(
        e,
        BlockError::WrongParent {
            height: 1,
            expected: c.id(),
            got: Hash([7; 32])
        }
    );
    says(&e, &["block 1", "is not the tip", &c.id().to_string()]);
}

#[test]
fn block_slot_not_after_parent() {
    let mut c = Chain::new();
    c.forge_at(5, vec![]);
    let (mut block, key) = valid_block(&c);
    assert!(block.header.header.slot > 5);
    for slot in [5, 2] {
        block.header.header.slot = slot;
        resign(&mut block, &key);
        let e = c.check(&block).unwrap_err();
        assert_eq!(
            e,
            BlockError::SlotNotAfterParent {
                height: 2,
                slot,
                parent_slot: 5
            }
        );
        says(
            &e,
            &[
                "block 2",
                &format!("slot {slot} is not after its parent's slot 5"),
            ],
        );
    }
}

#[test]
fn block_not_leader() {
    let c = Chain::new();
    let (mut block, leader) = valid_block(&c);
    let slot = block.header.header.slot;
    let other = forgers()
        .into_iter()
        .find(|k| k.public() != leader.public())
        .unwrap();
    block.header.header.forger = other.public();
    resign(&mut block, &other);
    let e = c.check(&block).unwrap_err();
    assert_eq!(
        e,
        BlockError::NotLeader {
            height: 1,
            slot,
            forger: other.public(),
            leader: Some(leader.public())
        }
    );
    says(
        &e,
        &[
            &format!("forger {} does not lead slot {slot}", other.public()),
            &format!("{} does", leader.public()),
        ],
    );
}

#[test]
fn block_bad_signature() {
    let c = Chain::new();
    let (block, _) = valid_block(&c);
    let mut flipped = block.clone();
    flipped.header.signature.0[0] ^= 0x20;
    let e = c.check(&flipped).unwrap_err();
    assert_eq!(
        e,
        BlockError::BadSignature {
            height: 1,
            error: SignatureError::Mismatch
        }
    );
    says(&e, &["block 1", "header signature", "does not verify"]);
    // Signed by a key other than the forger it names.
    let mut forged = block.clone();
    forged.header = forged.header.header.clone().sign(&a());
    assert!(matches!(
        c.check(&forged),
        Err(BlockError::BadSignature { .. })
    ));
    // A header changed after signing.
    let mut changed = block;
    changed.header.header.tx_root = Hash([1; 32]);
    assert!(matches!(
        c.check(&changed),
        Err(BlockError::BadSignature { .. })
    ));
}

#[test]
fn block_too_many_txs() {
    let mut g = base_genesis();
    g.limits.max_block_txs = 2;
    let c = Chain::with(g);
    let txs: Vec<_> = users()
        .iter()
        .take(3)
        .map(|k| c.tx(k, transfer(&b().public(), 1)))
        .collect();
    // The builder stops at the limit.
    let (slot, _) = c.next_led_slot();
    let (u, _) = c.prepare_at(slot, txs.clone());
    assert_eq!(u.txs.len(), 2);
    let e = c.check(&c.forced_block(txs)).unwrap_err();
    assert_eq!(
        e,
        BlockError::TooManyTxs {
            height: 1,
            count: 3,
            limit: 2
        }
    );
    says(&e, &["block 1", "3 transactions, the limit is 2"]);
}

#[test]
fn block_too_large() {
    let mut g = base_genesis();
    g.limits.max_block_bytes = 2048;
    let c = Chain::with(g);
    let txs: Vec<_> = users()
        .iter()
        .take(2)
        .map(|k| c.tx(k, put(b"k", &[7; 1000])))
        .collect();
    let size: usize = txs.iter().map(|t| t.to_bytes().len()).sum();
    assert!(size > 2048);
    // The builder leaves out what does not fit (it is not invalid).
    let (slot, _) = c.next_led_slot();
    let (u, _) = c.prepare_at(slot, txs.clone());
    assert_eq!(u.txs.len(), 1);
    assert!(u.rejected.is_empty());
    let e = c.check(&c.forced_block(txs)).unwrap_err();
    assert_eq!(
        e,
        BlockError::TooLarge {
            height: 1,
            bytes: size,
            limit: 2048
        }
    );
    says(
        &e,
        &[
            "block 1",
            &format!("transactions take {size} bytes, the limit is 2048"),
        ],
    );
}

#[test]
fn block_tx_root() {
    let c = Chain::new();
    let t1 = c.tx(&a(), transfer(&b().public(), 1));
    let t2 = c.tx(&b(), transfer(&a().public(), 1));
    let (slot, leader) = c.next_led_slot();
    let (u, _) = c.prepare_at(slot, vec![t1.clone(), t2.clone()]);
    let root = u.header.tx_root;
    let mut block = u.sign(c.key(&leader));
    // Dropped, swapped or added transactions: the signed header no longer matches.
    let cases: Vec<Vec<_>> = vec![
        vec![t1.clone()],
        vec![t2.clone(), t1.clone()],
        vec![t1.clone(), t2.clone(), c.tx(&users()[2], put(b"k", b"v"))],
        vec![],
    ];
    for txs in cases {
        let ids: Vec<Hash> = txs.iter().map(|t| t.id()).collect();
        block.txs = txs;
        let e = c.check(&block).unwrap_err();
        assert_eq!(
            e,
            BlockError::TxRoot {
                height: 1,
                expected: goodwill::chain::merkle::root(&ids),
                got: root
            }
        );
        says(
            &e,
            &[
                "block 1",
                &format!("transaction root {root} does not match"),
            ],
        );
    }
}

#[test]
fn block_tx() {
    let c = Chain::new();
    let good = c.tx(&a(), transfer(&b().public(), 1));
    let bad = c.tx_n(&a(), 0, transfer(&b().public(), 2));
    let id = bad.id();
    let e = c.check(&c.forced_block(vec![good, bad])).unwrap_err();
    assert_eq!(
        e,
        BlockError::Tx {
            height: 1,
            index: 1,
            id,
            error: TxError::NonceUsed {
                sender: a().public(),
                expected: 1,
                got: 0
            }
        }
    );
    says(
        &e,
        &[
            &format!("block 1: transaction 1 ({id})"),
            "nonce 0 already used",
        ],
    );
    // A bad signature anywhere in a large block is found with its index, on
    // several threads too.
    let mut txs: Vec<_> = (0..40)
        .map(|n| c.tx_n(&a(), n, transfer(&b().public(), 1)))
        .collect();
    txs[33].signature.0[5] ^= 1;
    let block = c.forced_block(txs);
    for p in [Parallelism::Single, Parallelism::Threads(3)] {
        let e = ledger::apply_block(&c.params, &c.state, &block, p).unwrap_err();
        assert!(
            matches!(
                e,
                BlockError::Tx {
                    index: 33,
                    error: TxError::Stateless(StatelessError::Signature(_)),
                    ..
                }
            ),
            "{e:?}"
        );
    }
}

#[test]
fn block_state_digest() {
    let c = Chain::new();
    let (mut block, key) = valid_block(&c);
    let right = block.header.header.state_digest;
    block.header.header.state_digest = Hash([4; 32]);
    resign(&mut block, &key);
    let e = c.check(&block).unwrap_err();
    assert_eq!(
        e,
        BlockError::StateDigest {
            height: 1,
            expected: right,
            got: Hash([4; 32])
        }
    );
    says(
        &e,
        &[
            "block 1",
            &format!("state digest {}", Hash([4; 32])),
            &right.to_string(),
            "disagree",
        ],
    );
}

#[test]
fn block_reward_overflow() {
    let mut g = base_genesis();
    for bal in &mut g.balances {
        bal.amount = 0;
    }
    let rich = forgers()[1].public();
    g.balances.push(Balance {
        address: rich,
        amount: u64::MAX - REWARD + 1,
    });
    g.balances.retain(|b| b.amount > 0);
    let c = Chain::with(g);
    assert_eq!(c.leader(1), Some(rich));
    let e = ledger::prepare_block(&c.params, &c.state, &forgers()[1], 1, vec![]).unwrap_err();
    assert_eq!(e, BlockError::RewardOverflow { height: 1 });
    says(&e, &["block 1", "reward would overflow"]);
    // A block it built anyway is refused the same way.
    let (u, _) = c.prepare_at(2, vec![]);
    let mut block = u.sign(&forgers()[2]);
    block.header.header.slot = 1;
    block.header.header.forger = rich;
    block.header.header.vrf = vrf_for(&c, &forgers()[1], 1);
    resign(&mut block, &forgers()[1]);
    assert_eq!(
        c.check(&block),
        Err(BlockError::RewardOverflow { height: 1 })
    );
}

#[test]
fn prepare_not_our_slot() {
    let c = Chain::new();
    let f = forgers();
    // Slot 1 is the second bootstrap forger's turn.
    assert_eq!(c.leader(1), Some(f[1].public()));
    let e = ledger::prepare_block(&c.params, &c.state, &f[0], 1, vec![]).unwrap_err();
    assert_eq!(
        e,
        BlockError::NotOurSlot {
            slot: 1,
            key: f[0].public()
        }
    );
    says(
        &e,
        &["slot 1", &f[0].public().to_string(), "is not its leader"],
    );
    let e = ledger::prepare_block(&c.params, &c.state, &a(), 1, vec![]).unwrap_err();
    assert!(matches!(e, BlockError::NotOurSlot { .. }));
}

#[test]
fn prepare_slot_taken() {
    let mut c = Chain::new();
    c.forge_at(4, vec![]);
    for slot in [4, 1, 0] {
        let leader = &forgers()[(slot % 3) as usize];
        let e = ledger::prepare_block(&c.params, &c.state, leader, slot, vec![]).unwrap_err();
        assert_eq!(e, BlockError::SlotTaken { slot, tip_slot: 4 });
        says(&e, &[&format!("slot {slot} is not after the tip's slot 4")]);
    }
}

/// A state whose storage fails.
struct Broken;

impl StateRead for Broken {
    fn get(&self, _: &StateKey) -> Result<Option<StateValue>, ReadError> {
        Err(ReadError("disk on fire".into()))
    }
    fn epoch_weights(&self, _: u64) -> Result<Vec<(PublicKey, u64)>, ReadError> {
        Err(ReadError("disk on fire".into()))
    }
}

#[test]
fn storage_failure_is_reported_as_such() {
    let c = Chain::new();
    let (block, _) = valid_block(&c);
    let e = ledger::apply_block(&c.params, &Broken, &block, Parallelism::Single).unwrap_err();
    assert!(e.is_storage(), "{e:?}");
    says(&e, &["disk on fire"]);
    let e = ledger::prepare_block(&c.params, &Broken, &forgers()[1], 1, vec![]).unwrap_err();
    assert!(e.is_storage());
    assert!(!BlockError::WrongHeight {
        expected: 1,
        got: 2
    }
    .is_storage());
}

// ------------------------------------- votes by weight, bootstrap (issue 13)

/// Ten honest forgers who buy 100 GWL of weight each for epoch 2, and thirty
/// one-unit keys (the Sybil) funded with what a few fees cost.
fn sybil_chain() -> (
    Chain,
    Vec<goodwill::chain::crypto::Keypair>,
    Vec<goodwill::chain::crypto::Keypair>,
) {
    use goodwill::chain::genesis::COIN;
    let honest: Vec<_> = (30..40).map(kp).collect();
    let sybils: Vec<_> = (50..80).map(kp).collect();
    let mut g = base_genesis();
    // Long epochs: the whole vote happens inside epoch 2.
    g.epoch_slots = 40;
    g.balances.extend(honest.iter().map(|k| Balance {
        address: k.public(),
        amount: 200 * COIN,
    }));
    g.balances.extend(sybils.iter().map(|k| Balance {
        address: k.public(),
        amount: 100,
    }));
    let mut c = Chain::with(g);
    c.keys.extend(honest.iter().cloned());
    c.keys.extend(sybils.iter().cloned());
    let x = assoc_x().public();
    let mut txs: Vec<_> = honest
        .iter()
        .map(|k| c.tx(k, buy(2, 100 * COIN, &x)))
        .collect();
    txs.extend(sybils.iter().map(|k| c.tx(k, buy(2, 1, &x))));
    c.forge_ok(txs);
    (c, honest, sybils)
}

#[test]
fn thirty_one_unit_keys_do_not_outvote_ten_honest_forgers() {
    let (mut c, honest, sybils) = sybil_chain();
    let x = assoc_x().public();
    let x_id = ChainParams::genesis_association_id(&x);
    let p = c.tx(&sybils[0], c.propose_kind(&assoc_y(), b"Attacker"));
    let id = p.id();
    c.forge_ok(vec![p]);
    c.advance_to_epoch(2);
    assert_eq!(c.epoch(), 2);
    let live = schedule::live_weights(&c.params, &c.state, 2).unwrap();
    assert_eq!(live.len(), 40, "ten honest forgers and thirty Sybil keys");

    // 30 one-unit yes-votes against 10 honest no-votes: 30 of 40 keys, but
    // 3·10⁻⁸ of the weight.
    let mut votes: Vec<_> = sybils.iter().map(|k| c.tx(k, vote(id, true))).collect();
    votes.extend(honest.iter().map(|k| c.tx(k, vote(id, false))));
    c.forge_ok(votes);
    assert_eq!(
        c.state.proposal(&id).unwrap().unwrap().status,
        ProposalStatus::Pending,
        "the Sybil keys approved their association"
    );
    // Nor can they remove the genesis association.
    c.forge_ok(sybils.iter().map(|k| c.tx(k, vote(x_id, false))).collect());
    assert_eq!(
        c.state.proposal(&x_id).unwrap().unwrap().status,
        ProposalStatus::Approved { since_epoch: 0 },
        "the Sybil keys removed the genesis association"
    );
    // Honest purchases still go through it.
    c.forge_ok(vec![c.tx(&honest[0], buy(4, 1_000, &x))]);

    // The weight decides: 7 of the 10 honest forgers (70 % of the weight
    // with the Sybil's 30 units) do not approve; 8 (80 %) do.
    c.forge_ok(
        honest[..7]
            .iter()
            .map(|k| c.tx(k, vote(id, true)))
            .collect(),
    );
    assert_eq!(
        c.state.proposal(&id).unwrap().unwrap().status,
        ProposalStatus::Pending
    );
    c.forge_ok(vec![c.tx(&honest[7], vote(id, true))]);
    assert_eq!(
        c.state.proposal(&id).unwrap().unwrap().status,
        ProposalStatus::Approved {
            since_epoch: 2 + DELAY
        }
    );
}

#[test]
fn the_first_one_unit_purchase_does_not_take_the_bootstrap_forgers_slots() {
    let mut g = base_genesis();
    g.epoch_slots = 30;
    let slots = g.epoch_slots;
    let mut c = Chain::with(g);
    let x = assoc_x().public();
    let attacker = a();
    c.forge_ok(vec![c.tx(&attacker, buy(2, 1, &x))]);
    let p = c.tx(&attacker, c.propose_kind(&assoc_y(), b"Mine"));
    let id = p.id();
    c.forge_ok(vec![p]);

    // Epoch 2: the bootstrap forgers keep their notional weight beside the
    // one unit bought, and lead (about) every slot.
    let first = c.params.first_slot(2);
    let bootstrap: Vec<PublicKey> = forgers().iter().map(|k| k.public()).collect();
    let led_by_attacker = (first..first + slots)
        .filter(|&s| c.leader(s) == Some(attacker.public()))
        .count();
    let led_by_bootstrap = (first..first + slots)
        .filter(|&s| c.leader(s).is_some_and(|l| bootstrap.contains(&l)))
        .count();
    assert!(
        led_by_attacker <= 1,
        "one unit of weight led {led_by_attacker} of {slots} slots"
    );
    assert_eq!(led_by_attacker + led_by_bootstrap, slots as usize);
    let mut expected: Vec<(PublicKey, u64)> = bootstrap
        .iter()
        .map(|k| (*k, BOOTSTRAP_WEIGHT))
        .chain([(attacker.public(), 1)])
        .collect();
    expected.sort();
    assert_eq!(
        schedule::live_weights(&c.params, &c.state, 2).unwrap(),
        expected
    );

    // Its own yes-vote (1 of 3,001) does not approve its association.
    c.advance_to_epoch(2);
    c.forge_ok(vec![c.tx(&attacker, vote(id, true))]);
    assert_eq!(
        c.state.proposal(&id).unwrap().unwrap().status,
        ProposalStatus::Pending
    );

    // Once the weight bought for an epoch reaches the threshold, the
    // bootstrap forgers step back in it.
    c.forge_ok(vec![c.tx(&b(), buy(4, BOOTSTRAP_WEIGHT, &x))]);
    assert_eq!(
        schedule::live_weights(&c.params, &c.state, 4).unwrap(),
        vec![(b().public(), BOOTSTRAP_WEIGHT)]
    );
}

#[test]
fn bootstrap_forgers_expire_after_their_last_epoch() {
    let mut g = base_genesis();
    g.limits.bootstrap_last_epoch = 2;
    let mut c = Chain::with(g);
    let x = assoc_x().public();
    // Weight bought for epoch 4, none for epoch 3.
    c.forge_ok(vec![c.tx(&a(), buy(4, 5_000, &x))]);
    c.advance_to_epoch(2);
    let bootstrap: Vec<PublicKey> = forgers().iter().map(|k| k.public()).collect();
    assert!(bootstrap.contains(&c.leader(c.tip().slot + 1).unwrap()));
    // Epoch 3: nobody bought, the bootstrap forgers expired: no leader.
    let e3 = c.params.first_slot(3);
    for s in e3..e3 + EPOCH_SLOTS {
        assert_eq!(c.leader(s), None, "slot {s}");
    }
    assert!(schedule::live_forgers(&c.params, &c.state, 3)
        .unwrap()
        .is_empty());
    // A block its bootstrap turn signs there is refused.
    let turn = forgers()[(e3 % 3) as usize].clone();
    let (mut block, _) = valid_block(&c);
    block.header.header.slot = e3;
    block.header.header.forger = turn.public();
    resign(&mut block, &turn);
    let e = c.check(&block).unwrap_err();
    assert!(
        matches!(e, BlockError::NotLeader { leader: None, .. }),
        "{e}"
    );
    says(&e, &["nobody does", "bootstrap forgers have expired"]);
    // The chain goes on in epoch 4, by the weight bought for it.
    let (slot, leader) = c.led_slot_from(e3);
    assert_eq!(c.params.epoch_of(slot), 4);
    assert_eq!(leader, a().public());
}

#[test]
fn an_equivocator_reporting_itself_gets_only_the_reporters_share_back() {
    let mut c = Chain::new();
    let f2 = forgers()[2].clone();
    // Its second key: a user it controls.
    let second = b();
    let (ha, hb) = c.equivocation(&f2, 1);
    let slot = slot_not_led_by(&c, &f2.public());
    let before = c.balance(&f2.public()) as i128 + c.balance(&second.public()) as i128;
    c.forge_at(slot, vec![c.tx(&second, Chain::report_kind(ha, hb))]);
    let after = c.balance(&f2.public()) as i128 + c.balance(&second.public()) as i128;
    let share = (BOUNTY * SHARE / 100) as i128;
    assert_eq!(before - after, BOUNTY as i128 - share + MIN_FEE as i128);
    assert!(
        before - after > MIN_FEE as i128,
        "the bounty came back whole"
    );
}
