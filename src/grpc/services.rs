//! `CoreServices`: the layer-2 services the gRPC layer hands received items to and serves
//! blocks from, bundled so the server, the stream dispatch and the connection service share
//! one set; [`NetworkCore`] builds them, with the pool, for one node.
//!
//! Owns only the wiring; it must not add behaviour.

use super::peer::PeerContext;
use super::sender::{FailureReporter, PeerFailure};
use crate::chain::Chain;
use crate::network::broadcast::QueueCapacities;
use crate::network::endpoint::Endpoint;
use crate::network::inbound::{
    network_events, InboundBroadcasts, NetworkEventReceivers, BLOCK_EVENT_QUEUE, EVENT_QUEUE,
};
use crate::network::peer_pool::{PeerPool, PoolLimits};
use crate::network::penalty::{penalty_queue, PenaltyReport, PENALTY_QUEUE};
use crate::network::reconnection::{ReconnectionPolicy, Reconnections};
use crate::network::service::NetworkService;
use crate::network::sync_state::SyncState;
use crate::types::Clock;
use crossbeam_channel::Receiver;
use std::sync::Arc;

/// See the module documentation.
#[derive(Clone)]
pub struct CoreServices {
    /// Receive rules of the four broadcasts; events up to the OS layer.
    pub inbound: Arc<InboundBroadcasts>,
    /// Block serving and the failure policy.
    pub network: Arc<NetworkService>,
    /// `[network] compress_blocks_on_request`: RequestBlocks answers are gzip-compressed.
    pub compress_blocks: bool,
    /// What every new peer object gets.
    pub peer_context: PeerContext,
}

/// What the core services are built from.
#[derive(Clone)]
pub struct NetworkCoreSettings {
    pub limits: PoolLimits,
    pub capacities: QueueCapacities,
    pub compress_blocks: bool,
    /// Inbound peers at these endpoints are re-dialed after an unrecoverable failure too.
    pub boot_nodes: Vec<Endpoint>,
    /// The node's initial sync state, shared with the OS layer.
    pub sync: Arc<SyncState>,
    /// How lost peers are dialed again.
    pub reconnection: ReconnectionPolicy,
}

/// The pool and the layer-2 services of one node, wired together, with the ends the rest of
/// the node drains: peer failures (the network server's `net-failures` thread), and offence
/// reports and the reconnection book (the scheduler).
pub struct NetworkCore {
    pub pool: Arc<PeerPool>,
    pub services: CoreServices,
    pub failures: Receiver<PeerFailure>,
    pub penalties: Receiver<PenaltyReport>,
}

impl NetworkCore {
    /// Builds the core and returns it with the receiving ends of the OS layer's event queues.
    pub fn new(
        chain: Arc<dyn Chain>,
        clock: Arc<dyn Clock>,
        settings: NetworkCoreSettings,
    ) -> (NetworkCore, NetworkEventReceivers) {
        let pool = Arc::new(PeerPool::new(settings.limits));
        let (events, receivers) = network_events(BLOCK_EVENT_QUEUE, EVENT_QUEUE);
        let (reporter, penalties) = penalty_queue(PENALTY_QUEUE);
        let inbound = Arc::new(InboundBroadcasts::new(
            pool.clone(),
            chain.clone(),
            clock.clone(),
            events,
            reporter.clone(),
        ));
        let network = Arc::new(NetworkService::new(
            pool.clone(),
            chain,
            clock,
            settings.sync,
            Arc::new(Reconnections::new(settings.reconnection)),
            settings.boot_nodes,
            reporter,
        ));
        let (reporter, failures) = FailureReporter::new();
        let core = NetworkCore {
            pool,
            services: CoreServices {
                inbound,
                network,
                compress_blocks: settings.compress_blocks,
                peer_context: PeerContext {
                    capacities: settings.capacities,
                    failures: reporter,
                },
            },
            failures,
            penalties,
        };
        (core, receivers)
    }
}
