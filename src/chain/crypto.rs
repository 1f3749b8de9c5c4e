//! Hashes, keys and signatures: SHA-256 and ed25519, with domain separation.
//!
//! Every signed thing in goodwill is signed over
//! `len(tag) ‖ tag ‖ chain id ‖ canonical body` (see [`Keypair::sign`] and [`verify`]),
//! so a signature made for one purpose or one chain is worthless for another.
//! This module is the only place that touches the ed25519 implementation,
//! and the only door to the VRF (ECVRF-EDWARDS25519-SHA512-TAI, RFC 9381):
//! [`vrf_prove`] and [`vrf_verify`].

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Domain tags: one per kind of signed or hashed thing. A new version of a
/// format gets a new tag, never a reused one.
pub mod tag {
    /// A transaction's signature.
    pub const TX: &str = "goodwill/tx/v1";
    /// A block header's signature.
    pub const HEADER: &str = "goodwill/header/v1";
    /// An association's proof that it controls its receiving key.
    pub const ASSOCIATION: &str = "goodwill/association/v1";
    /// The chain id: the hash of the canonical genesis.
    pub const GENESIS: &str = "goodwill/genesis/v1";
    /// The running state digest.
    pub const STATE: &str = "goodwill/state/v1";
    /// Leader draws.
    pub const LEADER: &str = "goodwill/leader/v1";
    /// Epoch seeds.
    pub const SEED: &str = "goodwill/seed/v1";
    /// The handshake's proof of key possession.
    pub const HANDSHAKE: &str = "goodwill/handshake/v1";
    /// Ids of the associations listed in the genesis.
    pub const GENESIS_ASSOCIATION: &str = "goodwill/genesis-association/v1";
    /// A block's VRF input (`alpha`): chain id, epoch seed, slot.
    pub const VRF: &str = "goodwill/vrf/v1";
    /// The running mix of an epoch's VRF outputs.
    pub const MIX: &str = "goodwill/mix/v1";
}

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero hash: the parent of the first block's parent.
    pub const ZERO: Hash = Hash([0; 32]);

    /// SHA-256 of the concatenation of `parts`.
    pub fn of(parts: &[&[u8]]) -> Hash {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        Hash(h.finalize().into())
    }

    /// SHA-256 of `len(tag) ‖ tag ‖ parts…`: a hash that cannot collide with
    /// one made for another purpose.
    pub fn tagged(tag: &str, parts: &[&[u8]]) -> Hash {
        let mut h = Sha256::new();
        h.update([tag.len() as u8]);
        h.update(tag.as_bytes());
        for p in parts {
            h.update(p);
        }
        Hash(h.finalize().into())
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Hash, HexError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut out).map_err(|_| HexError {
            what: "hash",
            expected: 64,
            got: s.trim().to_string(),
        })?;
        Ok(Hash(out))
    }

    /// The first eight hex digits, for tables and logs.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.short())
    }
}

/// A string that is not the hex it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} must be {expected} hex digits, got {got:?}")]
pub struct HexError {
    what: &'static str,
    expected: usize,
    got: String,
}

/// An ed25519 public key: an account, a forger, an association.
///
/// Only the length is known to be right; whether the bytes are a valid,
/// non-weak point is checked by [`verify`] (and by [`PublicKey::validate`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// Checks that the key is a canonical encoding of a point of large order.
    pub fn validate(&self) -> Result<(), SignatureError> {
        ed25519_compact::PublicKey::new(self.0)
            .validate()
            .map_err(|_| SignatureError::BadPublicKey)
    }
}

// A public key's text forms (Debug, Display, serde's human-readable form)
// are its address: they live in `chain::address`, which builds on this
// module.

/// An ed25519 signature (R ‖ S).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}…)", hex::encode(&self.0[..8]))
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The public key is not a valid point, or is a weak (small-order) one.
    #[error("public key is not a valid ed25519 point of large order")]
    BadPublicKey,
    /// The signature is malformed (non-canonical S, R not a point) or does not
    /// match the message and key.
    #[error("signature does not verify")]
    Mismatch,
}

