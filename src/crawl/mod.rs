//! The network crawler behind `aelf-netctl crawl`: walks an aelf network from seed endpoints
//! as a short-lived peer and reports every node it found, with the topology.
//!
//! Owns the walk (which endpoints to visit, in what order, how many at once, within which
//! limits) and the report. [`probe`] talks to one node, [`listener`] answers the remotes'
//! dial-backs of legacy nodes, [`dot`] draws the report. It uses only what a C# node answers
//! (`DoHandshake`, the HAND_SHAKE of `RequestByStream`, `GetNodes`, `Disconnect`, and `Ping` on
//! our side), builds on layer 1 (`grpc::tls`, `grpc::channel`, `grpc::client`, the stream
//! link) and must not touch a running node's pool, services or
//! configuration: it is a client, and it leaves nothing behind (every node it handshook gets a
//! `Disconnect`, and the listener and channels are closed when [`crawl`] returns).

pub mod dot;
pub mod listener;
pub mod probe;

use crate::crypto::NodeKey;
use crate::network::endpoint::Endpoint;
use crate::types::{Clock, SystemClock};
use crossbeam_channel::{bounded, RecvTimeoutError};
use grpcio::EnvBuilder;
use listener::DialBackListener;
use probe::Prober;
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Nodes probed at once unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// One node's budget unless told otherwise: certificate fetch, handshake (the remote's
/// dial-back included), up to three `GetNodes` and the goodbye.
pub const DEFAULT_NODE_TIMEOUT: Duration = Duration::from_secs(10);
/// The whole crawl's budget unless told otherwise; nodes not started by then are reported
/// as not visited.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(120);
/// Most endpoints a crawl visits unless told otherwise (a public network's discovery tables
/// hold at most 512 nodes each).
pub const DEFAULT_MAX_NODES: usize = 1000;

/// What to crawl and within which limits.
#[derive(Debug, Clone)]
pub struct CrawlOptions {
    /// Where the walk starts.
    pub seeds: Vec<Endpoint>,
    /// The chain id the crawler announces (the remotes refuse other chains with
    /// CHAIN_MISMATCH).
    pub chain_id: i32,
    /// Address of the dial-back listener; legacy-mode remotes (below 1.4.0.0) must be able to
    /// reach it.
    pub listen_address: IpAddr,
    /// Port of the dial-back listener; 0 picks a free one.
    pub listen_port: u16,
    /// Nodes probed at once, at least 1.
    pub concurrency: usize,
    pub node_timeout: Duration,
    pub total_timeout: Duration,
    /// Most endpoints visited; the rest are left out of the report.
    pub max_nodes: usize,
}

impl CrawlOptions {
    /// The defaults, from `seeds` on chain `chain_id`, listening on all IPv4 addresses.
    pub fn new(seeds: Vec<Endpoint>, chain_id: i32) -> CrawlOptions {
        CrawlOptions {
            seeds,
            chain_id,
            listen_address: IpAddr::from([0, 0, 0, 0]),
            listen_port: 0,
            concurrency: DEFAULT_CONCURRENCY,
            node_timeout: DEFAULT_NODE_TIMEOUT,
            total_timeout: DEFAULT_TOTAL_TIMEOUT,
            max_nodes: DEFAULT_MAX_NODES,
        }
    }
}

/// How a node's probe ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// It accepted the handshake: chain data and (unless `neighbours_error`) neighbours known.
    Answered,
    /// It refused the handshake; `reason` is the `HandshakeError` name.
    Refused,
    /// No TCP connection (refused, no route, timeout, unknown name).
    Unreachable,
    /// TCP connected but the TLS handshake failed.
    TlsFailure,
    /// Anything else: the handshake call failed (a C# remote whose dial-back `Ping` fails
    /// ends here), an invalid reply, a failed stream handshake, the node's time budget ran out.
    Failed,
    /// The crawl's time budget ran out before this node's turn.
    NotVisited,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Answered => "answered",
            Status::Refused => "refused",
            Status::Unreachable => "unreachable",
            Status::TlsFailure => "tls_failure",
            Status::Failed => "failed",
            Status::NotVisited => "not_visited",
        }
    }
}

