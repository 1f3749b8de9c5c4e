//! The ed25519 under every goodwill signature, checked against published
//! vectors, and the domain separation built on top of it.
//!
//! - RFC 8032 section 7.1 (TEST 1, 2, 3, 1024 and SHA(abc)): keys derived
//!   from the seeds and signatures must match byte for byte, verify, and
//!   stop verifying when one bit flips.
//! - Wycheproof's ed25519 verification set: every case through
//!   [`chain::crypto::verify_raw`], which must accept exactly the valid ones.
//! - Malleability: `S + L` in place of `S` is refused.
//! - Domain separation through the public APIs: a transaction or header
//!   signed for one chain, or under another tag, does not verify.

use goodwill::chain::block::{Header, SignedHeader, VERSION};
use goodwill::chain::codec::{encode, Bytes};
use goodwill::chain::crypto::{self, tag, Hash, Keypair, PublicKey, Signature, SignatureError};
use goodwill::chain::tx::{
    association_proof, association_proof_body, StatelessError, Transaction, TxKind,
};
use sha2::{Digest, Sha512};

fn unhex<const N: usize>(s: &str) -> [u8; N] {
    let v = hex::decode(s).expect("constant is hex");
    v.try_into().expect("constant has the right length")
}

/// One RFC 8032 section 7.1 test.
struct Rfc8032 {
    name: &'static str,
    secret: &'static str,
    public: &'static str,
    message: &'static str,
    signature: &'static str,
}

const TEST_1024_MESSAGE: &str = concat!(
    "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98",
    "fa6e264bf09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d8",
    "79de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d",
    "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc",
    "1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4fe",
    "ba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e",
    "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbef",
    "efd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec7",
    "aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1",
    "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2",
    "d17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24",
    "554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270",
    "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc",
    "2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b07",
    "07e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba",
    "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51a",
    "ddd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429e",
    "c96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7",
    "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c",
    "42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8",
    "ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df",
    "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08",
    "d78ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649",
    "de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4",
    "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a3",
    "2ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e",
    "6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f",
    "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b5",
    "0d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1",
    "369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d",
    "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c",
    "0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0",
);

const RFC8032: &[Rfc8032] = &[
    Rfc8032 {
        name: "TEST 1",
        secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        public: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        message: "",
        signature: concat!(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155",
            "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
    },
    Rfc8032 {
        name: "TEST 2",
        secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        public: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        message: "72",
        signature: concat!(
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da",
            "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
    },
    Rfc8032 {
        name: "TEST 3",
        secret: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        public: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        message: "af82",
        signature: concat!(
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac",
            "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        ),
    },
    Rfc8032 {
        name: "TEST 1024",
        secret: "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
        public: "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
        message: TEST_1024_MESSAGE,
        signature: concat!(
            "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350",
            "aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03",
        ),
    },
    Rfc8032 {
        name: "TEST SHA(abc)",
        secret: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        public: "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        message: concat!(
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a",
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
        signature: concat!(
            "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589",
            "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
        ),
    },
];

/// The order of the base point, L = 2^252 + 27742317777372353535851937790883648493,
/// little-endian.
pub(crate) const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];

/// `a + b` as little-endian 256-bit integers; `None` on overflow.
pub(crate) fn add_le(a: &[u8; 32], b: &[u8; 32]) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let s = a[i] as u16 + b[i] as u16 + carry;
        out[i] = s as u8;
        carry = s >> 8;
    }
    (carry == 0).then_some(out)
}

fn flip_bit(bytes: &mut [u8], bit: usize) {
    bytes[bit / 8] ^= 1 << (bit % 8);
}

// ------------------------------------------------------------ RFC 8032 7.1

#[test]
fn rfc8032_message_lengths_are_the_published_ones() {
    // A typo in the long constants would change a length or the SHA(abc) input.
    let lengths: Vec<usize> = RFC8032
        .iter()
        .map(|v| hex::decode(v.message).unwrap().len())
        .collect();
    assert_eq!(lengths, [0, 1, 2, 1023, 64]);
    let abc: [u8; 64] = Sha512::digest(b"abc").into();
    assert_eq!(hex::decode(RFC8032[4].message).unwrap(), abc);
}

