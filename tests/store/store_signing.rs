//! The forger's signing record: no key signs a slot at or below one it
//! signed before — across reopening, and across moving the record to another
//! store through its interchange file.

use goodwill::chain::crypto::{Hash, PublicKey};
use goodwill::store::{
    Interchange, InterchangeBlock, InterchangeError, InterchangeKey, SigningError, Store,
};
use goodwill::testkit::EVERY_SLOT_STARTED;
use goodwill::testkit::{self, TestNet, TestNetConfig};

fn net() -> TestNet {
    TestNet::new(&TestNetConfig::default())
}

fn pk(i: u32) -> PublicKey {
    testkit::key(9, i).public()
}

fn root(b: u8) -> Hash {
    Hash([b; 32])
}

/// Expects `AlreadySigned` for (`key`, `slot`) with `highest` recorded, and
/// a message that names both slots.
fn refused(store: &Store, key: &PublicKey, slot: u64, highest: u64) {
    match store.record_signature(key, slot, &root(0xEE)) {
        Err(e @ SigningError::AlreadySigned { .. }) => {
            let SigningError::AlreadySigned {
                key: k,
                slot: s,
                highest: h,
            } = &e
            else {
                unreachable!()
            };
            assert_eq!((k, *s, *h), (key, slot, highest));
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("already signed slot {highest}")),
                "{msg}"
            );
            assert!(
                msg.contains(&format!("refusing to sign slot {slot}")),
                "{msg}"
            );
            assert!(msg.contains(&key.to_string()), "{msg}");
        }
        other => panic!("slot {slot} of {key} (highest {highest}): {other:?}"),
    }
}

#[test]
fn refuses_equal_and_lower_slots_per_key() {
    let net = net();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &net.params).unwrap();
    let (k1, k2, k3) = (pk(0), pk(1), pk(2));
    assert_eq!(store.last_signed_slot(&k1).unwrap(), None);

    store.record_signature(&k1, 10, &root(1)).unwrap();
    assert_eq!(store.last_signed_slot(&k1).unwrap(), Some(10));
    refused(&store, &k1, 10, 10);
    refused(&store, &k1, 9, 10);
    refused(&store, &k1, 0, 10);
    store.record_signature(&k1, 11, &root(2)).unwrap();
    refused(&store, &k1, 11, 11);
    refused(&store, &k1, 10, 11);
    store.record_signature(&k1, 40, &root(3)).unwrap();
    assert_eq!(store.last_signed_slot(&k1).unwrap(), Some(40));

    // Each key has its own record.
    assert_eq!(store.last_signed_slot(&k2).unwrap(), None);
    store.record_signature(&k2, 3, &root(4)).unwrap();
    refused(&store, &k2, 3, 3);
    store.record_signature(&k2, 4, &root(5)).unwrap();
    assert_eq!(store.last_signed_slot(&k1).unwrap(), Some(40));
    assert_eq!(store.last_signed_slot(&k2).unwrap(), Some(4));

    // The ends of the slot range.
    store.record_signature(&k3, 0, &root(6)).unwrap();
    refused(&store, &k3, 0, 0);
    store.record_signature(&k3, u64::MAX, &root(7)).unwrap();
    refused(&store, &k3, u64::MAX, u64::MAX);
    refused(&store, &k3, 1, u64::MAX);
    assert_eq!(store.last_signed_slot(&k3).unwrap(), Some(u64::MAX));
    assert_eq!(store.last_signed_slot(&k2).unwrap(), Some(4));
}

#[test]
fn survives_reopening() {
    let net = net();
    let dir = tempfile::tempdir().unwrap();
    let k = pk(0);
    {
        let store = Store::open(dir.path(), &net.params).unwrap();
        store.record_signature(&k, 100, &root(1)).unwrap();
        store.record_signature(&k, 101, &root(2)).unwrap();
    }
    let store = Store::open(dir.path(), &net.params).unwrap();
    assert_eq!(store.last_signed_slot(&k).unwrap(), Some(101));
    refused(&store, &k, 101, 101);
    refused(&store, &k, 50, 101);
    store.record_signature(&k, 102, &root(3)).unwrap();
    drop(store);
    let store = Store::open_existing(dir.path()).unwrap();
    assert_eq!(store.last_signed_slot(&k).unwrap(), Some(102));
    refused(&store, &k, 102, 102);
}

