//! `PeerSenders`: one peer's three send queues (blocks, transactions, announcements; spec 5.2)
//! and the dedicated `send-<id>-<kind>` thread that drains each into the peer's transport.
//!
//! Owns the queues' overflow policy and counters: enqueueing never blocks — a full queue drops
//! the item for this peer only and counts it — so a peer that stops reading only fills its own
//! queues. A failed send is counted, reported through the [`FailureReporter`] (the network
//! service applies spec 5.5 on its own thread) and followed by a 500 ms pause
//! (`StreamRecoveryWaitTime`). It must not know the wire format: a [`BroadcastTransport`] does
//! the sending ([`LegacyBroadcast`] here, the stream peer's for stream mode). How long a send
//! has been waiting for the peer is in [`QueueCounters::stalled_ms`], which the scheduler uses
//! to drop a peer that stopped reading one of its streams.

use super::client::PeerClient;
use super::error::classify;
use super::metadata::stream_call_option;
use super::stream::STREAM_RECOVERY_WAIT;
use crate::metrics::metrics;
use crate::network::broadcast::{
    BroadcastItem, BroadcastKind, EnqueueError, QueueCapacities, QueueCounters, QueueKind,
    QueueStats,
};
use crate::network::peer::{FailureKind, PeerRequestError};
use crate::pb::peer_service::VoidReply;
use crossbeam_channel::{bounded, select, Receiver, Sender, TrySendError};
use futures_channel::{mpsc, oneshot};
use futures_util::future::{self, Either};
use futures_util::{SinkExt as _, StreamExt as _};
use grpcio::{GrpcSlice, Marshaller, Method, MethodType, WriteFlags};
use log::{debug, warn};
use parking_lot::Mutex;
use std::io::Read as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// Failures waiting for the network service at most; more are dropped (the peer's next
/// failure reports again).
pub const FAILURE_QUEUE: usize = 1_024;
/// Batches handed from a legacy sender thread to its call's writer future at most.
const CALL_BUFFER: usize = 16;
/// Items a sender thread takes from its queue at once when more are waiting. Handing the
/// writer future a batch wakes the completion queue once per batch instead of once per item:
/// measured with `aelf-netbench --only fanout`, this is most of the gap to raw grpcio.
const SEND_BATCH: usize = 256;
/// How long a sender waits to learn why a broadcast call ended (it has ended already).
const CALL_END_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// A failed send or request of one peer, for the network service's failure policy.
#[derive(Debug, Clone)]
pub struct PeerFailure {
    pub pubkey_hex: String,
    pub error: PeerRequestError,
}

/// Where peers report failures; never blocks.
#[derive(Clone)]
pub struct FailureReporter {
    queue: Sender<PeerFailure>,
}

impl FailureReporter {
    /// A reporter and the receiver its consumer drains.
    pub fn new() -> (FailureReporter, Receiver<PeerFailure>) {
        let (queue, rx) = bounded(FAILURE_QUEUE);
        (FailureReporter { queue }, rx)
    }

    pub fn report(&self, pubkey_hex: &str, error: PeerRequestError) {
        let failure = PeerFailure {
            pubkey_hex: pubkey_hex.to_owned(),
            error,
        };
        if let Err(TrySendError::Full(f)) = self.queue.try_send(failure) {
            debug!("failure queue full, dropping report on {}", f.pubkey_hex);
        }
    }
}

/// The kill switches of one peer's open broadcast calls, so stopping the peer can cancel a
/// call whose remote stopped reading (a sender thread may be waiting for room in it).
pub struct CallCancels {
    /// `None` once cancelled: calls opened later are cancelled at once.
    kills: Mutex<Option<Vec<oneshot::Sender<()>>>>,
}

impl Default for CallCancels {
    fn default() -> CallCancels {
        CallCancels {
            kills: Mutex::new(Some(Vec::new())),
        }
    }
}

impl CallCancels {
    fn add(&self, kill: oneshot::Sender<()>) {
        let mut kills = self.kills.lock();
        match kills.as_mut() {
            Some(list) => {
                list.retain(|k| !k.is_canceled());
                list.push(kill);
            }
            None => drop(kill),
        }
    }