/// An ed25519 key pair. The secret never leaves this type except through
/// [`Keypair::seed`], which the key file module uses to write it down.
#[derive(Clone)]
pub struct Keypair {
    inner: ed25519_compact::KeyPair,
    seed: [u8; 32],
}

impl Keypair {
    /// The key pair of a 32-byte secret seed. An all-zero seed is refused:
    /// it can only come from a broken random source or a blank file.
    pub fn from_seed(seed: [u8; 32]) -> Result<Keypair, SignatureError> {
        let inner = ed25519_compact::KeyPair::try_from_seed(ed25519_compact::Seed::new(seed))
            .map_err(|_| SignatureError::BadPublicKey)?;
        Ok(Keypair { inner, seed })
    }

    /// A fresh key pair from `random` (32 random bytes a call; the runtime
    /// passes the OS source: [`crate::runtime::os::new_keypair`]).
    pub fn generate(mut random: impl FnMut() -> [u8; 32]) -> Keypair {
        loop {
            if let Ok(k) = Keypair::from_seed(random()) {
                return k;
            }
        }
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(*self.inner.pk)
    }

    /// The secret seed: for writing a key file, nothing else.
    pub fn seed(&self) -> [u8; 32] {
        self.seed
    }

    /// Signs `body` for purpose `tag` on chain `chain_id` (deterministic, RFC 8032).
    pub fn sign(&self, tag: &str, chain_id: &Hash, body: &[u8]) -> Signature {
        let msg = signing_message(tag, chain_id, body);
        Signature(*self.inner.sk.sign(&msg, None))
    }

    /// Signs raw bytes with no domain separation (RFC 8032 test vectors only).
    pub fn sign_raw(&self, msg: &[u8]) -> Signature {
        Signature(*self.inner.sk.sign(msg, None))
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({})", self.public())
    }
}

/// The bytes of an ECVRF-EDWARDS25519-SHA512-TAI proof: Gamma (32) ‖ c (16) ‖ s (32).
pub const VRF_PROOF_BYTES: usize = 80;

/// An ECVRF-EDWARDS25519-SHA512-TAI proof (RFC 9381 §5.1): made with a
/// forger's ed25519 key (the same secret, RFC 8032 §5.1.5 expansion), checked
/// against its ed25519 public key. Unlike an ed25519 signature, a VRF output
/// is unique: for one key and one input there is exactly one output a
/// verifier accepts, so a forger cannot choose it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VrfProof(pub [u8; VRF_PROOF_BYTES]);

impl fmt::Debug for VrfProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VrfProof({})", hex::encode(&self.0[..8]))
    }
}

/// A VRF output (`beta`, 64 bytes: SHA-512 of the cofactor-cleared Gamma).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VrfOutput(pub [u8; 64]);

impl fmt::Debug for VrfOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VrfOutput({})", hex::encode(&self.0[..8]))
    }
}

/// Why a VRF proof is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VrfError {
    /// The public key does not decode to a usable point.
    #[error("the VRF public key is not a valid edwards25519 point")]
    BadPublicKey,
    /// The proof is not 80 canonical bytes (Gamma a canonical point
    /// encoding, s below the group order): a non-canonical encoding would
    /// give one output several proofs, and so one block several hashes.
    #[error("the VRF proof is not canonically encoded")]
    Malformed,
    /// The proof does not verify for this key and input.
    #[error("the VRF proof does not verify for this key and input")]
    Mismatch,
}

/// Proves `alpha` with `key` (RFC 9381 ECVRF_prove; deterministic).
///
/// The same secret signs ed25519 messages; the two nonces cannot collide:
/// the VRF's is SHA-512(prefix ‖ a 32-byte point), an ed25519 signature's is
/// SHA-512(prefix ‖ message), and every message goodwill signs is longer
/// than 32 bytes (a tag and a chain id come first).
pub fn vrf_prove(key: &Keypair, alpha: &[u8]) -> (VrfProof, VrfOutput) {
    use vrf_rfc9381::{Proof as _, Prover as _};
    let sk =
        vrf_rfc9381::ec::edwards25519::tai::EdVrfEdwards25519TaiSecretKey::from_slice(&key.seed)
            .expect("a 32-byte seed is a VRF secret key");
    let proof = sk
        .prove(alpha)
        .expect("try-and-increment finds a point with overwhelming probability");
    let beta = proof
        .proof_to_hash(vrf_rfc9381::Ciphersuite::ECVRF_EDWARDS25519_SHA512_TAI)
        .expect("an honest proof hashes");
    let pi = proof.encode_to_pi();
    (
        VrfProof(
            pi.try_into()
                .expect("an ECVRF edwards25519 proof is 80 bytes"),
        ),
        VrfOutput(
            beta.as_slice()
                .try_into()
                .expect("ECVRF edwards25519 output is 64 bytes"),
        ),
    )
}

