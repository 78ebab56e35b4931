//! `Upcalls`: the layer-2 objects the transport hands what it receives to — broadcasts to the
//! receive rules, block requests to the block server, confirmations, goodbyes and closed
//! streams to the peer lifecycle — and what every new peer object is given. Cloned into the
//! server, the connection service and every stream peer's inbox thread.
//!
//! Owns nothing but the bundle: the objects are built and wired by [`crate::node`], and
//! layer 1 only calls into them (data flows up, never the other way).

use super::peer::PeerContext;
use crate::network::inbound::InboundBroadcasts;
use crate::network::lifecycle::PeerLifecycle;
use crate::network::service::NetworkService;
use std::sync::Arc;

/// See the module documentation.
#[derive(Clone)]
pub struct Upcalls {
    /// Admission, confirmation and removal of peers; the node table.
    pub lifecycle: Arc<PeerLifecycle>,
    /// Receive rules of the four broadcasts; events up to the OS layer.
    pub inbound: Arc<InboundBroadcasts>,
    /// Block serving, the failure policy and offence reports.
    pub network: Arc<NetworkService>,
    /// `[network] compress_blocks_on_request`: RequestBlocks answers are gzip-compressed.
    pub compress_blocks: bool,
    /// What every new peer object gets: its queue capacities and where to report failures.
    pub peer_context: PeerContext,
}
