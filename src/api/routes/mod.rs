//! The routing table of the operator API: paths, methods and auth placement, the reply shapes,
//! status codes and aelf's error codes, and the query and body parsing every handler uses. The
//! handlers are in `chain` (`/api/blockChain/*`) and `net` (`/api/net/*`, `/metrics`).
//!
//! Owns the table and the shared parsing and replies. It must not reach the node except
//! through [`ApiBackend`], and never answers 500 for a client's mistake.
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
mod chain;
mod net;

use super::{Answer, ApiBackend, BasicAuth};
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
        chain::chain_status,
    ),
    (
        "/api/blockChain/blockHeight",
        Method::Get,
        false,
        chain::block_height,
    ),
    (
        "/api/blockChain/block",
        Method::Get,
        false,
        chain::block_by_hash,
    ),
    (
        "/api/blockChain/blockByHeight",
        Method::Get,
        false,
        chain::block_by_height,
    ),
    (
        "/api/blockChain/sendTransaction",
        Method::Post,
        false,
        chain::send_transaction,
    ),
    (
        "/api/blockChain/sendTransactions",
        Method::Post,
        false,
        chain::send_transactions,
    ),
    (
        "/api/blockChain/transactionResult",
        Method::Get,
        false,
        chain::transaction_result,
    ),
    (
        "/api/blockChain/transactionResults",
        Method::Get,
        false,
        chain::transaction_results,
    ),
    (
        "/api/blockChain/transactionPoolStatus",
        Method::Get,
        false,
        chain::pool_status,
    ),
    ("/api/net/peers", Method::Get, false, net::peers),
    ("/api/net/peer", Method::Post, true, net::add_peer),
    ("/api/net/peer", Method::Delete, true, net::remove_peer),
    (
        "/api/net/networkInfo",
        Method::Get,
        false,
        net::network_info,
    ),
    ("/api/net/bans", Method::Get, false, net::bans),
    ("/api/net/bans", Method::Post, true, net::ban),
    ("/api/net/bans", Method::Delete, true, net::unban),
    ("/api/net/nodes", Method::Get, false, net::nodes),
    (
        "/api/net/reconnections",
        Method::Get,
        false,
        net::reconnections,
    ),
    ("/metrics", Method::Get, false, net::metrics),
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
