//! The transport of one `RequestByStream` call, for either side: the bounded write queues (a
//! normal lane, and an ahead lane for small replies that must not wait behind large ones) and
//! the future that drains them into the gRPC sink, the reader's controls, and the orderly
//! close.
//!
//! Both futures run on a completion-queue thread (the client's `spawn` or the server's
//! `ctx.spawn`) and never block it: sending is a `try_send` into the queue, and received
//! messages are routed without waiting (replies into the registry, requests into a bounded
//! inbox). Closing is done by ordinary threads, which may wait a little for each half to end.

use super::registry::RequestRegistry;
use super::{type_name, StreamError, INBOX_CAPACITY, MAX_BUFFERED_STREAM_COUNT};
use crate::grpc::metadata::{GRPC_GZIP, GRPC_REQUEST_COMPRESS_KEY, PUBKEY_METADATA_KEY};
use crate::pb::peer_service::{StreamMessage, StreamType};
use crate::pb::peer_service_grpc::PeerServiceClient;
use crossbeam_channel::{bounded, Receiver, Sender, TryRecvError, TrySendError};
use futures_channel::{mpsc, oneshot};
use futures_util::future::{self, Either};
use futures_util::stream::PollNext;
use futures_util::{Sink, SinkExt as _, StreamExt as _};
use grpcio::{CallOption, Channel, MetadataBuilder, WriteFlags};
use log::{debug, warn};
use parking_lot::Mutex;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Messages waiting in a link's ahead lane at most (small replies; see
/// [`StreamWriter::send_ahead`]). A peer's inbox thread answers one request at a time, so a
/// few would do.
pub const AHEAD_LANE_CAPACITY: usize = 64;

/// A future to run on a completion queue.
pub type CqFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The write half: two bounded queues drained into the call by a completion-queue future,
/// the ahead lane first (see [`StreamWriter::send_ahead`]).
pub struct StreamWriter {
    /// `None` once closed; dropping the senders lets the drain future finish what is queued
    /// and then end its half of the call.
    queue: Mutex<Option<Lanes>>,
    /// Disconnected when the drain future has ended.
    done: Receiver<()>,
}

struct Lanes {
    normal: mpsc::Sender<StreamMessage>,
    ahead: mpsc::Sender<StreamMessage>,
}

impl StreamWriter {
    /// Queues `message`. Never blocks: a full queue fails this send.
    pub fn send(&self, message: StreamMessage) -> Result<(), StreamError> {
        self.queue_on(message, false)
    }

    /// Queues `message` ahead of everything waiting in the normal lane (messages of the ahead
    /// lane keep their own order). For small replies that must not wait behind large ones
    /// already queued: a health check's behind a few batches of blocks. Never blocks: a full
    /// lane ([`AHEAD_LANE_CAPACITY`]) fails this send.
    pub fn send_ahead(&self, message: StreamMessage) -> Result<(), StreamError> {
        self.queue_on(message, true)
    }

    fn queue_on(&self, message: StreamMessage, ahead: bool) -> Result<(), StreamError> {
        let mut queue = self.queue.lock();
        let Some(lanes) = queue.as_mut() else {
            return Err(StreamError::Closed);
        };
        let sender = if ahead {
            &mut lanes.ahead
        } else {
            &mut lanes.normal
        };
        match sender.try_send(message) {
            Ok(()) => Ok(()),
            Err(e) if e.is_full() => Err(StreamError::QueueFull),
            Err(_) => {
                // The drain future ended (the call failed): nothing will be written any more.
                *queue = None;
                Err(StreamError::Closed)
            }
        }
    }

    /// Stops taking messages; those already queued are still written, then the write half of
    /// the call ends (a client half-closes, a server sends status OK). Never blocks.
    pub fn close(&self) {
        drop(self.queue.lock().take());
    }

    /// Closed by us, or its drain future ended.
    pub fn is_closed(&self) -> bool {
        self.queue.lock().is_none() || ended(&self.done)
    }
}

fn ended(done: &Receiver<()>) -> bool {
    matches!(done.try_recv(), Err(TryRecvError::Disconnected))
}

/// The reader's controls, kept by the link's owner.
struct ReaderControl {
    /// Sending (or dropping) it makes the reader future stop, which cancels the call if it is
    /// still open.
    kill: Mutex<Option<oneshot::Sender<()>>>,
    /// Disconnected when the reader future has ended.
    done: Receiver<()>,
}

/// What the reader future keeps: the kill switch to watch, and the guard whose drop tells the
/// link the reader ended.
pub struct ReaderGuard {
    pub kill: oneshot::Receiver<()>,
    _done: Sender<()>,
}

