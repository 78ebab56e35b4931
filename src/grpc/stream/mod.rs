//! Stream peer mode (`RequestByStream`, spec 4.5, 4.6 and 7): one bidirectional call per peer
//! pair, opened by the dialer on its pinned channel, carrying requests and replies both ways.
//!
//! From the bottom up:
//!
//! * `registry` — the process-wide table of requests waiting for their reply.
//! * `link` — the transport of one call: the bounded write queue drained into the gRPC sink by a
//!   future on the completion queue, the reader future that routes what arrives, and their
//!   orderly close.
//! * `request` — the request/reply protocol over a link: deadlines, retries, and how a failure
//!   is classified.
//! * `stream_peer` — [`stream_peer::StreamPeer`], the pool object of either side (the dialer's
//!   stream peer, the listener's back peer), with its send queues and inbox thread.
//! * `dispatch` — what the inbox thread does with a received request: authentication, the
//!   handlers (through [`crate::grpc::upcalls::Upcalls`]), the reply; block reads handed to
//!   the node-wide stream-server workers so they never hold up the peer's other requests.
//!
//! Opening a stream is the connection service's ([`crate::grpc::connection::stream_dial`]);
//! the server side of the call is the server's ([`crate::grpc::server::stream_service`]). These
//! modules import neither.
//!
//! Threads: nothing here blocks a completion-queue thread. Each stream peer has one
//! `stream-<id>` thread that takes the requests the remote sends; it is joined by the peer's
//! `disconnect`. REQUEST_BLOCK and REQUEST_BLOCKS are served on the `stream-server-<i>`
//! workers the transport owns (reached through a [`crate::thread::WorkerHandle`]), which
//! reply through the peer's link. Replies to our own requests are completed directly by the
//! reader future.

pub mod dispatch;
pub mod link;
pub mod registry;
pub mod request;
pub mod stream_peer;

use crate::pb::peer_service::{MessageType, StreamMessage, StreamType};
use rand::RngCore;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// How long a stream request waits for its reply when the call names no timeout (C#
/// `GrpcStreamPeer.StreamWaitTime`, 3000 ms).
pub const STREAM_WAIT_TIME: Duration = Duration::from_millis(3000);
/// Attempts of a stream request that is not "graceful" (C# `GrpcStreamPeer.TimeOutRetryTimes`).
pub const TIMEOUT_RETRY_TIMES: u32 = 3;
/// Pause between two attempts of a timed-out request (C# `GrpcPeer.StreamRecoveryWaitTime`).
pub const STREAM_RECOVERY_WAIT: Duration = Duration::from_millis(500);
/// Messages waiting to be written on one stream at most; a send to a full queue fails (C#
/// `NetworkConstants.DefaultMaxBufferedStreamCount`, 200). The futures channel behind it holds
/// one more slot for its single sender, so 201 in fact.
pub const MAX_BUFFERED_STREAM_COUNT: usize = 200;
/// Received requests waiting for a peer's inbox thread at most (ours). Larger than the remote's
/// own write queue, so a well-behaved remote cannot fill it; requests beyond it are dropped and
/// the remote sees a timeout.
pub const INBOX_CAPACITY: usize = 256;
/// Timeout the C# node puts in the meta of CONFIRM_HAND_SHAKE (`UpdateHandshakeTimeout`).
pub const CONFIRM_HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(3000);
/// REQUEST_BLOCK wait per attempt (C# `BlockRequestTimeout`).
pub const BLOCK_REQUEST_TIMEOUT: Duration = Duration::from_millis(2000);
/// REQUEST_BLOCKS wait per attempt (C# `BlocksRequestTimeout`).
pub const BLOCKS_REQUEST_TIMEOUT: Duration = Duration::from_millis(5000);
/// Timeout of HEALTH_CHECK and GET_NODES over the stream (`CheckHealthTimeout`,
/// `GetNodesTimeout`).
pub const CHECK_HEALTH_TIMEOUT: Duration = Duration::from_millis(2000);
/// How long an orderly close waits for each half of the call to end before cancelling it.
pub const CLOSE_GRACE: Duration = Duration::from_millis(1000);

/// Meta key of the error text on a REPLY to a request we could not handle. The C# node has no
/// error reply: it drops the request, so its sender waits out three timeouts and reports us
/// unstable. An empty payload with this key completes the sender's request at once (a C#
/// sender reads it as an empty reply) and tells an aelf-net sender why.
pub const ERROR_META_KEY: &str = "error";

/// Meta key carrying the per-call timeout in ms (C# `TimeoutMetadataKey`), copied into the
/// stream meta as the C# node does.
pub const TIMEOUT_META_KEY: &str = "timeout";
/// Meta key carrying the per-call retry count (C# `RetryCountMetadataKey`).
pub const RETRY_COUNT_META_KEY: &str = "retry-count";

