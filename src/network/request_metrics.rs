//! `RequestMetrics`: the last block requests made to one peer and how long they took (C#
//! `RequestMetric`, spec 6.3), for operators.
//!
//! Owns a bounded list per method. It must not time anything itself: callers measure and
//! record.

use crate::types::{Hash, UnixMillis};
use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};

/// Metrics kept per method (C# `GrpcPeer.MaxMetricsPerMethod`).
pub const MAX_METRICS_PER_METHOD: usize = 100;
/// Method name of a one-block request (C# `MetricNames.GetBlock`).
pub const GET_BLOCK: &str = "GetBlock";
/// Method name of a many-blocks request (C# `MetricNames.GetBlocks`).
pub const GET_BLOCKS: &str = "GetBlocks";

/// One measured request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMetric {
    pub method: &'static str,
    pub info: String,
    pub round_trip_ms: i64,
    /// When the request started (unix ms).
    pub request_time: UnixMillis,
}

/// See the module documentation.
#[derive(Default)]
pub struct RequestMetrics {
    by_method: Mutex<BTreeMap<&'static str, VecDeque<RequestMetric>>>,
}

impl RequestMetrics {
    pub fn new() -> RequestMetrics {
        RequestMetrics::default()
    }

    /// Keeps `metric`, forgetting the oldest of its method beyond
    /// [`MAX_METRICS_PER_METHOD`].
    pub fn record(&self, metric: RequestMetric) {
        let mut by_method = self.by_method.lock();
        let list = by_method.entry(metric.method).or_default();
        if list.len() >= MAX_METRICS_PER_METHOD {
            list.pop_front();
        }
        list.push_back(metric);
    }

    /// Per method (in name order), oldest first.
    pub fn snapshot(&self) -> Vec<(&'static str, Vec<RequestMetric>)> {
        self.by_method
            .lock()
            .iter()
            .map(|(method, list)| (*method, list.iter().cloned().collect()))
            .collect()
    }
}

/// `Block request for "<hash>"`, as the C# node describes a one-block request.
pub fn block_request_info(hash: &Hash) -> String {
    format!("Block request for \"{hash}\"")
}

/// `Get blocks for { first: "<hash>", count: N }`, as the C# node describes a blocks request.
pub fn blocks_request_info(first: &Hash, count: i32) -> String {
    format!("Get blocks for {{ first: \"{first}\", count: {count} }}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(method: &'static str, n: i64) -> RequestMetric {
        RequestMetric {
            method,
            info: format!("#{n}"),
            round_trip_ms: n,
            request_time: n,
        }
    }

    #[test]
    fn keeps_the_last_hundred_per_method() {
        let metrics = RequestMetrics::new();
        for n in 0..101 {
            metrics.record(metric(GET_BLOCK, n));
            metrics.record(metric(GET_BLOCKS, n));
        }
        let snapshot = metrics.snapshot();
        assert_eq!(snapshot.len(), 2);
        for (_, list) in snapshot {
            assert_eq!(list.len(), MAX_METRICS_PER_METHOD);
            assert_eq!(list[0].round_trip_ms, 1);
            assert_eq!(list[99].round_trip_ms, 100);
        }
    }

    #[test]
    fn infos_read_as_the_csharp_ones() {
        let hash = Hash([0xab; 32]);
        assert!(block_request_info(&hash).starts_with("Block request for \"abab"));
        assert_eq!(
            blocks_request_info(&Hash([0; 32]), 5),
            format!(
                "Get blocks for {{ first: \"{}\", count: 5 }}",
                "00".repeat(32)
            )
        );
    }
}
