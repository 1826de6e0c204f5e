//! Today's date in Japan, from the system clock or fixed (tests, benchmarks).

use time::{Date, OffsetDateTime, UtcOffset};

/// Japan Standard Time (UTC+9, no daylight saving).
const JST: UtcOffset = match UtcOffset::from_hms(9, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// Where the portal's "now" comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A fixed day (tests): the instant is that day's noon in Japan.
    Fixed(Date),
}

impl Clock {
    /// Today's date in Japan.
    pub fn today(self) -> Date {
        match self {
            Self::System => OffsetDateTime::now_utc().to_offset(JST).date(),
            Self::Fixed(d) => d,
        }
    }

    /// Now as Unix seconds.
    pub fn now(self) -> i64 {
        match self {
            Self::System => OffsetDateTime::now_utc().unix_timestamp(),
            Self::Fixed(d) => d.with_hms(12, 0, 0).map_or(0, |t| t.assume_offset(JST).unix_timestamp()),
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::Clock;

    #[test]
    fn fixed_clock_is_noon_in_japan() {
        let c = Clock::Fixed(date!(2027 - 03 - 31));
        assert_eq!(c.today(), date!(2027 - 03 - 31));
        // 2027-03-31T03:00:00Z
        assert_eq!(c.now(), 1_806_462_000);
    }
}
