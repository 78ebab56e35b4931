//! The routing table of the operator API and each route's input checks.
//!
//! Owns paths, methods, query and body parsing, auth placement, status codes and aelf's error
//! codes. It must not reach the node except through [`ApiBackend`], and never answers 500 for
//! a client's mistake.
//!
//! Statuses follow the C# node where a client can tell: what it refuses with one of its
//! `Error` codes (a `UserFriendlyException`, which ABP answers 403) is 403 here too, with that
//! code and our own clearer message; a parameter or body that does not bind (not an integer,
//! not JSON) is 400 with 20012, as ASP.NET's validation answers 400.
//!
//! | route | auth | answer |
//! |---|---|---|
//! | `GET /api/blockChain/chainStatus` | | `ChainStatusDto` |
//! | `GET /api/blockChain/blockHeight` | | best chain height |
//! | `GET /api/blockChain/block?blockHash=&includeTransactions=` | | `BlockDto` |
//! | `GET /api/blockChain/blockByHeight?blockHeight=&includeTransactions=` | | `BlockDto` |
//! | `POST /api/blockChain/sendTransaction` `{"RawTransaction"}` | | `{"TransactionId"}` |
//! | `POST /api/blockChain/sendTransactions` `{"RawTransactions":"hex,hex"}` | | ids |
//! | `GET /api/blockChain/transactionResult?transactionId=` | | `TransactionResultDto` |
//! | `GET /api/blockChain/transactionResults?blockHash=&offset=&limit=` | | its list |
//! | `GET /api/blockChain/transactionPoolStatus` | | `{"Queued","Validated"}` |
//! | `GET /api/net/peers?withMetrics=` | | `PeerDto[]` |
//! | `POST /api/net/peer` `{"Address"}` | Basic | `true`/`false` |
//! | `DELETE /api/net/peer?address=` | Basic | `true`/`false` |
//! | `GET /api/net/networkInfo` | | `{"Version","ProtocolVersion","Connections"}` |
//! | `GET /api/net/bans` | | `[{"Host","Reason","ExpiryTimeMs"}]` |
//! | `POST /api/net/bans` `{"Host","DurationMs"?,"Reason"?}` | Basic | `{"Host","ExpiryTimeMs","Disconnected"}` |
//! | `DELETE /api/net/bans?host=` | Basic | `true`/`false` |
//! | `GET /api/net/nodes`, `GET /api/net/reconnections` | | lists |
//! | `GET /metrics` | | Prometheus text |
//!
//! Paths and parameter names match case-insensitively, as ASP.NET routes and binds them.

use super::dto::{
    BanDto, BanOutput, BlockDto, ChainStatusDto, NetworkInfoDto, NodeDto, PeerDto, ReconnectionDto,
    SendTransactionOutput, TransactionPoolStatus, TransactionResultDto,
};
use super::{Answer, ApiBackend, BasicAuth, TxRefusal, TxStatus};
use crate::network::endpoint::Endpoint;
use crate::types::Hash;
use serde::Serialize;
use serde_json::Value;
use std::net::IpAddr;
use tiny_http::Method;

/// aelf's web-API error codes (C# `AElf.WebApp.Application.Chain.Error`).
pub mod codes {
    pub const NOT_FOUND: &str = "20001";
    pub const INVALID_ADDRESS: &str = "20002";
    pub const INVALID_BLOCK_HASH: &str = "20003";
    pub const INVALID_TRANSACTION_ID: &str = "20004";
    pub const INVALID_OFFSET: &str = "20006";
    pub const INVALID_LIMIT: &str = "20007";
    pub const INVALID_TRANSACTION: &str = "20008";
    pub const INVALID_PARAMS: &str = "20012";
    pub const INVALID_SIGNATURE: &str = "20013";
}

/// Most results `transactionResults` gives at once (C#: `limit` must be 1..=100).
const MAX_RESULTS_LIMIT: i64 = 100;
/// `transactionResults` without `limit` (the C# default).
const DEFAULT_RESULTS_LIMIT: i64 = 10;

/// Longest reason an operator may give a ban.
const MAX_BAN_REASON_CHARS: usize = 200;
/// Reason recorded when an operator bans without one.
const OPERATOR_BAN_REASON: &str = "banned by an operator";
/// Content type of the Prometheus text format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";

/// What a route answers: the API's [`Answer`].
pub(super) type Reply = Answer;