/// A node another node says it knows (a `GetNodes` entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Neighbour {
    pub endpoint: String,
    /// Hex of the public key it was advertised with.
    pub pubkey: String,
}

/// What the crawl learnt about one endpoint. Chain fields come from the node's handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeReport {
    /// `host:port` as it was given or advertised.
    pub endpoint: String,
    pub status: Status,
    /// Why it did not answer (`None` when it did).
    pub reason: Option<String>,
    pub pubkey: Option<String>,
    /// How the crawler talked to it: "stream" or "legacy" (its version decides).
    pub mode: Option<String>,
    pub node_version: Option<String>,
    /// The chain's name ("AELF"), or the number when it has none.
    pub chain_id: Option<String>,
    pub best_height: Option<i64>,
    pub best_hash: Option<String>,
    pub lib_height: Option<i64>,
    pub lib_hash: Option<String>,
    /// The nodes it knows (its `GetNodes` answers), sorted by endpoint.
    pub neighbours: Vec<Neighbour>,
    /// Why the neighbours are missing or partial, for a node that answered.
    pub neighbours_error: Option<String>,
    /// The node took our `Disconnect`.
    pub goodbye: bool,
    /// Time spent on the node.
    pub elapsed_ms: u64,
}

impl NodeReport {
    fn new(endpoint: String, status: Status) -> NodeReport {
        NodeReport {
            endpoint,
            status,
            reason: None,
            pubkey: None,
            mode: None,
            node_version: None,
            chain_id: None,
            best_height: None,
            best_hash: None,
            lib_height: None,
            lib_hash: None,
            neighbours: Vec::new(),
            neighbours_error: None,
            goodbye: false,
            elapsed_ms: 0,
        }
    }
}

/// The whole crawl.
#[derive(Debug, Clone, Serialize)]
pub struct CrawlReport {
    /// The throw-away key the crawler used (what the nodes' logs show).
    pub crawler_pubkey: String,
    /// Every endpoint in the order it was found: seeds first.
    pub nodes: Vec<NodeReport>,
    /// The total budget ran out.
    pub timed_out: bool,
    /// More endpoints were advertised than `max_nodes` allowed to visit.
    pub truncated: bool,
    pub elapsed_ms: u64,
}

impl CrawlReport {
    pub fn count(&self, status: Status) -> usize {
        self.nodes.iter().filter(|n| n.status == status).count()
    }
}

/// Why a crawl could not start.
#[derive(Debug, Error)]
pub enum CrawlError {
    #[error("no seed endpoint to start from")]
    NoSeeds,
    #[error("{0}")]
    Listener(String),
    #[error("cannot start a crawl thread: {0}")]
    Thread(std::io::Error),
}

/// Crawls from `options.seeds`: probes each endpoint once, at most `concurrency` at a time,
/// and every endpoint the answering nodes advertise, until none is left, `max_nodes` were
/// visited or `total_timeout` ran out. Blocks until every probe has ended.
pub fn crawl(options: &CrawlOptions) -> Result<CrawlReport, CrawlError> {
    crawl_with_clock(options, Arc::new(SystemClock))
}

