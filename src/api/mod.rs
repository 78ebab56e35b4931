//! The operator HTTP API (`[api] listen`, loopback by default): aelf web-API routes and shapes,
//! served by `api-<i>` threads on a small synchronous HTTP server.
//!
//! Routes so far: `GET /api/blockChain/chainStatus`, `POST /api/blockChain/sendTransaction`
//! (the node's local entry point for transactions), `GET /api/blockChain/transactionPoolStatus`,
//! and the scheduler's state (beyond the C# node): `GET /api/net/bans`, `GET /api/net/nodes`,
//! `GET /api/net/reconnections`. The peer routes, write routes and metrics come with the
//! operator-surface issue.
//!
//! Owns routing, request limits and the JSON shapes. It must not know the node: everything it
//! reads or does goes through [`ApiBackend`].

use crate::network::blacklist::Ban;
use crate::network::node_table::NodeRecord;
use crate::network::reconnection::ReconnectingPeer;
use crate::types::Hash;
use log::{debug, info, warn};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use thiserror::Error;
use tiny_http::{Header, Method, Request, Response, Server};

/// Largest request body accepted (a transaction's hex is far smaller).
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// How often idle workers look for the stop flag.
const POLL: Duration = Duration::from_millis(200);

/// What the API reads and does, implemented by the node.
pub trait ApiBackend: Send + Sync + 'static {
    fn chain_status(&self) -> ChainStatus;
    /// Takes the protobuf bytes of an `aelf.Transaction`: `Ok(id)` when accepted into the pool
    /// (and broadcast), `Err(reason)` when refused.
    fn send_transaction(&self, raw: &[u8]) -> Result<Hash, String>;
    /// Pending transactions.
    fn transaction_pool_size(&self) -> usize;
    /// Hosts refused now, with expiry and reason.
    fn bans(&self) -> Vec<Ban>;
    /// The node table (discovery), oldest checked first.
    fn nodes(&self) -> Vec<NodeRecord>;
    /// Lost peers waiting to be dialed again, soonest first.
    fn reconnections(&self) -> Vec<ReconnectingPeer>;
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BanDto {
    host: String,
    reason: String,
    /// Unix milliseconds.
    expiry_time_ms: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct NodeDto {
    endpoint: String,
    pubkey: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ReconnectionDto {
    endpoint: String,
    pubkey: String,
    retry_count: u32,
    next_attempt_time_ms: i64,
    disconnection_time_ms: i64,
    /// Retried forever (persistent peers; boot nodes of a node without peers).
    forever: bool,
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
}

/// Why the API could not start.
#[derive(Debug, Error)]
pub enum ApiError {
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
    #[error("cannot start an API thread: {0}")]
    Thread(std::io::Error),
}

/// aelf's `ChainStatusDto` (the fields we can fill; the longest chain is the best chain here).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ChainStatusDto {
    chain_id: String,
    genesis_block_hash: String,
    longest_chain_hash: String,
    longest_chain_height: i64,
    best_chain_hash: String,
    best_chain_height: i64,
    last_irreversible_block_hash: String,
    last_irreversible_block_height: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendTransactionInput {
    raw_transaction: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SendTransactionOutput {
    transaction_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TransactionPoolStatus {
    queued: usize,
    validated: usize,
}

/// An answer: status and JSON body.
struct Reply {
    status: u16,
    body: String,
}

fn json(status: u16, value: &impl Serialize) -> Reply {
    Reply {
        status,
        body: serde_json::to_string(value).unwrap_or_else(|_| "{}".into()),
    }
}

/// aelf's (ABP's) error body: `{"Error":{"Code":…,"Message":…,"Details":null,…}}`.
fn error(status: u16, code: &str, message: &str) -> Reply {
    json(
        status,
        &serde_json::json!({
            "Error": {
                "Code": code,
                "Message": message,
                "Details": null,
                "ValidationErrors": null
            }
        }),
    )
}

/// Answers one request (pure: method, path without query, body).
fn route(backend: &dyn ApiBackend, method: &Method, path: &str, body: &[u8]) -> Reply {
    match (method, path) {
        (Method::Get, "/api/blockChain/chainStatus") => {
            let s = backend.chain_status();
            json(
                200,
                &ChainStatusDto {
                    chain_id: s.chain_id,
                    genesis_block_hash: s.genesis_block_hash.to_hex(),
                    longest_chain_hash: s.best_chain_hash.to_hex(),
                    longest_chain_height: s.best_chain_height,
                    best_chain_hash: s.best_chain_hash.to_hex(),
                    best_chain_height: s.best_chain_height,
                    last_irreversible_block_hash: s.last_irreversible_block_hash.to_hex(),
                    last_irreversible_block_height: s.last_irreversible_block_height,
                },
            )
        }
        (Method::Post, "/api/blockChain/sendTransaction") => {
            let input: SendTransactionInput = match serde_json::from_slice(body) {
                Ok(input) => input,
                Err(e) => return error(400, "InvalidInput", &format!("bad JSON: {e}")),
            };
            let Ok(raw) = hex::decode(input.raw_transaction.trim()) else {
                return error(400, "InvalidTransaction", "RawTransaction is not hex");
            };
            match backend.send_transaction(&raw) {
                Ok(id) => json(
                    200,
                    &SendTransactionOutput {
                        transaction_id: id.to_hex(),
                    },
                ),
                Err(reason) => error(403, "InvalidTransaction", &reason),
            }
        }
        (Method::Get, "/api/blockChain/transactionPoolStatus") => {
            let n = backend.transaction_pool_size();
            json(
                200,
                &TransactionPoolStatus {
                    queued: n,
                    validated: n,
                },
            )
        }
        (Method::Get, "/api/net/bans") => {
            let bans: Vec<BanDto> = backend
                .bans()
                .into_iter()
                .map(|b| BanDto {
                    host: b.host,
                    reason: b.reason,
                    expiry_time_ms: b.expiry,
                })
                .collect();
            json(200, &bans)
        }
        (Method::Get, "/api/net/nodes") => {
            let nodes: Vec<NodeDto> = backend
                .nodes()
                .into_iter()
                .map(|n| NodeDto {
                    endpoint: n.endpoint.to_string(),
                    pubkey: hex::encode(n.pubkey),
                })
                .collect();
            json(200, &nodes)
        }
        (Method::Get, "/api/net/reconnections") => {
            let waiting: Vec<ReconnectionDto> = backend
                .reconnections()
                .into_iter()
                .map(|r| ReconnectionDto {
                    endpoint: r.endpoint.to_string(),
                    pubkey: r.pubkey_hex,
                    retry_count: r.retry_count,
                    next_attempt_time_ms: r.next_attempt,
                    disconnection_time_ms: r.disconnection_time,
                    forever: r.forever,
                })
                .collect();
            json(200, &waiting)
        }
        (
            _,
            "/api/blockChain/chainStatus"
            | "/api/blockChain/sendTransaction"
            | "/api/blockChain/transactionPoolStatus"
            | "/api/net/bans"
            | "/api/net/nodes"
            | "/api/net/reconnections",
        ) => error(405, "MethodNotAllowed", "method not allowed"),
        _ => error(404, "NotFound", "no such route"),
    }
}

/// Reads the body (at most [`MAX_BODY_BYTES`]), routes, answers.
fn serve(backend: &dyn ApiBackend, mut request: Request) {
    let path = request.url().split('?').next().unwrap_or("").to_owned();
    let method = request.method().clone();
    let mut body = Vec::new();
    let read = request
        .as_reader()
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut body);
    let reply = match read {
        Err(e) => error(400, "InvalidInput", &format!("cannot read the body: {e}")),
        Ok(_) if body.len() > MAX_BODY_BYTES => error(413, "TooLarge", "request body over 1 MiB"),
        Ok(_) => route(backend, &method, &path, &body),
    };
    debug!("api {method} {path} -> {}", reply.status);
    let mut response = Response::from_string(reply.body).with_status_code(reply.status);
    if let Ok(header) = Header::from_bytes("Content-Type", "application/json; charset=utf-8") {
        response = response.with_header(header);
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
    /// Listens on `listen` and serves with `workers` threads named `api-<i>`.
    pub fn start(
        listen: SocketAddr,
        backend: Arc<dyn ApiBackend>,
        workers: usize,
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
            let stop = stopping.clone();
            let spawned = crate::thread::spawn(&format!("api-{i}"), move || loop {
                if stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
                match worker.recv_timeout(POLL) {
                    Ok(Some(request)) => serve(backend.as_ref(), request),
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