/// One request as the router sees it.
pub(super) struct Call<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub query: &'a str,
    pub body: &'a [u8],
    pub authorization: Option<&'a str>,
    pub auth: &'a BasicAuth,
}

fn json(status: u16, value: &impl Serialize) -> Reply {
    Reply {
        status,
        body: serde_json::to_string(value).unwrap_or_else(|_| "{}".into()),
        content_type: JSON,
    }
}

fn ok(value: &impl Serialize) -> Reply {
    json(200, value)
}

/// aelf's (ABP's) error body: `{"Error":{"Code":…,"Message":…,"Details":null,…}}`.
pub(super) fn error(status: u16, code: &str, message: &str) -> Reply {
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

/// 400 with aelf's "Invalid params" code and what was wrong.
pub(super) fn invalid_input(message: &str) -> Reply {
    error(400, codes::INVALID_PARAMS, message)
}

/// 403 with one of aelf's codes: what the C# node refuses with a `UserFriendlyException`.
fn refused(code: &str, message: &str) -> Reply {
    error(403, code, message)
}

fn not_found() -> Reply {
    refused(codes::NOT_FOUND, "Not found")
}

/// The methods each path answers, and its handler.
type Handler = fn(&dyn ApiBackend, &Call) -> Reply;

static ROUTES: &[(&str, Method, bool, Handler)] = &[
    (
        "/api/blockChain/chainStatus",
        Method::Get,
        false,
        chain_status,
    ),
    (
        "/api/blockChain/blockHeight",
        Method::Get,
        false,
        block_height,
    ),
    ("/api/blockChain/block", Method::Get, false, block_by_hash),
    (
        "/api/blockChain/blockByHeight",
        Method::Get,
        false,
        block_by_height,
    ),
    (
        "/api/blockChain/sendTransaction",
        Method::Post,
        false,
        send_transaction,
    ),
    (
        "/api/blockChain/sendTransactions",
        Method::Post,
        false,
        send_transactions,
    ),
    (
        "/api/blockChain/transactionResult",
        Method::Get,
        false,
        transaction_result,
    ),
    (
        "/api/blockChain/transactionResults",
        Method::Get,
        false,
        transaction_results,
    ),
    (
        "/api/blockChain/transactionPoolStatus",
        Method::Get,
        false,
        pool_status,
    ),
    ("/api/net/peers", Method::Get, false, peers),
    ("/api/net/peer", Method::Post, true, add_peer),
    ("/api/net/peer", Method::Delete, true, remove_peer),
    ("/api/net/networkInfo", Method::Get, false, network_info),
    ("/api/net/bans", Method::Get, false, bans),
    ("/api/net/bans", Method::Post, true, ban),
    ("/api/net/bans", Method::Delete, true, unban),
    ("/api/net/nodes", Method::Get, false, nodes),
    ("/api/net/reconnections", Method::Get, false, reconnections),
    ("/metrics", Method::Get, false, metrics),
];

/// Answers one request.
pub(super) fn route(backend: &dyn ApiBackend, call: &Call) -> Reply {
    let path = call.path.trim_end_matches('/');
    let mut path_known = false;
    for (route, method, needs_auth, handler) in ROUTES {
        if !route.eq_ignore_ascii_case(path) {
            continue;
        }
        path_known = true;
        if method != call.method {
            continue;
        }
        if *needs_auth {
            if let Err(reason) = call.auth.check(call.authorization) {
                return error(401, "Unauthorized", reason);
            }
        }
        return handler(backend, call);
    }
    if path_known {
        error(405, "MethodNotAllowed", "method not allowed on this route")
    } else {
        error(404, "NotFound", "no such route")
    }
}

/// The query parameter `name` (case-insensitive, percent-decoded); the first one wins.
fn param(call: &Call, name: &str) -> Option<String> {
    form_urlencoded::parse(call.query.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
}

/// An optional boolean parameter (`true`/`false`, any case); absent is `false`.
fn flag(call: &Call, name: &str) -> Result<bool, Reply> {
    match param(call, name) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") || v.is_empty() => Ok(false),
        Some(v) => Err(invalid_input(&format!(
            "{name} must be true or false, got {v:?}"
        ))),
    }
}

/// The body as a JSON object.
fn body_object(call: &Call) -> Result<serde_json::Map<String, Value>, Reply> {
    match serde_json::from_slice(call.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid_input("the body must be a JSON object")),
        Err(e) => Err(invalid_input(&format!("bad JSON: {e}"))),
    }
}

