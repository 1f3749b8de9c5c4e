//! A block's signatures checked as one batch (`chain::crypto::SignatureBatch`,
//! `chain::tx::check_signatures`) accept and refuse exactly what checking
//! them one by one with ed25519-compact does:
//!
//! - every Wycheproof ed25519 case, alone and among valid signatures;
//! - keys and nonces with a small-order (torsion) part, which
//!   ed25519-compact's cofactored check accepts although `[S]B = R + [k]A`
//!   does not hold exactly: a batch must accept them too, or a block valid
//!   before would be refused now;
//! - blocks with damage of every kind at any place: the same first failing
//!   index and the same error, on one thread and on two.

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::Scalar;
use goodwill::chain::codec::encode;
use goodwill::chain::crypto::{self, tag, PublicKey, Signature, SignatureBatch};
use goodwill::chain::tx::{check_signatures, CheckedTx, SignedTransaction, StatelessError};
use goodwill::ledger::{check_transactions, Parallelism};
use proptest::prelude::*;
use sha2::{Digest, Sha512};

use crate::common::{self, kp, transfer, Chain};
use crate::ed25519_conformance::{add_le, L};

/// Whether `items` verify as one batch (a signature that cannot even be
/// pushed makes the batch fail, as `check_signatures` then checks alone).
fn batch_accepts(items: &[(PublicKey, Vec<u8>, Signature)]) -> bool {
    let mut batch = SignatureBatch::with_capacity(items.len());
    for (pk, msg, sig) in items {
        if !batch.push_parts(pk, sig, &[msg]) {
            return false;
        }
    }
    batch.verify()
}

/// Eight valid signatures by different keys, on different messages.
fn valid_items() -> Vec<(PublicKey, Vec<u8>, Signature)> {
    (0..8u8)
        .map(|i| {
            let k = kp(100 + i);
            let msg = vec![i; 1 + i as usize * 7];
            let sig = k.sign(tag::TX, &crypto::Hash([i; 32]), &msg);
            let full = crypto::signing_message(tag::TX, &crypto::Hash([i; 32]), &msg);
            (k.public(), full, sig)
        })
        .collect()
}

#[test]
fn every_wycheproof_case_is_judged_alike_alone_and_in_a_batch() {
    use wycheproof::eddsa::{TestName, TestSet};

    let set = TestSet::load(TestName::Ed25519).expect("the Wycheproof ed25519 set loads");
    let valid = valid_items();
    let (mut checked, mut accepted) = (0, 0);
    for group in &set.test_groups {
        let Ok(pk) = <[u8; 32]>::try_from(group.key.pk.as_ref()) else {
            continue;
        };
        for t in &group.tests {
            let Ok(sig) = <[u8; 64]>::try_from(t.sig.as_ref()) else {
                continue;
            };
            let item = (PublicKey(pk), t.msg.to_vec(), Signature(sig));
            let alone = crypto::verify_raw(&item.0, &item.1, &item.2).is_ok();
            assert_eq!(
                batch_accepts(std::slice::from_ref(&item)),
                alone,
                "tc {} ({}) alone",
                t.tc_id,
                t.comment
            );
            for at in [0, 4, 8] {
                let mut items = valid.clone();
                items.insert(at, item.clone());
                assert_eq!(
                    batch_accepts(&items),
                    alone,
                    "tc {} ({}) at {at} of 9",
                    t.tc_id,
                    t.comment
                );
            }
            checked += 1;
            accepted += usize::from(alone);
        }
    }
    assert!(
        checked >= 100 && accepted > 0 && accepted < checked,
        "{checked} cases, {accepted} valid"
    );
    assert!(batch_accepts(&valid), "eight valid signatures");
}

/// A signer whose public key is `[a]B + T₁` and whose nonce point is
/// `[r]B + T₂`, `T` points of the eight-torsion: what ed25519-compact does
/// with its signatures is what the chain's rule is.
struct Twisted {
    a: Scalar,
    key_torsion: usize,
    nonce_torsion: usize,
}

impl Twisted {
    fn new(seed: u8, key_torsion: usize, nonce_torsion: usize) -> Twisted {
        let a = Scalar::from_bytes_mod_order_wide(&Sha512::digest([seed; 7]).into());
        Twisted {
            a,
            key_torsion,
            nonce_torsion,
        }
    }