    /// Cancels every open call and any opened later.
    pub fn cancel_all(&self) {
        if let Some(list) = self.kills.lock().take() {
            for kill in list {
                let _ = kill.send(());
            }
        }
    }
}

/// Sends broadcast items of one queue to one peer. Runs on that queue's sender thread and may
/// block it.
pub trait BroadcastTransport: Send + 'static {
    fn send(&mut self, item: &BroadcastItem) -> Result<(), PeerRequestError>;

    /// Sends items in order; one at a time unless the transport can do better.
    fn send_batch(&mut self, items: &[Arc<BroadcastItem>]) -> Result<(), PeerRequestError> {
        items.iter().try_for_each(|item| self.send(item))
    }
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    /// When the send in progress began, as [`monotonic_ms`] + 1; 0 when the sender is not
    /// inside a send.
    sending_since: AtomicU64,
}

/// Milliseconds on a clock that only goes forward, from the first call in this process.
fn monotonic_ms() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// One peer's queues and sender threads (see the module documentation).
pub struct PeerSenders {
    /// `None` once stopped.
    queues: Mutex<Option<[Sender<Arc<BroadcastItem>>; 3]>>,
    counters: Arc<[Counters; 3]>,
    /// Dropping it stops the threads at their next item.
    stop: Mutex<Option<Sender<()>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Calls the transports opened, cancelled on stop.
    cancels: Arc<CallCancels>,
}

impl PeerSenders {
    /// Starts the three sender threads, each with the transport `transport(kind, cancels)`
    /// gives; a transport registers its open calls in `cancels`.
    pub fn start(
        pubkey_hex: &str,
        capacities: QueueCapacities,
        failures: FailureReporter,
        mut transport: impl FnMut(QueueKind, &Arc<CallCancels>) -> Box<dyn BroadcastTransport>,
    ) -> std::io::Result<PeerSenders> {
        let cancels = Arc::new(CallCancels::default());
        let counters: Arc<[Counters; 3]> = Arc::new(Default::default());
        let (stop_tx, stop_rx) = bounded::<()>(0);
        let short = pubkey_hex.get(2..10).unwrap_or("?");
        let mut queues = Vec::with_capacity(3);
        let mut threads = Vec::with_capacity(3);
        for kind in QueueKind::ALL {
            let (tx, rx) = bounded::<Arc<BroadcastItem>>(capacities.of(kind));
            queues.push(tx);
            let sender = SenderThread {
                pubkey_hex: pubkey_hex.to_owned(),
                items: rx,
                stop: stop_rx.clone(),
                transport: transport(kind, &cancels),
                counters: counters.clone(),
                kind,
                failures: failures.clone(),
            };
            let spawned =
                crate::thread::spawn(&format!("send-{short}-{}", kind.name()), move || {
                    sender.run();
                    Ok(())
                });
            match spawned {
                Ok(handle) => threads.push(handle),
                Err(e) => {
                    drop(stop_tx);
                    drop(queues);
                    for t in threads {
                        let _ = t.join();
                    }
                    return Err(e);
                }
            }
        }
        let queues: [Sender<Arc<BroadcastItem>>; 3] = match queues.try_into() {
            Ok(queues) => queues,
            Err(_) => unreachable!("one queue per kind"),
        };
        Ok(PeerSenders {
            queues: Mutex::new(Some(queues)),
            counters,
            stop: Mutex::new(Some(stop_tx)),
            threads: Mutex::new(threads),
            cancels,
        })
    }