/// A body property, its name matched case-insensitively (ASP.NET's binding).
fn property<'a>(map: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// A required string property.
fn string_property(map: &serde_json::Map<String, Value>, name: &str) -> Result<String, Reply> {
    match property(map, name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(invalid_input(&format!("{name} must be a string"))),
        None => Err(invalid_input(&format!("{name} is required"))),
    }
}

fn endpoint(text: &str) -> Result<Endpoint, Reply> {
    Endpoint::parse(text.trim()).map_err(|e| {
        error(
            400,
            codes::INVALID_ADDRESS,
            &format!("{text:?} is not a host:port address: {e}"),
        )
    })
}

/// A host to ban: an IP address, written in its canonical form (as peers' hosts are).
fn host(text: &str) -> Result<String, Reply> {
    let text = text.trim();
    let unbracketed = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    unbracketed
        .parse::<IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| {
            error(
                400,
                codes::INVALID_ADDRESS,
                &format!("{text:?} is not an IP address"),
            )
        })
}

fn chain_status(backend: &dyn ApiBackend, _: &Call) -> Reply {
    ok(&ChainStatusDto::from(backend.chain_status()))
}

fn block_height(backend: &dyn ApiBackend, _: &Call) -> Reply {
    ok(&backend.chain_status().best_chain_height)
}

fn block_reply(
    found: Result<Option<crate::pb::network_types::BlockWithTransactions>, String>,
    include_transactions: bool,
) -> Reply {
    match found {
        Ok(Some(block)) => match BlockDto::new(&block, include_transactions) {
            Ok(dto) => ok(&dto),
            Err(e) => error(500, "StoreError", &format!("stored block unreadable: {e}")),
        },
        Ok(None) => not_found(),
        Err(e) => error(500, "StoreError", &e),
    }
}

fn block_by_hash(backend: &dyn ApiBackend, call: &Call) -> Reply {
    let include = match flag(call, "includeTransactions") {
        Ok(include) => include,
        Err(reply) => return reply,
    };
    let text = param(call, "blockHash").unwrap_or_default();
    let Ok(hash) = Hash::from_hex(text.trim()) else {
        return refused(codes::INVALID_BLOCK_HASH, "Invalid block hash format");
    };
    block_reply(backend.block_by_hash(&hash), include)
}

fn block_by_height(backend: &dyn ApiBackend, call: &Call) -> Reply {
    let include = match flag(call, "includeTransactions") {
        Ok(include) => include,
        Err(reply) => return reply,
    };
    let text = param(call, "blockHeight").unwrap_or_default();
    let Ok(height) = text.trim().parse::<i64>() else {
        return invalid_input(&format!("blockHeight must be an integer, got {text:?}"));
    };
    // Height 0 is "not found" in C#; heights start at 1.
    if height < 1 {
        return not_found();
    }
    block_reply(backend.block_by_height(height), include)
}

/// The hex of one transaction, decoded (C# answers 20008 for what is not hex, or is empty).
fn transaction_bytes(hex_text: &str) -> Result<Vec<u8>, Reply> {
    match hex::decode(hex_text.trim()) {
        Ok(bytes) if !bytes.is_empty() => Ok(bytes),
        _ => Err(refused(
            codes::INVALID_TRANSACTION,
            &format!(
                "{:?} is not the hex of a transaction",
                abbreviated(hex_text)
            ),
        )),
    }
}