    fn public(&self) -> PublicKey {
        PublicKey(
            (ED25519_BASEPOINT_POINT * self.a + EIGHT_TORSION[self.key_torsion])
                .compress()
                .0,
        )
    }

    /// `S = r + k·a`: `[S]B − [k]A − R = −[k]T₁ − T₂`, a point of small order.
    fn sign(&self, msg: &[u8]) -> Signature {
        let mut h = Sha512::new();
        h.update(self.a.as_bytes());
        h.update(msg);
        let r = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
        let big_r = (ED25519_BASEPOINT_POINT * r + EIGHT_TORSION[self.nonce_torsion]).compress();
        let mut h = Sha512::new();
        h.update(big_r.0);
        h.update(self.public().0);
        h.update(msg);
        let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
        let s = r + k * self.a;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&big_r.0);
        sig[32..].copy_from_slice(s.as_bytes());
        Signature(sig)
    }
}

#[test]
fn torsion_in_a_key_or_a_nonce_is_judged_as_ed25519_compact_judges_it() {
    let valid = valid_items();
    let mut strict_would_refuse = 0;
    for key_torsion in 0..8 {
        for nonce_torsion in 0..8 {
            let signer = Twisted::new(
                (key_torsion * 8 + nonce_torsion) as u8,
                key_torsion,
                nonce_torsion,
            );
            let msg = format!("torsion {key_torsion} {nonce_torsion}").into_bytes();
            let sig = signer.sign(&msg);
            let item = (signer.public(), msg.clone(), sig);
            // ed25519-compact checks the cofactored equation: it accepts.
            assert_eq!(
                crypto::verify_raw(&item.0, &msg, &sig),
                Ok(()),
                "ed25519-compact on torsion {key_torsion}/{nonce_torsion}"
            );
            assert!(
                batch_accepts(std::slice::from_ref(&item)),
                "alone, {key_torsion}/{nonce_torsion}"
            );
            let mut items = valid.clone();
            items.insert(3, item.clone());
            assert!(
                batch_accepts(&items),
                "among others, {key_torsion}/{nonce_torsion}"
            );
            // One more in S: refused by both.
            let mut bad = sig;
            let s = Scalar::from_canonical_bytes(bad.0[32..].try_into().unwrap()).unwrap()
                + Scalar::ONE;
            bad.0[32..].copy_from_slice(s.as_bytes());
            assert!(crypto::verify_raw(&item.0, &msg, &bad).is_err());
            items[3].2 = bad;
            assert!(
                !batch_accepts(&items),
                "S + 1, {key_torsion}/{nonce_torsion}"
            );
            // Whether the exact equation [S]B = R + [k]A holds: only when the
            // torsion parts cancel.
            let a = curve25519_dalek::edwards::CompressedEdwardsY(item.0 .0)
                .decompress()
                .unwrap();
            let r = curve25519_dalek::edwards::CompressedEdwardsY(sig.0[..32].try_into().unwrap())
                .decompress()
                .unwrap();
            let mut h = Sha512::new();
            h.update(&sig.0[..32]);
            h.update(item.0 .0);
            h.update(&msg);
            let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
            let s = Scalar::from_canonical_bytes(sig.0[32..].try_into().unwrap()).unwrap();
            if ED25519_BASEPOINT_POINT * s != r + a * k {
                strict_would_refuse += 1;
            }
        }
    }
    // Most of these signatures would be refused by a cofactorless check:
    // the batch had to accept what a strict single check would not.
    assert!(strict_would_refuse >= 48, "{strict_would_refuse} of 64");
}

/// How a transaction of a generated block is spoilt.
#[derive(Debug, Clone, Copy)]
enum Damage {
    None,
    /// One bit of R flipped.
    RBit(u8),
    /// One bit of S flipped.
    SBit(u8),
    /// S + L: the same point, a non-canonical scalar.
    SPlusL,
    /// The amount changed after signing.
    Body,
    /// Sent and signed by a key with a torsion part (valid, cofactored).
    Torsion(u8),
    /// Sent by one of the eight small-order points.
    SmallOrderKey(u8),
    /// R replaced by a non-canonical encoding (y ≥ p).
    NonCanonicalR(u8),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        6 => Just(Damage::None),
        1 => any::<u8>().prop_map(Damage::RBit),
        1 => any::<u8>().prop_map(Damage::SBit),
        1 => Just(Damage::SPlusL),
        1 => Just(Damage::Body),
        2 => any::<u8>().prop_map(Damage::Torsion),
        1 => any::<u8>().prop_map(Damage::SmallOrderKey),
        1 => (0u8..19).prop_map(Damage::NonCanonicalR),
    ]
}