/// Why a stream request or write failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StreamError {
    #[error("the stream is closed")]
    Closed,
    #[error("the stream's write queue is full")]
    QueueFull,
    #[error("too many stream requests are waiting for replies")]
    RegistryFull,
    #[error("no {0:?} reply within {1:?}")]
    TimedOut(MessageType, Duration),
    #[error("cannot encode or decode a {0:?} message: {1}")]
    Codec(MessageType, String),
    /// The remote answered with an error reply.
    #[error("the remote refused the {0:?} request: {1}")]
    Refused(MessageType, String),
}

/// A fresh request id: `"<unix-ms>_<uuid-like random hex>"` (C# `GenerateRequestId`, whose
/// suffix is a lowercase hyphenated GUID). 122 random bits make ids unique process-wide; the
/// registry refuses a duplicate anyway.
pub fn new_request_id() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    // Version 4 / variant 1 bits, so the suffix reads as a GUID.
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{ms}_{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Milliseconds since the id's prefix (for latency logs); `None` for a foreign id format or a
/// prefix so far off that the difference does not fit (the id comes from the peer).
pub fn request_latency_ms(request_id: &str) -> Option<i128> {
    let (prefix, _) = request_id.split_once('_')?;
    let sent: i128 = prefix.parse().ok()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis();
    i128::try_from(now).ok()?.checked_sub(sent)
}

/// Whether a received message must be authenticated (C# `StreamService.IsNeedAuth`): requests
/// of every type except PING, HAND_SHAKE and HEALTH_CHECK. Replies never are.
pub fn needs_auth(message: &StreamMessage) -> bool {
    if message.stream_type.value() == StreamType::REPLY as i32 {
        return false;
    }
    let t = message.message_type.value();
    t != MessageType::PING as i32
        && t != MessageType::HAND_SHAKE as i32
        && t != MessageType::HEALTH_CHECK as i32
}

/// Requests sent with a single attempt (C# "graceful" requests): HAND_SHAKE, CONFIRM_HAND_SHAKE
/// and DISCONNECT.
pub fn is_single_attempt(message_type: MessageType) -> bool {
    matches!(
        message_type,
        MessageType::HAND_SHAKE | MessageType::CONFIRM_HAND_SHAKE | MessageType::DISCONNECT
    )
}

/// The `peer-info` meta value: `"key: <first 45 hex chars of the pubkey>..."` (C#
/// `PeerConnectionInfo.ToString`). A C# sender puts the *receiver's* key there (spec 12 quirk
/// 15); we do the same, and the receiver ignores it.
pub fn peer_info(pubkey_hex: &str) -> String {
    format!("key: {}...", pubkey_hex.get(..45).unwrap_or(pubkey_hex))
}

/// A message type for logs: its name, or the raw number when it is not one we know.
pub fn type_name(message: &StreamMessage) -> String {
    match message.message_type.enum_value() {
        Ok(t) => format!("{t:?}"),
        Err(n) => format!("type {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protobuf::EnumOrUnknown;

    #[test]
    fn request_ids_have_a_millisecond_prefix_and_a_guid_suffix() {
        let id = new_request_id();
        let (ms, guid) = id.split_once('_').unwrap();
        assert!(ms.parse::<u128>().unwrap() > 1_600_000_000_000);
        let parts: Vec<&str> = guid.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(guid
            .bytes()
            .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_ne!(id, new_request_id());
        assert!(request_latency_ms(&id).unwrap() >= 0);
        assert_eq!(request_latency_ms("23"), None);
        // Found by the replay test's mutations: a difference past i128 was an overflow panic.
        assert_eq!(
            request_latency_ms("-170141183460469231731687303715884105728_x"),
            None
        );
    }

    #[test]
    fn authentication_spares_ping_handshake_health_check_and_replies() {
        let msg = |s: StreamType, t: MessageType| StreamMessage {
            stream_type: EnumOrUnknown::new(s),
            message_type: EnumOrUnknown::new(t),
            ..Default::default()
        };
        for t in [
            MessageType::PING,
            MessageType::HAND_SHAKE,
            MessageType::HEALTH_CHECK,
        ] {
            assert!(!needs_auth(&msg(StreamType::REQUEST, t)));
        }
        for t in [
            MessageType::ANY,
            MessageType::CONFIRM_HAND_SHAKE,
            MessageType::GET_NODES,
            MessageType::DISCONNECT,
            MessageType::BLOCK_BROADCAST,
        ] {
            assert!(needs_auth(&msg(StreamType::REQUEST, t)));
            assert!(!needs_auth(&msg(StreamType::REPLY, t)));
        }
        // An unknown stream type is treated as a request would be.
        assert!(needs_auth(&msg(
            StreamType::UNKNOWN,
            MessageType::GET_NODES
        )));
    }

    #[test]
    fn peer_info_names_45_hex_characters() {
        let key = "04".repeat(65);
        assert_eq!(peer_info(&key), format!("key: {}...", &key[..45]));
        assert_eq!(peer_info("04ab"), "key: 04ab...");
    }
}
