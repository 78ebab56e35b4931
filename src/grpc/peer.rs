//! `GrpcPeer`: a connected legacy-mode peer — the channel we opened to it (our dial, or the
//! dial-back of an inbound handshake), its session ids, and its request thread.
//!
//! Owns the peer's outbound work: every request to the remote runs on the peer's own
//! `peer-<id>` thread, fed by a bounded queue, so a slow or dead peer can only stall itself.
//! Identity and confirmation state live in the shared [`PeerCore`]. It must not touch the
//! pool: [`crate::network::lifecycle::PeerLifecycle`] decides when a peer enters or leaves it.

use super::client::{block_request, blocks_request, PeerClient};
use super::error::GrpcError;
use super::metadata::{
    CallPolicy, CHECK_HEALTH_POLICY, CONFIRM_HANDSHAKE_POLICY, DISCONNECT_POLICY, GET_NODES_POLICY,
    REQUEST_BLOCKS_POLICY, REQUEST_BLOCK_POLICY,
};
use super::sender::{FailureReporter, LegacyBroadcast, PeerSenders};
use crate::network::broadcast::{BroadcastItem, EnqueueError, QueueCapacities, QueueStats};
use crate::network::knowledge::PeerKnowledge;
pub use crate::network::knowledge::RemoteChainState;
use crate::network::node_table::NodeRecord;
pub use crate::network::peer::PeerInfo;
use crate::network::peer::{
    handshake_time_ns, Peer, PeerCore, PeerMode, PeerProfile, PeerRequestError,
};
use crate::pb::network_types::{BlockWithTransactions, HandshakeData};
use crate::types::Hash;
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use parking_lot::Mutex;
use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

/// Requests queued for one peer's request thread at most; more fail with `PeerBusy`.
pub const PEER_REQUEST_QUEUE: usize = 16;
/// Extra time a caller waits for a request's answer beyond the call's own deadlines.
const REPLY_MARGIN: Duration = Duration::from_secs(1);

/// What every peer object needs from the node besides its connection: the capacities of its
/// send queues and where to report failures.
#[derive(Clone)]
pub struct PeerContext {
    pub capacities: QueueCapacities,
    pub failures: FailureReporter,
}

type Job = Box<dyn FnOnce(&PeerClient, &[u8]) + Send>;

/// A legacy-mode peer.
pub struct GrpcPeer {
    core: PeerCore,
    client: PeerClient,
    /// The broadcast queues and their sender threads.
    senders: PeerSenders,
    /// The request thread's queue; `None` once disconnected (dropping it stops the thread).
    jobs: Mutex<Option<Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The request thread's id: a disconnect running on it must not join itself.
    thread_id: ThreadId,
}

impl GrpcPeer {
    /// Creates the peer and starts its request thread.
    pub fn start(
        info: PeerInfo,
        client: PeerClient,
        outbound_session: Vec<u8>,
        received: &HandshakeData,
        context: &PeerContext,
    ) -> Result<GrpcPeer, GrpcError> {
        let senders = PeerSenders::start(
            &info.pubkey_hex,
            context.capacities,
            context.failures.clone(),
            |_, cancels| {
                Box::new(LegacyBroadcast::new(
                    client.clone(),
                    outbound_session.clone(),
                    cancels.clone(),
                ))
            },
        )
        .map_err(GrpcError::Thread)?;
        let (tx, rx) = bounded::<Job>(PEER_REQUEST_QUEUE);
        let worker_client = client.clone();
        let session = outbound_session.clone();
        let name = format!("peer-{}", &info.pubkey_hex.get(2..10).unwrap_or("?"));
        let thread = crate::thread::spawn(&name, move || {
            run_requests(&rx, &worker_client, &session);
            Ok(())
        })
        .map_err(GrpcError::Thread)?;
        let thread_id = thread.thread().id();
        Ok(GrpcPeer {
            core: PeerCore::new(
                info,
                outbound_session,
                handshake_time_ns(received),
                PeerKnowledge::new(RemoteChainState::from_handshake(received)),
            ),
            senders,
            client,
            jobs: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            thread_id,
        })
    }

    pub fn info(&self) -> &PeerInfo {
        &self.core.info
    }

    pub fn chain_state(&self) -> RemoteChainState {
        self.knowledge().chain_state()
    }

