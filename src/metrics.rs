//! Process-wide Prometheus metrics, served as text by the operator API at `GET /metrics`.
//!
//! Owns the registry and every metric family: counters the layers bump as traffic flows
//! (handshakes, messages and bytes per kind, dropped queue items, request round trips, bans,
//! reconnection attempts) and gauges of state that the scrape sets from a [`StateSnapshot`]
//! (peers, queue depths, chain, pool, process). It must not read any layer's state itself.
//!
//! Labels are bounded: kinds, methods, directions, modes and result codes come from fixed
//! sets; there are no per-peer labels. One node per process is assumed (the counters are
//! global), as `aelf-netd` runs.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::sync::LazyLock;
use std::time::Duration;

/// Prefix of every metric of ours.
pub const NAMESPACE: &str = "aelf_net";

/// Broadcast kinds as metric labels (a fixed set).
pub const BROADCAST_KINDS: [&str; 4] = ["block", "transaction", "announcement", "lib_announcement"];
/// Send queues as metric labels.
pub const QUEUE_KINDS: [&str; 3] = ["blocks", "transactions", "announcements"];

/// Round-trip buckets (seconds): from a local ping to a 5 s block download.
const REQUEST_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// State read at scrape time, set into the gauges just before encoding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateSnapshot {
    /// (direction "inbound"/"outbound", mode "legacy"/"stream", count).
    pub peers: Vec<(&'static str, &'static str, i64)>,
    /// Items waiting in all peers' send queues, per [`QUEUE_KINDS`] entry.
    pub queue_depth: [i64; 3],
    pub bans: i64,
    pub node_table: i64,
    pub reconnections_pending: i64,
    pub best_chain_height: i64,
    pub lib_height: i64,
    pub transaction_pool: i64,
}

/// See the module documentation.
pub struct Metrics {
    registry: Registry,
    handshakes: IntCounterVec,
    messages_sent: [IntCounter; 4],
    bytes_sent: [IntCounter; 4],
    messages_received: [IntCounter; 4],
    bytes_received: [IntCounter; 4],
    queue_dropped: [IntCounter; 3],
    stalled_peers_dropped: [IntCounter; 3],
    requests: HistogramVec,
    request_failures: IntCounterVec,
    bans: IntCounter,
    reconnection_attempts: IntCounterVec,
    peers: IntGaugeVec,
    queue_depth: IntGaugeVec,
    active_bans: IntGauge,
    node_table: IntGauge,
    reconnections_pending: IntGauge,
    chain_height: IntGauge,
    lib_height: IntGauge,
    transaction_pool: IntGauge,
    process_threads: IntGauge,
    process_resident_memory: IntGauge,
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

fn opts(name: &str, help: &str) -> Opts {
    Opts::new(name, help).namespace(NAMESPACE)
}

/// The metric families are built from constant names and labels: a failure is a programming
/// error caught by the first test that scrapes.
fn must<T>(r: prometheus::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("metric definition: {e}"))
}

impl Metrics {
    fn new() -> Metrics {
        let registry = Registry::new();
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            registered(
                &registry,
                must(IntCounterVec::new(opts(name, help), labels)),
            )
        };
        let gauge_vec = |name: &str, help: &str, labels: &[&str]| {
            registered(&registry, must(IntGaugeVec::new(opts(name, help), labels)))
        };
        let gauge = |name: &str, help: &str| {
            registered(&registry, must(IntGauge::with_opts(opts(name, help))))
        };
        let per_kind = |vec: &IntCounterVec| BROADCAST_KINDS.map(|k| vec.with_label_values(&[k]));
        let per_queue = |vec: &IntCounterVec| QUEUE_KINDS.map(|k| vec.with_label_values(&[k]));

