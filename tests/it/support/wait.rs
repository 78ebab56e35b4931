//! The one way the tests wait: [`wait_until`] a condition holds, and [`DEADLINE`], the one
//! limit on every wait (a condition, a channel, a log line, a process's exit).

use std::time::{Duration, Instant};

/// How long a test waits for anything before it fails. Generous: the machine may be loaded,
/// and nothing waits this long unless something is broken.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The longest pause between two looks at a condition.
const MAX_PAUSE: Duration = Duration::from_millis(50);

/// Looks at `condition` until it holds; fails naming `what` once [`DEADLINE`] has passed. The
/// pauses between looks (1 ms, doubling up to 50 ms) are not a synchronisation: what a test
/// checks never depends on them.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    while !condition() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(pause);
        pause = (pause * 2).min(MAX_PAUSE);
    }
}
