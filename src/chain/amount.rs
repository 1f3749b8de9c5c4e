//! Amounts as people write them: coins with up to six decimals
//! (1 GWL = 1,000,000 units, [`crate::chain::genesis::COIN`]).

use crate::chain::genesis::COIN;

/// Why an amount does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("amount {input:?}: {why} (write coins like 12 or 0.5, at most 6 decimals)")]
pub struct AmountError {
    input: String,
    why: &'static str,
}

/// Parses "12", "12.5" or "0.000001" coins into units.
pub fn parse_coins(input: &str) -> Result<u64, AmountError> {
    let err = |why| AmountError {
        input: input.to_string(),
        why,
    };
    let s = input.trim().replace('_', "");
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s.as_str(), ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return Err(err("empty"));
    }
    if s.starts_with('-') {
        return Err(err(
            "amounts are positive: give a number of coins such as 5 or 0.25",
        ));
    }
    if !whole.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return Err(err("not a number"));
    }
    if frac.len() > 6 {
        return Err(err("more than 6 decimals"));
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| err("too large"))?
    };
    let frac_units: u64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}")
            .parse()
            .map_err(|_| err("not a number"))?
    };
    whole
        .checked_mul(COIN)
        .and_then(|u| u.checked_add(frac_units))
        .ok_or_else(|| err("too large"))
}

/// Formats units as coins, without trailing zeros ("12.5", "3").
pub fn format_coins(units: u64) -> String {
    let whole = units / COIN;
    let frac = units % COIN;
    if frac == 0 {
        whole.to_string()
    } else {
        let f = format!("{frac:06}");
        format!("{whole}.{}", f.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format() {
        assert_eq!(parse_coins("12").unwrap(), 12 * COIN);
        assert_eq!(parse_coins("12.5").unwrap(), 12_500_000);
        assert_eq!(parse_coins("0.000001").unwrap(), 1);
        assert_eq!(parse_coins(".5").unwrap(), 500_000);
        assert_eq!(parse_coins("1_000").unwrap(), 1_000 * COIN);
        for bad in [
            "",
            "abc",
            "1.2.3",
            "-1",
            "0.0000001",
            "99999999999999999999",
        ] {
            assert!(parse_coins(bad).is_err(), "{bad}");
        }
        assert_eq!(format_coins(12_500_000), "12.5");
        assert_eq!(format_coins(3 * COIN), "3");
        assert_eq!(format_coins(1), "0.000001");
        for u in [0, 1, 999_999, 1_000_000, 123_456_789, u64::MAX] {
            assert_eq!(parse_coins(&format_coins(u)).unwrap(), u);
        }
    }
}
