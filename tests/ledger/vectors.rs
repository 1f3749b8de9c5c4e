//! Pinned encodings: known-good bytes and hashes of every signed structure.
//!
//! `tests/vectors/encodings.json` holds, for a fixed sample of each signed
//! thing — one signed transaction of every [`TxKind`], a signed header, a
//! whole block and a genesis — its canonical bytes (hex) and its hash (the
//! transaction id, the block hash, the chain id), plus the domain-separated
//! signing message of one transaction. The samples are built here from fixed
//! seeds (`Keypair::from_seed([n; 32])`) and fixed field values, and ed25519
//! signing is deterministic, so the same code always rebuilds the same bytes.
//!
//! The test fails if the code now encodes, hashes or signs any sample
//! differently from the checked-in file, or if the project's decoders no
//! longer read the checked-in bytes back into the same values with valid
//! signatures. Either means every existing id, block and signature of a
//! running chain would change: a format change must be a deliberate act.
//!
//! To change the format on purpose (a new tag version, a new field), rewrite
//! the file and commit it together with the change:
//!
//! ```text
//! GOODWILL_REGENERATE_VECTORS=1 cargo test --test ledger vectors::
//! ```

use std::path::PathBuf;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use goodwill::chain::block::{Block, Header, SignedHeader, VERSION};
use goodwill::chain::codec::{encode, Bytes};
use goodwill::chain::crypto::{self, signing_message, tag, Hash, Keypair};
use goodwill::chain::genesis::{Balance, ChainParams, Genesis, GenesisAssociation, Limits, COIN};
use goodwill::chain::limits;
use goodwill::chain::merkle;
use goodwill::chain::tx::{association_proof, SignedTransaction, Transaction, TxKind};
use goodwill::wire::frame::encode_frame;
use goodwill::wire::Message;

const REGENERATE: &str = "GOODWILL_REGENERATE_VECTORS";

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/encodings.json")
}

// ---------------------------------------------------------------- the file

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Vectors {
    #[serde(rename = "_comment")]
    comment: String,
    genesis: GenesisVector,
    transactions: Vec<TxVector>,
    tx_signing_message: SigningMessageVector,
    /// A *signed* header: the header's encoding followed by the forger's
    /// 64-byte signature (its hash is the header's alone).
    #[serde(rename = "signed_header")]
    header: HeaderVector,
    block: BlockVector,
    /// Whole frames (length prefix included) of the liveness messages.
    frames: Vec<FrameVector>,
}

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrameVector {
    /// What the frame carries, as Rust writes it.
    message: String,
    /// `wire::frame::encode_frame(message)`.
    frame_hex: String,
}

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenesisVector {
    /// The genesis file as written (balances deliberately out of order).
    toml: String,
    /// `encode(canonical genesis)`.
    canonical_hex: String,
    /// `tagged SHA-256(goodwill/genesis/v1, canonical)`.
    chain_id: String,
}

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TxVector {
    kind: String,
    /// `SignedTransaction::to_bytes()`.
    bytes_hex: String,
    /// `SignedTransaction::id()`.
    id: String,
}

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SigningMessageVector {
    /// Which transaction of `transactions` (by kind).
    kind: String,
    tag: String,
    /// `len(tag) ‖ tag ‖ chain id`: what goes before the body.
    prefix_hex: String,
    /// The whole message the sender's signature covers.
    message_hex: String,
}

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderVector {
    /// `encode(SignedHeader)`.
    bytes_hex: String,
    /// `Header::hash()`: the block hash.
    hash: String,
}

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockVector {
    /// `Block::to_bytes()`.
    bytes_hex: String,
    /// `Block::hash()`.
    hash: String,
    /// `chain::merkle::root` of the transaction ids.
    tx_root: String,
}

// ------------------------------------------------------------- the samples

fn key(n: u8) -> Keypair {
    Keypair::from_seed([n; 32]).expect("a non-zero seed always makes a key")
}

