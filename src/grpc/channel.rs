//! grpcio channel and server arguments (spec 3.6) and the pinned TLS channel of the C# dialer
//! (spec 3.7 step 2).
//!
//! Owns every gRPC channel argument the node sets, on both sides, so client and server cannot
//! drift apart. It must not open sockets itself except through [`super::tls::fetch_certificate`],
//! and must not know about peers, metadata or calls.

use super::tls::{fetch_certificate, TlsError, TLS_COMMON_NAME};
use grpcio::{Channel, ChannelBuilder, ChannelCredentialsBuilder, Environment};
use log::debug;
use std::net::Ipv6Addr;
use std::sync::Arc;
use std::time::Duration;

/// Largest message sent or received on a channel, 100 MiB (C#
/// `GrpcConstants.DefaultMaxSendMessageLength` and `DefaultMaxReceiveMessageLength`, both
/// 104 857 600). `grpc.max_send_message_length` / `grpc.max_receive_message_length`.
pub const DEFAULT_MAX_MESSAGE_LENGTH: usize = 104_857_600;

/// Interval between HTTP/2 keepalive pings, 2 hours (C# `GrpcConstants`,
/// `grpc.keepalive_time_ms` = 7 200 000).
pub const KEEPALIVE_TIME_MS: u64 = 7_200_000;

/// How long a keepalive ping may stay unanswered before the connection is dropped, 60 s (C#
/// `GrpcConstants`, `grpc.keepalive_timeout_ms` = 60 000).
pub const KEEPALIVE_TIMEOUT_MS: u64 = 60_000;

/// Keepalive pings are sent even with no call open: 1 (C# `GrpcConstants`,
/// `grpc.keepalive_permit_without_calls`).
pub const KEEPALIVE_PERMIT_WITHOUT_CALLS: bool = true;

/// Pings allowed without data in between, 0 = unlimited (C# `GrpcConstants`,
/// `grpc.http2_max_pings_without_data`).
pub const HTTP2_MAX_PINGS_WITHOUT_DATA: i32 = 0;

/// Shortest interval at which we accept pings from a remote with no call open, 10 s
/// (`grpc.http2.min_ping_interval_without_data_ms`). Not set by the C# node; see `builder`.
pub const MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS: u64 = 10_000;

/// Pings arriving faster than that tolerated before GOAWAY "too_many_pings", 0 = unlimited
/// (`grpc.http2.max_ping_strikes`). Not set by the C# node; see `builder`.
pub const HTTP2_MAX_PING_STRIKES: i32 = 0;

/// The arguments shared by the server and every client channel: spec 3.6 plus ping tolerance.
///
/// Ping tolerance: C# clients keepalive-ping with permit-without-calls on. C-core's defaults
/// (5 min minimum between pings received without data, 2 strikes) would answer a client that
/// pings more often than that with GOAWAY "too_many_pings" and drop the connection. The C#
/// 2 h interval never trips it, but a peer with other keepalive settings must not be cut off, so
/// the minimum is lowered to 10 s and strikes are unlimited. On a client channel these two only
/// govern pings from the server, which is just as harmless.
fn builder(env: Arc<Environment>, max_message_length: usize) -> ChannelBuilder {
    // grpcio takes i32; anything larger means "as large as gRPC allows".
    let max = i32::try_from(max_message_length).unwrap_or(i32::MAX);
    ChannelBuilder::new(env)
        .max_send_message_len(max)
        .max_receive_message_len(max)
        .keepalive_permit_without_calls(KEEPALIVE_PERMIT_WITHOUT_CALLS)
        .http2_max_pings_without_data(HTTP2_MAX_PINGS_WITHOUT_DATA)
        .keepalive_timeout(Duration::from_millis(KEEPALIVE_TIMEOUT_MS))
        .keepalive_time(Duration::from_millis(KEEPALIVE_TIME_MS))
        .http2_min_recv_ping_interval_without_data(Duration::from_millis(
            MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
        ))
        .http2_max_ping_strikes(HTTP2_MAX_PING_STRIKES)
        // Only matters when a call asks for gzip (the served blocks, spec 3.5): grpcio-sys
        // clamps the default level to 0, which never compresses.
        .raw_cfg_int(GZIP_LEVEL_ARG.into(), GZIP_COMPRESSION_LEVEL)
}