    /// Queues `item` for its sender thread without blocking (the caller checked readiness).
    pub fn enqueue(&self, item: Arc<BroadcastItem>) -> Result<(), EnqueueError> {
        let queue = item.kind.queue();
        let guard = self.queues.lock();
        let Some(queues) = guard.as_ref() else {
            return Err(EnqueueError::NotReady);
        };
        match queues[queue.index()].try_send(item) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.counters[queue.index()]
                    .dropped
                    .fetch_add(1, Ordering::Relaxed);
                metrics().dropped(queue.index());
                Err(EnqueueError::QueueFull)
            }
            Err(TrySendError::Disconnected(_)) => Err(EnqueueError::NotReady),
        }
    }

    pub fn stats(&self) -> QueueStats {
        let guard = self.queues.lock();
        let mut stats = QueueStats::default();
        for kind in QueueKind::ALL {
            let c = &self.counters[kind.index()];
            let since = c.sending_since.load(Ordering::Relaxed);
            *stats.of_mut(kind) = QueueCounters {
                buffered: guard.as_ref().map_or(0, |q| q[kind.index()].len()),
                sent: c.sent.load(Ordering::Relaxed),
                dropped: c.dropped.load(Ordering::Relaxed),
                failed: c.failed.load(Ordering::Relaxed),
                // At least 1 while a send is in progress, so "none" stays distinguishable.
                stalled_ms: match since {
                    0 => 0,
                    since => monotonic_ms().saturating_sub(since - 1).max(1),
                },
            };
        }
        stats
    }

    /// Stops taking items, tells the threads to stop and joins them (each finishes the send it
    /// is in; queued items are dropped). Idempotent. A sender thread that ends up here (it held
    /// the last reference to its peer) is not joined: it ends on its own right after.
    pub fn stop(&self) {
        drop(self.queues.lock().take());
        drop(self.stop.lock().take());
        self.cancels.cancel_all();
        let threads: Vec<_> = self.threads.lock().drain(..).collect();
        let current = std::thread::current().id();
        for t in threads {
            if t.thread().id() != current {
                let _ = t.join();
            }
        }
    }
}

impl Drop for PeerSenders {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What one sender thread owns.
struct SenderThread {
    pubkey_hex: String,
    items: Receiver<Arc<BroadcastItem>>,
    stop: Receiver<()>,
    transport: Box<dyn BroadcastTransport>,
    counters: Arc<[Counters; 3]>,
    kind: QueueKind,
    failures: FailureReporter,
}

impl SenderThread {
    fn run(mut self) {
        let mut batch: Vec<Arc<BroadcastItem>> = Vec::with_capacity(SEND_BATCH);
        loop {
            let item = select! {
                recv(self.items) -> item => match item {
                    Ok(item) => item,
                    Err(_) => return,
                },
                recv(self.stop) -> _ => return,
            };
            batch.clear();
            batch.push(item);
            while batch.len() < SEND_BATCH {
                match self.items.try_recv() {
                    Ok(more) => batch.push(more),
                    Err(_) => break,
                }
            }
            let counters = &self.counters[self.kind.index()];
            let count = batch.len() as u64;
            counters
                .sending_since
                .store(monotonic_ms().saturating_add(1), Ordering::Relaxed);
            let result = self.transport.send_batch(&batch);
            counters.sending_since.store(0, Ordering::Relaxed);
            match result {
                Ok(()) => {
                    counters.sent.fetch_add(count, Ordering::Relaxed);
                    for item in &batch {
                        metrics().sent(item.kind.index(), item.bytes.len());
                    }
                }
                Err(error) => {
                    counters.failed.fetch_add(count, Ordering::Relaxed);
                    debug!(
                        "sending {count} {} item(s) to {} failed: {error}",
                        self.kind.name(),
                        &self.pubkey_hex
                    );
                    self.failures.report(&self.pubkey_hex, error);
                    // Let the transport recover; a stop cuts the pause short.
                    if !matches!(
                        self.stop.recv_timeout(STREAM_RECOVERY_WAIT),
                        Err(crossbeam_channel::RecvTimeoutError::Timeout)
                    ) {
                        return;
                    }
                }
            }
        }
    }
}

/// Writes already-encoded bytes as the request message (encode once, send to many).
fn raw_ser(bytes: &Arc<[u8]>, slice: &mut GrpcSlice) -> grpcio::Result<()> {
    *slice = GrpcSlice::from(&bytes[..]);
    Ok(())
}

/// Reads a message's bytes as they are (never used by a client: it does not decode requests).
fn raw_de(mut reader: grpcio::MessageReader) -> grpcio::Result<Arc<[u8]>> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|e| grpcio::Error::Codec(Box::new(e)))?;
    Ok(Arc::from(bytes))
}

