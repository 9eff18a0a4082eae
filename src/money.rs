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
}
