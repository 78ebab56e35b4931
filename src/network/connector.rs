//! `PeerConnector`: the narrow command interface through which the scheduler (layer 3) and
//! discovery ask the transport (layer 1) to dial, probe and expire peers. The gRPC layer's
//! connection service implements it.
//!
//! Every method may block for its own deadline (the dial timeout), so callers run them on
//! worker threads. No policy here.

use super::endpoint::Endpoint;
use thiserror::Error;

/// A dial that failed (the transport's error, as text for the log).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct DialError(pub String);

/// What the core and OS layers may ask of the transport.
pub trait PeerConnector: Send + Sync {
    /// Dials `endpoint` as any outbound dial (blacklist and pool limits respected).
    /// `Ok(true)`: connected; `Ok(false)`: not dialed (already connected, refused by a
    /// pre-check); `Err`: the dial or handshake failed.
    fn dial(&self, endpoint: &Endpoint) -> Result<bool, DialError>;
    /// Whether a node answers at `endpoint`: its TLS certificate can be fetched and it answers
    /// Ping, within the dial timeout (C# `CheckEndpointAvailable`).
    fn is_reachable(&self, endpoint: &Endpoint) -> bool;
    /// Drops the peers that stayed unconfirmed past the connection timeout (no reconnection);
    /// returns how many.
    fn purge_unconfirmed(&self) -> usize;
}