/// Verifies `proof` of `alpha` by `pk` (RFC 9381 ECVRF_verify) and returns
/// its output. Non-canonical proofs are refused (see [`VrfError::Malformed`]).
pub fn vrf_verify(pk: &PublicKey, alpha: &[u8], proof: &VrfProof) -> Result<VrfOutput, VrfError> {
    use vrf_rfc9381::ec::edwards25519::{tai::EdVrfEdwards25519TaiPublicKey, EdVrfProof};
    use vrf_rfc9381::{Proof as _, Verifier as _};
    // The key is a forger's ed25519 key: refuse what ed25519 refuses
    // (non-canonical or small-order points), as RFC 9381 §5.4.5 asks.
    pk.validate().map_err(|_| VrfError::BadPublicKey)?;
    let key =
        EdVrfEdwards25519TaiPublicKey::from_slice(&pk.0).map_err(|_| VrfError::BadPublicKey)?;
    let decoded = EdVrfProof::decode_pi(&proof.0).map_err(|_| VrfError::Malformed)?;
    // The crate reduces s modulo the group order and accepts any y encoding:
    // re-encoding and comparing refuses both, so one output has one proof.
    if decoded.encode_to_pi() != proof.0 {
        return Err(VrfError::Malformed);
    }
    let beta = key.verify(alpha, decoded).map_err(|_| VrfError::Mismatch)?;
    Ok(VrfOutput(
        beta.as_slice()
            .try_into()
            .expect("ECVRF edwards25519 output is 64 bytes"),
    ))
}

/// The exact bytes a signature covers: `len(tag) ‖ tag ‖ chain id ‖ body`.
pub fn signing_message(tag: &str, chain_id: &Hash, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(1 + tag.len() + 32 + body.len());
    m.push(tag.len() as u8);
    m.extend_from_slice(tag.as_bytes());
    m.extend_from_slice(&chain_id.0);
    m.extend_from_slice(body);
    m
}

/// Verifies `sig` by `pk` over the domain-separated message (see
/// [`signing_message`]) without copying the body.
pub fn verify(
    pk: &PublicKey,
    tag: &str,
    chain_id: &Hash,
    body: &[u8],
    sig: &Signature,
) -> Result<(), SignatureError> {
    let key = ed25519_compact::PublicKey::new(pk.0);
    let sig = ed25519_compact::Signature::new(sig.0);
    let mut st = key.verify_incremental(&sig).map_err(|e| match e {
        ed25519_compact::Error::InvalidPublicKey | ed25519_compact::Error::WeakPublicKey => {
            SignatureError::BadPublicKey
        }
        _ => SignatureError::Mismatch,
    })?;
    st.absorb([tag.len() as u8]);
    st.absorb(tag.as_bytes());
    st.absorb(chain_id.0);
    st.absorb(body);
    st.verify().map_err(|_| SignatureError::Mismatch)
}

/// Verifies a signature over raw bytes with no domain separation: the plain
/// ed25519 of RFC 8032, used by the conformance tests (RFC 8032, Wycheproof)
/// to show that [`verify`] rests on a correct primitive.
pub fn verify_raw(pk: &PublicKey, msg: &[u8], sig: &Signature) -> Result<(), SignatureError> {
    let key = ed25519_compact::PublicKey::new(pk.0);
    key.verify(msg, &ed25519_compact::Signature::new(sig.0))
        .map_err(|e| match e {
            ed25519_compact::Error::InvalidPublicKey | ed25519_compact::Error::WeakPublicKey => {
                SignatureError::BadPublicKey
            }
            _ => SignatureError::Mismatch,
        })
}