fn bytes<const N: usize>(b: &[u8]) -> Bytes<N> {
    Bytes::new(b.to_vec()).expect("sample fits its bound")
}

/// The genesis, as a person would write it: balances not in canonical order.
fn sample_genesis() -> Genesis {
    Genesis {
        chain_name: "goodwill-vectors".into(),
        // Without contracts: the chain id is over the genesis alone, as
        // before contracts existed (its `[contracts]` is hashed apart).
        contracts: None,
        start_ms: 1_700_000_000_000,
        slot_ms: 4_000,
        epoch_slots: 900,
        block_reward: 2 * COIN,
        min_fee: 1_000,
        finality_depth: 32,
        bootstrap_forgers: vec![key(1).public(), key(2).public()],
        limits: Limits::default(),
        balances: vec![
            Balance {
                address: key(4).public(),
                amount: 1_000 * COIN,
            },
            Balance {
                address: key(3).public(),
                amount: 500 * COIN,
            },
            Balance {
                address: key(1).public(),
                amount: 7,
            },
        ],
        associations: vec![GenesisAssociation {
            name: bytes(b"Restos du Coeur"),
            url: bytes(b"https://www.restosducoeur.org"),
            account: key(9).public(),
        }],
    }
}

fn params() -> ChainParams {
    ChainParams::new(sample_genesis()).expect("the sample genesis is valid")
}

/// A header by forger `key(1)` at slot 41; `parent_byte` makes two of them differ.
fn sample_header(chain_id: Hash, parent_byte: u8) -> SignedHeader {
    Header {
        version: VERSION,
        chain_id,
        height: 12,
        slot: 41,
        parent: Hash([parent_byte; 32]),
        tx_root: Hash([0x22; 32]),
        state_digest: Hash([0x33; 32]),
        forger: key(1).public(),
        vrf: crypto::vrf_prove(
            &key(1),
            &goodwill::chain::block::vrf_input(&chain_id, &Hash([0x44; 32]), 41),
        )
        .0,
    }
    .sign(&key(1))
}

/// One signed transaction of every kind, in [`TxKind`] declaration order.
fn sample_txs(chain_id: Hash) -> Vec<SignedTransaction> {
    let sender = key(3);
    let association = key(9);
    let tx = |nonce: u64, kind: TxKind, memo: &[u8]| {
        Transaction {
            chain_id,
            sender: sender.public(),
            nonce,
            fee: 1_000 + nonce,
            kind,
            memo: bytes(memo),
        }
        .sign(&sender)
    };
    let name = b"Croix-Rouge";
    let url = b"https://www.croix-rouge.fr";
    vec![
        tx(
            0,
            TxKind::Transfer {
                to: key(4).public(),
                amount: 12_345_678,
            },
            b"invoice 2024-001",
        ),
        tx(
            1,
            TxKind::BuyWeight {
                epoch: 7,
                amount: 50 * COIN,
                association: association.public(),
            },
            b"",
        ),
        tx(
            2,
            TxKind::ProposeAssociation {
                name: bytes(name),
                url: bytes(url),
                account: key(10).public(),
                proof: association_proof(&key(10), &chain_id, name, url),
            },
            b"",
        ),
        tx(
            3,
            TxKind::VoteAssociation {
                proposal: Hash([0x44; 32]),
                approve: true,
            },
            b"yes",
        ),
        tx(
            4,
            TxKind::PutData {
                key: bytes(b"sensor/temp"),
                // Not UTF-8 on purpose: values are bytes, not text.
                value: bytes(&[0x00, 0xff, 0x80, 0x15, b'C']),
            },
            b"",
        ),
        tx(
            5,
            TxKind::ReportEquivocation {
                header_a: Box::new(sample_header(chain_id, 0x11)),
                header_b: Box::new(sample_header(chain_id, 0x12)),
            },
            b"",
        ),
        tx(
            6,
            TxKind::DeployContract {
                // The smallest module: magic and version (encodings do not
                // care whether it would be accepted).
                code: bytes(b"\0asm\x01\0\0\0"),
                init: bytes(&500u64.to_le_bytes()),
                fuel_limit: 100_000,
            },
            b"",
        ),
        tx(
            7,
            TxKind::CallContract {
                contract: Hash([0x55; 32]),
                input: bytes(&[1]),
                value: 600,
                fuel_limit: 50_000,
            },
            b"pay",
        ),
    ]
}