#[test]
fn rfc8032_section_7_1_signatures_match_and_verify() {
    for v in RFC8032 {
        let key = Keypair::from_seed(unhex(v.secret)).unwrap();
        let public = PublicKey(unhex(v.public));
        let message = hex::decode(v.message).unwrap();
        let expected = Signature(unhex(v.signature));

        assert_eq!(key.public(), public, "{}: public key", v.name);
        assert_eq!(key.seed(), unhex::<32>(v.secret), "{}: seed", v.name);
        let sig = key.sign_raw(&message);
        assert_eq!(
            hex::encode(sig.0),
            v.signature,
            "{}: signature differs from RFC 8032",
            v.name
        );
        assert_eq!(
            crypto::verify_raw(&public, &message, &expected),
            Ok(()),
            "{}",
            v.name
        );
        public.validate().unwrap();

        // One flipped bit anywhere — message, R, S, key — and it fails.
        if !message.is_empty() {
            for bit in [0, message.len() * 8 - 1] {
                let mut m = message.clone();
                flip_bit(&mut m, bit);
                assert!(
                    crypto::verify_raw(&public, &m, &expected).is_err(),
                    "{}: message bit {bit}",
                    v.name
                );
            }
        }
        let mut longer = message.clone();
        longer.push(0);
        assert!(crypto::verify_raw(&public, &longer, &expected).is_err());
        for bit in [0, 255, 256, 300, 511] {
            let mut s = expected;
            flip_bit(&mut s.0, bit);
            assert!(
                crypto::verify_raw(&public, &message, &s).is_err(),
                "{}: signature bit {bit}",
                v.name
            );
        }
        for bit in [0, 100, 254] {
            let mut k = public;
            flip_bit(&mut k.0, bit);
            assert!(
                crypto::verify_raw(&k, &message, &expected).is_err(),
                "{}: key bit {bit}",
                v.name
            );
        }
    }
}

#[test]
fn non_canonical_s_is_refused() {
    // S + L is the same scalar mod L, so a lax verifier would accept it: a
    // second valid signature for the same message, a second transaction id.
    for v in RFC8032 {
        let public = PublicKey(unhex(v.public));
        let message = hex::decode(v.message).unwrap();
        let good = Signature(unhex(v.signature));
        let s: [u8; 32] = good.0[32..].try_into().unwrap();
        // S < L < 2^253, so S + L < 2^254 always fits.
        let s_plus_l = add_le(&s, &L).expect("S + L fits in 256 bits");
        let mut bad = good;
        bad.0[32..].copy_from_slice(&s_plus_l);
        assert_ne!(bad, good);
        assert_eq!(crypto::verify_raw(&public, &message, &good), Ok(()));
        assert_eq!(
            crypto::verify_raw(&public, &message, &bad),
            Err(SignatureError::Mismatch),
            "{}: S + L must be refused",
            v.name
        );
    }
    // The same through the domain-separated verify.
    let k = Keypair::from_seed([5; 32]).unwrap();
    let chain = Hash([9; 32]);
    let good = k.sign(tag::TX, &chain, b"body");
    let mut bad = good;
    let s: [u8; 32] = good.0[32..].try_into().unwrap();
    bad.0[32..].copy_from_slice(&add_le(&s, &L).unwrap());
    assert_eq!(
        crypto::verify(&k.public(), tag::TX, &chain, b"body", &good),
        Ok(())
    );
    assert!(crypto::verify(&k.public(), tag::TX, &chain, b"body", &bad).is_err());
}

// ---------------------------------------------------------------- Wycheproof

#[test]
fn wycheproof_ed25519_every_case() {
    use wycheproof::eddsa::{TestName, TestSet};
    use wycheproof::TestResult;

    let set = TestSet::load(TestName::Ed25519).expect("the Wycheproof ed25519 set loads");
    let (mut total, mut passed, mut valid, mut invalid, mut acceptable) = (0, 0, 0, 0, 0);
    let mut wrong_length = 0;
    let mut failures = Vec::new();
    for group in &set.test_groups {
        let pk: Option<[u8; 32]> = group.key.pk.as_ref().try_into().ok();
        for t in &group.tests {
            total += 1;
            let sig: Option<[u8; 64]> = t.sig.as_ref().try_into().ok();
            // A key or signature of the wrong length cannot even be built as
            // a PublicKey or Signature (the decoders read fixed-size arrays):
            // that is its rejection.
            let outcome = match (pk, sig) {
                (Some(pk), Some(sig)) => {
                    crypto::verify_raw(&PublicKey(pk), &t.msg, &Signature(sig))
                }
                _ => {
                    wrong_length += 1;
                    Err(SignatureError::Mismatch)
                }
            };
            let ok = match t.result {
                TestResult::Valid => {
                    valid += 1;
                    outcome.is_ok()
                }
                TestResult::Invalid => {
                    invalid += 1;
                    outcome.is_err()
                }
                TestResult::Acceptable => {
                    acceptable += 1;
                    println!(
                        "wycheproof tc {} ({}) is acceptable either way: {outcome:?}",
                        t.tc_id, t.comment
                    );
                    true
                }
            };
            if ok {
                passed += 1;
            } else {
                failures.push(format!(
                    "tc {} ({}, {:?}, flags {:?}): got {outcome:?}",
                    t.tc_id, t.comment, t.result, t.flags
                ));
            }
        }
    }
    println!(
        "wycheproof ed25519: {passed}/{total} passed \
         ({valid} valid, {invalid} invalid of which {wrong_length} have a wrong length, \
         {acceptable} acceptable)"
    );
    assert!(
        failures.is_empty(),
        "Wycheproof failures:\n{}",
        failures.join("\n")
    );
    assert_eq!(total, set.number_of_tests);
    assert!(
        total >= 100 && valid > 0 && invalid > 0,
        "the set did not load fully"
    );
}

