//! What a stream peer's `stream-<id>` thread does with the requests the remote sends (C#
//! `StreamService`, spec 7.5): authentication, the handlers, and the reply on the same stream.
//!
//! Authentication applies to requests of every type except PING, HAND_SHAKE and HEALTH_CHECK:
//! the pool's entry for the remote's key must be this very stream peer, and
//! `meta["session-id-bin"]` must be the hex of the session id we gave it. Anything else is
//! dropped without a reply, as the C# node does (spec 12 quirk 16): the sender sees a timeout.
//! Those drops are counted ([`unauthenticated_dropped`], and per peer) and logged at debug.
//!
//! A malformed inner message, or an item the receive rules refuse, ends only that message: it is
//! logged and answered with an error reply ([`error_reply`]).

use super::stream_peer::StreamPeer;
use super::{needs_auth, request_latency_ms, type_name, ERROR_META_KEY};
use crate::grpc::metadata::SESSION_ID_METADATA_KEY;
use crate::grpc::upcalls::Upcalls;
use crate::network::broadcast::BroadcastKind;
use crate::network::inbound::InboundError;
use crate::network::lifecycle::Removal;
use crate::network::peer::{short_key, Peer};
use crate::network::penalty::Offence;
use crate::pb::aelf_core::Transaction;
use crate::pb::network_types::{
    BlockAnnouncement, BlockRequest, BlockWithTransactions, BlocksRequest, DisconnectReason,
    LibAnnouncement, NodesRequest,
};
use crate::pb::peer_service::{
    HealthCheckReply, MessageType, PongReply, StreamMessage, StreamType, VoidReply,
};
use crossbeam_channel::{select, Receiver};
use log::{debug, info, warn};
use protobuf::{EnumOrUnknown, Message};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

static UNAUTHENTICATED: AtomicU64 = AtomicU64::new(0);

/// Stream requests dropped for failed authentication, over the whole process.
pub fn unauthenticated_dropped() -> u64 {
    UNAUTHENTICATED.load(Ordering::Relaxed)
}

/// Counts one dropped unauthenticated request.
pub(crate) fn note_unauthenticated() {
    UNAUTHENTICATED.fetch_add(1, Ordering::Relaxed);
}

/// Starts `peer`'s inbox thread on the requests its reader forwards to `inbox`: they are
/// handled one after another until the reader ends (the stream closed: the peer leaves the
/// pool as failed) or the peer stops the thread.
pub fn start_serving(
    peer: &Arc<StreamPeer>,
    upcalls: Upcalls,
    inbox: Receiver<StreamMessage>,
) -> std::io::Result<()> {
    peer.start(move |peer, stop| run_inbox(&peer, &upcalls, &inbox, &stop))
}

fn run_inbox(
    peer: &Weak<StreamPeer>,
    upcalls: &Upcalls,
    inbox: &Receiver<StreamMessage>,
    stop: &Receiver<()>,
) {
    loop {
        select! {
            recv(inbox) -> message => match message {
                Ok(message) => {
                    let Some(peer) = peer.upgrade() else { return };
                    handle_request(&peer, upcalls, message);
                }
                Err(_) => {
                    if let Some(peer) = peer.upgrade() {
                        let entry: Arc<dyn Peer> = peer;
                        upcalls
                            .lifecycle
                            .remove(&entry, Removal::Failed("stream closed".into()));
                    }
                    return;
                }
            },
            recv(stop) -> _ => return,
        }
    }
}

/// A REPLY to `request` carrying `payload`; `session_hex` goes into the meta for replies to
/// authenticated requests (C# `ProcessRequestAsync`).
pub fn reply_to(
    request: &StreamMessage,
    payload: Vec<u8>,
    session_hex: Option<String>,
) -> StreamMessage {
    let mut meta = HashMap::new();
    if let Some(session) = session_hex {
        meta.insert(SESSION_ID_METADATA_KEY.to_owned(), session);
    }
    StreamMessage {
        stream_type: EnumOrUnknown::new(StreamType::REPLY),
        message_type: request.message_type,
        request_id: request.request_id.clone(),
        message: payload,
        meta,
        ..Default::default()
    }
}