fn sample_block(chain_id: Hash, txs: Vec<SignedTransaction>) -> Block {
    let ids: Vec<Hash> = txs.iter().map(SignedTransaction::id).collect();
    let header = Header {
        version: VERSION,
        chain_id,
        height: 1,
        slot: 3,
        parent: chain_id,
        tx_root: merkle::root(&ids),
        state_digest: Hash::tagged(tag::STATE, &[b"vectors"]),
        forger: key(2).public(),
        vrf: crypto::vrf_prove(
            &key(2),
            &goodwill::chain::block::vrf_input(
                &chain_id,
                &goodwill::ledger::schedule::genesis_seed(&chain_id),
                3,
            ),
        )
        .0,
    }
    .sign(&key(2));
    Block { header, txs }
}

/// The largest block the sample chain accepts: its transaction bytes, a
/// header and the length prefix of the list.
fn block_limit(p: &ChainParams) -> usize {
    p.limits().max_block_bytes as usize + limits::HEADER_BYTES + 16
}

/// Everything, rebuilt from the code as it is now.
fn build() -> Vectors {
    let p = params();
    let chain_id = p.chain_id();
    let txs = sample_txs(chain_id);
    let signed_tx = &txs[0];
    let body = encode(&signed_tx.tx);
    let message = signing_message(tag::TX, &chain_id, &body);
    let header = sample_header(chain_id, 0x11);
    let block = sample_block(chain_id, txs.clone());
    Vectors {
        comment: format!(
            "Pinned encodings, checked by tests/ledger/vectors.rs. Do not edit by hand: \
             {REGENERATE}=1 cargo test --test ledger vectors:: rewrites this file."
        ),
        genesis: GenesisVector {
            toml: sample_genesis().to_toml(),
            canonical_hex: hex::encode(encode(p.genesis())),
            chain_id: chain_id.to_hex(),
        },
        transactions: txs
            .iter()
            .map(|t| TxVector {
                kind: t.tx.kind.name().to_string(),
                bytes_hex: hex::encode(t.to_bytes()),
                id: t.id().to_hex(),
            })
            .collect(),
        tx_signing_message: SigningMessageVector {
            kind: signed_tx.tx.kind.name().to_string(),
            tag: tag::TX.to_string(),
            prefix_hex: hex::encode(&message[..message.len() - body.len()]),
            message_hex: hex::encode(&message),
        },
        header: HeaderVector {
            bytes_hex: hex::encode(encode(&header)),
            hash: header.header.hash().to_hex(),
        },
        block: BlockVector {
            bytes_hex: hex::encode(block.to_bytes()),
            hash: block.hash().to_hex(),
            tx_root: block.header.header.tx_root.to_hex(),
        },
        frames: sample_frames()
            .into_iter()
            .map(|m| FrameVector {
                message: format!("{m:?}"),
                frame_hex: hex::encode(encode_frame(&m)),
            })
            .collect(),
    }
}

/// The liveness messages, with numbers that show the varint encoding.
fn sample_frames() -> Vec<Message> {
    vec![
        Message::Ping(0),
        Message::Ping(1_700_000_000_000),
        Message::Pong(1_700_000_000_000),
    ]
}

