//! TEMPORARY STUB.
use crate::types::{Hash, UnixMillis};
pub const MAX_METRICS_PER_METHOD: usize = 100;
pub const GET_BLOCK: &str = "GetBlock";
pub const GET_BLOCKS: &str = "GetBlocks";
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMetric {
    pub method: &'static str,
    pub info: String,
    pub round_trip_ms: i64,
    pub request_time: UnixMillis,
}
#[derive(Default)]
pub struct RequestMetrics {
    m: parking_lot::Mutex<
        std::collections::BTreeMap<&'static str, std::collections::VecDeque<RequestMetric>>,
    >,
}
impl RequestMetrics {
    pub fn new() -> RequestMetrics {
        Self::default()
    }
    pub fn record(&self, metric: RequestMetric) {
        let mut m = self.m.lock();
        let q = m.entry(metric.method).or_default();
        if q.len() == 100 {
            q.pop_front();
        }
        q.push_back(metric);
    }
    pub fn snapshot(&self) -> Vec<(&'static str, Vec<RequestMetric>)> {
        self.m
            .lock()
            .iter()
            .map(|(k, v)| (*k, v.iter().cloned().collect()))
            .collect()
    }
}
pub fn block_request_info(hash: &Hash) -> String {
    format!("Block request for {hash}")
}
pub fn blocks_request_info(first: &Hash, count: i32) -> String {
    format!("Get blocks for {{ first: {first}, count: {count} }}")
}