/// An error REPLY to `request`: empty payload, the reason in [`ERROR_META_KEY`].
pub fn error_reply(
    request: &StreamMessage,
    reason: &str,
    session_hex: Option<String>,
) -> StreamMessage {
    let mut reply = reply_to(request, Vec::new(), session_hex);
    reply
        .meta
        .insert(ERROR_META_KEY.to_owned(), reason.to_owned());
    reply
}

/// The reply payload of the requests that need no peer: HEALTH_CHECK and PING. `None` for
/// every other type.
pub fn unauthenticated_reply(request: &StreamMessage) -> Option<Vec<u8>> {
    let bytes = match request.message_type.enum_value() {
        Ok(MessageType::HEALTH_CHECK) => HealthCheckReply::new().write_to_bytes(),
        Ok(MessageType::PING) => PongReply::new().write_to_bytes(),
        _ => return None,
    };
    bytes.ok()
}

/// Whether `request` passes authentication for `peer` (C# `ValidContext`).
fn authenticated(peer: &Arc<StreamPeer>, upcalls: &Upcalls, request: &StreamMessage) -> bool {
    let in_pool = upcalls
        .lifecycle
        .pool()
        .get(peer.pubkey_hex())
        .is_some_and(|entry| peer.is(&entry));
    let ours = peer.inbound_session_id();
    in_pool
        && !ours.is_empty()
        && request
            .meta
            .get(SESSION_ID_METADATA_KEY)
            .map(String::as_str)
            == Some(hex::encode(ours).as_str())
}

/// What to do after the reply went out.
enum After {
    Nothing,
    /// The remote said goodbye: the peer leaves the pool before the reply goes out (so the
    /// remote sees us gone when its DISCONNECT returns), and the stream closes after it.
    Leave,
}

/// Handles one request from `peer`'s remote and writes the reply on the same stream.
fn handle_request(peer: &Arc<StreamPeer>, upcalls: &Upcalls, request: StreamMessage) {
    let kind = type_name(&request);
    let auth = needs_auth(&request);
    if auth && !authenticated(peer, upcalls, &request) {
        note_unauthenticated();
        peer.count_unauthenticated();
        debug!(
            "dropping unauthenticated {kind} request {} from {peer}",
            request.request_id
        );
        return;
    }
    let session = auth.then(|| peer.outbound_session_hex());
    let (reply, after) = match handle(peer, upcalls, &request) {
        Ok((payload, after)) => (reply_to(&request, payload, session), after),
        Err(e) => {
            warn!(
                "refusing {kind} request {} from {peer}: {e}",
                request.request_id
            );
            if let HandleError::Codec(codec) = &e {
                upcalls.network.report(
                    peer.pubkey_hex(),
                    Offence::MalformedMessage,
                    format!("undecodable {kind} request: {codec}"),
                );
            }
            (
                error_reply(&request, &e.to_string(), session),
                After::Nothing,
            )
        }
    };
    let send_reply = || {
        if let Err(e) = peer.link().send(reply) {
            warn!(
                "cannot reply to {kind} request {} from {peer}: {e}",
                request.request_id
            );
        }
        debug!(
            "answered {kind} request {} from {peer} (latency {:?} ms)",
            request.request_id,
            request_latency_ms(&request.request_id)
        );
    };
    match after {
        After::Nothing => send_reply(),
        After::Leave => {
            let entry: Arc<dyn Peer> = peer.clone();
            upcalls
                .lifecycle
                .remove_then(&entry, Removal::GoodbyeReceived, send_reply);
        }
    }
}