        let sent = counter_vec(
            "messages_sent_total",
            "Broadcast items sent to peers",
            &["kind"],
        );
        let sent_bytes = counter_vec(
            "sent_bytes_total",
            "Encoded bytes of broadcast items sent to peers",
            &["kind"],
        );
        let received = counter_vec(
            "messages_received_total",
            "Broadcast items received from peers",
            &["kind"],
        );
        let received_bytes = counter_vec(
            "received_bytes_total",
            "Encoded bytes of broadcast items received from peers",
            &["kind"],
        );
        let dropped = counter_vec(
            "queue_dropped_total",
            "Items dropped because a peer's send queue was full",
            &["kind"],
        );
        let stalled = counter_vec(
            "stalled_peers_dropped_total",
            "Peers dropped because a send to them waited past stalled_send_timeout_ms, by the queue that waited",
            &["kind"],
        );
        let requests = registered(
            &registry,
            must(HistogramVec::new(
                HistogramOpts::new(
                    "request_duration_seconds",
                    "Round trip of requests to peers, retries included",
                )
                .namespace(NAMESPACE)
                .buckets(REQUEST_BUCKETS.to_vec()),
                &["method"],
            )),
        );
        Metrics {
            handshakes: counter_vec(
                "handshakes_total",
                "Handshakes by direction and result (HandshakeError name, or why an outbound one failed)",
                &["direction", "result"],
            ),
            messages_sent: per_kind(&sent),
            bytes_sent: per_kind(&sent_bytes),
            messages_received: per_kind(&received),
            bytes_received: per_kind(&received_bytes),
            queue_dropped: per_queue(&dropped),
            stalled_peers_dropped: per_queue(&stalled),
            requests,
            request_failures: counter_vec(
                "request_failures_total",
                "Requests to peers that failed after their retries",
                &["method"],
            ),
            bans: registered(
                &registry,
                must(IntCounter::with_opts(opts(
                    "bans_total",
                    "Hosts put on the blacklist (rules, penalties, operators)",
                ))),
            ),
            reconnection_attempts: counter_vec(
                "reconnection_attempts_total",
                "Dials of lost peers by the scheduler, by result",
                &["result"],
            ),
            peers: gauge_vec("peers", "Peers in the pool", &["direction", "mode"]),
            queue_depth: gauge_vec(
                "queue_depth",
                "Items waiting in all peers' send queues",
                &["kind"],
            ),
            active_bans: gauge("banned_hosts", "Hosts refused now"),
            node_table: gauge("node_table_size", "Nodes in the discovery table"),
            reconnections_pending: gauge(
                "reconnections_pending",
                "Lost peers waiting to be dialed again",
            ),
            chain_height: gauge("chain_best_height", "Height of the best chain"),
            lib_height: gauge("chain_lib_height", "Height of the last irreversible block"),
            transaction_pool: gauge("transaction_pool_size", "Pending transactions"),
            process_threads: registered(
                &registry,
                must(IntGauge::new("process_threads", "OS threads of the process")),
            ),
            process_resident_memory: registered(
                &registry,
                must(IntGauge::new(
                    "process_resident_memory_bytes",
                    "Resident memory of the process",
                )),
            ),
            registry,
        }
    }

    /// A handshake's outcome; `result` is a `HandshakeError` name or a short failure class.
    pub fn handshake(&self, inbound: bool, result: &str) {
        let direction = if inbound { "inbound" } else { "outbound" };
        self.handshakes
            .with_label_values(&[direction, result])
            .inc();
    }

    /// A broadcast item of kind index `kind` (see [`BROADCAST_KINDS`]) left for a peer.
    pub fn sent(&self, kind: usize, bytes: usize) {
        if let (Some(m), Some(b)) = (self.messages_sent.get(kind), self.bytes_sent.get(kind)) {
            m.inc();
            b.inc_by(bytes as u64);
        }
    }

    /// A broadcast item of kind index `kind` arrived from a peer.
    pub fn received(&self, kind: usize, bytes: usize) {
        if let (Some(m), Some(b)) = (
            self.messages_received.get(kind),
            self.bytes_received.get(kind),
        ) {
            m.inc();
            b.inc_by(bytes as u64);
        }
    }

    /// An item dropped from a full send queue of index `queue` (see [`QUEUE_KINDS`]).
    pub fn dropped(&self, queue: usize) {
        if let Some(c) = self.queue_dropped.get(queue) {
            c.inc();
        }
    }

    /// A peer was dropped because a send from queue `queue` (a [`QUEUE_KINDS`] index) waited
    /// too long.
    pub fn stalled_peer_dropped(&self, queue: usize) {
        if let Some(c) = self.stalled_peers_dropped.get(queue) {
            c.inc();
        }
    }

    /// A request to a peer ended after `elapsed`; `method` is one of a fixed set of names.
    pub fn request(&self, method: &str, elapsed: Duration, ok: bool) {
        self.requests
            .with_label_values(&[method])
            .observe(elapsed.as_secs_f64());
        if !ok {
            self.request_failures.with_label_values(&[method]).inc();
        }
    }

    /// A host was put on the blacklist.
    pub fn banned(&self) {
        self.bans.inc();
    }

    /// The scheduler dialed a lost peer.
    pub fn reconnection_attempt(&self, connected: bool) {
        let result = if connected { "connected" } else { "failed" };
        self.reconnection_attempts
            .with_label_values(&[result])
            .inc();
    }

    /// The request histogram of `method` (tests and benchmarks read counts from it).
    pub fn request_histogram(&self, method: &str) -> Histogram {
        self.requests.with_label_values(&[method])
    }

    /// Sets the gauges from `state` and the process, and encodes everything as Prometheus text.
    pub fn render(&self, state: &StateSnapshot) -> String {
        self.peers.reset();
        for (direction, mode, count) in &state.peers {
            self.peers.with_label_values(&[direction, mode]).set(*count);
        }
        for (kind, depth) in QUEUE_KINDS.iter().zip(state.queue_depth) {
            self.queue_depth.with_label_values(&[kind]).set(depth);
        }
        self.active_bans.set(state.bans);
        self.node_table.set(state.node_table);
        self.reconnections_pending.set(state.reconnections_pending);
        self.chain_height.set(state.best_chain_height);
        self.lib_height.set(state.lib_height);
        self.transaction_pool.set(state.transaction_pool);
        let process = ProcessStats::read();
        self.process_threads.set(process.threads);
        self.process_resident_memory.set(process.resident_bytes);

        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            log::warn!("cannot encode the metrics: {e}");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Registers `metric` and hands it back, so each field of the constructor is one expression.
fn registered<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: C,
) -> C {
    must(registry.register(Box::new(metric.clone())));
    metric
}

