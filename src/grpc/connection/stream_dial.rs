//! Opening stream mode on the dialer's side (C# `PeerDialer.DailStreamPeerAsync` and
//! `BuildStreamForPeerAsync`, spec 7.3), after the unary `DoHandshake` said HANDSHAKE_OK and both
//! node versions allow streams.
//!
//! Runs on the dialing thread (never a completion-queue thread): it blocks for the HAND_SHAKE
//! reply.

use crate::grpc::client::PeerClient;
use crate::grpc::error::{classify, GrpcError};
use crate::grpc::metadata::{PEER_INFO_METADATA_KEY, PUBKEY_METADATA_KEY, SESSION_ID_METADATA_KEY};
use crate::grpc::peer::PeerInfo;
use crate::grpc::stream::dispatch::start_serving;
use crate::grpc::stream::link::open_client;
use crate::grpc::stream::request::request;
use crate::grpc::stream::stream_peer::{StreamPeer, StreamPeerParts, StreamRole};
use crate::grpc::stream::{peer_info, StreamError, CLOSE_GRACE, RETRY_COUNT_META_KEY};
use crate::grpc::upcalls::Upcalls;
use crate::network::handshake::HandshakeProvider;
use crate::network::peer::{handshake_time_ns, Peer as _};
use crate::pb::network_types::{HandshakeData, HandshakeError, HandshakeReply, HandshakeRequest};
use crate::pb::peer_service::MessageType;
use crate::thread::WorkerHandle;
use log::{debug, info};
use protobuf::{Message, MessageField};
use std::collections::HashMap;
use std::sync::Arc;

/// What the stream opening needs from the unary exchange before it.
pub struct StreamDial<'a> {
    /// The channel the unary handshake used.
    pub client: PeerClient,
    /// The remote as its unary reply described it.
    pub info: PeerInfo,
    pub own_pubkey_hex: String,
    pub handshakes: &'a HandshakeProvider,
    /// What the stream peer's inbox thread hands received requests to.
    pub upcalls: Upcalls,
    /// The workers its block reads go to.
    pub servers: WorkerHandle,
    /// The session id of the remote's unary reply: presented on the stream HAND_SHAKE.
    pub unary_session: Vec<u8>,
    /// The unary reply's handshake data (chain tips and tie-break time, spec 4.2 step 9).
    pub received: HandshakeData,
    /// Our unary handshake's data.
    pub sent: HandshakeData,
}

/// Opens `RequestByStream`, exchanges a fresh handshake over it (one attempt, waiting
/// [`crate::grpc::stream::STREAM_WAIT_TIME`]) and returns the started stream peer, not yet in the pool nor
/// confirmed. A refused or invalid stream handshake closes the call and fails the dial.
pub fn dial_stream(d: StreamDial<'_>) -> Result<Arc<StreamPeer>, GrpcError> {
    let label = format!("to {}", d.info.endpoint);
    let (link, inbox) =
        open_client(d.client.channel(), &d.own_pubkey_hex, label).map_err(|e| GrpcError::Call {
            method: "RequestByStream",
            status: match &e {
                grpcio::Error::RpcFailure(s) => s.code(),
                _ => grpcio::RpcStatusCode::UNKNOWN,
            },
            kind: classify(&e, d.client.channel().check_connectivity_state(false)),
            message: e.to_string(),
        })?;
    let fail = |e: GrpcError| {
        link.close(CLOSE_GRACE);
        Err(e)
    };

    let ours = d.handshakes.build();
    let meta = HashMap::from([
        (PUBKEY_METADATA_KEY.to_owned(), d.own_pubkey_hex.clone()),
        (
            PEER_INFO_METADATA_KEY.to_owned(),
            peer_info(&d.info.pubkey_hex),
        ),
        (
            SESSION_ID_METADATA_KEY.to_owned(),
            hex::encode(&d.unary_session),
        ),
    ]);
    let payload = HandshakeRequest {
        handshake: MessageField::some(ours.clone()),
        ..Default::default()
    }
    .write_to_bytes()
    .map_err(|e| GrpcError::NotDialing {
        endpoint: d.info.endpoint.to_string(),
        reason: e.to_string(),
    })?;
    let reply = match request(
        &link,
        &meta,
        MessageType::HAND_SHAKE,
        payload,
        // The default wait (3000 ms), no `timeout` in the meta: as the C# dialer.
        None,
        &[(RETRY_COUNT_META_KEY, "0".to_owned())],
    ) {
        Ok(reply) => reply,
        Err(e) => {
            // No reply counts as INVALID_CONNECTION, as in the C# dialer.
            debug!("stream handshake with {} failed: {e}", d.info.endpoint);
            return fail(GrpcError::Refused(HandshakeError::INVALID_CONNECTION));
        }
    };
    let reply = match HandshakeReply::parse_from_bytes(&reply.message) {
        Ok(reply) => reply,
        Err(e) => {
            debug!(
                "{}",
                StreamError::Codec(MessageType::HAND_SHAKE, e.to_string())
            );
            return fail(GrpcError::Refused(HandshakeError::INVALID_CONNECTION));
        }
    };
    let code = reply.error.enum_value_or_default();
    if code != HandshakeError::HANDSHAKE_OK {
        return fail(GrpcError::Refused(code));
    }
    let Some(theirs) = reply.handshake.as_ref() else {
        return fail(GrpcError::EmptyReply);
    };
    if let Err(rejection) = d.handshakes.validate(theirs) {
        return fail(GrpcError::InvalidReply(rejection));
    }
    let their_key = theirs
        .handshake_data
        .as_ref()
        .map(|h| h.pubkey.as_slice())
        .unwrap_or_default();
    if their_key != d.info.pubkey.as_slice() {
        return fail(GrpcError::NotDialing {
            endpoint: d.info.endpoint.to_string(),
            reason: "the stream handshake comes from another key than the unary one".into(),
        });
    }
    info!(
        "stream handshake with {} done (sessions: ours {}, theirs {})",
        d.info.endpoint,
        hex::encode(&ours.session_id),
        hex::encode(&theirs.session_id)
    );
    let peer = Arc::new(StreamPeer::new(
        StreamPeerParts {
            info: d.info,
            role: StreamRole::Dialer,
            client: Some(d.client),
            own_pubkey_hex: d.own_pubkey_hex,
            outbound_session: theirs.session_id.clone(),
            received: d.received,
            context: d.upcalls.peer_context.clone(),
        },
        link.clone(),
    ));
    // The stream handshake's session, the unary handshake's stamp (spec 4.2 step 9).
    peer.core()
        .record_sent_handshake(ours.session_id.clone(), handshake_time_ns(&d.sent));
    if let Err(e) = start_serving(&peer, d.upcalls, d.servers, inbox) {
        return fail(GrpcError::Thread(e));
    }
    Ok(peer)
}