/// Why a request could not be handled: its inner message does not parse, or the receive rules
/// refused the item.
#[derive(Debug, thiserror::Error)]
enum HandleError {
    #[error(transparent)]
    Codec(#[from] protobuf::Error),
    #[error(transparent)]
    Refused(#[from] InboundError),
}

/// Counts a broadcast item arriving over a stream.
fn count_received(kind: BroadcastKind, bytes: usize) {
    crate::metrics::metrics().received(kind.index(), bytes);
}

fn received(result: Result<(), InboundError>) -> Result<(), HandleError> {
    result.map_err(HandleError::Refused)
}

fn handle(
    peer: &Arc<StreamPeer>,
    upcalls: &Upcalls,
    request: &StreamMessage,
) -> Result<(Vec<u8>, After), HandleError> {
    let body = &request.message[..];
    let void = || VoidReply::new().write_to_bytes();
    // The identity for processing is the sender's key as its meta states it (C#
    // `meta["public-key"]`); authentication already tied it to this peer's session.
    let sender = peer.pubkey_hex();
    let payload = match request.message_type.enum_value() {
        Ok(MessageType::HEALTH_CHECK) => HealthCheckReply::new().write_to_bytes()?,
        Ok(MessageType::PING) => PongReply::new().write_to_bytes()?,
        Ok(MessageType::CONFIRM_HAND_SHAKE) => {
            upcalls.lifecycle.confirm_inbound(peer.pubkey_hex());
            void()?
        }
        Ok(MessageType::GET_NODES) => {
            let request = NodesRequest::parse_from_bytes(body)?;
            upcalls
                .lifecycle
                .nodes()
                .node_list(request.max_count)
                .write_to_bytes()?
        }
        Ok(MessageType::DISCONNECT) => {
            let reason = DisconnectReason::parse_from_bytes(body)?;
            info!(
                "peer {} says goodbye over the stream ({:?})",
                short_key(peer.pubkey_hex()),
                reason.why
            );
            return Ok((void()?, After::Leave));
        }
        Ok(MessageType::REQUEST_BLOCK) => {
            let request = BlockRequest::parse_from_bytes(body)?;
            upcalls
                .network
                .serve_block(Some(peer.pubkey_hex()), &request)
                .write_to_bytes()?
        }
        Ok(MessageType::REQUEST_BLOCKS) => {
            let request = BlocksRequest::parse_from_bytes(body)?;
            upcalls.network.serve_blocks(&request).write_to_bytes()?
        }
        Ok(MessageType::BLOCK_BROADCAST) => {
            count_received(BroadcastKind::Block, body.len());
            let block = BlockWithTransactions::parse_from_bytes(body)?;
            received(upcalls.inbound.on_block(sender, block))?;
            void()?
        }
        Ok(MessageType::TRANSACTION_BROADCAST) => {
            count_received(BroadcastKind::Transaction, body.len());
            let tx = Transaction::parse_from_bytes(body)?;
            received(upcalls.inbound.on_transaction(sender, tx))?;
            void()?
        }
        Ok(MessageType::ANNOUNCEMENT_BROADCAST) => {
            count_received(BroadcastKind::Announcement, body.len());
            let announcement = BlockAnnouncement::parse_from_bytes(body)?;
            received(upcalls.inbound.on_announcement(sender, &announcement))?;
            void()?
        }
        Ok(MessageType::LIB_ANNOUNCEMENT_BROADCAST) => {
            count_received(BroadcastKind::LibAnnouncement, body.len());
            let lib = LibAnnouncement::parse_from_bytes(body)?;
            received(upcalls.inbound.on_lib_announcement(sender, &lib))?;
            void()?
        }
        // HAND_SHAKE is only meaningful to the listener's server call; here, like ANY and
        // unknown types, it gets a VoidReply (C# `StreamService` without a method).
        Ok(MessageType::HAND_SHAKE) | Ok(MessageType::ANY) | Err(_) => {
            warn!(
                "unhandled {} request {} from {peer}",
                type_name(request),
                request.request_id
            );
            void()?
        }
    };
    Ok((payload, After::Nothing))
}
