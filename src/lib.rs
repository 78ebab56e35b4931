//! aelf-net: the aelf blockchain's peer-to-peer network layer, wire-compatible with the C# node.
//!
//! # Layout
//!
//! The crate follows the three layers of the aelf network design, with data flowing up
//! (gRPC → core network services → OS events) and commands flowing down through narrow traits:
//!
//! * [`grpc`] — layer 1, gRPC infrastructure: the `PeerService` server, outbound peers, TLS,
//!   handshakes on the wire, the bidirectional stream mode, metadata authentication.
//! * [`network`] — layer 2, core network services: handshake building and validation, the peer
//!   pool, blacklist, discovered nodes, caches.
//! * [`os`] — layer 3, OS-level work: event handling and the scheduler thread.
//!
//! Below the layers, shared by all of them:
//!
//! * [`pb`] — the generated wire schema.
//! * [`types`] — aelf's rules: hashes, chain ids, addresses, merkle roots, versions, the clock.
//! * [`crypto`] — the node key and aelf's recoverable signatures.
//! * [`chain`] — the embedded chain the network layer serves blocks from, and the development
//!   block producer.
//! * [`config`] — `conf/aelf-netd.toml`, parsed and validated.
//!
//! [`node`] assembles a running node from a config; the binaries in `src/bin` stay thin.
//!
//! # Threads
//!
//! | thread | owns | listens on | joined by |
//! |---|---|---|---|
//! | `main` (aelf-netd) | the [`node::Node`] | the signal channel | — |
//! | `signals` | the signal-hook iterator | SIGINT, SIGTERM, SIGHUP | `main` on exit |
//! | `producer` | block production (when `[producer] enabled`) | a tick and its stop channel | [`node::Node::shutdown`] |
//!
//! Later layers add grpcio completion-queue threads, per-peer sender threads, the event thread
//! and the scheduler thread; each is listed here as it lands.

pub mod chain;
pub mod config;
pub mod crypto;
pub mod daemon;
pub mod grpc;
pub mod logging;
pub mod network;
pub mod node;
pub mod os;
pub mod pb;
pub mod thread;
pub mod types;