fn spoilt(c: &Chain, i: usize, d: Damage) -> SignedTransaction {
    let key = kp(30 + (i % 50) as u8);
    let mut stx = c.tx_n(&key, i as u64, transfer(&kp(90).public(), 1 + i as u64));
    match d {
        Damage::None => {}
        Damage::RBit(b) => stx.signature.0[(b % 32) as usize] ^= 1 << (b % 8),
        Damage::SBit(b) => stx.signature.0[32 + (b % 32) as usize] ^= 1 << (b % 8),
        Damage::SPlusL => {
            let s: [u8; 32] = stx.signature.0[32..].try_into().expect("32 bytes");
            let s = add_le(&s, &L).expect("S + L fits in 256 bits");
            stx.signature.0[32..].copy_from_slice(&s);
        }
        Damage::Body => stx.tx.fee += 1,
        Damage::Torsion(t) => {
            let signer = Twisted::new(t, (t % 8) as usize, (t / 8 % 8) as usize);
            stx.tx.sender = signer.public();
            let msg = crypto::signing_message(tag::TX, &stx.tx.chain_id, &encode(&stx.tx));
            stx.signature = signer.sign(&msg);
        }
        Damage::SmallOrderKey(t) => {
            stx.tx.sender = PublicKey(EIGHT_TORSION[(t % 8) as usize].compress().0)
        }
        Damage::NonCanonicalR(k) => {
            // p + k: the y of p + k ≡ k, written with the top value.
            let mut r = [0xffu8; 32];
            r[0] = 0xed + k;
            r[31] = 0x7f;
            stx.signature.0[..32].copy_from_slice(&r);
        }
    }
    stx
}

/// What checking one by one says: every id and size, or the first failure.
fn one_by_one(txs: &[SignedTransaction]) -> Result<Vec<CheckedTx>, (usize, StatelessError)> {
    txs.iter()
        .enumerate()
        .map(|(i, t)| t.check_signature().map_err(|e| (i, e)))
        .collect()
}

proptest! {
    #![proptest_config(common::proptest_cases(48))]

    /// A block's signatures checked as a batch give the same answer as
    /// checked one by one: every id, or the same first index and error, on
    /// one thread and on two.
    #[test]
    fn a_batch_gives_the_answers_of_one_by_one(damages in proptest::collection::vec(damage(), 0..48)) {
        let c = Chain::new();
        let txs: Vec<SignedTransaction> =
            damages.iter().enumerate().map(|(i, d)| spoilt(&c, i, *d)).collect();
        let expected = one_by_one(&txs);
        prop_assert_eq!(&check_signatures(&txs), &expected);
        for p in [Parallelism::Single, Parallelism::Threads(2)] {
            prop_assert_eq!(&check_transactions(&txs, p), &expected, "{:?}", p);
        }
    }
}

#[test]
fn one_bad_signature_is_found_wherever_it_sits_in_a_block() {
    let c = Chain::new();
    for at in [0, 1, 31, 63] {
        for d in [
            Damage::SBit(3),
            Damage::Body,
            Damage::SPlusL,
            Damage::SmallOrderKey(2),
        ] {
            let txs: Vec<SignedTransaction> = (0..64)
                .map(|i| spoilt(&c, i, if i == at { d } else { Damage::None }))
                .collect();
            let got = check_signatures(&txs);
            assert_eq!(got, one_by_one(&txs), "{d:?} at {at}");
            assert!(
                matches!(got, Err((i, _)) if i == at),
                "{d:?} at {at}: {got:?}"
            );
        }
    }
    let txs: Vec<SignedTransaction> = (0..64)
        .map(|i| spoilt(&c, i, Damage::Torsion(i as u8)))
        .collect();
    assert_eq!(
        check_signatures(&txs).map(|v| v.len()),
        Ok(64),
        "64 torsion-keyed senders"
    );
}
