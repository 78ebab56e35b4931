//! How a [`Config`] becomes the settings of each component: the core layer, the transport,
//! the scheduler, the handshake authorization; and which config changes need a restart.
//!
//! Owns only these mappings (pure functions of the config). It must not start anything; the
//! keys, their defaults and their validation are [`crate::config`]'s.

use super::core_layer::CoreLayerSettings;
use crate::config::{AuthorizedPeers, Config, NetworkConfig};
use crate::grpc::connection::ConnectionSettings;
use crate::grpc::transport::GrpcTransportSettings;
use crate::network::broadcast::QueueCapacities;
use crate::network::handshake::Authorization;
use crate::network::peer_pool::PoolLimits;
use crate::network::penalty::{OffenceWeights, PenaltySettings};
use crate::network::reconnection::ReconnectionPolicy;
use crate::network::sync_state::SyncState;
use crate::os::scheduler::SchedulerSettings;
use std::sync::Arc;

/// What the pool and the core network services take from the config.
pub(super) fn core_settings(config: &Config, sync: Arc<SyncState>) -> CoreLayerSettings {
    let n = &config.network;
    CoreLayerSettings {
        limits: PoolLimits {
            max_peers: n.max_peers,
            max_peers_per_ip_address: n.max_peers_per_ip_address,
            max_inbound_peers: n.max_inbound_peers,
            max_outbound_peers: n.max_outbound_peers,
        },
        capacities: QueueCapacities {
            blocks: n.block_queue_capacity,
            transactions: n.transaction_queue_capacity,
            announcements: n.announcement_queue_capacity,
        },
        compress_blocks: n.compress_blocks_on_request,
        boot_nodes: n.boot_nodes.clone(),
        node_table_capacity: n.peer_discovery_max_nodes_to_keep as usize,
        node_table_subnet_limit: n.peer_discovery_max_nodes_per_subnet as usize,
        sync,
        reconnection: ReconnectionPolicy {
            period_ms: millis(n.peer_reconnection_period_ms),
            max_time_ms: millis(n.maximum_reconnection_time_ms),
            persistent: n.persistent_peers.clone(),
            persistent_max_backoff_ms: millis(n.persistent_peer_max_backoff_ms),
        },
    }
}

/// A config duration in ms as the signed milliseconds the core uses (saturating).
pub(super) fn millis(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// What the scheduler takes from the config.
pub(super) fn scheduler_settings(config: &Config) -> SchedulerSettings {
    let (n, r) = (&config.network, &config.reputation);
    SchedulerSettings {
        health_check_period_ms: millis(n.peer_reconnection_period_ms),
        discovery_period_ms: millis(n.peer_discovery_period_ms),
        discovery_enabled: n.enable_peer_discovery,
        stalled_send_timeout_ms: n.stalled_send_timeout_ms,
        penalties: PenaltySettings {
            invalid_transaction_limit: n.peer_invalid_transaction_limit as usize,
            invalid_transaction_window_ms: millis(n.peer_invalid_transaction_timeout_ms),
            ban_duration_ms: millis(r.ban_duration_ms),
            half_life_ms: millis(r.half_life_ms),
            disconnect_threshold: r.disconnect_threshold,
            ban_threshold: r.ban_threshold,
            weights: OffenceWeights {
                invalid_transaction: r.invalid_transaction_penalty,
                bad_signature: r.bad_signature_penalty,
                malformed_message: r.malformed_message_penalty,
                inconsistent_blocks: r.inconsistent_blocks_penalty,
                request_timeout: r.request_timeout_penalty,
            },
        },
    }
}

/// What the gRPC transport takes from the config.
pub(super) fn transport_settings(config: &Config) -> GrpcTransportSettings {
    let n = &config.network;
    GrpcTransportSettings {
        listen_address: n.listen_address,
        listening_port: n.listening_port,
        boot_nodes: n.boot_nodes.clone(),
        persistent_peers: n.persistent_peers.clone(),
        goodbye_on_shutdown: n.goodbye_on_shutdown,
        connection: ConnectionSettings {
            dial_timeout: std::time::Duration::from_millis(n.peer_dial_timeout_ms),
            max_message_length: n.max_message_size,
            stream_min_version: n.support_stream_min_version,
            node_version: config.node.node_version,
        },
        completion_queues: config.threads.grpc_completion_queues,
        handshake_workers: config.threads.handshake_workers,
        block_servers: config.threads.block_servers,
        stream_servers: config.threads.stream_servers,
    }
}

/// The handshake authorization policy of a `[network]` section.
pub fn authorization(network: &NetworkConfig) -> Authorization {
    match network.authorized_peers {
        AuthorizedPeers::Any => Authorization::Any,
        AuthorizedPeers::Authorized => {
            Authorization::Only(network.authorized_keys.iter().copied().collect())
        }
    }
}

/// Sections (or keys) whose change needs a restart.
pub(super) fn restart_needed(old: &Config, new: &Config) -> Vec<&'static str> {
    let without_live = |n: &NetworkConfig| NetworkConfig {
        authorized_peers: AuthorizedPeers::Any,
        authorized_keys: Vec::new(),
        ..n.clone()
    };
    let mut changed = Vec::new();
    if old.node != new.node {
        changed.push("[node]");
    }
    if without_live(&old.network) != without_live(&new.network) {
        changed.push("[network]");
    }
    if old.chain != new.chain {
        changed.push("[chain]");
    }
    if old.reputation != new.reputation {
        changed.push("[reputation]");
    }
    if old.sync != new.sync {
        changed.push("[sync]");
    }
    if old.producer != new.producer {
        changed.push("[producer]");
    }
    if old.api != new.api {
        changed.push("[api]");
    }
    if old.threads != new.threads {
        changed.push("[threads]");
    }
    if old.log.file != new.log.file {
        changed.push("log.file");
    }
    changed
}