/// C-core's gzip level argument.
const GZIP_LEVEL_ARG: &std::ffi::CStr = c"grpc.gzip_compression_level";
/// gzip level for compressed calls (zlib's usual default).
pub const GZIP_COMPRESSION_LEVEL: i32 = 6;

/// The peer service's channel arguments (spec 3.6), as a builder: pass
/// `server_channel_args(&env, max).build_args()` to `ServerBuilder::channel_args`.
///
/// grpcio 0.13 keeps its `ChannelArgs` type in a private module, so no function outside grpcio
/// can name it as a return type; `ChannelBuilder::build_args` is the only way to make one.
pub fn server_channel_args(env: &Arc<Environment>, max_message_length: usize) -> ChannelBuilder {
    builder(env.clone(), max_message_length)
}

/// A TLS channel to `host:port` whose only trust root is `server_cert_pem` (the certificate the
/// pre-fetch just saw), checked against the name `aelf`, with the server's arguments and no
/// client certificate (the C# server requests none). Connects lazily, on the first call.
///
/// A certificate that does not match what the remote presents, or that is not a certificate at
/// all, makes every call fail (UNAVAILABLE); it never panics. NUL bytes, which grpcio cannot
/// pass to C, are dropped from `host` and `server_cert_pem`.
pub fn pinned_channel(
    env: Arc<Environment>,
    host: &str,
    port: u16,
    server_cert_pem: &str,
    max_message_length: usize,
) -> Channel {
    let root = server_cert_pem.replace('\0', "").into_bytes();
    let credentials = ChannelCredentialsBuilder::new().root_cert(root).build();
    builder(env, max_message_length)
        .override_ssl_target(TLS_COMMON_NAME)
        .set_credentials(credentials)
        .connect(&target(&host.replace('\0', ""), port))
}

/// Pre-fetches the remote's certificate within `dial_timeout`, then returns a channel pinned to
/// it and the certificate (PEM). The dialer's single entry point (spec 3.7 steps 1–2).
pub fn connect(
    host: &str,
    port: u16,
    env: Arc<Environment>,
    dial_timeout: Duration,
    max_message_length: usize,
) -> Result<(Channel, String), TlsError> {
    let pem = fetch_certificate(host, port, dial_timeout)?;
    debug!("fetched the TLS certificate of {host}:{port}");
    let channel = pinned_channel(env, host, port, &pem, max_message_length);
    Ok((channel, pem))
}

/// The gRPC target for `host:port`: IPv6 literals in brackets, everything else as given.
fn target(host: &str, port: u16) -> String {
    let bracketed = host.starts_with('[') && host.ends_with(']');
    if !bracketed && (host.parse::<Ipv6Addr>().is_ok() || host.contains(':')) {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_targets_are_bracketed() {
        assert_eq!(target("127.0.0.1", 6800), "127.0.0.1:6800");
        assert_eq!(target("node.example", 6800), "node.example:6800");
        assert_eq!(target("::1", 6800), "[::1]:6800");
        assert_eq!(target("[::1]", 6800), "[::1]:6800");
        assert_eq!(target("fe80::1%eth0", 7), "[fe80::1%eth0]:7");
    }

    #[test]
    fn channel_args_build_for_any_length() {
        let env = Arc::new(Environment::new(1));
        let _ = server_channel_args(&env, DEFAULT_MAX_MESSAGE_LENGTH).build_args();
        let _ = server_channel_args(&env, usize::MAX).build_args();
    }
}
