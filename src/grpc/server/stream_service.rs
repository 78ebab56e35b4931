//! The server side of `RequestByStream` (C# `GrpcServerService.RequestByStream`, spec 4.5 and
//! 7.5): the call's link, and the reader future that routes what the dialer sends.
//!
//! The first HAND_SHAKE request is handed to a handshake worker (it may disconnect a peer it
//! replaces, which can block), and the reader waits for the outcome without blocking the
//! completion queue. On success the connection service has put a back peer — a
//! [`StreamPeer`](crate::grpc::stream::stream_peer::StreamPeer) writing on this call — in the pool, and
//! later requests go to its inbox thread (which hands block reads on to the stream-server
//! workers). Before that, HEALTH_CHECK and PING are answered
//! directly (they need no peer) and other requests are dropped unauthenticated. The call stays
//! open after a refused handshake, as in the C# node.

use crate::grpc::connection::{refusal, ConnectionService};
use crate::grpc::stream::dispatch::{note_unauthenticated, reply_to, unauthenticated_reply};
use crate::grpc::stream::link::{complete_reply, forward_request, CqFuture, Link, ReaderGuard};
use crate::grpc::stream::type_name;
use crate::pb::network_types::{Handshake, HandshakeError, HandshakeReply, HandshakeRequest};
use crate::pb::peer_service::{MessageType, StreamMessage, StreamType};
use crossbeam_channel::Sender;
use futures_channel::oneshot;
use grpcio::{DuplexSink, RequestStream, RpcContext};
use log::{debug, error, warn};
use protobuf::{EnumOrUnknown, Message};
use std::net::IpAddr;
use std::sync::Arc;

/// Blocking work handed to a handshake worker.
pub type Job = Box<dyn FnOnce() + Send>;

/// Serves one `RequestByStream` call. `submit` queues a job on a handshake worker and says
/// whether it was taken (a full queue refuses the handshake with CONNECTION_REFUSED).
pub fn serve(
    ctx: &RpcContext,
    requests: RequestStream<StreamMessage>,
    sink: DuplexSink<StreamMessage>,
    caller: Option<IpAddr>,
    connections: Arc<ConnectionService>,
    submit: impl Fn(Job) -> bool + Send + Sync + 'static,
) {
    let label = match caller {
        Some(ip) => format!("from {ip}"),
        None => format!("from {}", ctx.peer()),
    };
    let (link, guard) = Link::start(label.clone(), sink, |f: CqFuture| ctx.spawn(f));
    ctx.spawn(read_server(
        label,
        requests,
        guard,
        link,
        caller,
        connections,
        submit,
    ));
}

async fn read_server(
    label: String,
    mut requests: RequestStream<StreamMessage>,
    guard: ReaderGuard,
    link: Link,
    caller: Option<IpAddr>,
    connections: Arc<ConnectionService>,
    submit: impl Fn(Job) -> bool + Send + Sync + 'static,
) {
    let mut guard = guard;
    // The back peer's inbox, once the handshake admitted one.
    let mut inbox: Option<Sender<StreamMessage>> = None;
    while let Some(message) = guard.next_message(&label, &mut requests).await {
        match message.stream_type.enum_value() {
            Ok(StreamType::REPLY) => complete_reply(&label, message),
            Ok(StreamType::REQUEST)
                if message.message_type.value() == MessageType::HAND_SHAKE as i32 =>
            {
                if inbox.is_some() {
                    // One handshake per call: a rebuild opens a new call.
                    warn!("stream {label}: second HAND_SHAKE on one call refused");
                    answer_handshake(
                        &label,
                        &link,
                        &message,
                        refusal(HandshakeError::REPEATED_CONNECTION),
                    );
                    continue;
                }
                let handshake = match HandshakeRequest::parse_from_bytes(&message.message) {
                    Ok(request) => request.handshake.into_option().unwrap_or_default(),
                    Err(e) => {
                        error!(
                            "stream {label}: malformed HAND_SHAKE {}: {e}",
                            message.request_id
                        );
                        continue;
                    }
                };
                let (reply, attached) =
                    handshake_on_worker(&submit, &connections, caller, handshake, &link).await;
                answer_handshake(&label, &link, &message, reply);
                inbox = attached;
            }
            Ok(StreamType::REQUEST) => match &inbox {
                Some(inbox) => forward_request(&label, inbox, message),
                None => match unauthenticated_reply(&message) {
                    Some(payload) => {
                        if let Err(e) = link.send(reply_to(&message, payload, None)) {
                            debug!("stream {label}: cannot answer {}: {e}", type_name(&message));
                        }
                    }
                    None => {
                        note_unauthenticated();
                        debug!(
                            "stream {label}: dropping {} request {} before any handshake",
                            type_name(&message),
                            message.request_id
                        );
                    }
                },
            },
            _ => warn!(
                "stream {label}: ignoring {} message {} of unknown stream type",
                type_name(&message),
                message.request_id
            ),
        }
    }
    // The dialer is gone or the call failed: our half ends too. With a back peer, its thread
    // sees the inbox close, has the connection service drop the peer, and only then closes the
    // link, so a dialer that sees the call end knows the peer is gone. Without one, end it here.
    if inbox.is_none() {
        link.writer().close();
    }
    drop(requests);
    drop(inbox);
    drop(guard);
}

/// Runs the stream handshake on a worker and waits for it without blocking.
async fn handshake_on_worker(
    submit: &impl Fn(Job) -> bool,
    connections: &Arc<ConnectionService>,
    caller: Option<IpAddr>,
    handshake: Handshake,
    link: &Link,
) -> (HandshakeReply, Option<Sender<StreamMessage>>) {
    let (tx, rx) = oneshot::channel();
    let connections = connections.clone();
    let job_link = link.clone();
    let job: Job = Box::new(move || {
        let (reply, inbox) = connections.accept_stream_handshake(caller, &handshake, &job_link);
        let result = format!("{:?}", reply.error.enum_value_or_default());
        crate::metrics::metrics().handshake(true, &result);
        let _ = tx.send((reply, inbox));
    });
    if !submit(job) {
        warn!("stream handshake refused: the handshake workers are busy");
        return (refusal(HandshakeError::CONNECTION_REFUSED), None);
    }
    match rx.await {
        Ok(outcome) => outcome,
        Err(_) => (refusal(HandshakeError::CONNECTION_REFUSED), None),
    }
}

/// Writes the HAND_SHAKE reply: same request id, no meta (spec 4.5 step 7).
fn answer_handshake(label: &str, link: &Link, request: &StreamMessage, reply: HandshakeReply) {
    let payload = match reply.write_to_bytes() {
        Ok(payload) => payload,
        Err(e) => {
            error!("stream {label}: cannot encode the handshake reply: {e}");
            return;
        }
    };
    let message = StreamMessage {
        stream_type: EnumOrUnknown::new(StreamType::REPLY),
        message_type: EnumOrUnknown::new(MessageType::HAND_SHAKE),
        request_id: request.request_id.clone(),
        message: payload,
        ..Default::default()
    };
    if let Err(e) = link.send(message) {
        warn!("stream {label}: cannot send the handshake reply: {e}");
    }
}
