//! A [`NetworkService`] over a fresh genesis chain, for the unit tests of this layer.

use super::endpoint::Endpoint;
use super::inbound::{network_events, InboundBroadcasts};
use super::lifecycle::PeerLifecycle;
use super::node_table::NodeTable;
use super::peer_pool::{PeerPool, PoolLimits};
use super::penalty::penalty_queue;
use super::reconnection::{ReconnectionPolicy, Reconnections};
use super::service::NetworkService;
use super::sync_state::SyncState;
use crate::chain::{ChainSettings, EmbeddedChain};
use crate::types::{Clock, ManualClock};
use std::sync::Arc;
use tempfile::TempDir;

/// The test clock's start (2026-01-01T00:01:00Z).
pub(crate) const NOW: i64 = 1_767_225_660_000;
/// The reconnection period of [`network_service`].
pub(crate) const PERIOD_MS: i64 = 60_000;

/// A service on a pool with `limits`, a manual clock at [`NOW`] and the C# reconnection
/// defaults; keep the directory alive as long as the service.
pub(crate) fn network_service(limits: PoolLimits) -> (Arc<NetworkService>, TempDir) {
    network_service_with(limits, Vec::new(), Vec::new(), ManualClock::new(NOW))
}

/// [`network_service`] with boot nodes, persistent peers and the clock given.
pub(crate) fn network_service_with(
    limits: PoolLimits,
    boot_nodes: Vec<Endpoint>,
    persistent: Vec<Endpoint>,
    clock: ManualClock,
) -> (Arc<NetworkService>, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let chain = EmbeddedChain::open(
        dir.path(),
        ChainSettings::development(9_992_731, 1_767_225_600),
    )
    .expect("chain");
    let (penalties, _reports) = penalty_queue(16);
    let (events, _receivers) = network_events(16, 16);
    let pool = Arc::new(PeerPool::new(limits));
    let chain = Arc::new(chain);
    let clock: Arc<dyn Clock> = Arc::new(clock);
    let inbound = Arc::new(InboundBroadcasts::new(
        pool.clone(),
        chain.clone(),
        clock.clone(),
        events,
        penalties.clone(),
    ));
    let lifecycle = Arc::new(PeerLifecycle::new(
        pool.clone(),
        Arc::new(NodeTable::new(100)),
        Arc::new(Reconnections::new(ReconnectionPolicy {
            period_ms: PERIOD_MS,
            max_time_ms: 86_400_000,
            persistent,
            persistent_max_backoff_ms: 10 * PERIOD_MS,
        })),
        boot_nodes,
        inbound,
        clock.clone(),
    ));
    let service = NetworkService::new(
        pool,
        chain,
        clock,
        Arc::new(SyncState::new(512)),
        lifecycle,
        penalties,
    );
    (Arc::new(service), dir)
}