#[test]
fn pinned_frames_decode_to_their_messages() {
    let v = pinned();
    assert_eq!(v.frames.len(), sample_frames().len());
    for (f, m) in v.frames.iter().zip(sample_frames()) {
        let bytes = unhex(&f.message, &f.frame_hex);
        let (got, used) = goodwill::wire::frame::parse(&bytes, 64)
            .unwrap_or_else(|e| panic!("{}: {e}", f.message))
            .unwrap_or_else(|| panic!("{}: incomplete", f.message));
        assert_eq!((got, used), (m, bytes.len()), "{}", f.message);
    }
}

fn to_json(v: &Vectors) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("vectors serialise");
    s.push('\n');
    s
}

/// The checked-in vectors (rewritten first when regenerating).
fn pinned() -> Vectors {
    // Tests run in parallel: rewrite once per run, and by rename, so that no
    // test reads a half-written file.
    static REGENERATED: OnceLock<()> = OnceLock::new();
    let path = vectors_path();
    if std::env::var_os(REGENERATE).is_some_and(|v| v == "1") {
        REGENERATED.get_or_init(|| {
            std::fs::create_dir_all(path.parent().expect("the path has a parent"))
                .expect("create tests/vectors");
            let tmp = path.with_extension("json.tmp");
            std::fs::write(&tmp, to_json(&build())).expect("write the vectors");
            std::fs::rename(&tmp, &path).expect("replace the vectors");
            eprintln!("rewrote {}", path.display());
        });
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `{REGENERATE}=1 cargo test --test ledger vectors::` to create it",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn unhex(what: &str, s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_else(|e| panic!("{what}: bad hex in the vectors file: {e}"))
}

fn hash(what: &str, s: &str) -> Hash {
    Hash::from_hex(s).unwrap_or_else(|e| panic!("{what}: {e}"))
}

const CHANGED: &str = "the encoding changed: if on purpose, regenerate the vectors \
                       (see the top of tests/ledger/vectors.rs) and say so in the commit";

// ------------------------------------------------------------------- tests

#[test]
fn every_tx_kind_has_a_vector() {
    // The match has no wildcard: a new kind stops this file compiling until
    // `sample_txs` (and so the pinned file) covers it.
    fn position(kind: &TxKind) -> usize {
        match kind {
            TxKind::Transfer { .. } => 0,
            TxKind::BuyWeight { .. } => 1,
            TxKind::ProposeAssociation { .. } => 2,
            TxKind::VoteAssociation { .. } => 3,
            TxKind::PutData { .. } => 4,
            TxKind::ReportEquivocation { .. } => 5,
            TxKind::DeployContract { .. } => 6,
            TxKind::CallContract { .. } => 7,
        }
    }
    let positions: Vec<usize> = sample_txs(Hash::ZERO)
        .iter()
        .map(|t| position(&t.tx.kind))
        .collect();
    assert_eq!(positions, [0, 1, 2, 3, 4, 5, 6, 7]);
    let kinds: Vec<String> = pinned().transactions.into_iter().map(|t| t.kind).collect();
    assert_eq!(
        kinds,
        [
            "transfer",
            "buy-weight",
            "propose-association",
            "vote-association",
            "put-data",
            "report-equivocation",
            "deploy-contract",
            "call-contract"
        ]
    );
}

#[test]
fn rebuilt_samples_match_the_pinned_bytes_and_hashes() {
    let pinned = pinned();
    let now = build();
    // Field by field first, for a readable failure; then the whole.
    assert_eq!(now.genesis, pinned.genesis, "genesis: {CHANGED}");
    assert_eq!(
        now.transactions.len(),
        pinned.transactions.len(),
        "{CHANGED}"
    );
    for (n, p) in now.transactions.iter().zip(&pinned.transactions) {
        assert_eq!(n, p, "transaction {}: {CHANGED}", p.kind);
    }
    assert_eq!(
        now.tx_signing_message, pinned.tx_signing_message,
        "signing message: {CHANGED}"
    );
    assert_eq!(now.header, pinned.header, "signed header: {CHANGED}");
    assert_eq!(now.block, pinned.block, "block: {CHANGED}");
    assert_eq!(now, pinned, "{CHANGED}");
}

#[test]
fn pinned_genesis_names_the_pinned_chain() {
    let pinned = pinned().genesis;
    let from_file = ChainParams::new(Genesis::from_toml(&pinned.toml).expect("pinned TOML parses"))
        .expect("pinned genesis is valid");
    let chain_id = hash("chain id", &pinned.chain_id);
    assert_eq!(from_file.chain_id(), chain_id);
    let canonical = unhex("genesis", &pinned.canonical_hex);
    assert_eq!(encode(from_file.genesis()), canonical);
    assert_eq!(Hash::tagged(tag::GENESIS, &[&canonical]), chain_id);
    // The file lists balances out of order; the canonical form sorts them.
    let g = from_file.genesis();
    assert!(g.balances.windows(2).all(|w| w[0].address < w[1].address));
    assert_ne!(
        Genesis::from_toml(&pinned.toml).unwrap().balances,
        g.balances
    );
}

#[test]
fn pinned_transactions_decode_verify_and_hash_to_their_ids() {
    let pinned = pinned();
    let chain_id = hash("chain id", &pinned.genesis.chain_id);
    let expected = sample_txs(chain_id);
    assert_eq!(pinned.transactions.len(), expected.len());
    for (v, want) in pinned.transactions.iter().zip(&expected) {
        let raw = unhex(&v.kind, &v.bytes_hex);
        let tx = SignedTransaction::from_bytes(&raw)
            .unwrap_or_else(|e| panic!("{}: pinned bytes no longer decode: {e}", v.kind));
        assert_eq!(&tx, want, "{}: decodes to another value", v.kind);
        assert_eq!(tx.tx.kind.name(), v.kind);
        assert_eq!(tx.tx.chain_id, chain_id);
        let checked = tx
            .check()
            .unwrap_or_else(|e| panic!("{}: pinned signature: {e}", v.kind));
        let id = hash(&v.kind, &v.id);
        assert_eq!(tx.id(), id, "{}", v.kind);
        assert_eq!(checked.id, id, "{}: check() and id() disagree", v.kind);
        assert_eq!(
            Hash::of(&[&raw]),
            id,
            "{}: id is SHA-256 of the bytes",
            v.kind
        );
        assert_eq!(checked.size, raw.len(), "{}", v.kind);
        // The id covers the signature: the bytes are body ‖ signature.
        assert_eq!(&raw[raw.len() - 64..], &tx.signature.0[..], "{}", v.kind);
        assert_eq!(&raw[..raw.len() - 64], &encode(&tx.tx)[..], "{}", v.kind);
        match &tx.tx.kind {
            TxKind::ReportEquivocation { header_a, header_b } => {
                header_a.verify().expect("header a verifies");
                header_b.verify().expect("header b verifies");
                assert_ne!(header_a.header.hash(), header_b.header.hash());
            }
            TxKind::ProposeAssociation {
                name,
                url,
                account,
                proof,
            } => {
                crypto::verify(
                    account,
                    tag::ASSOCIATION,
                    &chain_id,
                    &goodwill::chain::tx::association_proof_body(name.as_slice(), url.as_slice()),
                    proof,
                )
                .expect("the association proof verifies");
            }
            _ => {}
        }
    }
}

#[test]
fn pinned_signing_message_has_the_tag_format() {
    let pinned = pinned();
    let v = &pinned.tx_signing_message;
    let chain_id = hash("chain id", &pinned.genesis.chain_id);
    // len(tag) as one byte, the tag in ASCII, the 32-byte chain id.
    let mut prefix = vec![14u8];
    prefix.extend_from_slice(b"goodwill/tx/v1");
    prefix.extend_from_slice(&chain_id.0);
    assert_eq!(v.tag, "goodwill/tx/v1");
    assert_eq!(unhex("prefix", &v.prefix_hex), prefix);
    let message = unhex("message", &v.message_hex);
    let tx_vector = pinned
        .transactions
        .iter()
        .find(|t| t.kind == v.kind)
        .expect("the signing message names a pinned transaction");
    let tx = SignedTransaction::from_bytes(&unhex(&v.kind, &tx_vector.bytes_hex)).unwrap();
    let body = encode(&tx.tx);
    assert_eq!(message, [prefix.as_slice(), body.as_slice()].concat());
    // Plain ed25519 over that exact message is the transaction's signature.
    crypto::verify_raw(&tx.tx.sender, &message, &tx.signature)
        .expect("the signature covers exactly the pinned message");
}

#[test]
fn pinned_header_decodes_and_verifies() {
    let pinned = pinned();
    let chain_id = hash("chain id", &pinned.genesis.chain_id);
    let raw = unhex("header", &pinned.header.bytes_hex);
    let h = SignedHeader::from_bytes(&raw).expect("pinned header decodes");
    assert_eq!(h, sample_header(chain_id, 0x11));
    h.verify().expect("pinned header signature verifies");
    assert_eq!(h.header.hash(), hash("header", &pinned.header.hash));
    // The hash covers the header, not the signature.
    assert_eq!(
        Hash::of(&[&raw[..raw.len() - 64]]),
        hash("header", &pinned.header.hash)
    );
}

#[test]
fn pinned_block_decodes_and_verifies() {
    let pinned = pinned();
    let p = params();
    let chain_id = hash("chain id", &pinned.genesis.chain_id);
    let raw = unhex("block", &pinned.block.bytes_hex);
    let b = Block::from_bytes(&raw, block_limit(&p)).expect("pinned block decodes");
    assert_eq!(b, sample_block(chain_id, sample_txs(chain_id)));
    b.header.verify().expect("pinned block header verifies");
    assert_eq!(b.hash(), hash("block", &pinned.block.hash));
    let ids: Vec<Hash> = b
        .txs
        .iter()
        .map(|t| t.check().expect("every pinned tx verifies").id)
        .collect();
    let root = hash("tx root", &pinned.block.tx_root);
    assert_eq!(merkle::root(&ids), root);
    assert_eq!(b.header.header.tx_root, root);
    for (i, id) in ids.iter().enumerate() {
        let proof = merkle::prove(&ids, i).unwrap();
        assert!(merkle::verify(&root, id, &proof), "inclusion proof {i}");
    }
    let pinned_ids: Vec<Hash> = pinned
        .transactions
        .iter()
        .map(|t| hash(&t.kind, &t.id))
        .collect();
    assert_eq!(ids, pinned_ids, "the block holds the pinned transactions");
}

#[test]
fn a_flipped_bit_in_pinned_bytes_is_caught() {
    // The checks above can fail: a corrupted signature no longer verifies,
    // and corrupted bytes no longer hash to the pinned id.
    let pinned = pinned();
    let mut raw = unhex("transfer", &pinned.transactions[0].bytes_hex);
    let last = raw.len() - 1;
    raw[last] ^= 1;
    let tx = SignedTransaction::from_bytes(&raw).expect("still decodes");
    assert!(tx.check().is_err());
    assert_ne!(tx.id().to_hex(), pinned.transactions[0].id);

    // Byte 3 lies in the chain id (after the one-byte version): still a
    // header, but no longer the one that was signed.
    let mut raw = unhex("header", &pinned.header.bytes_hex);
    raw[3] ^= 1;
    let h = SignedHeader::from_bytes(&raw).expect("still decodes");
    assert_eq!(h.verify(), Err(crypto::SignatureError::Mismatch));
    assert_ne!(h.header.hash().to_hex(), pinned.header.hash);
}
