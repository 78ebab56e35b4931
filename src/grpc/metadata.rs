//! Call metadata of the aelf peer protocol (spec 3.1) and the per-call deadlines and retries the
//! C# client uses (spec 3.3).
//!
//! Owns the header names, how headers are read from a server call and built for a client call,
//! and the caller-address parsing. It must not decide what a header means for a peer (that is
//! the auth checker's and the connection service's business).

use grpcio::{CallOption, Metadata, MetadataBuilder};
use std::net::IpAddr;
use std::time::Duration;

/// Hex of the sender's 65-byte public key, on every call (C# `PubkeyMetadataKey`).
pub const PUBKEY_METADATA_KEY: &str = "public-key";
/// Raw session id bytes (binary header) on authenticated calls (C# `SessionIdMetadataKey`).
pub const SESSION_ID_METADATA_KEY: &str = "session-id-bin";
/// Log-only peer description (C# `PeerInfoMetadataKey`).
pub const PEER_INFO_METADATA_KEY: &str = "peer-info";
/// gRPC-internal key that makes C-core compress a call's messages (C# `GrpcRequestCompressKey`).
pub const GRPC_REQUEST_COMPRESS_KEY: &str = "grpc-internal-encoding-request";
/// Value of [`GRPC_REQUEST_COMPRESS_KEY`] for gzip (C# `GrpcGzipConst`).
pub const GRPC_GZIP: &str = "gzip";

/// Deadline and extra attempts of one kind of unary call (the C# RetryInterceptor's `timeout`
/// and `retry-count`; spec 3.3). Each attempt gets a fresh deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallPolicy {
    pub timeout: Duration,
    pub retries: u32,
}

impl CallPolicy {
    pub const fn new(timeout_ms: u64, retries: u32) -> CallPolicy {
        CallPolicy {
            timeout: Duration::from_millis(timeout_ms),
            retries,
        }
    }
}

/// ConfirmHandshake: 3000 ms (C# `UpdateHandshakeTimeout`), one retry.
pub const CONFIRM_HANDSHAKE_POLICY: CallPolicy = CallPolicy::new(3000, 1);
/// CheckHealth: 2000 ms (C# `CheckHealthTimeout`), one retry.
pub const CHECK_HEALTH_POLICY: CallPolicy = CallPolicy::new(2000, 1);
/// RequestBlock: 2000 ms (C# `BlockRequestTimeout`), one retry.
pub const REQUEST_BLOCK_POLICY: CallPolicy = CallPolicy::new(2000, 1);
/// RequestBlocks: 5000 ms (C# `BlocksRequestTimeout`), one retry.
pub const REQUEST_BLOCKS_POLICY: CallPolicy = CallPolicy::new(5000, 1);
/// GetNodes: 2000 ms (C# `GetNodesTimeout`), one retry.
pub const GET_NODES_POLICY: CallPolicy = CallPolicy::new(2000, 1);
/// Disconnect: the interceptor's default 200 ms (C# `DefaultRequestTimeout`), one retry.
pub const DISCONNECT_POLICY: CallPolicy = CallPolicy::new(200, 1);

/// DoHandshake: twice the dial timeout, no retry.
pub fn do_handshake_policy(dial_timeout: Duration) -> CallPolicy {
    CallPolicy {
        timeout: dial_timeout * 2,
        retries: 0,
    }
}

/// Ping (dial-back and reachability checks): the dial timeout, no retry.
pub fn ping_policy(dial_timeout: Duration) -> CallPolicy {
    CallPolicy {
        timeout: dial_timeout,
        retries: 0,
    }
}

/// The headers of an outgoing call: always `public-key`, and `session-id-bin` on
/// authenticated calls.
pub fn call_option(
    own_pubkey_hex: &str,
    session_id: Option<&[u8]>,
    timeout: Duration,
) -> CallOption {
    stream_call_option(own_pubkey_hex, session_id).timeout(timeout)
}

/// The headers of a long-lived call (the broadcast streams), which has no deadline.
pub fn stream_call_option(own_pubkey_hex: &str, session_id: Option<&[u8]>) -> CallOption {
    let mut md = MetadataBuilder::with_capacity(2);
    // Both keys are valid header names and a hex key is printable ASCII, so these cannot fail;
    // should they, the call goes out without the header and the remote refuses it.
    let _ = md.add_str(PUBKEY_METADATA_KEY, own_pubkey_hex);
    if let Some(session) = session_id {
        let _ = md.add_bytes(SESSION_ID_METADATA_KEY, session);
    }
    CallOption::default().headers(md.build())
}

/// Response headers that make C-core gzip the response (C# served blocks, spec 1.2 and 3.5).
pub fn gzip_headers() -> Metadata {
    let mut md = MetadataBuilder::with_capacity(1);
    // A valid key and value: cannot fail.
    let _ = md.add_str(GRPC_REQUEST_COMPRESS_KEY, GRPC_GZIP);
    md.build()
}

/// The first value of header `key` (C# `CallContextExtensions`).
pub fn header<'a>(md: &'a Metadata, key: &str) -> Option<&'a [u8]> {
    md.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// The caller's `public-key` header as text, if present and ASCII.
pub fn caller_pubkey(md: &Metadata) -> Option<String> {
    let value = header(md, PUBKEY_METADATA_KEY)?;
    std::str::from_utf8(value).ok().map(str::to_owned)
}

/// The caller's `session-id-bin` header bytes.
pub fn caller_session(md: &Metadata) -> Option<&[u8]> {
    header(md, SESSION_ID_METADATA_KEY)
}

/// The caller's IP address from a C-core peer string (`ipv4:1.2.3.4:5555`, `ipv6:[::1]:5555`).
///
/// The C# node splits on `:` and so refuses every IPv6 caller with INVALID_CONNECTION (spec 12
/// quirk 1); a C# peer cannot observe the difference, so we accept IPv6 callers.
pub fn caller_ip(peer: &str) -> Option<IpAddr> {
    let rest = peer
        .strip_prefix("ipv4:")
        .or_else(|| peer.strip_prefix("ipv6:"))?;
    let socket: std::net::SocketAddr = rest.parse().ok()?;
    Some(socket.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_addresses_of_both_families_parse() {
        assert_eq!(caller_ip("ipv4:1.2.3.4:5555"), "1.2.3.4".parse().ok());
        assert_eq!(caller_ip("ipv6:[::1]:5555"), "::1".parse().ok());
        assert_eq!(caller_ip("unix:/tmp/sock"), None);
        assert_eq!(caller_ip("ipv4:garbage"), None);
        assert_eq!(caller_ip(""), None);
    }
}
