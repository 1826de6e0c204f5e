//! Calendar dates as stored (BIGINT `YYYYMMDD`, Japan time), fiscal years (April–March) and
//! parsing of the date forms found in CSV files.

use std::fmt;

use time::{Date, Month};

/// A date as stored in the database: `20270331`.
pub fn to_int(date: Date) -> i64 {
    i64::from(date.year()) * 10_000 + i64::from(u8::from(date.month())) * 100 + i64::from(date.day())
}

/// The date of a stored `YYYYMMDD` value; `None` for a value that is no date.
pub fn from_int(value: i64) -> Option<Date> {
    let year = i32::try_from(value / 10_000).ok()?;
    let month = Month::try_from(u8::try_from(value / 100 % 100).ok()?).ok()?;
    let day = u8::try_from(value % 100).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

/// Parses `YYYY-MM-DD` or `YYYY/MM/DD` (one-digit month and day allowed, as spreadsheets write).
pub fn parse(text: &str) -> Option<Date> {
    let text = text.trim();
    let sep = if text.contains('/') { '/' } else { '-' };
    let mut parts = text.split(sep);
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || y.len() != 4
        || !(1..=2).contains(&m.len())
        || !(1..=2).contains(&d.len())
        || ![y, m, d].iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

/// A Japanese fiscal year (年度): FY 2026 runs from 1 April 2026 to 31 March 2027.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FiscalYear(pub i32);

impl FiscalYear {
    /// The fiscal year a date falls in.
    pub fn of(date: Date) -> Self {
        if date.month() >= Month::April { Self(date.year()) } else { Self(date.year() - 1) }
    }

    /// Its first day, 1 April.
    pub fn first_day(self) -> Date {
        Date::from_calendar_date(self.0, Month::April, 1).unwrap_or(Date::MIN)
    }

    /// Its last day, 31 March of the next calendar year.
    pub fn last_day(self) -> Date {
        Date::from_calendar_date(self.0 + 1, Month::March, 31).unwrap_or(Date::MAX)
    }
}

impl fmt::Display for FiscalYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FY{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn fiscal_year_turns_on_the_first_of_april() {
        assert_eq!(FiscalYear::of(date!(2027 - 03 - 31)), FiscalYear(2026));
        assert_eq!(FiscalYear::of(date!(2027 - 04 - 01)), FiscalYear(2027));
        assert_eq!(FiscalYear::of(date!(2026 - 01 - 01)), FiscalYear(2025));
        assert_eq!(FiscalYear(2026).first_day(), date!(2026 - 04 - 01));
        assert_eq!(FiscalYear(2026).last_day(), date!(2027 - 03 - 31));
    }

    #[test]
    fn stored_form_round_trips() {
        assert_eq!(to_int(date!(2027 - 03 - 31)), 20_270_331);
        assert_eq!(from_int(20_270_331), Some(date!(2027 - 03 - 31)));
        assert_eq!(from_int(20_270_230), None);
        assert_eq!(from_int(-1), None);
    }

    #[test]
    fn csv_date_forms() {
        assert_eq!(parse("2026-04-01"), Some(date!(2026 - 04 - 01)));
        assert_eq!(parse("2026/4/1"), Some(date!(2026 - 04 - 01)));
        assert_eq!(parse(" 2024-02-29 "), Some(date!(2024 - 02 - 29)));
        for bad in [
            "2025-02-29",
            "2026-13-01",
            "26-04-01",
            "2026-04",
            "2026-04-01-01",
            "2026年4月1日",
            "",
            "+202-01-01",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