/// At most the first 32 characters of `text`, for error messages.
fn abbreviated(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(32).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// Sends decoded transactions: their ids, or the refusal with the C# node's code.
fn send(backend: &dyn ApiBackend, raws: &[Vec<u8>]) -> Result<Vec<String>, Reply> {
    match backend.send_transactions(raws) {
        Ok(ids) => Ok(ids.iter().map(Hash::to_hex).collect()),
        Err(TxRefusal::Invalid(reason)) => Err(refused(codes::INVALID_TRANSACTION, &reason)),
        Err(TxRefusal::BadSignature(reason)) => Err(refused(codes::INVALID_SIGNATURE, &reason)),
        Err(TxRefusal::Busy(reason)) => Err(error(503, codes::INVALID_TRANSACTION, &reason)),
    }
}

fn send_transaction(backend: &dyn ApiBackend, call: &Call) -> Reply {
    let raw = match body_object(call).and_then(|m| string_property(&m, "RawTransaction")) {
        Ok(raw) => raw,
        Err(reply) => return reply,
    };
    let bytes = match transaction_bytes(&raw) {
        Ok(bytes) => bytes,
        Err(reply) => return reply,
    };
    match send(backend, &[bytes]) {
        Ok(mut ids) if ids.len() == 1 => ok(&SendTransactionOutput {
            transaction_id: ids.remove(0),
        }),
        Ok(ids) => error(
            500,
            "BackendError",
            &format!("one transaction sent, {} ids back", ids.len()),
        ),
        Err(reply) => reply,
    }
}

/// C# `SendTransactionsAsync`: the comma-separated hex of several transactions, all or none
/// (none is sent when one does not decode or is badly signed); the ids in order.
fn send_transactions(backend: &dyn ApiBackend, call: &Call) -> Reply {
    let raw = match body_object(call).and_then(|m| string_property(&m, "RawTransactions")) {
        Ok(raw) => raw,
        Err(reply) => return reply,
    };
    let mut raws = Vec::new();
    for (i, text) in raw.split(',').enumerate() {
        match transaction_bytes(text) {
            Ok(bytes) => raws.push(bytes),
            Err(_) => {
                return refused(
                    codes::INVALID_TRANSACTION,
                    &format!(
                        "transaction {i} ({:?}) is not the hex of a transaction; none was sent",
                        abbreviated(text)
                    ),
                )
            }
        }
    }
    match send(backend, &raws) {
        Ok(ids) => ok(&ids),
        Err(reply) => reply,
    }
}

/// An optional integer query parameter; one that is not an integer does not bind (400).
fn integer(call: &Call, name: &str, default: i64) -> Result<i64, Reply> {
    match param(call, name) {
        None => Ok(default),
        Some(v) if v.trim().is_empty() => Ok(default),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .map_err(|_| invalid_input(&format!("{name} must be an integer, got {v:?}"))),
    }
}

/// C# `GetTransactionResultAsync`, with what a node that executes nothing knows.
fn transaction_result(backend: &dyn ApiBackend, call: &Call) -> Reply {
    let text = param(call, "transactionId").unwrap_or_default();
    let Ok(id) = Hash::from_hex(text.trim()) else {
        return refused(
            codes::INVALID_TRANSACTION_ID,
            &format!(
                "Invalid Transaction id format: {:?} is not 64 hex characters",
                abbreviated(&text)
            ),
        );
    };
    match backend.transaction_status(&id) {
        Ok(status) => ok(&TransactionResultDto::new(&id, &status)),
        Err(e) => error(500, "StoreError", &e),
    }
}

/// C# `GetTransactionResultsAsync`: the results of a stored block's transactions, `offset`
/// and `limit` (1..=100) choosing a slice of them.
fn transaction_results(backend: &dyn ApiBackend, call: &Call) -> Reply {
    let (offset, limit) = match (
        integer(call, "offset", 0),
        integer(call, "limit", DEFAULT_RESULTS_LIMIT),
    ) {
        (Ok(offset), Ok(limit)) => (offset, limit),
        (Err(reply), _) | (_, Err(reply)) => return reply,
    };
    if offset < 0 {
        return refused(
            codes::INVALID_OFFSET,
            &format!("Offset must greater than or equal to 0, got {offset}"),
        );
    }
    if !(1..=MAX_RESULTS_LIMIT).contains(&limit) {
        return refused(
            codes::INVALID_LIMIT,
            &format!("Limit must between 0 and 100 (1 to 100), got {limit}"),
        );
    }
    let text = param(call, "blockHash").unwrap_or_default();
    let Ok(hash) = Hash::from_hex(text.trim()) else {
        return refused(codes::INVALID_BLOCK_HASH, "Invalid block hash format");
    };
    let block = match backend.block_by_hash(&hash) {
        Ok(Some(block)) => block,
        Ok(None) => return not_found(),
        Err(e) => return error(500, "StoreError", &e),
    };
    let height = block.header.get_or_default().height;
    let results: Result<Vec<TransactionResultDto>, String> = block
        .transactions
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(0))
        .map(|tx| {
            let id = crate::types::transaction_id(tx).map_err(|e| e.to_string())?;
            let status = TxStatus::Included {
                block_hash: hash,
                block_height: height,
                transaction: tx.clone(),
            };
            Ok(TransactionResultDto::new(&id, &status))
        })
        .collect();
    match results {
        Ok(results) => ok(&results),
        Err(e) => error(500, "StoreError", &format!("stored block unreadable: {e}")),
    }
}

