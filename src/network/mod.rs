//! Layer 2, core network services (aelf.OS.Core.Network): handshake building and validation,
//! endpoints, the peer abstraction, the peer pool with its admission rules and blacklist, and
//! the node table.
//!
//! Pure policy and state: no sockets and no system clock here (time enters through
//! [`crate::types::Clock`] or as a `now` argument). It may use [`crate::types`],
//! [`crate::crypto`] and [`crate::chain`], never [`crate::grpc`] or [`crate::os`].

pub mod blacklist;
pub mod endpoint;
pub mod handshake;
pub mod node_table;
pub mod peer;
pub mod peer_pool;
#[cfg(test)]
mod test_peer;
