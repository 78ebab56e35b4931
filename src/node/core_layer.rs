//! `CoreLayer`: layer 2 of one node, built and wired — the pool, the node table, the
//! reconnection book, the receive rules, the peer lifecycle and the network service — with the
//! [`Upcalls`] the transport gets and the receiving ends the node drains: peer failures (the
//! `net-failures` thread, [`FailureHandler`]), offence reports (the scheduler) and network
//! events (the OS event loop).
//!
//! Owns the wiring and the `net-failures` thread. It must not add behaviour: the rules live in
//! the layer-2 modules it builds.

use crate::chain::Chain;
use crate::grpc::peer::PeerContext;
use crate::grpc::sender::{FailureReporter, PeerFailure};
use crate::grpc::upcalls::Upcalls;
use crate::network::broadcast::QueueCapacities;
use crate::network::endpoint::Endpoint;
use crate::network::inbound::{
    network_events, InboundBroadcasts, NetworkEventReceivers, BLOCK_EVENT_QUEUE, EVENT_QUEUE,
};
use crate::network::lifecycle::PeerLifecycle;
use crate::network::node_table::NodeTable;
use crate::network::peer_pool::{PeerPool, PoolLimits};
use crate::network::penalty::{penalty_queue, PenaltyReport, PENALTY_QUEUE};
use crate::network::reconnection::{ReconnectionPolicy, Reconnections};
use crate::network::service::NetworkService;
use crate::network::sync_state::SyncState;
use crate::thread::StoppableThread;
use crate::types::Clock;
use crossbeam_channel::{select, Receiver};
use std::sync::Arc;

/// What the core layer is built from.
#[derive(Clone)]
pub struct CoreLayerSettings {
    pub limits: PoolLimits,
    pub capacities: QueueCapacities,
    pub compress_blocks: bool,
    /// Inbound peers at these endpoints are re-dialed after an unrecoverable failure too.
    pub boot_nodes: Vec<Endpoint>,
    /// `[network] peer_discovery_max_nodes_to_keep`.
    pub node_table_capacity: usize,
    /// `[network] peer_discovery_max_nodes_per_subnet` (0 = no limit).
    pub node_table_subnet_limit: usize,
    /// The node's initial sync state, shared with the OS layer.
    pub sync: Arc<SyncState>,
    /// How lost peers are dialed again.
    pub reconnection: ReconnectionPolicy,
}

/// Layer 2 of one node (see the module documentation).
pub struct CoreLayer {
    pub lifecycle: Arc<PeerLifecycle>,
    pub network: Arc<NetworkService>,
    /// What the transport hands things to.
    pub upcalls: Upcalls,
    /// Failed sends and requests, for [`FailureHandler::start`].
    pub failures: Receiver<PeerFailure>,
    /// Offence reports, for the scheduler.
    pub penalties: Receiver<PenaltyReport>,
}

impl CoreLayer {
    /// Builds the layer and returns it with the receiving ends of the OS layer's event queues.
    pub fn new(
        chain: Arc<dyn Chain>,
        clock: Arc<dyn Clock>,
        settings: CoreLayerSettings,
    ) -> (CoreLayer, NetworkEventReceivers) {
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
        let lifecycle = Arc::new(PeerLifecycle::new(
            pool.clone(),
            Arc::new(NodeTable::with_subnet_limit(
                settings.node_table_capacity,
                settings.node_table_subnet_limit,
            )),
            Arc::new(Reconnections::new(settings.reconnection)),
            settings.boot_nodes,
            inbound.clone(),
            clock.clone(),
        ));
        let network = Arc::new(NetworkService::new(
            pool,
            chain,
            clock,
            settings.sync,
            lifecycle.clone(),
            reporter,
        ));
        let (failure_reporter, failures) = FailureReporter::new();
        let upcalls = Upcalls {
            lifecycle: lifecycle.clone(),
            inbound,
            network: network.clone(),
            compress_blocks: settings.compress_blocks,
            peer_context: PeerContext {
                capacities: settings.capacities,
                failures: failure_reporter,
            },
        };
        let layer = CoreLayer {
            lifecycle,
            network,
            upcalls,
            failures,
            penalties,
        };
        (layer, receivers)
    }
}

/// The `net-failures` thread: applies the failure policy of spec 5.5
/// ([`NetworkService::handle_failure`]) to what the peers' sender threads report.
pub struct FailureHandler(StoppableThread);

impl FailureHandler {
    pub fn start(
        network: Arc<NetworkService>,
        failures: Receiver<PeerFailure>,
    ) -> std::io::Result<FailureHandler> {
        let thread = StoppableThread::spawn("net-failures", move |stop| loop {
            select! {
                recv(stop) -> _ => return Ok(()),
                recv(failures) -> failure => match failure {
                    Ok(f) => network.handle_failure(&f.pubkey_hex, &f.error),
                    Err(_) => return Ok(()),
                },
            }
        })?;
        Ok(FailureHandler(thread))
    }

    /// Stops the thread and waits for it.
    pub fn stop(self) {
        self.0.stop();
    }
}
