//! The operator HTTP API (`[api] listen`, loopback by default): aelf web-API routes and shapes,
//! served by `api-<i>` threads (`[threads] api_workers`) on a small synchronous HTTP server.
//!
//! Routes (see [`routes`]): the C# node's `/api/net/peer(s)`, `/api/net/networkInfo`, the
//! `/api/blockChain/*` reads, `sendTransaction(s)` and `transactionResult(s)`; beyond it
//! `/api/net/bans` (list, ban, unban), `/api/net/nodes`, `/api/net/reconnections` and
//! Prometheus `/metrics`. Write routes need HTTP Basic auth ([`auth`]).
//!
//! This file owns the server threads, the request limits and the [`ApiBackend`] contract;
//! `routes` the routing table and input checks, `dto` the JSON shapes, [`client`] the blocking
//! client tools and tests reach a node's API with. None of it knows the node: everything the
//! API reads or does goes through [`ApiBackend`].

pub mod auth;
pub mod client;
mod dto;
mod routes;

pub use auth::{basic_header, BasicAuth, NEED_BASIC_AUTH};

use crate::network::blacklist::Ban;
use crate::network::broadcast::QueueStats;
use crate::network::endpoint::Endpoint;
use crate::network::node_table::NodeRecord;
use crate::network::reconnection::ReconnectingPeer;
use crate::network::request_metrics::RequestMetric;
use crate::pb::aelf_core::Transaction;
use crate::pb::network_types::BlockWithTransactions;
use crate::types::Hash;
use log::{debug, info, warn};
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use thiserror::Error;
use tiny_http::{Header, Request, Response, Server};

/// Largest request body accepted (a transaction's hex is far smaller).
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// How often idle workers look for the stop flag.
const POLL: Duration = Duration::from_millis(200);

/// What the API reads and does, implemented by the node.
pub trait ApiBackend: Send + Sync + 'static {
    fn chain_status(&self) -> ChainStatus;
    /// A stored block on any branch.
    fn block_by_hash(&self, hash: &Hash) -> Result<Option<BlockWithTransactions>, String>;
    /// The best chain's block at `height`.
    fn block_by_height(&self, height: i64) -> Result<Option<BlockWithTransactions>, String>;
    /// Takes the protobuf bytes of `aelf.Transaction`s: their ids, in order, once each is in
    /// the pool (and broadcast) or was already known to it (a retry is not an error). Every
    /// one is decoded and its signature checked before any is submitted, so a malformed or
    /// badly signed one refuses the whole batch (as C# `PublishTransactionsAsync`).
    fn send_transactions(&self, raws: &[Vec<u8>]) -> Result<Vec<Hash>, TxRefusal>;
    /// What this node knows of a transaction: pending in its pool, included in a block of
    /// its best chain within the depth it searches, or neither.
    fn transaction_status(&self, id: &Hash) -> Result<TxStatus, String>;
    /// Pending transactions.
    fn transaction_pool_size(&self) -> usize;
    /// Every pool peer, ready or not (C# `GetPeers`).
    fn peers(&self) -> Vec<PeerSummary>;
    /// `(Version, ProtocolVersion)` of `GET /api/net/networkInfo`.
    fn versions(&self) -> (String, i32);
    /// Unbans the host and dials the endpoint: `true` when it joined the pool (C#
    /// `AddTrustedPeerAsync`; a failed dial is `false`, not an error).
    fn add_peer(&self, endpoint: &Endpoint) -> bool;
    /// Cancels the endpoint's reconnection; when a pool peer has that endpoint, bans its host
    /// (C#: `int.MaxValue` seconds) and disconnects it: `true` (C# `RemovePeerByEndpointAsync`).
    fn remove_peer(&self, endpoint: &Endpoint) -> bool;
    /// Hosts refused now, with expiry and reason.
    fn bans(&self) -> Vec<Ban>;
    /// Bans `host` for `duration_ms` (`None`: the configured ban duration) and disconnects its
    /// peers: the ban's expiry and how many peers left.
    fn ban(&self, host: &str, duration_ms: Option<i64>, reason: &str) -> (i64, usize);
    /// Lifts a ban: whether there was one.
    fn unban(&self, host: &str) -> bool;
    /// The node table (discovery), oldest checked first.
    fn nodes(&self) -> Vec<NodeRecord>;
    /// Lost peers waiting to be dialed again, soonest first.
    fn reconnections(&self) -> Vec<ReconnectingPeer>;
    /// Prometheus text of the process's metrics.
    fn metrics(&self) -> String;
}

/// The chain as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainStatus {
    /// The chain's base58 name, e.g. "AELF".
    pub chain_id: String,
    pub genesis_block_hash: Hash,
    pub best_chain_hash: Hash,
    pub best_chain_height: i64,
    pub last_irreversible_block_hash: Hash,
    pub last_irreversible_block_height: i64,
    /// Tips of the open branches with their heights (the best tip included).
    pub branches: Vec<(Hash, i64)>,
    /// Base58 address of the genesis (zero) contract, when the node was told it
    /// (`[chain] genesis_contract_address`): a network node executes nothing, so it cannot
    /// compute it as the C# node does.
    pub genesis_contract_address: Option<String>,
}

