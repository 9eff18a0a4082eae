//! Compact in-memory forms of two values every transaction entry keeps, written on the
//! wire exactly as the plain values they stand for.
//!
//! Transaction entries are most of a ledger's memory (one per bet, win, deposit … for as
//! long as the wallet lives), and memory is most of what recovery costs: every byte of
//! state replay rebuilds is a byte the kernel must hand out and zero. So the two fields
//! that are nearly always trivial are kept small:
//!
//! - [`StoredBreakdown`]: a win's breakdown is nearly always all base. It keeps the base
//!   inline and boxes the free, bonus and jackpot parts only when one of them is not
//!   zero: 16 bytes instead of 32.
//! - [`RecordRef`]: a receipt's `Option<RecordId>` in 8 bytes instead of 16. Record ids
//!   count from 1 (`Ledger::next_record` starts there), so 0 is free to mean "none"; a
//!   decoded `Some(RecordId(0))` is refused.
//!
//! Both serialize as the values they replace (`WinBreakdown`, `Option<RecordId>`), so
//! the log and snapshot bytes are unchanged; the format fixtures pin that.

use super::types::WinBreakdown;
use crate::ids::RecordId;
use crate::money::Amount;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A win's breakdown as a transaction entry keeps it (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBreakdown {
    base: Amount,
    /// Free, bonus and jackpot parts; `None` when all three are zero. Never
    /// `Some([0, 0, 0])`, so that equal breakdowns compare equal.
    others: Option<Box<[Amount; 3]>>,
}

impl StoredBreakdown {
    pub fn new(b: &WinBreakdown) -> StoredBreakdown {
        let others = [b.free, b.bonus, b.jackpot];
        StoredBreakdown {
            base: b.base,
            others: (others != [Amount::ZERO; 3]).then(|| Box::new(others)),
        }
    }

    pub fn get(&self) -> WinBreakdown {
        let [free, bonus, jackpot] = self.others.as_deref().copied().unwrap_or_default();
        WinBreakdown {
            base: self.base,
            free,
            bonus,
            jackpot,
        }
    }
}

impl Serialize for StoredBreakdown {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for StoredBreakdown {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        WinBreakdown::deserialize(deserializer).map(|b| StoredBreakdown::new(&b))
    }
}

/// A receipt's game record, if it wrote one: an `Option<RecordId>` in one word (see the
/// module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordRef(u64);

impl RecordRef {
    /// The reference to `record`. Record ids count from 1; a zero id (which no ledger
    /// hands out) would read back as no record, so it is refused in debug builds and on
    /// decode.
    pub fn new(record: Option<RecordId>) -> RecordRef {
        debug_assert!(record != Some(RecordId(0)), "record ids count from 1");
        RecordRef(record.map_or(0, |r| r.0))
    }

    pub fn get(self) -> Option<RecordId> {
        (self.0 != 0).then_some(RecordId(self.0))
    }
}

impl Serialize for RecordRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RecordRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Option::<RecordId>::deserialize(deserializer)? {
            Some(RecordId(0)) => Err(D::Error::custom("record id 0 (record ids count from 1)")),
            record => Ok(RecordRef::new(record)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn amount() -> impl Strategy<Value = Amount> {
        prop_oneof![Just(Amount::ZERO), any::<i64>().prop_map(Amount::new)]
    }

    /// `stored` writes the bytes `plain` writes, and decodes back to itself.
    fn same_wire<S, P>(stored: &S, plain: &P) -> Result<(), TestCaseError>
    where
        S: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
        P: Serialize,
    {
        let bytes = postcard::to_allocvec(stored).expect("encode");
        prop_assert_eq!(&bytes, &postcard::to_allocvec(plain).expect("encode"));
        let back: S = postcard::from_bytes(&bytes).expect("decode");
        prop_assert_eq!(&back, stored);
        Ok(())
    }

    proptest! {
        /// Same value back, and the same bytes on the wire as the plain breakdown.
        #[test]
        fn a_stored_breakdown_is_the_breakdown_and_writes_its_bytes(
            base in amount(), free in amount(), bonus in amount(), jackpot in amount()
        ) {
            let plain = WinBreakdown { base, free, bonus, jackpot };
            let stored = StoredBreakdown::new(&plain);
            prop_assert_eq!(stored.get(), plain);
            same_wire(&stored, &plain)?;
        }

        /// Equal breakdowns are equal stored, whichever way they were made.
        #[test]
        fn stored_breakdowns_compare_as_their_values(
            a in (amount(), amount(), amount(), amount()),
            b in (amount(), amount(), amount(), amount()),
        ) {
            let make = |(base, free, bonus, jackpot)| WinBreakdown { base, free, bonus, jackpot };
            let (a, b) = (make(a), make(b));
            prop_assert_eq!(StoredBreakdown::new(&a) == StoredBreakdown::new(&b), a == b);
        }

        /// Same value back, and the same bytes on the wire as the plain option.
        #[test]
        fn a_record_ref_is_the_option_and_writes_its_bytes(id in prop::option::of(1u64..)) {
            let plain = id.map(RecordId);
            let stored = RecordRef::new(plain);
            prop_assert_eq!(stored.get(), plain);
            same_wire(&stored, &plain)?;
        }
    }

    #[test]
    fn a_base_only_breakdown_boxes_nothing() {
        let stored = StoredBreakdown::new(&WinBreakdown::base_only(Amount::new(250)));
        assert!(stored.others.is_none());
        let jackpot = WinBreakdown {
            jackpot: Amount::new(1),
            ..WinBreakdown::base_only(Amount::new(249))
        };
        assert!(StoredBreakdown::new(&jackpot).others.is_some());
    }

    #[test]
    fn a_decoded_record_id_of_zero_is_refused() {
        let bytes = postcard::to_allocvec(&Some(RecordId(0))).expect("encode");
        assert!(postcard::from_bytes::<RecordRef>(&bytes).is_err());
        let none = postcard::to_allocvec(&None::<RecordId>).expect("encode");
        assert_eq!(
            postcard::from_bytes::<RecordRef>(&none),
            Ok(RecordRef::new(None))
        );
    }

    #[test]
    fn a_transaction_entry_is_smaller() {
        use super::super::wallet::TxEntry;
        // 144 bytes with a plain breakdown and option; the wallet tables hold one per
        // transaction.
        assert!(std::mem::size_of::<TxEntry>() <= 120);
    }
}