/// Many signatures checked at once, with the acceptance rule of
/// [`verify`] and [`verify_raw`]: a block's transactions are checked this
/// way ([`crate::chain::tx::check_signatures`]).
///
/// **The rule.** ed25519-compact accepts a signature `R ‖ S` by key `A` on
/// message `M` when `S < L`, `A` and `R` are canonical encodings of points
/// of large order (y below p, no "negative zero" x), and
/// `[8]([S]B − [k]A − R)` is the identity, `k = SHA-512(R ‖ A ‖ M) mod L`
/// (it checks that the difference has small order: the *cofactored*
/// equation). [`SignatureBatch::push`] decodes with those same rules and
/// refuses what they refuse; [`SignatureBatch::verify`] checks
/// `[8](Σ zᵢ·([Sᵢ]B − [kᵢ]Aᵢ − Rᵢ))` is the identity with one multi-scalar
/// multiplication.
///
/// - If every signature satisfies the equation, every term is the
///   identity, and so is the sum: a batch of valid signatures is accepted.
/// - If one does not, its term is a point of the prime-order group other
///   than the identity; the sum is then the identity only if the `zᵢ`
///   happen to cancel it. Each `zᵢ` is 128 bits drawn by SHA-512 from every
///   signature, key, `S` and `k` in the batch (nothing is random: every node
///   draws the same, and the simulation stays deterministic), so whoever
///   builds the batch learns the `zᵢ` only after fixing its terms. A bad
///   batch is accepted with a chance of about 2⁻¹²⁷ per attempt, the same
///   bound as the randomized batch verification other chains use
///   (ZIP 215, which also takes the cofactored equation so that a batch and
///   a single verify agree).
///
/// A batch that is refused does not say which signature is wrong: the
/// caller checks them one by one with [`verify`] for the exact error, so
/// what is refused, and why, is decided by ed25519-compact as before.
pub struct SignatureBatch {
    keys: Vec<curve25519_dalek::EdwardsPoint>,
    rs: Vec<curve25519_dalek::EdwardsPoint>,
    ss: Vec<curve25519_dalek::Scalar>,
    ks: Vec<curve25519_dalek::Scalar>,
    transcript: sha2::Sha512,
}

impl SignatureBatch {
    /// The tag that starts the transcript the `zᵢ` are drawn from.
    const TRANSCRIPT: &'static [u8] = b"goodwill/signature-batch/v1";

    /// An empty batch with room for `n` signatures.
    pub fn with_capacity(n: usize) -> SignatureBatch {
        let mut transcript = sha2::Sha512::new();
        transcript.update(Self::TRANSCRIPT);
        SignatureBatch {
            keys: Vec::with_capacity(n),
            rs: Vec::with_capacity(n),
            ss: Vec::with_capacity(n),
            ks: Vec::with_capacity(n),
            transcript,
        }
    }

    /// Adds `sig` by `pk` over the domain-separated message
    /// (see [`signing_message`]). False, and nothing added, when the
    /// signature cannot verify from its encoding alone (`S` not below `L`,
    /// a key or `R` that is not a canonical point of large order): then
    /// [`verify`] says which.
    pub fn push(
        &mut self,
        pk: &PublicKey,
        tag: &str,
        chain_id: &Hash,
        body: &[u8],
        sig: &Signature,
    ) -> bool {
        self.push_parts(
            pk,
            sig,
            &[&[tag.len() as u8], tag.as_bytes(), &chain_id.0, body],
        )
    }

