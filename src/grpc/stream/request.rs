//! The request/reply protocol of a stream (C# `StreamRequestAsync`, spec 7.4): a request
//! registered under a fresh id, written through the link's single writer, waited for with a
//! deadline and retried after a timeout; and how a failed request is classified for the
//! failure policy.
//!
//! Owns the retries and the waiting. It knows only the [`Link`] and the process-wide
//! [`RequestRegistry`]; it must not know which peer it serves or touch the pool.

use super::link::Link;
use super::registry::{RegisterError, RequestRegistry};
use super::{
    is_single_attempt, new_request_id, StreamError, ERROR_META_KEY, STREAM_RECOVERY_WAIT,
    STREAM_WAIT_TIME, TIMEOUT_META_KEY, TIMEOUT_RETRY_TIMES,
};
use crate::network::peer::{FailureKind, PeerRequestError};
use crate::pb::peer_service::{MessageType, StreamMessage, StreamType};
use crossbeam_channel::{select, TryRecvError};
use log::debug;
use protobuf::EnumOrUnknown;
use std::collections::HashMap;
use std::time::Duration;

/// Sends one request over `link` with `meta` (plus `timeout` and `extra_meta`) and waits for
/// its reply (C# `StreamRequestAsync`). Each attempt registers a fresh request id; a timed-out
/// attempt is retried after [`STREAM_RECOVERY_WAIT`] unless the type is single-attempt. Stops
/// early when the link closes.
pub fn request(
    link: &Link,
    meta: &HashMap<String, String>,
    message_type: MessageType,
    payload: Vec<u8>,
    timeout: Option<Duration>,
    extra_meta: &[(&str, String)],
) -> Result<StreamMessage, StreamError> {
    let started = std::time::Instant::now();
    let result = (|| {
        let attempts = if is_single_attempt(message_type) {
            1
        } else {
            TIMEOUT_RETRY_TIMES
        };
        let wait = timeout.unwrap_or(STREAM_WAIT_TIME);
        let mut meta = meta.clone();
        if let Some(t) = timeout {
            meta.insert(TIMEOUT_META_KEY.to_owned(), t.as_millis().to_string());
        }
        for (k, v) in extra_meta {
            meta.insert((*k).to_owned(), v.clone());
        }
        for attempt in 1..=attempts {
            if let Some(reply) = attempt_once(link, &meta, message_type, &payload, wait)? {
                if let Some(reason) = reply.meta.get(ERROR_META_KEY) {
                    return Err(StreamError::Refused(message_type, reason.clone()));
                }
                return Ok(reply);
            }
            debug!("stream {message_type:?} request timed out, attempt {attempt}/{attempts}");
            if attempt < attempts
                && matches!(
                    link.reader_done().recv_timeout(STREAM_RECOVERY_WAIT),
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected)
                )
            {
                return Err(StreamError::Closed);
            }
        }
        Err(StreamError::TimedOut(message_type, wait))
    })();
    crate::metrics::metrics().request(
        &format!("{message_type:?}"),
        started.elapsed(),
        result.is_ok(),
    );
    result
}

/// One attempt: a fresh request id, registered, written, and waited for up to `wait`.
/// `Ok(None)` when no reply came in time.
pub(crate) fn attempt_once(
    link: &Link,
    meta: &HashMap<String, String>,
    message_type: MessageType,
    payload: &[u8],
    wait: Duration,
) -> Result<Option<StreamMessage>, StreamError> {
    if link.is_closed() {
        return Err(StreamError::Closed);
    }
    let registry = RequestRegistry::global();
    let ticket = loop {
        match registry.register(&new_request_id(), message_type as i32) {
            Ok(ticket) => break ticket,
            Err(RegisterError::Duplicate) => continue,
            Err(RegisterError::Full) => return Err(StreamError::RegistryFull),
        }
    };
    link.send(StreamMessage {
        stream_type: EnumOrUnknown::new(StreamType::REQUEST),
        message_type: EnumOrUnknown::new(message_type),
        request_id: ticket.id().to_owned(),
        message: payload.to_vec(),
        meta: meta.clone(),
        ..Default::default()
    })?;
    select! {
        recv(ticket.reply()) -> reply => reply.map(Some).map_err(|_| StreamError::Closed),
        // The call ended; a reply that made it just before still counts.
        recv(link.reader_done()) -> _ => match ticket.reply().try_recv() {
            Ok(reply) => Ok(Some(reply)),
            Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => Err(StreamError::Closed),
        },
        default(wait) => Ok(None),
    }
}

/// A failed stream request as the core layer sees it: classified by [`stream_failure`], a
/// missed reply deadline flagged as a timeout.
pub fn stream_request_error(e: &StreamError, message: String) -> PeerRequestError {
    PeerRequestError::new(stream_failure(e), message)
        .timed_out(matches!(e, StreamError::TimedOut(..)))
}

/// How bad a failed stream request is (C# `WriteStreamJobAsync` and the retry exhaustion): a
/// closed stream ends the peer, a refused or undecodable one is the remote handler's failure,
/// anything else (a timeout, a full queue) makes the peer unstable.
pub fn stream_failure(e: &StreamError) -> FailureKind {
    match e {
        StreamError::Closed => FailureKind::Unrecoverable,
        StreamError::Codec(..) | StreamError::Refused(..) => FailureKind::HandlerException,
        _ => FailureKind::PeerUnstable,
    }
}
