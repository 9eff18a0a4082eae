//! Currencies and their exponents: how many decimal places a currency's minor unit
//! has (2 for CNY: amounts are fen; 0 for JPY; up to 8 for crypto-style currencies).
//!
//! The platform API and the gate wallet API send integers in minor units and never
//! need the exponent; the bank wallet API sends decimal strings, which are parsed and
//! rendered with it (`money::Amount::parse_decimal`, `Amount::to_decimal`).
//!
//! A set of currencies is known from the start ([`DEFAULT_CURRENCIES`]: those the
//! published API documents show, and a few common ones); an administrator registers
//! more. A registration is logged like every other change; the defaults are not,
//! since every engine has them.

use crate::ids::Currency;
use crate::money::EXPONENT_MAX;
use serde::{Deserialize, Serialize};

/// Most currencies the registry holds (defaults included).
pub const MAX_CURRENCIES: usize = 1024;

/// The currencies every engine knows, with their exponents. CNY and RMB (the gate
/// document's spelling of the same currency) and USD appear in the Publisher Manual
/// and the gate document; QC in the bank document.
pub const DEFAULT_CURRENCIES: &[(&str, u8)] = &[
    ("CNY", 2),
    ("RMB", 2),
    ("USD", 2),
    ("QC", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("THB", 2),
    ("INR", 2),
    ("PHP", 2),
    ("BRL", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("VND", 0),
    ("USDT", 6),
    ("BTC", 8),
];

/// A currency and the decimal places of its minor unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencySpec {
    pub code: Currency,
    /// 0 to [`EXPONENT_MAX`].
    pub exponent: u8,
}

impl CurrencySpec {
    /// Checks the exponent's range.
    pub fn new(code: Currency, exponent: u8) -> Option<CurrencySpec> {
        (exponent <= EXPONENT_MAX).then_some(CurrencySpec { code, exponent })
    }
}

/// The default registry's entries, as specs.
pub fn defaults() -> impl Iterator<Item = CurrencySpec> {
    DEFAULT_CURRENCIES.iter().filter_map(|(code, exponent)| {
        let code = Currency::new(code).ok()?;
        CurrencySpec::new(code, *exponent)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_is_a_valid_spec() {
        assert_eq!(defaults().count(), DEFAULT_CURRENCIES.len());
        assert!(DEFAULT_CURRENCIES.len() < MAX_CURRENCIES);
    }
}