impl ReaderGuard {
    /// The next message `messages` yields, unless the call failed, ended or the kill switch
    /// fired first; the reason is logged with `label`. Both ends' reader loops use it.
    pub async fn next_message<S>(&mut self, label: &str, messages: &mut S) -> Option<StreamMessage>
    where
        S: futures_util::Stream<Item = grpcio::Result<StreamMessage>> + Unpin,
    {
        match future::select(messages.next(), &mut self.kill).await {
            Either::Left((Some(Ok(message)), _)) => Some(message),
            Either::Left((Some(Err(e)), _)) => {
                debug!("stream {label}: read side failed: {e}");
                None
            }
            Either::Left((None, _)) => {
                debug!("stream {label}: ended by the remote");
                None
            }
            Either::Right(_) => {
                debug!("stream {label}: cancelled");
                None
            }
        }
    }
}

/// One call's transport, shared by the peer object and whoever else must write on it.
#[derive(Clone)]
pub struct Link {
    writer: Arc<StreamWriter>,
    reader: Arc<ReaderControl>,
}

impl Link {
    /// Starts the drain future for `sink` with `spawn`; returns the link and the guard for the
    /// reader future the caller starts.
    pub fn start<S>(label: String, sink: S, spawn: impl FnOnce(CqFuture)) -> (Link, ReaderGuard)
    where
        S: Sink<(StreamMessage, WriteFlags), Error = grpcio::Error> + Unpin + Send + 'static,
    {
        let (normal, items) = mpsc::channel::<StreamMessage>(MAX_BUFFERED_STREAM_COUNT);
        let (ahead, ahead_items) = mpsc::channel::<StreamMessage>(AHEAD_LANE_CAPACITY);
        let (writer_done_tx, writer_done) = bounded::<()>(1);
        let items = futures_util::stream::select_with_strategy(ahead_items, items, |_: &mut ()| {
            PollNext::Left
        });
        spawn(Box::pin(drain(label, sink, items, writer_done_tx)));
        let (kill_tx, kill) = oneshot::channel();
        let (reader_done_tx, reader_done) = bounded::<()>(1);
        let link = Link {
            writer: Arc::new(StreamWriter {
                queue: Mutex::new(Some(Lanes { normal, ahead })),
                done: writer_done,
            }),
            reader: Arc::new(ReaderControl {
                kill: Mutex::new(Some(kill_tx)),
                done: reader_done,
            }),
        };
        (
            link,
            ReaderGuard {
                kill,
                _done: reader_done_tx,
            },
        )
    }

    pub fn writer(&self) -> &Arc<StreamWriter> {
        &self.writer
    }

    /// Queues `message` (see [`StreamWriter::send`]).
    pub fn send(&self, message: StreamMessage) -> Result<(), StreamError> {
        self.writer.send(message)
    }

    /// Queues `message` ahead of the normal lane (see [`StreamWriter::send_ahead`]).
    pub fn send_ahead(&self, message: StreamMessage) -> Result<(), StreamError> {
        self.writer.send_ahead(message)
    }

    /// Either half ended, or we closed it.
    pub fn is_closed(&self) -> bool {
        self.writer.is_closed() || ended(&self.reader.done)
    }

    /// Disconnected when the reader future ended: a request waiting for a reply watches it.
    pub fn reader_done(&self) -> &Receiver<()> {
        &self.reader.done
    }

    /// Orderly close: stop taking messages, let the queued ones go out and the write half end,
    /// give the remote `grace` to end its half, then cancel the call if it is still open.
    /// Blocks for up to twice `grace`: never call it on a completion-queue thread.
    pub fn close(&self, grace: Duration) {
        self.writer.close();
        let _ = self.writer.done.recv_timeout(grace);
        let _ = self.reader.done.recv_timeout(grace);
        self.kill();
    }

    /// Cancels the call now (whatever is still queued is lost). Never blocks.
    pub fn kill(&self) {
        self.writer.close();
        if let Some(kill) = self.reader.kill.lock().take() {
            let _ = kill.send(());
        }
    }
}

/// Writes everything queued, then ends the write half. On a write failure the sink is dropped
/// without closing, which cancels the call, so the reader ends too.
async fn drain<S, I>(label: String, mut sink: S, items: I, done: Sender<()>)
where
    S: Sink<(StreamMessage, WriteFlags), Error = grpcio::Error> + Unpin,
    I: futures_util::Stream<Item = StreamMessage> + Unpin,
{
    // The C# node writes practically every stream message uncompressed (spec 3.5).
    let flags = WriteFlags::default().force_no_compress(true);
    let mut items = items.map(move |m| Ok((m, flags)));
    let result = match sink.send_all(&mut items).await {
        Ok(()) => sink.close().await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => debug!("stream {label}: write side closed"),
        Err(e) => debug!("stream {label}: write side failed: {e}"),
    }
    drop(items);
    drop(sink);
    drop(done);
}

