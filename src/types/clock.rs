//! `Clock`: where every component reads the time, so tests can move it by hand.

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

#[cfg(test)]
mod tests {
    use super::*;

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