// ------------------------------------------------------- domain separation

fn sample_tx(chain_id: Hash, key: &Keypair) -> Transaction {
    Transaction {
        chain_id,
        sender: key.public(),
        nonce: 0,
        fee: 10,
        kind: TxKind::Transfer {
            to: Keypair::from_seed([2; 32]).unwrap().public(),
            amount: 1_000,
        },
        memo: Bytes::new(b"rent".to_vec()).unwrap(),
    }
}

fn sample_header(chain_id: Hash, key: &Keypair) -> Header {
    Header {
        version: VERSION,
        chain_id,
        height: 5,
        slot: 9,
        parent: Hash([3; 32]),
        tx_root: Hash::ZERO,
        state_digest: Hash([4; 32]),
        forger: key.public(),
        vrf: crypto::vrf_prove(
            key,
            &goodwill::chain::block::vrf_input(&chain_id, &Hash([5; 32]), 9),
        )
        .0,
    }
}

const CHAIN_A: Hash = Hash([0xaa; 32]);
const CHAIN_B: Hash = Hash([0xbb; 32]);

#[test]
fn a_transaction_signed_for_one_chain_does_not_verify_on_another() {
    let key = Keypair::from_seed([1; 32]).unwrap();
    let signed = sample_tx(CHAIN_A, &key).sign(&key);
    signed
        .check()
        .expect("valid on the chain it was signed for");

    let mut replayed = signed.clone();
    replayed.tx.chain_id = CHAIN_B;
    assert_eq!(
        replayed.check(),
        Err(StatelessError::Signature(SignatureError::Mismatch))
    );
    // Signed properly for B, it is valid there, with another id.
    let for_b = sample_tx(CHAIN_B, &key).sign(&key);
    for_b.check().unwrap();
    assert_ne!(for_b.signature, signed.signature);
    assert_ne!(for_b.id(), signed.id());
}

#[test]
fn a_transaction_signature_under_another_tag_or_none_is_refused() {
    let key = Keypair::from_seed([1; 32]).unwrap();
    let tx = sample_tx(CHAIN_A, &key);
    let body = encode(&tx);
    let mut signed = tx.clone().sign(&key);
    signed.check().unwrap();
    for other in [
        tag::HEADER,
        tag::ASSOCIATION,
        tag::GENESIS,
        "goodwill/tx/v2",
    ] {
        signed.signature = key.sign(other, &CHAIN_A, &body);
        assert_eq!(
            signed.check(),
            Err(StatelessError::Signature(SignatureError::Mismatch)),
            "a signature under {other} passed for a transaction"
        );
    }
    // Plain ed25519 over the bare body (no tag, no chain id) is refused too.
    signed.signature = key.sign_raw(&body);
    assert!(signed.check().is_err());
    // And the tagged message signed raw is exactly the real signature.
    signed.signature = key.sign_raw(&crypto::signing_message(tag::TX, &CHAIN_A, &body));
    signed.check().expect("sign = sign_raw(signing_message)");
}

#[test]
fn a_header_signed_for_one_chain_or_tag_does_not_verify_elsewhere() {
    let key = Keypair::from_seed([7; 32]).unwrap();
    let signed = sample_header(CHAIN_A, &key).sign(&key);
    signed.verify().expect("valid on its own chain");

    let mut replayed: SignedHeader = signed.clone();
    replayed.header.chain_id = CHAIN_B;
    assert_eq!(replayed.verify(), Err(SignatureError::Mismatch));

    let body = encode(&signed.header);
    for other in [tag::TX, tag::ASSOCIATION, "goodwill/header/v2"] {
        let mut h = signed.clone();
        h.signature = key.sign(other, &CHAIN_A, &body);
        assert_eq!(
            h.verify(),
            Err(SignatureError::Mismatch),
            "a signature under {other} passed for a header"
        );
    }
    let mut h = signed.clone();
    h.signature = key.sign(tag::HEADER, &CHAIN_B, &body);
    assert_eq!(h.verify(), Err(SignatureError::Mismatch));
}