/// Hands a received reply to the request waiting for it; unknown ids (late replies) and wrong
/// types are logged and dropped. Never blocks.
pub fn complete_reply(label: &str, reply: StreamMessage) {
    let id = reply.request_id.clone();
    let kind = type_name(&reply);
    if let Err(e) = RequestRegistry::global().complete(reply) {
        debug!("stream {label}: dropping {kind} reply {id}: {e}");
    }
}

/// Passes a received request to the peer's inbox thread. Never blocks: a full inbox drops it
/// (the remote sees a timeout).
pub fn forward_request(label: &str, inbox: &Sender<StreamMessage>, request: StreamMessage) {
    match inbox.try_send(request) {
        Ok(()) => {}
        Err(TrySendError::Full(r)) => warn!(
            "stream {label}: inbox full, dropping {} request {}",
            type_name(&r),
            r.request_id
        ),
        Err(TrySendError::Disconnected(r)) => debug!(
            "stream {label}: peer gone, dropping {} request {}",
            type_name(&r),
            r.request_id
        ),
    }
}

/// Opens `RequestByStream` on `channel` (dialer side, spec 7.3): headers `public-key` and
/// `grpc-internal-encoding-request: gzip`, no deadline. Starts the drain future and the reader
/// future on the channel's completion queue; received requests go to the returned inbox.
pub fn open_client(
    channel: &Channel,
    own_pubkey_hex: &str,
    label: String,
) -> grpcio::Result<(Link, Receiver<StreamMessage>)> {
    let client = PeerServiceClient::new(channel.clone());
    let mut headers = MetadataBuilder::with_capacity(2);
    headers.add_str(PUBKEY_METADATA_KEY, own_pubkey_hex)?;
    headers.add_str(GRPC_REQUEST_COMPRESS_KEY, GRPC_GZIP)?;
    let (sink, receiver) =
        client.request_by_stream_opt(CallOption::default().headers(headers.build()))?;
    let (link, guard) = Link::start(label.clone(), sink, |f| client.spawn(f));
    let (inbox_tx, inbox) = bounded(INBOX_CAPACITY);
    let writer = link.writer().clone();
    client.spawn(read_client(label, receiver, guard, inbox_tx, writer));
    Ok((link, inbox))
}

/// The dialer's reader: replies complete their requests, requests go to the inbox. When the
/// remote ends the call (or it fails, or we kill it) the write half is closed too and the inbox
/// disconnects, which tells the peer's thread the stream is gone.
async fn read_client(
    label: String,
    mut receiver: grpcio::ClientDuplexReceiver<StreamMessage>,
    guard: ReaderGuard,
    inbox: Sender<StreamMessage>,
    writer: Arc<StreamWriter>,
) {
    let mut guard = guard;
    while let Some(message) = guard.next_message(&label, &mut receiver).await {
        route(&label, message, &inbox);
    }
    writer.close();
    // Dropping the receiver before the call finished cancels it.
    drop(receiver);
    drop(inbox);
    drop(guard);
}

/// Routes one message received by the dialer.
pub fn route(label: &str, message: StreamMessage, inbox: &Sender<StreamMessage>) {
    match message.stream_type.enum_value() {
        Ok(StreamType::REPLY) => complete_reply(label, message),
        Ok(StreamType::REQUEST) => forward_request(label, inbox, message),
        _ => warn!(
            "stream {label}: ignoring {} message {} of unknown stream type",
            type_name(&message),
            message.request_id
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protobuf::EnumOrUnknown;

    fn message(id: &str) -> StreamMessage {
        StreamMessage {
            stream_type: EnumOrUnknown::new(StreamType::REPLY),
            request_id: id.into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_ahead_lane_passes_what_waits_in_the_normal_one() {
        // A sink that takes nothing until the test reads it: the drain future can hold at most
        // a couple of messages, the rest wait in the lanes.
        let (sink, written) = mpsc::channel::<(StreamMessage, WriteFlags)>(0);
        let sink = sink.sink_map_err(|_| grpcio::Error::RemoteStopped);
        let (link, _guard) = Link::start("test".into(), sink, |drain| {
            std::thread::spawn(move || futures_executor::block_on(drain));
        });
        for i in 0..10 {
            link.send(message(&format!("batch-{i}"))).unwrap();
        }
        link.send_ahead(message("health")).unwrap();
        link.writer().close();
        let order: Vec<String> = futures_executor::block_on_stream(written)
            .map(|(m, _)| m.request_id)
            .collect();
        assert_eq!(order.len(), 11, "{order:?}");
        let health = order.iter().position(|id| id == "health").unwrap();
        assert!(health < 9, "{order:?}");
        // The normal lane keeps its order.
        let batches: Vec<&String> = order.iter().filter(|id| *id != "health").collect();
        let expected: Vec<String> = (0..10).map(|i| format!("batch-{i}")).collect();
        assert_eq!(batches, expected.iter().collect::<Vec<_>>());
        assert_eq!(link.send_ahead(message("late")), Err(StreamError::Closed));
    }
}
