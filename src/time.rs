//! `Timestamp`: nanoseconds since the Unix epoch, handed to everything below the sources.
//!
//! The flow cache and the encoders never read a clock. Offline the timestamp comes from
//! the capture's packet headers, live from the ring block or the wall clock, so the same
//! code gives the same records for the same packets (see `flow::cache`).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Nanoseconds since 1970-01-01T00:00:00Z. `u64` covers until the year 2554.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The Unix epoch itself.
    pub const ZERO: Timestamp = Timestamp(0);

    /// The end of time: "at end of input", after every real timestamp.
    pub const END: Timestamp = Timestamp(u64::MAX);

    /// The latest time a packet may carry: a capture time past the year 2554 (garbage in
    /// a damaged file, saturated when read) is taken as this, one nanosecond before
    /// `END`, so that a real time is never mistaken for the end of input.
    pub const LAST: Timestamp = Timestamp(u64::MAX - 1);

    /// From seconds and nanoseconds within the second.
    pub const fn from_secs_nanos(secs: u64, nanos: u32) -> Timestamp {
        Timestamp(
            secs.saturating_mul(1_000_000_000)
                .saturating_add(nanos as u64),
        )
    }

    /// The current wall-clock time; only the live sources and the exporter call this.
    pub fn now() -> Timestamp {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(d.as_nanos().min(u64::MAX as u128) as u64)
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Milliseconds since the epoch (truncated), as IPFIX `flowStartMilliseconds` carries it.
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }

    /// Whole seconds since the epoch.
    pub const fn as_secs(self) -> u64 {
        self.0 / 1_000_000_000
    }

    /// Nanoseconds within the current second.
    pub const fn subsec_nanos(self) -> u32 {
        (self.0 % 1_000_000_000) as u32
    }

    /// `self + d`, saturating at the end of time.
    pub fn saturating_add(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(d.as_nanos().min(u64::MAX as u128) as u64),
        )
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC, microseconds unless a precision is given (`{:.9}` for
    /// nanoseconds, `{:.3}` for milliseconds): `2024-01-31T12:00:00.123456Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; RFC3339_MAX];
        let len = self.rfc3339(f.precision().unwrap_or(6), &mut buf);
        f.write_str(std::str::from_utf8(&buf[..len]).map_err(|_| fmt::Error)?)
    }
}

/// The longest text [`Timestamp::rfc3339`] writes: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
pub const RFC3339_MAX: usize = 30;

impl Timestamp {
    /// Writes the time as RFC 3339 in UTC with `digits` digits of fraction (at most 9)
    /// into `buf` and returns the length: `Display` without the formatting machinery,
    /// for text outputs that write a few hundred thousand of them a second.
    pub fn rfc3339(self, digits: usize, buf: &mut [u8; RFC3339_MAX]) -> usize {
        let digits = digits.min(9);
        let secs = self.as_secs();
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days((secs / 86_400) as i64);
        // From 1970 to 2554 (the range of `u64` nanoseconds): always four digits.
        put_digits(&mut buf[0..4], y as u64);
        buf[4] = b'-';
        put_digits(&mut buf[5..7], m.into());
        buf[7] = b'-';
        put_digits(&mut buf[8..10], d.into());
        buf[10] = b'T';
        put_digits(&mut buf[11..13], rem / 3600);
        buf[13] = b':';
        put_digits(&mut buf[14..16], (rem / 60) % 60);
        buf[16] = b':';
        put_digits(&mut buf[17..19], rem % 60);
        let mut len = 19;
        if digits > 0 {
            buf[len] = b'.';
            let fraction = self.subsec_nanos() / 10u32.pow(9 - digits as u32);
            put_digits(&mut buf[len + 1..len + 1 + digits], fraction.into());
            len += 1 + digits;
        }
        buf[len] = b'Z';
        len + 1
    }
}

/// Writes the low decimal digits of `value` into all of `out`, zero-padded.
fn put_digits(out: &mut [u8], mut value: u64) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days` algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_utc() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000000Z");
        // 2000-02-29T23:59:59.999999Z, a leap day in a century leap year.
        let t = Timestamp::from_secs_nanos(951_868_799, 999_999_000);
        assert_eq!(t.to_string(), "2000-02-29T23:59:59.999999Z");
        let t = Timestamp::from_secs_nanos(1_700_000_000, 1_000);
        assert_eq!(t.to_string(), "2023-11-14T22:13:20.000001Z");
        let t = Timestamp::from_secs_nanos(1_700_000_000, 123_456_789);
        assert_eq!(format!("{t:.9}"), "2023-11-14T22:13:20.123456789Z");
        assert_eq!(format!("{t:.3}"), "2023-11-14T22:13:20.123Z");
        assert_eq!(format!("{t:.0}"), "2023-11-14T22:13:20Z");
    }

    /// The text as `Display` wrote it with `write!` before `rfc3339` (the reference).
    fn with_fmt(t: Timestamp, digits: usize) -> String {
        let secs = t.as_secs();
        let (y, m, d) = civil_from_days((secs / 86_400) as i64);
        let rem = secs % 86_400;
        let mut s = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            rem / 3600,
            (rem / 60) % 60,
            rem % 60
        );
        if digits > 0 {
            let fraction = t.subsec_nanos() / 10u32.pow(9 - digits as u32);
            s += &format!(".{fraction:0digits$}");
        }
        s + "Z"
    }

    proptest::proptest! {
        #[test]
        fn rfc3339_writes_what_fmt_wrote(nanos in proptest::prelude::any::<u64>(), digits in 0usize..12) {
            let t = Timestamp(nanos);
            let mut buf = [0u8; RFC3339_MAX];
            let len = t.rfc3339(digits, &mut buf);
            proptest::prop_assert_eq!(
                std::str::from_utf8(&buf[..len]).unwrap(),
                with_fmt(t, digits.min(9))
            );
        }
    }

    #[test]
    fn the_last_instant_still_has_a_four_digit_year() {
        assert_eq!(
            format!("{:.9}", Timestamp::END),
            "2554-07-21T23:34:33.709551615Z"
        );
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp(5);
        assert_eq!(t.saturating_since(Timestamp(10)), Duration::ZERO);
        assert_eq!(
            Timestamp(u64::MAX).saturating_add(Duration::from_secs(1)),
            Timestamp(u64::MAX)
        );
    }
}