fn pool_status(backend: &dyn ApiBackend, _: &Call) -> Reply {
    let n = backend.transaction_pool_size();
    ok(&TransactionPoolStatus {
        queued: n,
        validated: n,
    })
}

fn peers(backend: &dyn ApiBackend, call: &Call) -> Reply {
    let with_metrics = match flag(call, "withMetrics") {
        Ok(with) => with,
        Err(reply) => return reply,
    };
    let peers: Vec<PeerDto> = backend
        .peers()
        .into_iter()
        .map(|p| PeerDto::new(p, with_metrics))
        .collect();
    ok(&peers)
}

fn add_peer(backend: &dyn ApiBackend, call: &Call) -> Reply {
    let address = match body_object(call).and_then(|m| string_property(&m, "Address")) {
        Ok(address) => address,
        Err(reply) => return reply,
    };
    match endpoint(&address) {
        Ok(endpoint) => ok(&backend.add_peer(&endpoint)),
        Err(reply) => reply,
    }
}

fn remove_peer(backend: &dyn ApiBackend, call: &Call) -> Reply {
    let Some(address) = param(call, "address") else {
        return invalid_input("address is required");
    };
    match endpoint(&address) {
        Ok(endpoint) => ok(&backend.remove_peer(&endpoint)),
        Err(reply) => reply,
    }
}

fn network_info(backend: &dyn ApiBackend, _: &Call) -> Reply {
    let (version, protocol_version) = backend.versions();
    ok(&NetworkInfoDto {
        version,
        protocol_version,
        connections: backend.peers().len(),
        software: concat!("aelf-net ", env!("CARGO_PKG_VERSION")).into(),
    })
}

fn bans(backend: &dyn ApiBackend, _: &Call) -> Reply {
    let bans: Vec<BanDto> = backend.bans().into_iter().map(BanDto::from).collect();
    ok(&bans)
}

fn ban(backend: &dyn ApiBackend, call: &Call) -> Reply {
    let map = match body_object(call) {
        Ok(map) => map,
        Err(reply) => return reply,
    };
    let host = match string_property(&map, "Host").and_then(|h| host(&h)) {
        Ok(host) => host,
        Err(reply) => return reply,
    };
    let duration_ms = match property(&map, "DurationMs") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64().filter(|ms| *ms > 0) {
            Some(ms) => Some(ms),
            None => return invalid_input("DurationMs must be a positive integer (milliseconds)"),
        },
    };
    let reason = match property(&map, "Reason") {
        None | Some(Value::Null) => OPERATOR_BAN_REASON.to_owned(),
        Some(Value::String(r)) if r.chars().count() <= MAX_BAN_REASON_CHARS => r.clone(),
        Some(_) => {
            return invalid_input(&format!(
                "Reason must be a string of at most {MAX_BAN_REASON_CHARS} characters"
            ))
        }
    };
    let (expiry, disconnected) = backend.ban(&host, duration_ms, &reason);
    ok(&BanOutput {
        host,
        expiry_time_ms: expiry,
        disconnected,
    })
}

fn unban(backend: &dyn ApiBackend, call: &Call) -> Reply {
    let Some(text) = param(call, "host") else {
        return invalid_input("host is required");
    };
    match host(&text) {
        Ok(host) => ok(&backend.unban(&host)),
        Err(reply) => reply,
    }
}

fn nodes(backend: &dyn ApiBackend, _: &Call) -> Reply {
    let nodes: Vec<NodeDto> = backend.nodes().into_iter().map(NodeDto::from).collect();
    ok(&nodes)
}

fn reconnections(backend: &dyn ApiBackend, _: &Call) -> Reply {
    let waiting: Vec<ReconnectionDto> = backend
        .reconnections()
        .into_iter()
        .map(ReconnectionDto::from)
        .collect();
    ok(&waiting)
}

fn metrics(backend: &dyn ApiBackend, _: &Call) -> Reply {
    Reply {
        status: 200,
        body: backend.metrics(),
        content_type: PROMETHEUS_TEXT,
    }
}
