//! Money: exact amounts in a currency's minor unit, with checked arithmetic only.
//!
//! Invariant: no float ever touches an `Amount`. Every operation that could
//! overflow returns `None`; callers turn that into a typed error.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount of money in the currency's minor unit (cents for an exponent of 2).
///
/// Signed so that differences can be expressed, but every balance the ledger
/// stores is kept non-negative (see `ledger::wallet`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Amount(i64);

impl Amount {
    pub const ZERO: Amount = Amount(0);
    pub const MAX: Amount = Amount(i64::MAX);

    pub const fn new(minor_units: i64) -> Amount {
        Amount(minor_units)
    }

    pub const fn minor_units(self) -> i64 {
        self.0
    }

    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Most decimal places a currency's minor unit may have, and most places a decimal
/// amount may be written with (the bank wallet API's `transferAmount`: "at most 8
/// decimal places, not below 0.00000001").
pub const EXPONENT_MAX: u8 = 8;

/// Why a decimal amount was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecimalAmountError {
    #[error("not a decimal number of the form 123 or 123.45")]
    Malformed,
    #[error("more than 8 decimal places")]
    TooManyPlaces,
    #[error("finer than the currency's minor unit ({0} decimal places)")]
    FinerThanCurrency(u8),
    #[error("too large")]
    TooLarge,
    #[error("the currency's exponent is above 8")]
    BadExponent,
}

impl Amount {
    /// Parses `text`, a non-negative decimal written `digits[.digits]`, into minor
    /// units of a currency with `exponent` decimal places, exactly: no float is
    /// involved, and a value that the minor unit cannot hold is refused (trailing
    /// zeros past the exponent are fine: `"1.500"` is 150 cents). At most
    /// [`EXPONENT_MAX`] places are accepted, whatever the currency.
    pub fn parse_decimal(text: &str, exponent: u8) -> Result<Amount, DecimalAmountError> {
        if exponent > EXPONENT_MAX {
            return Err(DecimalAmountError::BadExponent);
        }
        let (whole, fraction) = match text.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (text, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
            return Err(DecimalAmountError::Malformed);
        }
        let fraction = fraction.unwrap_or("");
        if fraction.len() > usize::from(EXPONENT_MAX) {
            return Err(DecimalAmountError::TooManyPlaces);
        }
        let places = usize::from(exponent);
        let (kept, dropped) = fraction.split_at(fraction.len().min(places));
        if dropped.bytes().any(|b| b != b'0') {
            return Err(DecimalAmountError::FinerThanCurrency(exponent));
        }
        // whole * 10^exponent + kept * 10^(exponent - kept.len()), all checked.
        let mut minor: i64 = 0;
        let digits = whole.bytes().chain(kept.bytes());
        let padding = std::iter::repeat_n(b'0', places - kept.len());
        for b in digits.chain(padding) {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(b - b'0')))
                .ok_or(DecimalAmountError::TooLarge)?;
        }
        Ok(Amount(minor))
    }

    /// The amount as a decimal with exactly `exponent` places (`5000` at exponent 2
    /// is `"50.00"`; at exponent 0, `"5000"`). Exact: integer arithmetic only.
    pub fn to_decimal(self, exponent: u8) -> String {
        let places = u32::from(exponent.min(EXPONENT_MAX));
        let scale = 10u64.pow(places);
        let magnitude = self.0.unsigned_abs();
        let sign = if self.0 < 0 { "-" } else { "" };
        let (whole, fraction) = (magnitude / scale, magnitude % scale);
        if places == 0 {
            return format!("{sign}{whole}");
        }
        let width = places as usize;
        format!("{sign}{whole}.{fraction:0width$}")
    }
}

/// Sum of a sequence of amounts, `None` on overflow.
pub fn checked_sum(amounts: impl IntoIterator<Item = Amount>) -> Option<Amount> {
    amounts
        .into_iter()
        .try_fold(Amount::ZERO, |acc, a| acc.checked_add(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_arithmetic_refuses_overflow() {
        assert_eq!(Amount::MAX.checked_add(Amount::new(1)), None);
        assert_eq!(Amount::new(i64::MIN).checked_sub(Amount::new(1)), None);
        assert_eq!(
            Amount::new(5).checked_sub(Amount::new(7)),
            Some(Amount::new(-2))
        );
        assert_eq!(
            checked_sum([Amount::new(1), Amount::new(2)]),
            Some(Amount::new(3))
        );
        assert_eq!(checked_sum([Amount::MAX, Amount::new(1)]), None);
    }

    #[test]
    fn decimals_parse_exactly_in_the_currency_unit() {
        let p = Amount::parse_decimal;
        assert_eq!(p("1", 2), Ok(Amount::new(100)));
        assert_eq!(p("1.5", 2), Ok(Amount::new(150)));
        assert_eq!(p("1.50", 2), Ok(Amount::new(150)));
        assert_eq!(p("1.500", 2), Ok(Amount::new(150)));
        assert_eq!(p("0.00000001", 8), Ok(Amount::new(1)));
        assert_eq!(p("0.1", 0), Err(DecimalAmountError::FinerThanCurrency(0)));
        assert_eq!(p("1.001", 2), Err(DecimalAmountError::FinerThanCurrency(2)));
        assert_eq!(p("1.000000001", 8), Err(DecimalAmountError::TooManyPlaces));
        assert_eq!(p("1.000000000", 2), Err(DecimalAmountError::TooManyPlaces));
        for bad in [
            "", ".", "1.", ".5", "-1", "+1", "1e3", "1,5", " 1", "0x10", "1.2.3",
        ] {
            assert_eq!(p(bad, 2), Err(DecimalAmountError::Malformed), "{bad:?}");
        }
        assert_eq!(p("92233720368547758.07", 2), Ok(Amount::MAX));
        assert_eq!(
            p("92233720368547758.08", 2),
            Err(DecimalAmountError::TooLarge)
        );
        assert_eq!(p("1", 9), Err(DecimalAmountError::BadExponent));
    }

    #[test]
    fn decimals_render_with_the_currency_places() {
        assert_eq!(Amount::new(5000).to_decimal(2), "50.00");
        assert_eq!(Amount::new(5).to_decimal(2), "0.05");
        assert_eq!(Amount::new(5000).to_decimal(0), "5000");
        assert_eq!(Amount::new(1).to_decimal(8), "0.00000001");
        assert_eq!(Amount::new(-150).to_decimal(2), "-1.50");
        assert_eq!(Amount::new(i64::MIN).to_decimal(2), "-92233720368547758.08");
    }

    proptest::proptest! {
        #[test]
        fn rendering_then_parsing_is_the_identity(minor in 0..=i64::MAX, exponent in 0u8..=8) {
            let amount = Amount::new(minor);
            proptest::prop_assert_eq!(Amount::parse_decimal(&amount.to_decimal(exponent), exponent), Ok(amount));
        }
    }
}
