//! Contract transactions through the ledger (`apply_block` and the block
//! builder): deploying and calling the paywall with exact balances, fees as
//! gas, the loading charge, storage paid per byte, receipts, and every
//! refusal by name. The engine alone is tested in `contracts`.

use crate::common;

use common::*;
use goodwill::chain::codec::Bytes;
use goodwill::chain::crypto::{Hash, Keypair};
use goodwill::chain::genesis::ContractParams;
use goodwill::chain::tx::{SignedTransaction, StatelessError, TxKind};
use goodwill::ledger::contract::{self, LOAD_FUEL_PER_BYTE};
use goodwill::ledger::state::{ReceiptStatus, StateReadExt};
use goodwill::ledger::{self, BlockError, TxError};

fn paywall() -> Vec<u8> {
    std::fs::read(format!(
        "{}/contracts/paywall.wasm",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("contracts/paywall.wasm")
}

fn params() -> ContractParams {
    ContractParams::for_slot(1_000)
}

fn le(n: u64) -> Vec<u8> {
    n.to_le_bytes().to_vec()
}

/// A contract transaction paying exactly for `fuel_limit`.
fn contract_tx(c: &Chain, key: &Keypair, nonce: u64, kind: TxKind) -> SignedTransaction {
    let fuel = kind.fuel_limit().expect("a contract kind");
    c.tx_full(key, nonce, MIN_FEE + fuel * params().fuel_price, kind)
}

fn deploy(code: &[u8], init: &[u8], fuel_limit: u64) -> TxKind {
    TxKind::DeployContract {
        code: Bytes::new(code.to_vec()).unwrap(),
        init: Bytes::new(init.to_vec()).unwrap(),
        fuel_limit,
    }
}

fn call(contract: &Hash, input: &[u8], value: u64, fuel_limit: u64) -> TxKind {
    TxKind::CallContract {
        contract: *contract,
        input: Bytes::new(input.to_vec()).unwrap(),
        value,
        fuel_limit,
    }
}

/// Σ balances (contracts' included) + burned = genesis + rewards.
fn assert_conserved(c: &Chain, supply: u128) {
    let burned = c.state.burned().unwrap() as u128;
    assert_eq!(
        c.state.total_balance() + burned,
        supply + REWARD as u128 * c.tip().height as u128,
        "coins were made or lost"
    );
}

const LIMIT: u64 = 100_000;

#[test]
fn the_paywall_deploys_takes_payments_answers_and_pays_its_owner() {
    let mut c = Chain::new();
    let supply = c.state.total_balance();
    let [owner, payer, short, other] = [0, 1, 2, 3].map(|i| users()[i].clone());
    let code = paywall();
    let load = LOAD_FUEL_PER_BYTE * code.len() as u64;
    let p = params();

    // Deploy at price 500: the fee pays the load, the deploy run (9,009
    // fuel, pinned in `contracts`) and the two entries it stores.
    let d = contract_tx(&c, &owner, 0, deploy(&code, &le(500), LIMIT));
    let f = c.forge_ok(vec![d.clone()]);
    let forger = f.block.header.header.forger;
    let address = contract::address(&c.id(), &owner.public(), 0);
    let r = c.state.receipt(&d.id()).unwrap().expect("a receipt");
    assert_eq!(r.status, ReceiptStatus::Ok);
    assert_eq!(r.contract, address);
    assert_eq!(r.fuel_used, load + 9_009);
    assert_eq!(r.fee, MIN_FEE + r.fuel_used * p.fuel_price);
    // "price" → 8 bytes and "owner" → 32 bytes, 32 more per entry.
    let stored = (5 + 8 + 32) + (5 + 32 + 32);
    assert_eq!(r.storage_charge, stored * p.storage_price);
    assert_eq!(
        c.balance(&owner.public()),
        START - r.fee - r.storage_charge,
        "the unused fuel's fee came back"
    );
    assert_eq!(c.balance(&forger), START + REWARD + r.fee);
    let acct = c.state.contract(&address).unwrap().expect("the contract");
    assert_eq!(acct.balance, 0);
    assert_eq!(acct.stored_bytes, stored);
    assert_eq!(acct.deployer, owner.public());
    assert_eq!(
        c.state.code(&acct.code_hash).unwrap().unwrap().as_slice(),
        code
    );
    assert_eq!(c.state.burned().unwrap(), r.storage_charge);
    assert_conserved(&c, supply);

    // Three calls in one block: a payment of 600, one of 700 and one of
    // 499 (under the price: it traps and the value goes back). The module
    // is loaded, and charged for, once in the block.
    let pay1 = contract_tx(&c, &payer, 0, call(&address, &[1], 600, LIMIT));
    let pay2 = contract_tx(&c, &other, 0, call(&address, &[1], 700, LIMIT));
    let low = contract_tx(&c, &short, 0, call(&address, &[1], 499, LIMIT));
    c.forge_ok(vec![pay1.clone(), pay2.clone(), low.clone()]);
    let r1 = c.state.receipt(&pay1.id()).unwrap().unwrap();
    let r2 = c.state.receipt(&pay2.id()).unwrap().unwrap();
    let r3 = c.state.receipt(&low.id()).unwrap().unwrap();
    assert_eq!(r1.status, ReceiptStatus::Ok);
    assert_eq!(
        r1.fuel_used,
        load + 6_752,
        "the first call in the block loads"
    );
    assert_eq!(
        r2.fuel_used, 6_752,
        "a later call in the same block does not"
    );
    assert_eq!(
        r3.status,
        ReceiptStatus::Trapped(Bytes::from("unreachable"))
    );
    assert_eq!(r3.fuel_used, 1_156);
    assert_eq!(r3.events, Vec::<Bytes<256>>::new());
    let mut event = payer.public().0.to_vec();
    event.extend(le(600));
    assert_eq!(r1.events, vec![Bytes::new(event).unwrap()]);
    let entry = (1 + 32 + 8 + 32) * p.storage_price;
    assert_eq!(r1.storage_charge, entry);
    assert_eq!(c.balance(&payer.public()), START - 600 - r1.fee - entry);
    assert_eq!(c.balance(&other.public()), START - 700 - r2.fee - entry);
    assert_eq!(
        c.balance(&short.public()),
        START - MIN_FEE - 1_156,
        "a trapped call returns its value and charges its fuel"
    );
    assert_eq!(c.state.contract(&address).unwrap().unwrap().balance, 1_300);
    assert_conserved(&c, supply);

    // paid(payer), in a transaction: the answer is the receipt's return data.
    let mut q = vec![2];
    q.extend(payer.public().0);
    let ask = contract_tx(&c, &short, 1, call(&address, &q, 0, LIMIT));
    c.forge_ok(vec![ask.clone()]);
    let r = c.state.receipt(&ask.id()).unwrap().unwrap();
    assert_eq!(r.return_data.as_slice(), le(600));
    assert_eq!(r.fuel_used, load + 1_219);

    // Only the owner withdraws: someone else traps, the owner gets it all.
    let steal = contract_tx(&c, &payer, 1, call(&address, &[3], 0, LIMIT));
    let before = c.balance(&owner.public());
    let take = contract_tx(&c, &owner, 1, call(&address, &[3], 0, LIMIT));
    c.forge_ok(vec![steal.clone(), take.clone()]);
    let rs = c.state.receipt(&steal.id()).unwrap().unwrap();
    assert_eq!(
        rs.status,
        ReceiptStatus::Trapped(Bytes::from("unreachable"))
    );
    let rt = c.state.receipt(&take.id()).unwrap().unwrap();
    assert_eq!(rt.status, ReceiptStatus::Ok);
    assert_eq!(c.balance(&owner.public()), before - rt.fee + 1_300);
    assert_eq!(c.state.contract(&address).unwrap().unwrap().balance, 0);
    assert_conserved(&c, supply);
}

#[test]
fn a_call_out_of_fuel_while_loading_charges_its_limit_and_changes_nothing_else() {
    let mut c = Chain::new();
    let [owner, payer] = [0, 1].map(|i| users()[i].clone());
    c.forge_ok(vec![contract_tx(
        &c,
        &owner,
        0,
        deploy(&paywall(), &le(500), LIMIT),
    )]);
    let address = contract::address(&c.id(), &owner.public(), 0);
    let before = c.state.contract(&address).unwrap();
    // Loading the 840-byte module takes 42,000 fuel; 1,000 runs nothing.
    let t = contract_tx(&c, &payer, 0, call(&address, &[1], 600, 1_000));
    c.forge_ok(vec![t.clone()]);
    let r = c.state.receipt(&t.id()).unwrap().unwrap();
    assert_eq!(r.status, ReceiptStatus::OutOfFuel);
    assert_eq!(r.fuel_used, 1_000);
    assert_eq!(r.fee, MIN_FEE + 1_000);
    assert_eq!(
        c.balance(&payer.public()),
        START - MIN_FEE - 1_000,
        "the value came back"
    );
    assert_eq!(c.state.contract(&address).unwrap(), before);
    assert_eq!(c.account(&payer.public()).nonce, 1, "the nonce is used");
}

#[test]
fn contract_transactions_are_refused_by_name() {
    let c = Chain::new();
    let a = users()[0].clone();
    let code = paywall();

    // A chain without a [contracts] table.
    let mut g = base_genesis();
    g.contracts = None;
    let plain = Chain::with(g);
    let t = plain.tx_full(&a, 0, MIN_FEE + LIMIT, deploy(&code, &le(5), LIMIT));
    assert_eq!(plain.reject(t), TxError::ContractsDisabled);

    // Fuel limits: zero, and over a block's (which a block holding it
    // fails before anything runs, as too much fuel).
    let t = c.tx_full(&a, 0, MIN_FEE, call(&Hash([7; 32]), &[1], 0, 0));
    assert_eq!(
        c.reject(t),
        TxError::BadFuelLimit {
            fuel_limit: 0,
            block_fuel: params().block_fuel
        }
    );
    let over = params().block_fuel + 1;
    let t = c.tx_full(&a, 0, MIN_FEE + over, deploy(&code, &le(5), over));
    let (slot, _) = c.next_led_slot();
    let (u, _) = c.prepare_at(slot, vec![t.clone()]);
    assert_eq!(
        u.rejected,
        vec![(
            t.id(),
            TxError::BadFuelLimit {
                fuel_limit: over,
                block_fuel: params().block_fuel
            }
        )]
    );
    assert!(matches!(
        c.check(&c.forced_block(vec![t])),
        Err(BlockError::TooMuchFuel { .. })
    ));

    // A deploy whose fuel does not pay for loading its module (50 per
    // byte): refused before it is compiled.
    let load = LOAD_FUEL_PER_BYTE * code.len() as u64;
    let t = contract_tx(&c, &a, 0, deploy(&code, &le(5), load - 1));
    assert_eq!(
        c.reject(t),
        TxError::Stateless(StatelessError::FuelBelowLoad {
            fuel_limit: load - 1,
            load
        })
    );

    // A fee one short of min_fee + fuel_limit × fuel_price.
    let t = c.tx_full(&a, 0, MIN_FEE + LIMIT - 1, deploy(&code, &le(5), LIMIT));
    let e = c.reject(t);
    assert_eq!(e.code(), "fuel-fee-too-low");
    says(&e, &[&(MIN_FEE + LIMIT).to_string()]);

    // A call to an address with no contract.
    let nowhere = Hash([7; 32]);
    let t = contract_tx(&c, &a, 0, call(&nowhere, &[1], 0, LIMIT));
    assert_eq!(c.reject(t), TxError::NoSuchContract(nowhere));

    // A module the chain would not run: refused before any state is read.
    let floats = wat::parse_str(
        r#"(module (memory (export "memory") 1)
             (func (export "call") (drop (f32.add (f32.const 1) (f32.const 2)))))"#,
    )
    .unwrap();
    let t = contract_tx(&c, &a, 0, deploy(&floats, &[], LIMIT));
    match c.reject(t) {
        TxError::Stateless(StatelessError::BadContract { reason, .. }) => {
            assert_eq!(reason, "floats")
        }
        other => panic!("expected bad-contract, got {other:?}"),
    }

    // A value the sender cannot pay beside the fee.
    let mut c2 = Chain::new();
    let d = contract_tx(&c2, &a, 0, deploy(&code, &le(5), LIMIT));
    c2.forge_ok(vec![d]);
    let address = contract::address(&c2.id(), &a.public(), 0);
    let b = users()[1].clone();
    let t = contract_tx(&c2, &b, 0, call(&address, &[1], START, LIMIT));
    assert_eq!(t.tx.kind.fuel_limit(), Some(LIMIT));
    assert_eq!(c2.reject(t).code(), "insufficient-balance");
}

#[test]
fn a_block_holds_at_most_block_fuel_and_the_builder_keeps_the_rest_for_later() {
    // A block fuel limit the test accounts can pay for twice over.
    let mut g = base_genesis();
    let block_fuel = 300_000;
    g.contracts = Some(ContractParams {
        block_fuel,
        ..params()
    });
    let mut c = Chain::with(g);
    let [a, b, d] = [0, 1, 2].map(|i| users()[i].clone());
    let code = paywall();
    let half = block_fuel / 2 + 1;
    // Each asks for over half a block's fuel: two do not fit one block.
    let t1 = c.tx_full(&a, 0, MIN_FEE + half, deploy(&code, &le(5), half));
    let t2 = c.tx_full(&b, 0, MIN_FEE + half, deploy(&code, &le(5), half));
    match c.check(&c.forced_block(vec![t1.clone(), t2.clone()])) {
        Err(BlockError::TooMuchFuel { fuel, limit, .. }) => {
            assert_eq!(fuel, 2 * half as u128);
            assert_eq!(limit, block_fuel);
        }
        other => panic!("expected too-much-fuel, got {other:?}"),
    }
    // The builder takes the first and leaves the second (not as a
    // rejection: it is valid, for the next block), and takes a transfer
    // after it.
    let t3 = c.tx(&d, transfer(&a.public(), 5));
    let f = c.forge(vec![t1.clone(), t2.clone(), t3.clone()]);
    assert!(f.rejected.is_empty(), "{:?}", f.rejected);
    assert_eq!(
        f.block.txs.iter().map(|t| t.id()).collect::<Vec<_>>(),
        [t1.id(), t3.id()]
    );
    let f = c.forge_ok(vec![t2.clone()]);
    assert_eq!(f.block.txs.len(), 1);
}

#[test]
fn a_query_answers_at_the_tip_and_changes_nothing() {
    let mut c = Chain::new();
    let [owner, payer] = [0, 1].map(|i| users()[i].clone());
    let code = paywall();
    c.forge_ok(vec![contract_tx(
        &c,
        &owner,
        0,
        deploy(&code, &le(500), LIMIT),
    )]);
    let address = contract::address(&c.id(), &owner.public(), 0);
    c.forge_ok(vec![contract_tx(
        &c,
        &payer,
        0,
        call(&address, &[1], 600, LIMIT),
    )]);
    let before = c.state.clone();
    let mut paid = vec![2];
    paid.extend(payer.public().0);
    let q = |input: &[u8], value: u64, fuel: u64| {
        ledger::query_contract(
            &c.params,
            &c.state,
            &address,
            &payer.public(),
            input,
            value,
            fuel,
        )
    };
    let r = q(&paid, 0, LIMIT).unwrap();
    assert_eq!(r.status, contract::Status::Ok);
    assert_eq!(r.effects.return_data, le(600));
    assert_eq!(r.fuel_used, LOAD_FUEL_PER_BYTE * code.len() as u64 + 1_219);
    // What a payment would do, without doing it.
    let r = q(&[1], 700, LIMIT).unwrap();
    assert_eq!(r.status, contract::Status::Ok);
    assert_eq!(r.effects.writes.len(), 1);
    assert_eq!(c.state, before, "a query writes nothing");
    // Refusals.
    assert_eq!(
        q(&paid, 0, 0).unwrap_err(),
        TxError::BadFuelLimit {
            fuel_limit: 0,
            block_fuel: params().block_fuel
        }
    );
    assert_eq!(q(&vec![0; 1025], 0, LIMIT).unwrap_err().code(), "too-large");
    let nowhere = Hash([9; 32]);
    assert_eq!(
        ledger::query_contract(
            &c.params,
            &c.state,
            &nowhere,
            &payer.public(),
            &[],
            0,
            LIMIT
        )
        .unwrap_err(),
        TxError::NoSuchContract(nowhere)
    );
    // Out of fuel while loading: nothing ran.
    let r = q(&paid, 0, 1_000).unwrap();
    assert_eq!(
        (r.status, r.fuel_used),
        (contract::Status::OutOfFuel, 1_000)
    );
}
