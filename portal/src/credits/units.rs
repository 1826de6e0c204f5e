//! Credit units (単位) as exact hundredths, so that 0.5 steps never meet floating point.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign};

/// A number of units in hundredths: `Units(150)` is 1.5 単位.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Units(pub i64);

/// Why a text is not a valid number of units.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitsError {
    /// Not a decimal number (or more than two decimals).
    #[error("`{0}` is not a number of units")]
    NotANumber(String),
    /// Below zero.
    #[error("units must not be negative: `{0}`")]
    Negative(String),
    /// Zero.
    #[error("units must be more than 0")]
    Zero,
    /// Not a multiple of the system's step.
    #[error("units must be a multiple of {step}: `{text}`")]
    Step {
        /// The text given.
        text: String,
        /// The system's step.
        step: Units,
    },
}

impl Units {
    /// Whole units.
    pub const fn whole(n: i64) -> Self {
        Self(n * 100)
    }

    /// Parses `1`, `1.5`, `0.50`: at most two decimals, an optional leading `+`, positive.
    pub fn parse(text: &str) -> Result<Self, UnitsError> {
        let t = text.trim();
        let not_a_number = || UnitsError::NotANumber(t.to_owned());
        let (negative, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || int.len() > 12 || frac.len() > 2 || !all_digits(int) || !all_digits(frac) {
            return Err(not_a_number());
        }
        if digits.ends_with('.') {
            return Err(not_a_number());
        }
        let int: i64 = int.parse().map_err(|_| not_a_number())?;
        let frac: i64 = format!("{frac:0<2}").parse().map_err(|_| not_a_number())?;
        let value = int * 100 + frac;
        if negative && value != 0 {
            return Err(UnitsError::Negative(t.to_owned()));
        }
        if value == 0 {
            return Err(UnitsError::Zero);
        }
        Ok(Self(value))
    }

    /// Parses and checks against a step (50 = 0.5).
    pub fn parse_with_step(text: &str, step: Units) -> Result<Self, UnitsError> {
        let units = Self::parse(text)?;
        if step.0 > 0 && units.0 % step.0 != 0 {
            return Err(UnitsError::Step { text: text.trim().to_owned(), step });
        }
        Ok(units)
    }

    /// How much is missing to reach `target` (zero when reached).
    pub fn remaining_to(self, target: Units) -> Units {
        Units((target.0 - self.0).max(0))
    }
}

impl fmt::Display for Units {
    /// `12`, `12.5`, `0.25`: no trailing zeros.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (int, frac) = (abs / 100, abs % 100);
        match frac {
            0 => write!(f, "{sign}{int}"),
            f2 if f2 % 10 == 0 => write!(f, "{sign}{int}.{}", f2 / 10),
            f2 => write!(f, "{sign}{int}.{f2:02}"),
        }
    }
}

impl Add for Units {
    type Output = Units;
    fn add(self, rhs: Units) -> Units {
        Units(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for Units {
    fn add_assign(&mut self, rhs: Units) {
        *self = *self + rhs;
    }
}

impl Sum for Units {
    fn sum<I: Iterator<Item = Units>>(iter: I) -> Units {
        iter.fold(Units(0), Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_forms() {
        assert_eq!(Units::parse("1"), Ok(Units(100)));
        assert_eq!(Units::parse("1.5"), Ok(Units(150)));
        assert_eq!(Units::parse("0.50"), Ok(Units(50)));
        assert_eq!(Units::parse(" +2.0 "), Ok(Units(200)));
        assert_eq!(Units::parse("0.25"), Ok(Units(25)));
    }

    #[test]
    fn refuses_bad_units() {
        assert_eq!(Units::parse("-1"), Err(UnitsError::Negative("-1".into())));
        assert_eq!(Units::parse("0"), Err(UnitsError::Zero));
        assert_eq!(Units::parse("-0"), Err(UnitsError::Zero));
        for bad in ["", "1.", ".5", "1.234", "abc", "1,5", "1e3", "１", "99999999999999"] {
            assert!(matches!(Units::parse(bad), Err(UnitsError::NotANumber(_))), "{bad}");
        }
        assert_eq!(
            Units::parse_with_step("0.3", Units(50)).unwrap_err().to_string(),
            "units must be a multiple of 0.5: `0.3`"
        );
        assert_eq!(Units::parse_with_step("2.5", Units(50)), Ok(Units(250)));
    }

    #[test]
    fn displays_without_trailing_zeros() {
        assert_eq!(Units(1250).to_string(), "12.5");
        assert_eq!(Units(1200).to_string(), "12");
        assert_eq!(Units(25).to_string(), "0.25");
        assert_eq!(Units(50).to_string(), "0.5");
        assert_eq!(Units(0).to_string(), "0");
    }
}
