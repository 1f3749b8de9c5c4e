//! Canonical encoding: postcard, bounded, and checked to be canonical.
//!
//! Everything that is hashed or signed is encoded by [`encode`], and
//! everything read from outside is decoded by [`decode`], which takes a
//! size limit, refuses trailing bytes, and refuses any encoding that is not
//! the one [`encode`] would have produced (so one value has exactly one
//! encoding, one hash and one id). Variable-length fields are [`Bytes`] with
//! a bound in their type, checked while decoding, before anything is copied.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why bytes did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The input is longer than this kind of value may be.
    #[error("{what}: {len} bytes is over the limit of {limit}")]
    TooLarge {
        /// What was being decoded.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The input is not a valid encoding (or ends too early).
    #[error("{what}: does not decode: {why}")]
    Invalid {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's reason.
        why: String,
    },
    /// The value decoded but bytes were left over.
    #[error("{what}: {extra} trailing bytes after the value")]
    Trailing {
        /// What was being decoded.
        what: &'static str,
        /// How many bytes were left.
        extra: usize,
    },
    /// The value decoded, but from bytes other than its canonical encoding.
    #[error("{what}: not the canonical encoding")]
    NotCanonical {
        /// What was being decoded.
        what: &'static str,
    },
}

/// The canonical bytes of a value.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("goodwill types always encode")
}

/// Decodes exactly one canonical `T` from `bytes`, which may be at most
/// `limit` bytes long.
pub fn decode<T: Serialize + DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
    limit: usize,
) -> Result<T, CodecError> {
    if bytes.len() > limit {
        return Err(CodecError::TooLarge {
            what,
            len: bytes.len(),
            limit,
        });
    }
    DETAIL.with(|d| d.borrow_mut().take());
    let (value, rest): (T, &[u8]) =
        postcard::take_from_bytes(bytes).map_err(|e| CodecError::Invalid {
            what,
            // postcard drops the message of a field's own error; the bounded
            // types leave theirs in DETAIL so the rejection still names it.
            why: DETAIL
                .with(|d| d.borrow_mut().take())
                .unwrap_or_else(|| e.to_string()),
        })?;
    if !rest.is_empty() {
        return Err(CodecError::Trailing {
            what,
            extra: rest.len(),
        });
    }
    if encode(&value) != bytes {
        return Err(CodecError::NotCanonical { what });
    }
    Ok(value)
}

thread_local! {
    static DETAIL: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

fn bound_error<E: serde::de::Error>(e: TooLong) -> E {
    let msg = format!(
        "a byte string of {} bytes is over its limit of {}",
        e.len, e.limit
    );
    DETAIL.with(|d| *d.borrow_mut() = Some(msg.clone()));
    E::custom(msg)
}

/// A byte string of at most `N` bytes. The bound is checked when the value
/// is made ([`Bytes::new`]) and when it is decoded, before any copy.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bytes<const N: usize>(Vec<u8>);

/// A byte string over its bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{len} bytes is over the limit of {limit}")]
pub struct TooLong {
    /// The length given.
    pub len: usize,
    /// The bound.
    pub limit: usize,
}

impl<const N: usize> Bytes<N> {
    /// The bound.
    pub const LIMIT: usize = N;

    /// Wraps `v` if it is at most `N` bytes.
    pub fn new(v: impl Into<Vec<u8>>) -> Result<Self, TooLong> {
        let v = v.into();
        if v.len() > N {
            return Err(TooLong {
                len: v.len(),
                limit: N,
            });
        }
        Ok(Bytes(v))
    }

    /// The empty string.
    pub fn empty() -> Self {
        Bytes(Vec::new())
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    /// The length.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bytes as text, with invalid UTF-8 replaced (for display).
    pub fn lossy(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

/// Display text (versions, LED descriptions): cut to the bound at a
/// character boundary rather than refused.
impl<const N: usize> From<&str> for Bytes<N> {
    fn from(s: &str) -> Self {
        let mut end = s.len().min(N);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        Bytes(s.as_bytes()[..end].to_vec())
    }
}

impl<const N: usize> fmt::Debug for Bytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.0) {
            Ok(s) => write!(f, "{s:?}"),
            Err(_) => write!(f, "0x{}", hex::encode(&self.0)),
        }
    }
}

impl<const N: usize> Serialize for Bytes<N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            match std::str::from_utf8(&self.0) {
                Ok(t) => s.serialize_str(t),
                Err(_) => s.serialize_str(&format!("0x{}", hex::encode(&self.0))),
            }
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

impl<'de, const N: usize> Deserialize<'de> for Bytes<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const N: usize>;
        impl<'de, const N: usize> serde::de::Visitor<'de> for V<N> {
            type Value = Bytes<N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "at most {N} bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes<N>, E> {
                Bytes::new(v).map_err(bound_error)
            }
            fn visit_borrowed_bytes<E: serde::de::Error>(
                self,
                v: &'de [u8],
            ) -> Result<Bytes<N>, E> {
                self.visit_bytes(v)
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Bytes<N>, E> {
                Bytes::new(v).map_err(bound_error)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Bytes<N>, E> {
                let raw = match v.strip_prefix("0x") {
                    Some(h) => hex::decode(h).map_err(|e| E::custom(format!("bad hex: {e}")))?,
                    None => v.as_bytes().to_vec(),
                };
                Bytes::new(raw).map_err(bound_error)
            }
        }
        if d.is_human_readable() {
            d.deserialize_str(V::<N>)
        } else {
            d.deserialize_bytes(V::<N>)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct T {
        n: u64,
        b: Bytes<4>,
    }

    #[test]
    fn bounds_are_checked_while_decoding() {
        let ok = encode(&T {
            n: 1,
            b: Bytes::new(*b"abcd").unwrap(),
        });
        assert!(decode::<T>("t", &ok, 100).is_ok());
        // Hand-build an encoding with a 5-byte string.
        let bad = [1u8, 5, b'a', b'b', b'c', b'd', b'e'];
        let e = decode::<T>("t", &bad, 100).unwrap_err();
        assert!(e.to_string().contains("over its limit of 4"), "{e}");
        assert!(matches!(
            decode::<T>("t", &ok, 3),
            Err(CodecError::TooLarge {
                len: 6,
                limit: 3,
                ..
            })
        ));
    }

    #[test]
    fn trailing_truncated_and_non_canonical_are_refused() {
        let ok = encode(&T {
            n: 1,
            b: Bytes::empty(),
        });
        let mut long = ok.clone();
        long.push(0);
        assert!(matches!(
            decode::<T>("t", &long, 100),
            Err(CodecError::Trailing { extra: 1, .. })
        ));
        assert!(matches!(
            decode::<T>("t", &ok[..1], 100),
            Err(CodecError::Invalid { .. })
        ));
        // 1 as an over-long varint: 0x81 0x00.
        let over = [0x81u8, 0x00, 0x00];
        match decode::<T>("t", &over, 100) {
            Err(CodecError::NotCanonical { .. }) | Err(CodecError::Invalid { .. }) => {}
            other => panic!("over-long varint accepted: {other:?}"),
        }
    }

    #[test]
    fn a_length_prefix_larger_than_the_input_does_not_allocate_it() {
        // Declares a 2^32-byte string inside a 7-byte input.
        let bad = [1u8, 0xff, 0xff, 0xff, 0xff, 0x0f, 0];
        assert!(decode::<T>("t", &bad, 100).is_err());
    }
}