/// A client-streaming method of `PeerService` (e.g. `/PeerService/TransactionBroadcastStream`)
/// whose requests are already-encoded bytes: encode once, send to many. Also what the bench's
/// raw baseline and the hostile-peer tests send with.
pub const fn raw_method(name: &'static str) -> Method<Arc<[u8]>, VoidReply> {
    Method {
        ty: MethodType::ClientStreaming,
        name,
        req_mar: Marshaller {
            ser: raw_ser,
            de: raw_de,
        },
        resp_mar: Marshaller {
            ser: grpcio::pb_ser,
            de: grpcio::pb_de,
        },
    }
}

const BLOCK_BROADCAST_STREAM: Method<Arc<[u8]>, VoidReply> =
    raw_method("/PeerService/BlockBroadcastStream");
const TRANSACTION_BROADCAST_STREAM: Method<Arc<[u8]>, VoidReply> =
    raw_method("/PeerService/TransactionBroadcastStream");
const ANNOUNCEMENT_BROADCAST_STREAM: Method<Arc<[u8]>, VoidReply> =
    raw_method("/PeerService/AnnouncementBroadcastStream");
const LIB_ANNOUNCEMENT_BROADCAST_STREAM: Method<Arc<[u8]>, VoidReply> =
    raw_method("/PeerService/LibAnnouncementBroadcastStream");

fn method(kind: BroadcastKind) -> &'static Method<Arc<[u8]>, VoidReply> {
    match kind {
        BroadcastKind::Block => &BLOCK_BROADCAST_STREAM,
        BroadcastKind::Transaction => &TRANSACTION_BROADCAST_STREAM,
        BroadcastKind::Announcement => &ANNOUNCEMENT_BROADCAST_STREAM,
        BroadcastKind::LibAnnouncement => &LIB_ANNOUNCEMENT_BROADCAST_STREAM,
    }
}

/// One open client-streaming call: the bounded hand-over to its writer future, which runs on
/// the channel's completion queue (`client.spawn`), and how it ended. Its kill switch is in
/// the peer's [`CallCancels`].
struct OpenCall {
    items: mpsc::Sender<Vec<Arc<[u8]>>>,
    /// Gets the call's error when it fails; disconnected when the future ended.
    ended: Receiver<grpcio::Error>,
}

/// Legacy-mode transport (spec 5.1): one long-lived client-streaming call per broadcast kind,
/// opened on first use with `session-id-bin` and reopened after a failure.
pub struct LegacyBroadcast {
    client: PeerClient,
    session: Vec<u8>,
    calls: [Option<OpenCall>; 4],
    cancels: Arc<CallCancels>,
}

impl LegacyBroadcast {
    pub fn new(client: PeerClient, session: Vec<u8>, cancels: Arc<CallCancels>) -> LegacyBroadcast {
        LegacyBroadcast {
            client,
            session,
            calls: [None, None, None, None],
            cancels,
        }
    }

    fn open(&self, kind: BroadcastKind) -> Result<OpenCall, PeerRequestError> {
        let opt = stream_call_option(self.client.own_pubkey_hex(), Some(&self.session));
        let grpc = grpcio::Client::new(self.client.channel().clone());
        let (mut sink, receiver) = grpc
            .client_streaming(method(kind), opt)
            .map_err(|e| self.failure(kind, &e))?;
        sink.enhance_batch(true);
        let (items, rx) = mpsc::channel::<Vec<Arc<[u8]>>>(CALL_BUFFER);
        let (ended_tx, ended) = bounded::<grpcio::Error>(1);
        let (kill, killed) = oneshot::channel::<()>();
        grpc.spawn(async move {
            let flags = WriteFlags::default();
            let run = async move {
                let mut rx = rx.flat_map(move |batch| {
                    futures_util::stream::iter(
                        batch.into_iter().map(move |bytes| Ok((bytes, flags))),
                    )
                });
                sink.send_all(&mut rx).await?;
                sink.close().await?;
                receiver.await.map(drop)
            };
            futures_util::pin_mut!(run);
            if let Either::Left((Err(e), _)) = future::select(run, killed).await {
                let _ = ended_tx.send(e);
            }
        });
        self.cancels.add(kill);
        Ok(OpenCall { items, ended })
    }

