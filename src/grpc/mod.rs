//! Layer 1, gRPC infrastructure (aelf.OS.Network.Grpc): the `PeerService` server on grpcio's
//! C-core, outbound peers, TLS, wire handshakes, metadata authentication.
//!
//! It may use [`crate::network`] and below, never [`crate::os`].
//!
//! * `tls`, `channel` — certificates, the pre-fetch, pinned channels and channel arguments.
//! * `metadata` — header names, call deadlines and retries, caller addresses.
//! * `client` — blocking unary calls to one remote.
//! * `peer` — a connected legacy-mode peer with its request thread.
//! * `sender` — every peer's three send queues and their sender threads; the legacy broadcast
//!   streams (encoded once, written as raw bytes).
//! * `services` — the layer-2 services the server and the peers hand received items to.
//! * `stream` — stream peer mode (`RequestByStream`): both ends, the request registry, the
//!   per-peer inbox threads.
//! * `connection` — dialing, inbound handshakes, confirmation, disconnection.
//! * `server` — the `PeerService` handlers and the authentication checker.
//! * `network_server` — starting and stopping all of it.
//! * `error` — the layer's error type and its mapping to gRPC statuses.

pub mod channel;
pub mod client;
pub mod connection;
pub mod error;
pub mod metadata;
pub mod network_server;
pub mod peer;
pub mod sender;
pub mod server;
pub mod services;
pub mod stream;
pub mod tls;
