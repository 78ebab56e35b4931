//! `Clock`: where every component reads the time, so tests can move it by hand; and the one
//! text form of a time we print (ISO 8601 UTC, as .NET writes it).

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (UTC).
pub type UnixMillis = i64;

/// A source of wall-clock time.
pub trait Clock: Send + Sync + 'static {
    fn now_millis(&self) -> UnixMillis;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> UnixMillis {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_millis() as i64,
            Err(e) => -(e.duration().as_millis() as i64),
        }
    }
}

/// A clock that only moves when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<UnixMillis>>);

impl ManualClock {
    pub fn new(start: UnixMillis) -> ManualClock {
        ManualClock(Arc::new(Mutex::new(start)))
    }

    pub fn set(&self, now: UnixMillis) {
        *self.0.lock() = now;
    }

    pub fn advance(&self, millis: i64) {
        *self.0.lock() += millis;
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> UnixMillis {
        *self.0.lock()
    }
}

/// A protobuf `Timestamp` for a moment given in Unix milliseconds.
pub fn timestamp_from_millis(ms: UnixMillis) -> protobuf::well_known_types::timestamp::Timestamp {
    protobuf::well_known_types::timestamp::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
        ..Default::default()
    }
}

/// Nanoseconds since the Unix epoch of a protobuf `Timestamp` (wide enough for any field values).
pub fn timestamp_nanos(ts: &protobuf::well_known_types::timestamp::Timestamp) -> i128 {
    i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos)
}

/// Unix milliseconds of a protobuf `Timestamp`, saturating at the ends of `i64`.
pub fn timestamp_millis(ts: &protobuf::well_known_types::timestamp::Timestamp) -> UnixMillis {
    let ms = timestamp_nanos(ts).div_euclid(1_000_000);
    ms.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// A protobuf Timestamp as .NET's JSON writes a UTC `DateTime`:
/// `2019-01-01T00:00:00Z`, with up to 7 fraction digits, trailing zeros dropped.
pub fn iso8601(seconds: i64, nanos: i32) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let mut text = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    // .NET ticks are 100 ns.
    let ticks = nanos.clamp(0, 999_999_999) / 100;
    if ticks > 0 {
        let fraction = format!("{ticks:07}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

/// Reads a UTC time as .NET writes it (the inverse of [`iso8601`]): `2023-02-22T03:01:56.4141789Z`,
/// 0 to 9 fraction digits (7 from .NET: nanos = digits × 100), the `Z` optional. `None` when the
/// text is not of that form or names no real date.
pub fn parse_iso8601(text: &str) -> Option<(i64, i32)> {
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (main, fraction) = match text.split_once('.') {
        Some((m, f)) => (m, f),
        None => (text, ""),
    };
    let b = main.as_bytes();
    let sep_ok = b.len() == 19
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && b[16] == b':';
    if !sep_ok || fraction.len() > 9 || !fraction.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = main.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let days = days_from_civil(year, month, day)?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let nanos = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}").parse::<i32>().ok()?
    };
    Some((days * 86_400 + hour * 3600 + minute * 60 + second, nanos))
}

/// (year, month, day) to days since 1970-01-01, `None` for a date that does not exist
/// (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> Option<i64> {
    if !(1..=12).contains(&month) || day < 1 {
        return None;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day > month_days[(month - 1) as usize] {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_dotnet_writes_a_utc_datetime() {
        assert_eq!(iso8601(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_577_836_800, 0), "2020-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400, 120_000_000), "2000-02-29T00:00:00.12Z");
        assert_eq!(
            iso8601(253_402_300_799, 999_999_999),
            "9999-12-31T23:59:59.9999999Z"
        );
        assert_eq!(iso8601(-1, 0), "1969-12-31T23:59:59Z");
        assert_eq!(iso8601(0, 50), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn dotnet_times_read_back() {
        assert_eq!(
            parse_iso8601("2023-02-22T03:01:56.4141789Z"),
            Some((1_677_034_916, 414_178_900))
        );
        for (s, n) in [
            (0, 0),
            (951_782_400, 120_000_000),
            (253_402_300_799, 999_999_900),
        ] {
            assert_eq!(parse_iso8601(&iso8601(s, n)), Some((s, n)));
        }
        assert_eq!(parse_iso8601("1970-01-01T00:00:00"), Some((0, 0)));
        for bad in [
            "",
            "2023-02-30T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-02-22T24:00:00Z",
            "2023-02-22T03:01:56.1234567890Z",
            "2023-02-22T03:01:5xZ",
            "2023-2-22T03:01:56Z",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_round_trip_milliseconds() {
        for ms in [0, 1, 999, 1000, 1_767_225_600_123, -1] {
            let ts = timestamp_from_millis(ms);
            assert!((0..1_000_000_000).contains(&ts.nanos));
            assert_eq!(timestamp_nanos(&ts), i128::from(ms) * 1_000_000);
            assert_eq!(timestamp_millis(&ts), ms);
        }
    }
}
