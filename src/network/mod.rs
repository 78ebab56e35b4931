//! Layer 2, core network services (aelf.OS.Core.Network): handshake building and validation,
//! endpoints, the peer abstraction and what we know of each peer, the peer pool with its
//! admission decision and blacklist, the peer lifecycle (admission applied, confirmation, and
//! the one removal function with its reasons), the node table and discovery, reconnection
//! state, penalties and reputation, broadcasting rules, the receive rules of broadcasts, block
//! serving and the initial sync state.
//!
//! Pure policy and state: no sockets and no system clock here (time enters through
//! [`crate::types::Clock`] or as a `now` argument). It may use [`crate::types`],
//! [`crate::crypto`] and [`crate::chain`], never [`crate::grpc`] or [`crate::os`].

pub mod blacklist;
pub mod broadcast;
pub mod connector;
pub mod discovery;
pub mod endpoint;
pub mod handshake;
pub mod inbound;
pub mod knowledge;
pub mod lifecycle;
pub mod node_table;
pub mod peer;
pub mod peer_pool;
pub mod penalty;
pub mod reconnection;
pub mod request_metrics;
pub mod seen_cache;
pub mod service;
pub mod sync_state;
#[cfg(test)]
pub(crate) mod test_support;