    /// [`SignatureBatch::push`] over the raw message `parts` concatenated
    /// (no domain separation): what [`verify_raw`] checks.
    pub fn push_parts(&mut self, pk: &PublicKey, sig: &Signature, parts: &[&[u8]]) -> bool {
        use curve25519_dalek::Scalar;
        let r_bytes: [u8; 32] = sig.0[..32].try_into().expect("32 bytes");
        let s_bytes: [u8; 32] = sig.0[32..].try_into().expect("32 bytes");
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)) else {
            return false;
        };
        let (Some(a), Some(r)) = (large_order_point(&pk.0), large_order_point(&r_bytes)) else {
            return false;
        };
        let mut h = sha2::Sha512::new();
        h.update(r_bytes);
        h.update(pk.0);
        for p in parts {
            h.update(p);
        }
        let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
        self.transcript.update(sig.0);
        self.transcript.update(pk.0);
        self.transcript.update(k.as_bytes());
        self.keys.push(a);
        self.rs.push(r);
        self.ss.push(s);
        self.ks.push(k);
        true
    }

    /// Whether every signature pushed verifies (an empty batch does).
    pub fn verify(self) -> bool {
        use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
        use curve25519_dalek::{EdwardsPoint, Scalar};
        let n = self.keys.len();
        if n == 0 {
            return true;
        }
        let seed = self.transcript.finalize();
        let mut zs = Vec::with_capacity(n);
        let mut block = 0u64;
        while zs.len() < n {
            let mut h = sha2::Sha512::new();
            h.update(seed);
            h.update(block.to_le_bytes());
            let out = h.finalize();
            for chunk in out.chunks_exact(16) {
                let mut z = [0u8; 32];
                z[..16].copy_from_slice(chunk);
                // Odd, so never zero: 127 bits of chance.
                z[0] |= 1;
                zs.push(Scalar::from_bytes_mod_order(z));
            }
            block += 1;
        }
        zs.truncate(n);
        let b: Scalar = zs.iter().zip(&self.ss).map(|(z, s)| z * s).sum();
        let scalars = std::iter::once(b)
            .chain(zs.iter().zip(&self.ks).map(|(z, k)| -(z * k)))
            .chain(zs.iter().map(|z| -z));
        let points = std::iter::once(curve25519_dalek::constants::ED25519_BASEPOINT_POINT)
            .chain(self.keys.iter().copied())
            .chain(self.rs.iter().copied());
        EdwardsPoint::vartime_multiscalar_mul(scalars, points)
            .mul_by_cofactor()
            .is_identity()
    }
}

/// The point `bytes` encode, if ed25519-compact's verify would decode it:
/// a canonical y (below p = 2²⁵⁵ − 19), a point on the curve, not the
/// "negative zero" x (only ±1 have x = 0, and both are of small order), and
/// of large order.
fn large_order_point(bytes: &[u8; 32]) -> Option<curve25519_dalek::EdwardsPoint> {
    let mut y = *bytes;
    y[31] &= 0x7f;
    let at_least_p = y[31] == 0x7f && y[1..31].iter().all(|&b| b == 0xff) && y[0] >= 0xed;
    if at_least_p {
        return None;
    }
    let p = curve25519_dalek::edwards::CompressedEdwardsY(*bytes).decompress()?;
    if p.is_small_order() {
        return None;
    }
    Some(p)
}

// Fixed-size byte strings travel as raw bytes in postcard (no length prefix)
// and as hex (or an address, for keys) in human-readable formats.
macro_rules! fixed_bytes_serde {
    ($ty:ident, $len:expr, $human:expr, $parse:expr, $err:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    let f: fn(&$ty) -> String = $human;
                    s.serialize_str(&f(self))
                } else {
                    use serde::ser::SerializeTuple;
                    let mut t = s.serialize_tuple($len)?;
                    for b in self.0.iter() {
                        t.serialize_element(b)?;
                    }
                    t.end()
                }
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                if d.is_human_readable() {
                    let s = String::deserialize(d)?;
                    let f: fn(&str) -> Result<$ty, $err> = $parse;
                    f(&s).map_err(serde::de::Error::custom)
                } else {
                    struct V;
                    impl<'de> serde::de::Visitor<'de> for V {
                        type Value = $ty;
                        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                            write!(f, "{} bytes", $len)
                        }
                        fn visit_seq<A: serde::de::SeqAccess<'de>>(
                            self,
                            mut seq: A,
                        ) -> Result<$ty, A::Error> {
                            let mut out = [0u8; $len];
                            for (i, b) in out.iter_mut().enumerate() {
                                *b = seq
                                    .next_element()?
                                    .ok_or_else(|| serde::de::Error::invalid_length(i, &self))?;
                            }
                            Ok($ty(out))
                        }
                    }
                    d.deserialize_tuple($len, V)
                }
            }
        }
    };
}
pub(crate) use fixed_bytes_serde;

