//! Human-readable addresses: `gw1…`, bech32m over the 32-byte public key.
//!
//! bech32m's checksum detects every error of up to four characters, so a
//! mistyped address is refused when it is parsed and is never paid.

use bech32::primitives::decode::{CheckedHrpstring, CheckedHrpstringError, UncheckedHrpstring};
use bech32::{Bech32m, Hrp};

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::chain::crypto::{fixed_bytes_serde, PublicKey};

/// The human-readable part of every goodwill address.
pub const HRP: &str = "gw";

/// Why a string is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// The checksum does not match: almost always a typo.
    #[error("address {0} has a bad checksum — check for a typo")]
    Checksum(String),
    /// Not bech32 at all (a character outside the alphabet, mixed case, no `1`).
    #[error("{input:?} is not an address: {why}")]
    Malformed {
        /// What was given.
        input: String,
        /// What is wrong with it.
        why: String,
    },
    /// A valid bech32m string for something else.
    #[error("address {input} starts with {found:?}; goodwill addresses start with \"gw1\"")]
    WrongPrefix {
        /// What was given.
        input: String,
        /// Its human-readable part.
        found: String,
    },
    /// The right prefix and checksum, but not 32 bytes of key.
    #[error("address {input} holds {len} bytes; an address holds a 32-byte public key")]
    WrongLength {
        /// What was given.
        input: String,
        /// How many bytes it holds.
        len: usize,
    },
}

/// The address of a public key.
pub fn encode(pk: &PublicKey) -> String {
    let hrp = Hrp::parse_unchecked(HRP);
    bech32::encode_lower::<Bech32m>(hrp, &pk.0).expect("32 bytes always fit in a bech32m string")
}

/// Parses an address, refusing any typo, any other prefix and any other length.
pub fn parse(input: &str) -> Result<PublicKey, AddressError> {
    let s = input.trim();
    let malformed = |why: String| AddressError::Malformed {
        input: s.to_string(),
        why,
    };
    if let Some(why) = shape_problem(s) {
        return Err(malformed(why));
    }
    let unchecked = UncheckedHrpstring::new(s).map_err(|e| malformed(e.to_string()))?;
    if unchecked.hrp().to_lowercase() != HRP {
        return Err(AddressError::WrongPrefix {
            input: s.to_string(),
            found: unchecked.hrp().to_lowercase(),
        });
    }
    if unchecked.data_part_ascii().len() < 6 {
        return Err(malformed("too short to hold a checksum".into()));
    }
    let checked = match CheckedHrpstring::new::<Bech32m>(s) {
        Ok(c) => c,
        Err(CheckedHrpstringError::Checksum(_)) => return Err(checksum_error(s)),
        Err(e) => return Err(malformed(e.to_string())),
    };
    checked
        .validate_segwit_padding()
        .map_err(|e| malformed(e.to_string()))?;
    let bytes: Vec<u8> = checked.byte_iter().collect();
    let key: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| AddressError::WrongLength {
            input: s.to_string(),
            len: bytes.len(),
        })?;
    Ok(PublicKey(key))
}

/// How many characters an address has: `gw1`, 52 for the key, 6 of checksum.
pub const LEN: usize = 61;

/// What a person can fix in a string that cannot be an address, before the
/// bech32 library's own wording ("character error") is reached.
fn shape_problem(s: &str) -> Option<String> {
    const FORM: &str = "an address is gw1 followed by 58 digits and lower-case letters";
    if s.is_empty() {
        return Some(format!("it is empty; {FORM}"));
    }
    let lower = s.to_ascii_lowercase();
    if !lower.starts_with("gw1") {
        if lower.contains('1') {
            return None; // another chain's bech32 perhaps: WrongPrefix says so
        }
        let shown: String = s.chars().take(3).collect();
        return Some(format!("it starts with {shown:?}, not \"gw1\"; {FORM}"));
    }
    if s != lower && s != s.to_ascii_uppercase() {
        return Some("it mixes upper- and lower-case letters; write it all in lower case".into());
    }
    if let Some((i, c)) = lower
        .char_indices()
        .skip(3)
        .find(|(_, c)| !"qpzry9x8gf2tvdw0s3jn54khce6mua7l".contains(*c))
    {
        return Some(format!(
            "character {c:?} at position {} cannot be in an address (after gw1 come digits 0 and 2-9 and lower-case letters except b, i and o)",
            i + 1
        ));
    }
    None
}

/// A checksum failure of a string of the wrong length is a piece missing or
/// doubled rather than a typo: say so.
fn checksum_error(s: &str) -> AddressError {
    if s.len() == LEN {
        return AddressError::Checksum(s.into());
    }
    AddressError::Malformed {
        input: s.into(),
        why: format!(
            "it has {} characters; an address has {LEN} (gw1 and 58 more): is part of it missing or doubled?",
            s.len()
        ),
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", encode(self))
    }
}

impl fmt::Display for PublicKey {
    /// The human-readable address (`gw1…`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode(self))
    }
}

// Raw bytes in postcard; the address in human-readable formats.
fixed_bytes_serde!(PublicKey, 32, encode, parse, AddressError);

#[cfg(test)]
mod tests {
    use super::*;

    const ALPHABET: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

    #[test]
    fn round_trip() {
        for i in 0..=255u8 {
            let pk = PublicKey([i; 32]);
            let a = encode(&pk);
            assert!(a.starts_with("gw1"), "{a}");
            assert_eq!(parse(&a).unwrap(), pk);
            assert_eq!(parse(&a.to_uppercase()).unwrap(), pk);
        }
    }

    #[test]
    fn every_single_character_typo_is_refused() {
        let a = encode(&PublicKey([42; 32]));
        for pos in 3..a.len() {
            for c in ALPHABET.chars() {
                let mut t: Vec<char> = a.chars().collect();
                if t[pos] == c {
                    continue;
                }
                t[pos] = c;
                let t: String = t.into_iter().collect();
                let err = parse(&t).unwrap_err();
                assert!(matches!(err, AddressError::Checksum(_)), "{t}: {err}");
            }
        }
    }

    #[test]
    fn clear_errors() {
        let a = encode(&PublicKey([1; 32]));
        let mut t = a.clone();
        t.pop();
        t.push(if a.ends_with('q') { 'p' } else { 'q' });
        assert_eq!(
            parse(&t).unwrap_err().to_string(),
            format!("address {t} has a bad checksum — check for a typo")
        );
        assert!(matches!(
            parse("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
            Err(AddressError::WrongPrefix { .. })
        ));
        assert!(matches!(parse("gw1"), Err(AddressError::Malformed { .. })));
        assert!(matches!(
            parse("hello"),
            Err(AddressError::Malformed { .. })
        ));
        let short = bech32::encode_lower::<Bech32m>(Hrp::parse_unchecked(HRP), &[1; 20]).unwrap();
        assert!(matches!(
            parse(&short),
            Err(AddressError::WrongLength { len: 20, .. })
        ));
        // Errors a person can act on: the form, the character, the length.
        let why = |t: &str| parse(t).unwrap_err().to_string();
        assert!(
            why("gw1abc").contains("character 'b' at position 5"),
            "{}",
            why("gw1abc")
        );
        assert!(why("xyz").contains("not \"gw1\""), "{}", why("xyz"));
        assert!(
            why(&a[..40]).contains("has 40 characters; an address has 61"),
            "{}",
            why(&a[..40])
        );
        assert_eq!(a.len(), LEN);
        // Mixed case is not an address.
        let mut mixed = a.clone();
        mixed.replace_range(5..6, &a[5..6].to_uppercase());
        assert!(parse(&mixed).is_err());
    }
}
