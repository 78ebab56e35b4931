//! Layer 2, core network services (aelf.OS.Core.Network): handshake building and validation,
//! endpoints, and (as later issues land) the peer pool, blacklist, discovered nodes and caches.
//!
//! Pure policy and state: no sockets and no system clock here (time enters through
//! [`crate::types::Clock`]). It may use [`crate::types`], [`crate::crypto`] and
//! [`crate::chain`], never [`crate::grpc`] or [`crate::os`].

pub mod endpoint;
pub mod handshake;