fixed_bytes_serde!(Hash, 32, |h| h.to_hex(), Hash::from_hex, HexError);
fixed_bytes_serde!(
    VrfProof,
    VRF_PROOF_BYTES,
    |p| hex::encode(p.0),
    |s| {
        let mut out = [0u8; VRF_PROOF_BYTES];
        hex::decode_to_slice(s, &mut out).map_err(|_| HexError {
            what: "a VRF proof",
            expected: 2 * VRF_PROOF_BYTES,
            got: s.to_string(),
        })?;
        Ok(VrfProof(out))
    },
    HexError
);
fixed_bytes_serde!(
    Signature,
    64,
    |s| hex::encode(s.0),
    |s| {
        let mut out = [0u8; 64];
        hex::decode_to_slice(s, &mut out).map_err(|_| HexError {
            what: "signature",
            expected: 128,
            got: s.to_string(),
        })?;
        Ok(Signature(out))
    },
    HexError
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_separation_changes_the_message() {
        let k = Keypair::from_seed([7; 32]).unwrap();
        let chain = Hash([1; 32]);
        let sig = k.sign(tag::TX, &chain, b"body");
        assert!(verify(&k.public(), tag::TX, &chain, b"body", &sig).is_ok());
        assert_eq!(
            verify(&k.public(), tag::HEADER, &chain, b"body", &sig),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&k.public(), tag::TX, &Hash([2; 32]), b"body", &sig),
            Err(SignatureError::Mismatch)
        );
        // The streaming verify and the one-piece message agree.
        let msg = signing_message(tag::TX, &chain, b"body");
        assert!(verify_raw(&k.public(), &msg, &sig).is_ok());
    }

    /// The batch decodes a key or an R exactly when ed25519-compact's
    /// verify does (`PublicKey::validate` is its decoding): around p, where
    /// y is or is not canonical; the small y; the eight small-order points;
    /// real keys; and bytes drawn at random, with either sign bit.
    #[test]
    fn a_batch_decodes_the_points_ed25519_compact_decodes() {
        let mut cases: Vec<[u8; 32]> = Vec::new();
        for low in 0u8..=40 {
            let mut b = [0u8; 32];
            b[0] = low;
            cases.push(b);
        }
        for first in 0xd0u8..=0xff {
            let mut b = [0xffu8; 32];
            b[0] = first;
            b[31] = 0x7f;
            cases.push(b);
            // Not all ones above the first byte: canonical whatever it is.
            b[30] = 0xfe;
            cases.push(b);
        }
        cases.extend(
            curve25519_dalek::constants::EIGHT_TORSION
                .iter()
                .map(|t| t.compress().0),
        );
        cases.extend((1..=20).map(|i| Keypair::from_seed([i; 32]).unwrap().public().0));
        let mut x = Hash::of(&[b"points"]);
        for _ in 0..3000 {
            cases.push(x.0);
            x = Hash::of(&[&x.0]);
        }
        let (mut decoded, mut refused) = (0, 0);
        for b in cases {
            for sign in [0u8, 0x80] {
                let mut b = b;
                b[31] = (b[31] & 0x7f) | sign;
                let compact = PublicKey(b).validate().is_ok();
                assert_eq!(
                    large_order_point(&b).is_some(),
                    compact,
                    "{}",
                    hex::encode(b)
                );
                if compact {
                    decoded += 1;
                } else {
                    refused += 1;
                }
            }
        }
        assert!(
            decoded > 2000 && refused > 2000,
            "{decoded} decoded, {refused} refused"
        );
    }

    #[test]
    fn zero_seed_is_refused() {
        assert!(Keypair::from_seed([0; 32]).is_err());
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let h = Hash::of(&[b"abc"]);
        assert_eq!(
            h.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Hash::from_hex(&h.to_hex()).unwrap(), h);
        assert!(Hash::from_hex("abcd").is_err());
    }
}