/// A store with k0 at slots 10, 11, 15 and k1 at 3.
fn filled(net: &TestNet, dir: &std::path::Path) -> Store {
    let store = Store::open(dir, &net.params).unwrap();
    for (k, slot, r) in [(0, 10, 1), (0, 11, 2), (0, 15, 3), (1, 3, 4)] {
        store.record_signature(&pk(k), slot, &root(r)).unwrap();
    }
    store
}

#[test]
fn export_json_import_round_trip() {
    let net = net();
    let dir = tempfile::tempdir().unwrap();
    let store = filled(&net, dir.path());
    let doc = store.export_signing_record(None).unwrap();
    let json = serde_json::to_string_pretty(&doc).unwrap();
    for part in [
        r#""interchange_format": "goodwill-signing-record""#.to_string(),
        r#""interchange_format_version": "1""#.to_string(),
        format!(r#""chain_id": "{}""#, net.params.chain_id()),
        format!(r#""pubkey": "{}""#, pk(0)),
        r#""slot": "15""#.to_string(),
        format!(r#""signing_root": "{}""#, root(3)),
    ] {
        assert!(json.contains(&part), "{part} not in {json}");
    }
    let back: Interchange = serde_json::from_str(&json).unwrap();
    assert_eq!(back, doc);
    let mut slots: Vec<(PublicKey, String, Hash)> = back
        .data
        .iter()
        .flat_map(|k| {
            k.signed_blocks
                .iter()
                .map(|b| (k.pubkey, b.slot.clone(), b.signing_root))
        })
        .collect();
    slots.sort();
    let mut want = vec![
        (pk(0), "10".to_string(), root(1)),
        (pk(0), "11".to_string(), root(2)),
        (pk(0), "15".to_string(), root(3)),
        (pk(1), "3".to_string(), root(4)),
    ];
    want.sort();
    assert_eq!(slots, want);

    let dir2 = tempfile::tempdir().unwrap();
    let fresh = Store::open(dir2.path(), &net.params).unwrap();
    assert_eq!(fresh.import_signing_record(&back).unwrap(), 4);
    assert_eq!(fresh.export_signing_record(None).unwrap(), doc);
    assert_eq!(fresh.import_signing_record(&back).unwrap(), 0, "idempotent");
    assert_eq!(fresh.last_signed_slot(&pk(0)).unwrap(), Some(15));
    assert_eq!(fresh.last_signed_slot(&pk(1)).unwrap(), Some(3));

    // After importing, nothing at or below the imported highest is signed.
    refused(&fresh, &pk(0), 15, 15);
    refused(&fresh, &pk(0), 12, 15);
    refused(&fresh, &pk(1), 3, 3);
    fresh.record_signature(&pk(0), 16, &root(5)).unwrap();
    fresh.record_signature(&pk(1), 4, &root(6)).unwrap();

    // One key's export holds only that key.
    let only = store.export_signing_record(Some(&pk(1))).unwrap();
    assert_eq!(only.data.len(), 1);
    assert_eq!(only.data[0].pubkey, pk(1));
    assert_eq!(only.data[0].signed_blocks.len(), 1);
}

#[test]
fn importing_never_lowers() {
    let net = net();
    let dir = tempfile::tempdir().unwrap();
    let old = filled(&net, dir.path())
        .export_signing_record(None)
        .unwrap();
    let dir2 = tempfile::tempdir().unwrap();
    let store = Store::open(dir2.path(), &net.params).unwrap();
    store.record_signature(&pk(0), 20, &root(9)).unwrap();
    store.import_signing_record(&old).unwrap();
    assert_eq!(store.last_signed_slot(&pk(0)).unwrap(), Some(20));
    assert_eq!(store.last_signed_slot(&pk(1)).unwrap(), Some(3));
    refused(&store, &pk(0), 20, 20);
    refused(&store, &pk(0), 16, 20);
    // A slot both hold keeps the root this store recorded.
    let dir3 = tempfile::tempdir().unwrap();
    let other = Store::open(dir3.path(), &net.params).unwrap();
    other.record_signature(&pk(0), 20, &root(0x42)).unwrap();
    store
        .import_signing_record(&other.export_signing_record(None).unwrap())
        .unwrap();
    let after = store.export_signing_record(Some(&pk(0))).unwrap();
    let at_20: Vec<&InterchangeBlock> = after.data[0]
        .signed_blocks
        .iter()
        .filter(|b| b.slot == "20")
        .collect();
    assert_eq!(at_20.len(), 1);
    assert_eq!(at_20[0].signing_root, root(9));
}

#[test]
fn import_refuses_other_chains_formats_and_bad_slots() {
    let net = net();
    let dir = tempfile::tempdir().unwrap();
    let doc = filled(&net, dir.path())
        .export_signing_record(None)
        .unwrap();
    let dir2 = tempfile::tempdir().unwrap();
    let store = Store::open(dir2.path(), &net.params).unwrap();
    let nothing_imported = |store: &Store| {
        assert_eq!(store.last_signed_slot(&pk(0)).unwrap(), None);
        assert_eq!(store.last_signed_slot(&pk(1)).unwrap(), None);
        assert_eq!(store.last_signed_slot(&pk(7)).unwrap(), None);
    };
    let interchange_err = |store: &Store, doc: &Interchange| -> InterchangeError {
        match store.import_signing_record(doc) {
            Err(SigningError::Interchange(e)) => e,
            other => panic!("{other:?}"),
        }
    };

    // Another chain: a store for another genesis refuses the file.
    let other_net = TestNet::new(&TestNetConfig {
        epoch_slots: 11,
        ..TestNetConfig::default()
    });
    let dir3 = tempfile::tempdir().unwrap();
    let other = Store::open(dir3.path(), &other_net.params).unwrap();
    assert_eq!(
        interchange_err(&other, &doc),
        InterchangeError::OtherChain {
            file: net.params.chain_id(),
            store: other_net.params.chain_id(),
        }
    );
    assert_eq!(
        SigningError::Interchange(interchange_err(&other, &doc)).to_string(),
        format!(
            "signing record: the file is for chain {}, this store is chain {}",
            net.params.chain_id(),
            other_net.params.chain_id()
        )
    );
    nothing_imported(&other);

    // Another format version, another format.
    let mut v2 = doc.clone();
    v2.metadata.interchange_format_version = "2".into();
    let format = doc.metadata.interchange_format.clone();
    assert_eq!(
        interchange_err(&store, &v2),
        InterchangeError::Format {
            format: format.clone(),
            version: "2".into()
        }
    );
    let mut eip = doc.clone();
    eip.metadata.interchange_format = "eip-3076".into();
    let version = doc.metadata.interchange_format_version.clone();
    assert_eq!(
        interchange_err(&store, &eip),
        InterchangeError::Format {
            format: "eip-3076".into(),
            version: version.clone()
        }
    );
    assert_eq!(
        interchange_err(&store, &eip).to_string(),
        format!(
            "format \"eip-3076\" version {version:?}; this goodwill reads {format:?} version {version:?}"
        )
    );
    nothing_imported(&store);

    // A slot that is not a number: the whole file is refused, including
    // the good entries before it.
    let mut bad = doc.clone();
    bad.data.push(InterchangeKey {
        pubkey: pk(7),
        signed_blocks: vec![InterchangeBlock {
            slot: "12x".into(),
            signing_root: root(1),
        }],
    });
    assert_eq!(
        interchange_err(&store, &bad),
        InterchangeError::Slot {
            key: pk(7),
            slot: "12x".into()
        }
    );
    nothing_imported(&store);

    // The JSON itself: unknown fields and numeric slots are refused.
    let json = serde_json::to_string(&doc).unwrap();
    let extra = json.replacen(r#""data":"#, r#""comment":"hi","data":"#, 1);
    assert_ne!(extra, json);
    assert!(serde_json::from_str::<Interchange>(&extra).is_err());
    let numeric = json.replacen(r#""slot":"10""#, r#""slot":10"#, 1);
    assert_ne!(numeric, json);
    assert!(serde_json::from_str::<Interchange>(&numeric).is_err());

    // The untouched document still imports.
    assert_eq!(store.import_signing_record(&doc).unwrap(), 4);
}

/// Found by the simulation: an appliance that had followed a new chain but
/// not forged yet had no signing record, and a restart refused it (exit 2,
/// which systemd does not retry) as a key new to a chain with blocks.
#[test]
fn a_forger_restarted_before_it_ever_forged_starts_again() {
    let net = TestNet::new(&TestNetConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &net.params).unwrap();
    let key = &net.forgers[0];
    let note = goodwill::runtime::forge::preflight_store(&store, key, false, 0).unwrap();
    assert!(note.contains("floor"), "{note}");
    let mut chain = net.chain();
    for _ in 0..3 {
        store
            .import_block(&chain.forge(vec![]), EVERY_SLOT_STARTED)
            .unwrap();
    }
    let note = goodwill::runtime::forge::preflight_store(&store, key, false, 5_000).unwrap();
    assert!(note.contains("last signed slot"), "{note}");
    // A key that never started on this store is still refused.
    let e = goodwill::runtime::forge::preflight_store(&store, &net.forgers[1], false, 5_000)
        .unwrap_err();
    assert!(
        matches!(
            e,
            goodwill::runtime::forge::PreflightError::NoSigningRecord { .. }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("no signing record"), "{e}");
}

// ------------------------------------------------- the signing log's file

fn log_file(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join(goodwill::store::LOG_FILE)
}

/// The page (of 4 KiB) whose record holds `slot` (slots are little-endian
/// at bytes 80..88 of a record).
fn page_of(bytes: &[u8], slot: u64) -> usize {
    bytes
        .chunks(4096)
        .position(|p| p[..8] == *b"GWSIGN01" && p[80..88] == slot.to_le_bytes())
        .unwrap_or_else(|| panic!("no record of slot {slot}"))
}

#[test]
fn the_record_is_a_file_of_its_own_and_a_torn_newest_record_is_ignored() {
    let net = net();
    let dir = tempfile::tempdir().unwrap();
    let k = pk(0);
    {
        let store = Store::open(dir.path(), &net.params).unwrap();
        store.record_signature(&k, 10, &root(1)).unwrap();
        store.record_signature(&k, 11, &root(2)).unwrap();
    }
    let mut bytes = std::fs::read(log_file(dir.path())).unwrap();
    assert_eq!(bytes.len(), 32 * 4096, "a ring of 32 pages");
    // A power cut tore the newest record's write (its sync never returned,
    // so nothing was signed under it): its checksum fails, the one before
    // it protects.
    let newest = page_of(&bytes, 11);
    bytes[newest * 4096 + 100] ^= 0xFF;
    std::fs::write(log_file(dir.path()), &bytes).unwrap();
    let store = Store::open(dir.path(), &net.params).unwrap();
    assert_eq!(store.last_signed_slot(&k).unwrap(), Some(10));
    refused(&store, &k, 10, 10);
    store.record_signature(&k, 11, &root(3)).unwrap();
}

#[test]
fn the_ring_wraps_and_keeps_every_keys_highest() {
    let net = net();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (pk(0), pk(1));
    {
        let store = Store::open(dir.path(), &net.params).unwrap();
        store.record_signature(&b, 7, &root(7)).unwrap();
        // Three times round the ring: b's only record is never overwritten,
        // nor a's highest while its next one is written.
        for slot in 1..=100 {
            store.record_signature(&a, slot, &root(1)).unwrap();
            assert_eq!(store.last_signed_slot(&a).unwrap(), Some(slot));
        }
    }
    assert_eq!(
        std::fs::metadata(log_file(dir.path())).unwrap().len(),
        32 * 4096,
        "the file does not grow"
    );
    let store = Store::open(dir.path(), &net.params).unwrap();
    assert_eq!(store.last_signed_slot(&a).unwrap(), Some(100));
    assert_eq!(store.last_signed_slot(&b).unwrap(), Some(7));
    refused(&store, &b, 7, 7);
    refused(&store, &a, 100, 100);
    // The export holds what the ring still has: b's record and a's newest.
    let doc = store.export_signing_record(None).unwrap();
    let slots = |k: &PublicKey| -> Vec<String> {
        doc.data
            .iter()
            .filter(|e| e.pubkey == *k)
            .flat_map(|e| e.signed_blocks.iter().map(|b| b.slot.clone()))
            .collect()
    };
    assert_eq!(slots(&b), vec!["7".to_string()]);
    assert_eq!(slots(&a).len(), 31);
    assert_eq!(slots(&a).last().unwrap(), "100");
}

#[test]
fn a_full_ring_and_another_chains_log_are_refused_by_name() {
    let net = net();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &net.params).unwrap();
    for i in 0..32 {
        store.record_signature(&pk(i), 5, &root(1)).unwrap();
    }
    // Every page holds some key's only record: none may be overwritten,
    // for a new key or an old one (a record never replaces its key's
    // highest in place). Refused by name, and nothing is poisoned.
    for k in [pk(32), pk(3)] {
        match store.record_signature(&k, 6, &root(1)) {
            Err(e @ SigningError::Full { .. }) => {
                assert!(e.to_string().contains("no free page"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(store.last_signed_slot(&pk(3)).unwrap(), Some(5));
    drop(store);

    // The log beside another chain's store is refused, not read.
    let other_net = TestNet::new(&TestNetConfig {
        epoch_slots: 11,
        ..TestNetConfig::default()
    });
    let dir2 = tempfile::tempdir().unwrap();
    drop(Store::open(dir2.path(), &other_net.params).unwrap());
    std::fs::copy(log_file(dir.path()), log_file(dir2.path())).unwrap();
    let e = Store::open(dir2.path(), &other_net.params).unwrap_err();
    assert!(e.to_string().contains("signing.log"), "{e}");
    assert!(
        e.to_string().contains(&net.params.chain_id().to_string()),
        "{e}"
    );
}

/// A store from before the signing log kept the record in its `signed`
/// table: it still protects, and still exports.
#[test]
fn a_store_from_before_the_log_keeps_its_record() {
    let net = net();
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), &net.params).unwrap());
    let k = pk(0);
    {
        let db = redb::Database::open(dir.path().join(goodwill::store::FILE_NAME)).unwrap();
        let w = db.begin_write().unwrap();
        {
            let def: redb::TableDefinition<&[u8], &[u8; 32]> = redb::TableDefinition::new("signed");
            let mut t = w.open_table(def).unwrap();
            for (slot, r) in [(40u64, 4u8), (41, 5)] {
                let mut key = k.0.to_vec();
                key.extend_from_slice(&slot.to_be_bytes());
                t.insert(key.as_slice(), &root(r).0).unwrap();
            }
        }
        w.commit().unwrap();
    }
    let store = Store::open(dir.path(), &net.params).unwrap();
    assert_eq!(store.last_signed_slot(&k).unwrap(), Some(41));
    refused(&store, &k, 41, 41);
    refused(&store, &k, 12, 41);
    store.record_signature(&k, 42, &root(6)).unwrap();
    let doc = store.export_signing_record(None).unwrap();
    let slots: Vec<&str> = doc.data[0]
        .signed_blocks
        .iter()
        .map(|b| b.slot.as_str())
        .collect();
    assert_eq!(slots, ["40", "41", "42"]);
}
