//! The slow-peer scenario: fanout to 8 sinks of which one stops reading, against 8 healthy
//! ones; what the others still get.
//!
//! Owns that comparison. It must not change how a fanout run is made (see `fanout`).

use super::fanout::{median, our_fanout, transactions, Run};
use super::sinks::SinkProcess;
use crate::report::{Report, Row};
use crate::Sizes;

/// Runs the scenario: one row.
pub fn run(sizes: &Sizes, report: &mut Report) -> Result<(), String> {
    let items = transactions(sizes.slow_items)?;
    let mut healthy_sinks = SinkProcess::spawn(8, 0)?;
    let mut slow_sinks = SinkProcess::spawn(8, 1)?;
    let (mut healthy, mut slow) = (Vec::new(), Vec::new());
    for _ in 0..sizes.repeats.max(1) {
        healthy.push(our_fanout(&mut healthy_sinks, &items, 0)?);
        slow.push(our_fanout(&mut slow_sinks, &items, 1)?);
    }
    let (healthy, slow) = (median(healthy), median(slow));
    let per_sink = |r: &Run| items.len() as f64 / r.elapsed.as_secs_f64();
    let share = per_sink(&slow) / per_sink(&healthy);
    report.add(Row {
        scenario: "slow",
        case: format!("{} tx, 1 of 8 sinks stops reading", items.len()),
        figures: vec![
            ("healthy_items_per_s_per_sink", per_sink(&healthy)),
            ("slow_items_per_s_per_other_sink", per_sink(&slow)),
            ("share_of_healthy", share),
        ],
        note: format!(
            "the 7 others keep {:.0} % (goal: at least 95 %)",
            share * 100.0
        ),
    });
    Ok(())
}
