//! The one clock of a process. Every "now" of a request — token and document timestamps, key
//! activation and choice, session expiry, "today" of credits and documents — comes from the
//! [`Clock`] in the app state, so a test fixes or moves time for everything at once instead of
//! sleeping or depending on the machine's date.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use time::{Date, OffsetDateTime, UtcOffset};

/// Japan Standard Time (UTC+9, no daylight saving).
pub const JST: UtcOffset = match UtcOffset::from_hms(9, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// Where "now" comes from: the system clock (production) or a manual clock that only moves
/// when told to (tests, benchmarks). Clones share one manual clock.
#[derive(Debug, Clone, Default)]
pub struct Clock(Source);

#[derive(Debug, Clone, Default)]
enum Source {
    #[default]
    System,
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(Source::System)
    }

    /// A manual clock at Unix second `unix`.
    pub fn manual(unix: i64) -> Self {
        Self(Source::Manual(Arc::new(AtomicI64::new(unix))))
    }

    /// A manual clock at noon, Japan time, of `day` (a test's "today").
    pub fn on_day(day: Date) -> Self {
        Self::manual(noon_in_japan(day))
    }

    /// A manual clock at the system clock's current second.
    pub fn manual_now() -> Self {
        Self::manual(system_now())
    }

    /// Whether this is a manual clock.
    pub fn is_manual(&self) -> bool {
        matches!(self.0, Source::Manual(_))
    }

    /// Now as Unix seconds.
    pub fn now(&self) -> i64 {
        match &self.0 {
            Source::System => system_now(),
            Source::Manual(t) => t.load(Ordering::Relaxed),
        }
    }

    /// Now as a date and time (UTC).
    pub fn now_utc(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.now()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// Today's date in Japan.
    pub fn today(&self) -> Date {
        self.now_utc().to_offset(JST).date()
    }

    /// Moves a manual clock forward by `by` (whole seconds).
    ///
    /// # Panics
    /// On the system clock: only tests move time, and a test that thinks it does while the
    /// system clock runs would assert nothing.
    pub fn advance(&self, by: Duration) {
        let Source::Manual(t) = &self.0 else { panic!("Clock::advance on the system clock") };
        t.fetch_add(i64::try_from(by.as_secs()).unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    /// Sets a manual clock to Unix second `unix`.
    ///
    /// # Panics
    /// On the system clock (see [`advance`](Self::advance)).
    pub fn set(&self, unix: i64) {
        let Source::Manual(t) = &self.0 else { panic!("Clock::set on the system clock") };
        t.store(unix, Ordering::Relaxed);
    }

    /// Sets a manual clock to noon, Japan time, of `day`.
    ///
    /// # Panics
    /// On the system clock (see [`advance`](Self::advance)).
    pub fn set_day(&self, day: Date) {
        self.set(noon_in_japan(day));
    }
}

/// The system clock as Unix seconds.
fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Unix seconds of noon in Japan on `day`.
pub fn noon_in_japan(day: Date) -> i64 {
    day.with_hms(12, 0, 0).map_or(0, |t| t.assume_offset(JST).unix_timestamp())
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn a_day_is_noon_in_japan() {
        let c = Clock::on_day(date!(2027 - 03 - 31));
        assert_eq!(c.today(), date!(2027 - 03 - 31));
        // 2027-03-31T03:00:00Z
        assert_eq!(c.now(), 1_806_462_000);
    }

    #[test]
    fn clones_share_a_manual_clock() {
        let c = Clock::manual(1_000);
        let other = c.clone();
        c.advance(Duration::from_secs(61));
        assert_eq!(other.now(), 1_061);
        other.set(5);
        assert_eq!(c.now(), 5);
    }

    #[test]
    fn today_turns_at_midnight_in_japan() {
        // 2026-12-31T15:00:00Z is 2027-01-01 00:00 in Japan.
        let c = Clock::manual(1_798_729_200);
        assert_eq!(c.today(), date!(2027 - 01 - 01));
        c.set(1_798_729_199);
        assert_eq!(c.today(), date!(2026 - 12 - 31));
    }

    #[test]
    fn the_system_clock_runs() {
        let c = Clock::system();
        assert!(!c.is_manual());
        assert!(c.now() > 1_700_000_000);
    }

    #[test]
    #[should_panic(expected = "Clock::advance on the system clock")]
    fn the_system_clock_is_not_moved() {
        Clock::system().advance(Duration::from_secs(1));
    }
}
