//! The chain store on a real redb file: import, reopen, reads, verify.

use goodwill::store::{Imported, Store, StoreError};
use goodwill::testkit::EVERY_SLOT_STARTED;
use goodwill::testkit::{TestNet, TestNetConfig};

#[test]
fn imports_reopens_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let net = TestNet::new(&TestNetConfig::default());
    let mut chain = net.chain();
    let store = Store::open(dir.path(), &net.params).unwrap();
    for i in 0..12 {
        let tx = chain.transfer_from_user(i % 4, net.users[(i + 1) % 4].public(), 1000 + i as u64);
        let b = chain.forge(vec![tx]);
        match store.import_block(&b, EVERY_SLOT_STARTED).unwrap() {
            Imported::Extended { tip, bytes_written } => {
                assert_eq!(tip.hash, b.hash());
                assert!(bytes_written > 0);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            store.import_block(&b, EVERY_SLOT_STARTED).unwrap(),
            Imported::AlreadyKnown
        ));
    }
    drop(store);
    let store = Store::open(dir.path(), &net.params).unwrap();
    assert_eq!(
        store.tip().unwrap().hash,
        chain.blocks.last().unwrap().hash()
    );
    assert_eq!(store.verify_chain().unwrap(), 12);
    let model: Vec<_> = chain
        .state
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(store.state_entries().unwrap(), model);
    let snap = store.snapshot().unwrap();
    let tx = &chain.blocks[3].txs[0];
    let (found, block, proof) = snap.tx_with_proof(&tx.id()).unwrap().unwrap();
    assert_eq!(&found, tx);
    assert!(goodwill::chain::merkle::verify(
        &block.header.header.tx_root,
        &tx.id(),
        &proof
    ));
    let hist = snap.account_txs(&tx.tx.sender, 10).unwrap();
    assert!(hist.contains(&tx.id()));
    drop(snap);
    drop(store);
    let other = TestNet::new(&TestNetConfig {
        epoch_slots: 11,
        ..TestNetConfig::default()
    });
    let e = Store::open(dir.path(), &other.params).unwrap_err();
    assert!(matches!(e, StoreError::WrongChain { .. }), "{e}");
    assert!(Store::open_existing(dir.path()).is_ok());
}

#[test]
fn contract_parameters_come_back_on_reopen_and_a_chain_without_them_keeps_none() {
    let net = TestNet::new(&TestNetConfig::default());
    assert!(
        net.params.contracts().is_some(),
        "the test chain has contracts"
    );
    let mut g = net.params.genesis().clone();
    g.contracts = None;
    let plain = goodwill::chain::genesis::ChainParams::new(g).unwrap();
    assert_ne!(plain.chain_id(), net.params.chain_id());
    for params in [&net.params, &plain] {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path(), params).unwrap());
        // Opened without being told the chain: the store's own meta.
        let store = Store::open_existing(dir.path()).unwrap();
        assert_eq!(store.params().chain_id(), params.chain_id());
        assert_eq!(store.params().contracts(), params.contracts());
        drop(store);
        Store::open(dir.path(), params).unwrap();
    }
}

#[test]
fn a_store_in_use_is_not_opened_twice() {
    let dir = tempfile::tempdir().unwrap();
    let net = TestNet::new(&TestNetConfig::default());
    let store = Store::open(dir.path(), &net.params).unwrap();
    let e = Store::open(dir.path(), &net.params).unwrap_err();
    assert!(e.to_string().contains("already open"), "{e}");
    drop(store);
    Store::open(dir.path(), &net.params).unwrap();
}

#[test]
fn a_lean_store_skips_the_indexes_and_says_so() {
    use goodwill::store::Indexes;
    let net = TestNet::new(&TestNetConfig::default());
    let mut chain = net.chain();
    let blocks: Vec<_> = (0..6)
        .map(|i| {
            let tx = chain.transfer_from_user(i % 4, net.users[(i + 1) % 4].public(), 500);
            chain.forge(vec![tx])
        })
        .collect();
    let lean_dir = tempfile::tempdir().unwrap();
    let full_dir = tempfile::tempdir().unwrap();
    let lean = Store::open_with(lean_dir.path(), &net.params, Indexes::Skip).unwrap();
    let full = Store::open_with(full_dir.path(), &net.params, Indexes::Keep).unwrap();
    for b in &blocks {
        lean.import_block(b, EVERY_SLOT_STARTED).unwrap();
        full.import_block(b, EVERY_SLOT_STARTED).unwrap();
    }
    assert!(!lean.indexed() && full.indexed());
    // Same ledger, same chain.
    assert_eq!(lean.state_entries().unwrap(), full.state_entries().unwrap());
    assert_eq!(lean.verify_chain().unwrap(), 6);
    let id = blocks[2].txs[0].id();
    let snap = lean.snapshot().unwrap();
    assert!(matches!(snap.tx_location(&id), Err(StoreError::NotIndexed)));
    assert!(full.snapshot().unwrap().tx_location(&id).unwrap().is_some());
    drop(snap);
    // The file remembers: reopened through `open` (which would create a
    // store with indexes), it is still lean.
    drop(lean);
    let again = Store::open(lean_dir.path(), &net.params).unwrap();
    assert!(!again.indexed());
}