    fn failure(&self, kind: BroadcastKind, e: &grpcio::Error) -> PeerRequestError {
        let state = self.client.channel().check_connectivity_state(false);
        PeerRequestError::new(
            classify(e, state),
            format!("{} broadcast stream: {e}", kind.name()),
        )
    }
}

impl LegacyBroadcast {
    /// Hands `bytes` (all of `kind`) to the kind's call, opening it first when needed.
    fn send_bytes(
        &mut self,
        kind: BroadcastKind,
        bytes: Vec<Arc<[u8]>>,
    ) -> Result<(), PeerRequestError> {
        let index = kind.index();
        if self.calls[index].is_none() {
            self.calls[index] = Some(self.open(kind)?);
        }
        let Some(call) = self.calls[index].as_mut() else {
            return Err(PeerRequestError::unrecoverable("no broadcast call"));
        };
        let sent = match call.items.try_send(bytes) {
            Ok(()) => Ok(()),
            // The writer is behind: wait for room (this peer's thread only).
            Err(e) if e.is_full() => {
                futures_executor::block_on(call.items.send(e.into_inner())).map_err(|_| ())
            }
            Err(_) => Err(()),
        };
        if sent.is_ok() {
            return Ok(());
        }
        // The call ended: report why, and open a new one for the next item.
        let call = self.calls[index].take();
        let ended = call.and_then(|c| c.ended.recv_timeout(CALL_END_WAIT).ok());
        let error = match ended {
            Some(e) => self.failure(kind, &e),
            None => PeerRequestError::new(
                FailureKind::PeerUnstable,
                format!("{} broadcast stream ended", kind.name()),
            ),
        };
        warn!("{error}");
        Err(error)
    }
}

impl BroadcastTransport for LegacyBroadcast {
    fn send(&mut self, item: &BroadcastItem) -> Result<(), PeerRequestError> {
        self.send_bytes(item.kind, vec![item.bytes.clone()])
    }