#[test]
fn an_association_proof_is_bound_to_its_chain() {
    let association = Keypair::from_seed([8; 32]).unwrap();
    let (name, url) = (b"Oxfam".as_slice(), b"https://oxfam.org".as_slice());
    let proof = association_proof(&association, &CHAIN_A, name, url);
    let body = association_proof_body(name, url);
    let check =
        |chain: &Hash, t: &str| crypto::verify(&association.public(), t, chain, &body, &proof);
    assert_eq!(check(&CHAIN_A, tag::ASSOCIATION), Ok(()));
    assert_eq!(
        check(&CHAIN_B, tag::ASSOCIATION),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(check(&CHAIN_A, tag::TX), Err(SignatureError::Mismatch));
}

/// RFC 9381 appendix B.3 (ECVRF-EDWARDS25519-SHA512-TAI, examples 16–18):
/// secret, public key, alpha, pi, beta.
const RFC9381_TAI: [(&str, &str, &str, &str, &str); 3] = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "8657106690b5526245a92b003bb079ccd1a92130477671f6fc01ad16f26f723f26f8a57ccaed74ee1b190bed1f479d9727d2d0f9b005a6e456a35d4fb0daab1268a1b0db10836d9826a528ca76567805",
        "90cf1df3b703cce59e2a35b925d411164068269d7b2d29f3301c03dd757876ff66b71dda49d2de59d03450451af026798e8f81cd2e333de5cdf4f3e140fdd8ae",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "f3141cd382dc42909d19ec5110469e4feae18300e94f304590abdced48aed5933bf0864a62558b3ed7f2fea45c92a465301b3bbf5e3e54ddf2d935be3b67926da3ef39226bbc355bdc9850112c8f4b02",
        "eb4440665d3891d668e7e0fcaf587f1b4bd7fbfe99d0eb2211ccec90496310eb5e33821bc613efb94db5e5b54c70a848a0bef4553a41befc57663b56373a5031",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "9bc0f79119cc5604bf02d23b4caede71393cedfbb191434dd016d30177ccbf8096bb474e53895c362d8628ee9f9ea3c0e52c7a5c691b6c18c9979866568add7a2d41b00b05081ed0f58ee5e31b3a970e",
        "645427e5d00c62a23fb703732fa5d892940935942101e456ecca7bb217c61c452118fec1219202a0edcf038bb6373241578be7217ba85a2687f7a0310b2df19f",
    ),
];

#[test]
fn rfc9381_ecvrf_edwards25519_tai_vectors_prove_and_verify() {
    use goodwill::chain::crypto::{vrf_prove, vrf_verify, VrfError, VrfProof};
    for (i, (sk, pk, alpha, pi, beta)) in RFC9381_TAI.iter().enumerate() {
        let key = Keypair::from_seed(unhex::<32>(sk)).unwrap();
        assert_eq!(key.public(), PublicKey(unhex::<32>(pk)), "vector {i}: key");
        let alpha = hex::decode(alpha).unwrap();
        let (proof, out) = vrf_prove(&key, &alpha);
        assert_eq!(proof, VrfProof(unhex::<80>(pi)), "vector {i}: pi");
        assert_eq!(out.0, unhex::<64>(beta), "vector {i}: beta");
        let out = vrf_verify(&key.public(), &alpha, &proof).expect("the RFC's proof verifies");
        assert_eq!(out.0, unhex::<64>(beta), "vector {i}: beta");
        // Another input, another key, or one flipped bit: refused.
        let mut other = alpha.clone();
        other.push(0);
        assert!(vrf_verify(&key.public(), &other, &proof).is_err());
        let stranger = Keypair::from_seed([7; 32]).unwrap().public();
        assert!(vrf_verify(&stranger, &alpha, &proof).is_err());
        for bit in [0, 300, 639] {
            let mut bad = proof;
            flip_bit(&mut bad.0, bit);
            assert!(
                vrf_verify(&key.public(), &alpha, &bad).is_err(),
                "bit {bit}"
            );
        }
        // s + L: the same output under a second encoding must be refused,
        // or one block could have two hashes.
        let mut s = [0u8; 32];
        s.copy_from_slice(&proof.0[48..]);
        if let Some(s2) = add_le(&s, &L) {
            let mut malleated = proof;
            malleated.0[48..].copy_from_slice(&s2);
            assert_eq!(
                vrf_verify(&key.public(), &alpha, &malleated),
                Err(VrfError::Malformed)
            );
        }
    }
}