/// Why transactions sent through the API were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxRefusal {
    /// Not a decodable `aelf.Transaction`, or one the pool does not take as it is (C# 20008).
    Invalid(String),
    /// The signature does not recover to the `From` address (C# 20013).
    BadSignature(String),
    /// The pool is full: sending again later may succeed (503; the C# node answers the id and
    /// drops the transaction in its pool).
    Busy(String),
}

/// What this node knows of one transaction; it never executes any, so never its outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum TxStatus {
    /// Waiting in this node's pool (C# `PENDING`).
    Pending,
    /// In this block of the best chain; whether its execution succeeded is unknown here.
    Included {
        block_hash: Hash,
        block_height: i64,
        transaction: Transaction,
    },
    /// Neither pending nor in the blocks searched (C# `NOTEXISTED`).
    Unknown,
}

/// One pool peer as the API shows it.
#[derive(Debug, Clone)]
pub struct PeerSummary {
    /// `host:port` the peer listens on.
    pub endpoint: String,
    pub pubkey: String,
    pub protocol_version: i32,
    pub node_version: String,
    /// Unix ms.
    pub connection_time_ms: i64,
    pub connection_status: &'static str,
    pub inbound: bool,
    /// "legacy" or "stream".
    pub mode: &'static str,
    pub queues: QueueStats,
    pub request_metrics: Vec<RequestMetric>,
    pub best_height: i64,
    pub lib_height: i64,
    pub sync_finished: bool,
}

/// Why the API could not start.
#[derive(Debug, Error)]
pub enum ApiError {
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
    #[error("cannot start an API thread: {0}")]
    Thread(std::io::Error),
}

/// An HTTP answer: status, content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// Answers one request given as text: method, URL (path and query), `Authorization` header,
/// body. What the server threads run for every request; pure apart from what `backend` does,
/// so it can be driven directly (the API fuzz target does).
pub fn answer(
    backend: &dyn ApiBackend,
    auth: &BasicAuth,
    method: &str,
    url: &str,
    authorization: Option<&str>,
    body: &[u8],
) -> Answer {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    match method.parse::<tiny_http::Method>() {
        _ if body.len() > MAX_BODY_BYTES => {
            routes::error(413, "TooLarge", "request body over 1 MiB")
        }
        Ok(method) => routes::route(
            backend,
            &routes::Call {
                method: &method,
                path,
                query,
                body,
                authorization,
                auth,
            },
        ),
        Err(()) => routes::invalid_input("unreadable method"),
    }
}

/// Reads the body (at most [`MAX_BODY_BYTES`]), routes, answers.
fn serve(backend: &dyn ApiBackend, auth: &BasicAuth, mut request: Request) {
    let url = request.url().to_owned();
    let path = url.split('?').next().unwrap_or("").to_owned();
    let method = request.method().clone();
    let authorization = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().to_owned());
    let mut body = Vec::new();
    let read = request
        .as_reader()
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut body);
    let reply = match read {
        Err(e) => routes::invalid_input(&format!("cannot read the body: {e}")),
        Ok(_) => answer(
            backend,
            auth,
            method.as_str(),
            &url,
            authorization.as_deref(),
            &body,
        ),
    };
    debug!("api {method} {path} -> {}", reply.status);
    let mut response = Response::from_string(reply.body).with_status_code(reply.status);
    if let Ok(header) = Header::from_bytes("Content-Type", reply.content_type) {
        response = response.with_header(header);
    }
    if reply.status == 401 {
        if let Ok(header) = Header::from_bytes("WWW-Authenticate", "Basic realm=\"aelf-net\"") {
            response = response.with_header(header);
        }
    }
    if let Err(e) = request.respond(response) {
        debug!("api answer to {path} not delivered: {e}");
    }
}

/// The running API.
pub struct ApiServer {
    /// Set to stop the workers (they look at it between polls).
    stopping: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    local_addr: SocketAddr,
}

impl ApiServer {
    /// Listens on `listen` and serves with `workers` threads named `api-<i>`; write routes
    /// need `auth`.
    pub fn start(
        listen: SocketAddr,
        backend: Arc<dyn ApiBackend>,
        workers: usize,
        auth: BasicAuth,
    ) -> Result<ApiServer, ApiError> {
        let server = Server::http(listen).map_err(|e| ApiError::Listen {
            addr: listen,
            reason: e.to_string(),
        })?;
        let local_addr = server.server_addr().to_ip().unwrap_or(listen);
        let server = Arc::new(server);
        let stopping = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for i in 0..workers.max(1) {
            let worker = server.clone();
            let backend = backend.clone();
            let auth = auth.clone();
            let stop = stopping.clone();
            let spawned = crate::thread::spawn(&format!("api-{i}"), move || loop {
                if stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
                match worker.recv_timeout(POLL) {
                    Ok(Some(request)) => serve(backend.as_ref(), &auth, request),
                    Ok(None) => {}
                    Err(e) => {
                        debug!("api worker stops: {e}");
                        return Ok(());
                    }
                }
            });
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    stopping.store(true, Ordering::SeqCst);
                    return Err(ApiError::Thread(e));
                }
            }
        }
        info!("operator API listening on http://{local_addr}");
        Ok(ApiServer {
            stopping,
            threads,
            local_addr,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Joins the workers (each finishes the request it serves, within one poll); the listener
    /// closes with the last of them.
    pub fn stop(self) {
        self.stopping.store(true, Ordering::SeqCst);
        for t in self.threads {
            if t.join().is_err() {
                warn!("an API thread panicked");
            }
        }
    }
}