    /// Runs `f` on the peer's request thread and waits for its answer (at most `wait`).
    pub fn request<R: Send + 'static>(
        &self,
        wait: Duration,
        f: impl FnOnce(&PeerClient, &[u8]) -> Result<R, GrpcError> + Send + 'static,
    ) -> Result<R, GrpcError> {
        let (reply_tx, reply_rx) = bounded(1);
        let job: Job = Box::new(move |client, session| {
            let _ = reply_tx.send(f(client, session));
        });
        let sender = self.jobs.lock().clone().ok_or(GrpcError::PeerBusy)?;
        match sender.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                return Err(GrpcError::PeerBusy)
            }
        }
        reply_rx
            .recv_timeout(wait + REPLY_MARGIN)
            .map_err(|_| GrpcError::PeerBusy)?
    }

    /// Sends CheckHealth on the request thread.
    pub fn check_health_with(&self, policy: CallPolicy) -> Result<(), GrpcError> {
        self.request(policy_wait(policy), move |client, session| {
            client.check_health(session, policy)
        })
    }
}

/// How long a caller waits for a call made under `policy` (all attempts).
pub fn policy_wait(policy: CallPolicy) -> Duration {
    policy.timeout * (policy.retries + 1)
}

fn run_requests(jobs: &Receiver<Job>, client: &PeerClient, session: &[u8]) {
    while let Ok(job) = jobs.recv() {
        job(client, session);
    }
}

impl Peer for GrpcPeer {
    fn core(&self) -> &PeerCore {
        &self.core
    }

    fn is_ready(&self) -> bool {
        self.is_connected() && self.client.is_usable()
    }

    fn profile(&self) -> PeerProfile {
        PeerProfile {
            protocol_version: self.core.info.protocol_version,
            node_version: self.core.info.node_version.clone(),
            mode: PeerMode::Legacy,
            connection_status: self.client.connection_status(),
            unauthenticated_requests: 0,
        }
    }

    fn confirm_handshake(&self) -> Result<(), PeerRequestError> {
        self.request(policy_wait(CONFIRM_HANDSHAKE_POLICY), |client, session| {
            client.confirm_handshake(session, CONFIRM_HANDSHAKE_POLICY)
        })
        .map_err(PeerRequestError::from)
    }

    fn request_nodes(&self, max_count: i32) -> Result<Vec<NodeRecord>, PeerRequestError> {
        self.request(policy_wait(GET_NODES_POLICY), move |client, session| {
            client.get_nodes(session, max_count, GET_NODES_POLICY)
        })
        .map(|list| NodeRecord::from_node_list(&list))
        .map_err(PeerRequestError::from)
    }

    fn check_health(&self) -> Result<(), PeerRequestError> {
        let policy = CallPolicy {
            retries: 0,
            ..CHECK_HEALTH_POLICY
        };
        self.check_health_with(policy)
            .map_err(PeerRequestError::from)
    }

    fn enqueue(&self, item: Arc<BroadcastItem>) -> Result<(), EnqueueError> {
        if !self.is_ready() {
            return Err(EnqueueError::NotReady);
        }
        self.senders.enqueue(item)
    }

    fn queue_stats(&self) -> QueueStats {
        self.senders.stats()
    }

    /// Unary RequestBlock (2000 ms, one retry) on the request thread.
    fn request_block(
        &self,
        hash: &Hash,
    ) -> Result<Option<BlockWithTransactions>, PeerRequestError> {
        let request = block_request(hash);
        self.request(policy_wait(REQUEST_BLOCK_POLICY), move |client, session| {
            client.request_block(session, &request, REQUEST_BLOCK_POLICY)
        })
        .map(|reply| reply.block.into_option())
        .map_err(PeerRequestError::from)
    }

    /// Unary RequestBlocks (5000 ms, one retry) on the request thread.
    fn request_blocks(
        &self,
        previous: &Hash,
        count: i32,
    ) -> Result<Vec<BlockWithTransactions>, PeerRequestError> {
        let request = blocks_request(previous, count);
        self.request(
            policy_wait(REQUEST_BLOCKS_POLICY),
            move |client, session| client.request_blocks(session, &request, REQUEST_BLOCKS_POLICY),
        )
        .map(|list| list.blocks)
        .map_err(PeerRequestError::from)
    }

    fn disconnect(&self, graceful: bool) {
        let (was_connected, first) = self.core.begin_shutdown();
        if !first {
            return;
        }
        // Stop taking requests; the thread ends after the one it is running.
        drop(self.jobs.lock().take());
        self.senders.stop();
        if graceful && was_connected && self.client.is_usable() {
            if let Err(e) = self
                .client
                .disconnect(&self.core.outbound_session, DISCONNECT_POLICY)
            {
                log::debug!(
                    "disconnect to {} not delivered: {e}",
                    self.core.info.endpoint
                );
            }
        }
        // Joined unless we are that thread (a request that ends in a disconnect).
        if std::thread::current().id() != self.thread_id {
            if let Some(handle) = self.thread.lock().take() {
                let _ = handle.join();
            }
        }
    }
}

impl Drop for GrpcPeer {
    fn drop(&mut self) {
        self.disconnect(false);
    }
}