/// Threads and resident memory from `/proc/self` (zeros where there is no procfs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessStats {
    pub threads: i64,
    pub resident_bytes: i64,
}

/// Page size assumed for `/proc/self/statm` (every Linux target we build for).
const PAGE_SIZE: i64 = 4096;

impl ProcessStats {
    pub fn read() -> ProcessStats {
        let threads = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Threads:"))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0);
        let resident_pages: i64 = std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
            .unwrap_or(0);
        ProcessStats {
            threads,
            resident_bytes: resident_pages.saturating_mul(PAGE_SIZE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_gauges_appear_in_the_text_with_bounded_labels() {
        let m = metrics();
        m.sent(1, 100);
        m.received(3, 40);
        m.dropped(2);
        m.stalled_peer_dropped(0);
        m.handshake(true, "HANDSHAKE_OK");
        m.request("RequestBlocks", Duration::from_millis(3), false);
        m.reconnection_attempt(false);
        let text = m.render(&StateSnapshot {
            peers: vec![("inbound", "stream", 2)],
            queue_depth: [1, 2, 3],
            best_chain_height: 7,
            ..StateSnapshot::default()
        });
        for line in [
            "aelf_net_messages_sent_total{kind=\"transaction\"}",
            "aelf_net_received_bytes_total{kind=\"lib_announcement\"}",
            "aelf_net_queue_dropped_total{kind=\"announcements\"}",
            "aelf_net_stalled_peers_dropped_total{kind=\"blocks\"} ",
            "aelf_net_handshakes_total{direction=\"inbound\",result=\"HANDSHAKE_OK\"}",
            "aelf_net_request_duration_seconds_bucket{method=\"RequestBlocks\",le=\"0.005\"}",
            "aelf_net_request_failures_total{method=\"RequestBlocks\"}",
            "aelf_net_reconnection_attempts_total{result=\"failed\"}",
            "aelf_net_peers{direction=\"inbound\",mode=\"stream\"} 2",
            "aelf_net_queue_depth{kind=\"announcements\"} 3",
            "aelf_net_chain_best_height 7",
            "process_threads ",
            "process_resident_memory_bytes ",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        assert!(ProcessStats::read().threads >= 1);
        assert!(ProcessStats::read().resident_bytes > 0);
        // A kind index out of range is ignored, not a panic.
        m.sent(99, 1);
        m.dropped(99);
        m.stalled_peer_dropped(99);
    }
}
