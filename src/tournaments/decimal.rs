//! Exact decimal numbers of a tournament spec, never through float arithmetic.
//!
//! The spec's `rate` and tier `value`s may be fractional (`0.2`). A [`SpecNumber`] is
//! the number's decimal text, exactly as the caller wrote it (the server reads it from
//! the JSON body's own text, never as an `f64`), and [`Decimal::parse`] turns it into
//! an exact `mantissa / 10^scale`.

/// Longest number text accepted (digits, sign, point, exponent).
pub const NUMBER_TEXT_MAX: usize = 48;

/// Most decimal places a [`Decimal`] may carry.
pub const SCALE_MAX: u32 = 18;

/// A number as written in the spec: its decimal text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecNumber(String);

impl SpecNumber {
    pub fn new(text: &str) -> SpecNumber {
        SpecNumber(text.to_string())
    }

    pub fn text(&self) -> &str {
        &self.0
    }

    pub fn decimal(&self) -> Result<Decimal, DecimalError> {
        Decimal::parse(&self.0)
    }
}

impl From<i64> for SpecNumber {
    fn from(v: i64) -> SpecNumber {
        SpecNumber(v.to_string())
    }
}

/// Why a number's text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("not a decimal number: {0:?}")]
    Malformed(String),
    #[error("number out of range: {0:?}")]
    OutOfRange(String),
}

/// An exact decimal: `mantissa / 10^scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal {
    pub mantissa: i128,
    pub scale: u32,
}

impl Decimal {
    /// Parses `[-]digits[.digits][(e|E)[+-]digits]` exactly.
    pub fn parse(text: &str) -> Result<Decimal, DecimalError> {
        let malformed = || DecimalError::Malformed(text.to_string());
        let range = || DecimalError::OutOfRange(text.to_string());
        if text.is_empty() || text.len() > NUMBER_TEXT_MAX {
            return Err(malformed());
        }
        let (number, exponent) = match text.find(['e', 'E']) {
            Some(i) => (
                &text[..i],
                parse_exponent(&text[i + 1..]).ok_or_else(malformed)?,
            ),
            None => (text, 0),
        };
        let (negative, digits) = match number.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, number),
        };
        let (int_part, frac_part) = match digits.split_once('.') {
            Some((_, "")) => return Err(malformed()),
            Some(parts) => parts,
            None => (digits, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int_part.is_empty() || !all_digits(int_part) || !all_digits(frac_part) {
            return Err(malformed());
        }
        let mut mantissa: i128 = 0;
        for b in int_part.bytes().chain(frac_part.bytes()) {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(b - b'0')))
                .ok_or_else(range)?;
        }
        // scale = fraction digits − exponent; a negative scale multiplies the mantissa.
        let mut scale = frac_part.len() as i64 - exponent;
        while scale < 0 {
            mantissa = mantissa.checked_mul(10).ok_or_else(range)?;
            scale += 1;
        }
        let scale = u32::try_from(scale).map_err(|_| range())?;
        let d = Decimal {
            mantissa: if negative { -mantissa } else { mantissa },
            scale,
        };
        d.normalized().ok_or_else(range)
    }

    /// Trailing zeros of the fraction dropped; `None` when finer than [`SCALE_MAX`].
    fn normalized(mut self) -> Option<Decimal> {
        while self.scale > 0 && self.mantissa % 10 == 0 {
            self.mantissa /= 10;
            self.scale -= 1;
        }
        (self.scale <= SCALE_MAX).then_some(self)
    }

    /// The value in units of `10^-digits`, exactly; `None` if it is finer than that
    /// or does not fit.
    pub fn to_fixed(self, digits: u32) -> Option<i128> {
        debug_assert!(digits <= SCALE_MAX);
        if self.scale > digits {
            return None;
        }
        10i128
            .checked_pow(digits - self.scale)
            .and_then(|f| self.mantissa.checked_mul(f))
    }
}

fn parse_exponent(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(m: i128, s: u32) -> Decimal {
        Decimal {
            mantissa: m,
            scale: s,
        }
    }

    #[test]
    fn parses_exactly() {
        assert_eq!(Decimal::parse("0.2"), Ok(d(2, 1)));
        assert_eq!(Decimal::parse("1"), Ok(d(1, 0)));
        assert_eq!(Decimal::parse("1.50"), Ok(d(15, 1)));
        assert_eq!(Decimal::parse("-3.25"), Ok(d(-325, 2)));
        assert_eq!(Decimal::parse("1e-7"), Ok(d(1, 7)));
        assert_eq!(Decimal::parse("2.5E2"), Ok(d(250, 0)));
        for bad in [
            "", ".5", "1.", "1.2.3", "abc", "1e", "--1", "0x10", "1e9999",
        ] {
            assert!(Decimal::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(d(2, 1).to_fixed(6), Some(200_000));
        assert_eq!(d(1, 7).to_fixed(6), None);
    }
}
