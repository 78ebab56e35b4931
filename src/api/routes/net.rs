//! The `/api/net/*` routes and `/metrics`: peers (list, add, remove), network info, bans,
//! the node table, reconnections and the Prometheus text.
//!
//! Owns those handlers, the endpoint and host parsing they need, and the ban-reason limits;
//! the routing table and the reply helpers are [`super`]'s. It reaches the node only through
//! [`ApiBackend`].

use super::*;

/// Longest reason an operator may give a ban.
const MAX_BAN_REASON_CHARS: usize = 200;
/// Reason recorded when an operator bans without one.
const OPERATOR_BAN_REASON: &str = "banned by an operator";
/// Content type of the Prometheus text format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

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

pub(super) fn peers(backend: &dyn ApiBackend, call: &Call) -> Reply {
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

pub(super) fn add_peer(backend: &dyn ApiBackend, call: &Call) -> Reply {
    let address = match body_object(call).and_then(|m| string_property(&m, "Address")) {
        Ok(address) => address,
        Err(reply) => return reply,
    };
    match endpoint(&address) {
        Ok(endpoint) => ok(&backend.add_peer(&endpoint)),
        Err(reply) => reply,
    }
}

pub(super) fn remove_peer(backend: &dyn ApiBackend, call: &Call) -> Reply {
    let Some(address) = param(call, "address") else {
        return invalid_input("address is required");
    };
    match endpoint(&address) {
        Ok(endpoint) => ok(&backend.remove_peer(&endpoint)),
        Err(reply) => reply,
    }
}

pub(super) fn network_info(backend: &dyn ApiBackend, _: &Call) -> Reply {
    let (version, protocol_version) = backend.versions();
    ok(&NetworkInfoDto {
        version,
        protocol_version,
        connections: backend.peers().len(),
        software: concat!("aelf-net ", env!("CARGO_PKG_VERSION")).into(),
    })
}

pub(super) fn bans(backend: &dyn ApiBackend, _: &Call) -> Reply {
    let bans: Vec<BanDto> = backend.bans().into_iter().map(BanDto::from).collect();
    ok(&bans)
}

pub(super) fn ban(backend: &dyn ApiBackend, call: &Call) -> Reply {
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

pub(super) fn unban(backend: &dyn ApiBackend, call: &Call) -> Reply {
    let Some(text) = param(call, "host") else {
        return invalid_input("host is required");
    };
    match host(&text) {
        Ok(host) => ok(&backend.unban(&host)),
        Err(reply) => reply,
    }
}

pub(super) fn nodes(backend: &dyn ApiBackend, _: &Call) -> Reply {
    let nodes: Vec<NodeDto> = backend.nodes().into_iter().map(NodeDto::from).collect();
    ok(&nodes)
}

pub(super) fn reconnections(backend: &dyn ApiBackend, _: &Call) -> Reply {
    let waiting: Vec<ReconnectionDto> = backend
        .reconnections()
        .into_iter()
        .map(ReconnectionDto::from)
        .collect();
    ok(&waiting)
}

pub(super) fn metrics(backend: &dyn ApiBackend, _: &Call) -> Reply {
    Reply {
        status: 200,
        body: backend.metrics(),
        content_type: PROMETHEUS_TEXT,
    }
}