    /// Runs of one kind go to their call as one batch.
    fn send_batch(&mut self, items: &[Arc<BroadcastItem>]) -> Result<(), PeerRequestError> {
        for run in items.chunk_by(|a, b| a.kind == b.kind) {
            let bytes = run.iter().map(|item| item.bytes.clone()).collect();
            self.send_bytes(run[0].kind, bytes)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Hash;
    use std::time::Duration;

    /// A transport that reports each item it starts on, waits for a permit per item and reports
    /// what it sent.
    struct Gated {
        permits: Receiver<Result<(), PeerRequestError>>,
        entered: Sender<Hash>,
        sent: Sender<Hash>,
    }

    impl BroadcastTransport for Gated {
        fn send(&mut self, item: &BroadcastItem) -> Result<(), PeerRequestError> {
            let _ = self.entered.send(item.id);
            let result = self
                .permits
                .recv()
                .unwrap_or_else(|_| Err(PeerRequestError::unrecoverable("closed")));
            if result.is_ok() {
                let _ = self.sent.send(item.id);
            }
            result
        }
    }

    fn item(kind: BroadcastKind, n: u8) -> Arc<BroadcastItem> {
        Arc::new(BroadcastItem {
            kind,
            id: Hash([n; 32]),
            height: i64::from(n),
            bytes: Arc::from(vec![n]),
        })
    }

    type Gates = Vec<Sender<Result<(), PeerRequestError>>>;

    /// Senders over gated transports, the gates, and what the transports report.
    struct Rig {
        senders: PeerSenders,
        gates: Gates,
        /// Items a transport started on (before its permit).
        entered: Receiver<Hash>,
        sent: Receiver<Hash>,
        failures: Receiver<PeerFailure>,
    }

    fn senders(capacity: usize) -> Rig {
        let (reporter, failures) = FailureReporter::new();
        let (sent_tx, sent) = bounded(1024);
        let (entered_tx, entered) = bounded(1024);
        let mut gates = Vec::new();
        let senders = PeerSenders::start(
            "04aabbccddeeff",
            QueueCapacities {
                blocks: capacity,
                transactions: capacity,
                announcements: capacity,
            },
            reporter,
            |_, _| {
                let (gate, permits) = bounded(1024);
                gates.push(gate);
                Box::new(Gated {
                    permits,
                    entered: entered_tx.clone(),
                    sent: sent_tx.clone(),
                })
            },
        )
        .unwrap();
        Rig {
            senders,
            gates,
            entered,
            sent,
            failures,
        }
    }

    const WAIT: Duration = Duration::from_secs(30);

    #[test]
    fn a_stuck_transport_fills_only_its_queue_and_drops_are_counted() {
        let Rig {
            senders,
            gates,
            entered,
            sent,
            ..
        } = senders(2);
        // The block thread takes the first item and waits for its permit (once it is in the
        // transport it takes no more); two more fill the queue; the fourth and fifth are
        // dropped without blocking.
        senders.enqueue(item(BroadcastKind::Block, 0)).unwrap();
        assert_eq!(entered.recv_timeout(WAIT).unwrap(), Hash([0; 32]));
        for n in 1..3 {
            senders.enqueue(item(BroadcastKind::Block, n)).unwrap();
        }
        for n in 3..5 {
            assert_eq!(
                senders.enqueue(item(BroadcastKind::Block, n)),
                Err(EnqueueError::QueueFull)
            );
        }
        // Transactions flow while blocks are stuck.
        senders
            .enqueue(item(BroadcastKind::Transaction, 50))
            .unwrap();
        gates[QueueKind::Transactions.index()].send(Ok(())).unwrap();
        assert_eq!(sent.recv_timeout(WAIT).unwrap(), Hash([50; 32]));
        let stats = senders.stats();
        assert_eq!(
            (stats.blocks.dropped, stats.blocks.buffered),
            (2, 2),
            "{stats:?}"
        );
        // Unblock: the queued blocks go out in order.
        for _ in 0..3 {
            gates[QueueKind::Blocks.index()].send(Ok(())).unwrap();
        }
        for n in 0..3 {
            assert_eq!(sent.recv_timeout(WAIT).unwrap(), Hash([n; 32]));
        }
        senders.stop();
    }

    #[test]
    fn failures_are_counted_and_reported() {
        let Rig {
            senders,
            gates,
            failures,
            ..
        } = senders(4);
        senders
            .enqueue(item(BroadcastKind::Announcement, 1))
            .unwrap();
        gates[QueueKind::Announcements.index()]
            .send(Err(PeerRequestError::new(
                FailureKind::PeerUnstable,
                "slow",
            )))
            .unwrap();
        let failure = failures.recv_timeout(WAIT).unwrap();
        assert_eq!(failure.pubkey_hex, "04aabbccddeeff");
        assert_eq!(failure.error.kind, FailureKind::PeerUnstable);
        // Counted once the thread is past the send.
        let deadline = std::time::Instant::now() + WAIT;
        while senders.stats().announcements.failed == 0 {
            assert!(std::time::Instant::now() < deadline);
            std::thread::yield_now();
        }
        senders.stop();
    }

    #[test]
    fn call_kill_switches_fire_only_on_cancel() {
        let cancels = CallCancels::default();
        let (kill, mut killed) = oneshot::channel::<()>();
        cancels.add(kill);
        assert_eq!(killed.try_recv(), Ok(None), "an open call stays open");
        cancels.cancel_all();
        assert_eq!(killed.try_recv(), Ok(Some(())));
        let (late, mut late_killed) = oneshot::channel::<()>();
        cancels.add(late);
        assert!(
            late_killed.try_recv().is_err(),
            "calls opened after a cancel end at once"
        );
    }

    #[test]
    fn a_stopped_sender_refuses_and_stop_is_idempotent() {
        let Rig { senders, gates, .. } = senders(4);
        drop(gates);
        senders.stop();
        assert_eq!(
            senders.enqueue(item(BroadcastKind::Block, 1)),
            Err(EnqueueError::NotReady)
        );
        senders.stop();
        assert_eq!(senders.stats().blocks.buffered, 0);
    }
}