/// [`crawl`] with the clock that stamps our handshakes.
pub fn crawl_with_clock(
    options: &CrawlOptions,
    clock: Arc<dyn Clock>,
) -> Result<CrawlReport, CrawlError> {
    if options.seeds.is_empty() {
        return Err(CrawlError::NoSeeds);
    }
    let started = Instant::now();
    let deadline = started + options.total_timeout;
    let env = Arc::new(EnvBuilder::new().cq_count(1).name_prefix("crawl").build());
    let listener =
        DialBackListener::start(env.clone(), options.listen_address, options.listen_port)
            .map_err(CrawlError::Listener)?;
    let prober = Prober {
        key: NodeKey::generate(),
        env,
        chain_id: options.chain_id,
        listening_port: listener.local_addr().port(),
        node_timeout: options.node_timeout,
        clock,
    };
    let crawler_pubkey = prober.key.pubkey_hex();
    log::info!(
        "crawling from {} seed(s) as {}, dial-backs at {}",
        options.seeds.len(),
        &crawler_pubkey[..16],
        listener.local_addr()
    );

    let workers = options.concurrency.max(1);
    let max_nodes = options.max_nodes.max(options.seeds.len());
    // Capacities: every endpoint is queued at most once, and at most `max_nodes` are.
    let (jobs_tx, jobs_rx) = bounded::<(usize, Endpoint)>(max_nodes);
    let (done_tx, done_rx) = bounded::<(usize, NodeReport)>(max_nodes);
    let mut found: Vec<Option<NodeReport>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut truncated = false;
    let mut timed_out = false;

    std::thread::scope(|scope| -> Result<(), CrawlError> {
        for i in 0..workers {
            let jobs = jobs_rx.clone();
            let done = done_tx.clone();
            let prober = &prober;
            std::thread::Builder::new()
                .name(format!("crawl-{i}"))
                .spawn_scoped(scope, move || {
                    for (at, endpoint) in jobs {
                        let report = if Instant::now() >= deadline {
                            NodeReport::new(endpoint.to_string(), Status::NotVisited)
                        } else {
                            prober.probe(&endpoint)
                        };
                        if done.send((at, report)).is_err() {
                            return;
                        }
                    }
                })
                .map_err(CrawlError::Thread)?;
        }
        drop(done_tx);

        let mut jobs = Some(jobs_tx);
        let mut pending = 0usize;
        let mut visit = |endpoint: Endpoint,
                         found: &mut Vec<Option<NodeReport>>,
                         jobs: &Option<crossbeam_channel::Sender<(usize, Endpoint)>>|
         -> bool {
            let key = endpoint.to_string();
            if index.contains_key(&key) {
                return false;
            }
            if found.len() >= max_nodes {
                truncated = true;
                return false;
            }
            let at = found.len();
            index.insert(key, at);
            found.push(None);
            match jobs {
                Some(jobs) => jobs.send((at, endpoint)).is_ok(),
                None => false,
            }
        };
        for seed in &options.seeds {
            if visit(seed.clone(), &mut found, &jobs) {
                pending += 1;
            }
        }
        while pending > 0 {
            let wait = deadline.saturating_duration_since(Instant::now());
            let (at, report) = match done_rx.recv_timeout(wait) {
                Ok(done) => done,
                Err(RecvTimeoutError::Timeout) => {
                    // Queued endpoints are answered NotVisited by the workers from now on.
                    timed_out = true;
                    jobs = None;
                    match done_rx.recv() {
                        Ok(done) => done,
                        Err(_) => break,
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            pending -= 1;
            for neighbour in &report.neighbours {
                match Endpoint::parse(&neighbour.endpoint) {
                    Ok(endpoint) => {
                        if visit(endpoint, &mut found, &jobs) {
                            pending += 1;
                        }
                    }
                    Err(e) => log::debug!("{} advertises {e}", report.endpoint),
                }
            }
            if let Some(slot) = found.get_mut(at) {
                *slot = Some(report);
            }
        }
        // Dropping the job sender ends the workers' loops; the scope joins them.
        drop(jobs);
        Ok(())
    })?;
    drop(listener);

    let nodes = found
        .into_iter()
        .zip(index_order(&index))
        .map(|(report, endpoint)| {
            report.unwrap_or_else(|| NodeReport::new(endpoint, Status::NotVisited))
        })
        .collect();
    Ok(CrawlReport {
        crawler_pubkey,
        nodes,
        timed_out,
        truncated,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// The endpoints of `index` by their position.
fn index_order(index: &HashMap<String, usize>) -> Vec<String> {
    let mut order = vec![String::new(); index.len()];
    for (endpoint, at) in index {
        if let Some(slot) = order.get_mut(*at) {
            slot.clone_from(endpoint);
        }
    }
    order
}
