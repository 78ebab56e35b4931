//! aelf-net: the aelf blockchain's peer-to-peer network layer, wire-compatible with the C# node.
//!
//! # Layout
//!
//! The crate follows the three layers of the aelf network design, with data flowing up
//! (gRPC → core network services → OS events) and commands flowing down through narrow traits:
//!
//! * [`grpc`] — layer 1, gRPC infrastructure: the `PeerService` server, outbound peers, TLS,
//!   handshakes on the wire, the bidirectional stream mode, metadata authentication. Transport
//!   only: what it receives goes up through its [`grpc::upcalls::Upcalls`].
//! * [`network`] — layer 2, core network services: handshake building and validation, the peer
//!   pool and its admission decision, the peer lifecycle (the one way in and out of the pool),
//!   blacklist, discovered nodes, reconnection, penalties, caches, block serving.
//! * [`os`] — layer 3, OS-level work: event handling and the scheduler thread.
//!
//! Below the layers, shared by all of them:
//!
//! * [`pb`] — the generated wire schema.
//! * [`types`] — aelf's rules: hashes, chain ids, addresses, merkle roots, versions, the clock.
//! * [`crypto`] — the node key and aelf's recoverable signatures.
//! * [`chain`] — the embedded chain the network layer serves blocks from, and the development
//!   block producer.
//!
//! Above the layers, using them:
//!
//! * [`config`] — `conf/aelf-netd.toml`, parsed and validated into the settings the layers
//!   define (it imports their settings types and defaults).
//! * [`node`] — assembles a running node from a config: builds layer 2, hands it to layer 1,
//!   starts the OS layer, and stops them in order.
//! * [`api`] — the operator HTTP API (and [`api::client`], its client for tools and tests);
//!   [`metrics`] the Prometheus counters every layer bumps; [`daemon`] the process around a
//!   node (signals, reload); [`ports`] picks free local ports for what starts nodes. The
//!   binaries in `src/bin` stay thin.
//! * [`inspect`] — what aelf computes for a block or transaction given as hex or web API JSON
//!   (`aelf-netctl inspect`), with the AEDPoS consensus data decoded; touches no network.
//! * [`crawl`] — the network crawler of `aelf-netctl crawl`, a client of layer 1 that is no
//!   part of a node.
//!
//! # Threads
//!
//! | thread | owns | listens on | joined by |
//! |---|---|---|---|
//! | `main` (aelf-netd) | the [`node::Node`] | the signal channel | — |
//! | `signals` | the signal-hook iterator | SIGINT, SIGTERM, SIGHUP | `main` on exit |
//! | `grpc-server-*` | grpcio completion queues of the `PeerService` server (`[threads] grpc_completion_queues`) | incoming calls | dropping the server |
//! | `grpc-client-*` | completion queues of our outgoing channels (same count) | replies to our calls | dropping the last channel |
//! | `handshake-<i>` | inbound handshakes with dial-back, disconnects (`[threads] handshake_workers`) | a bounded work queue | [`grpc::transport::GrpcTransport::stop`] |
//! | `peer-<id>` | one peer's outgoing requests | that peer's bounded request queue | the peer's `disconnect` |
//! | `stream-<id>` | one stream-mode peer's incoming requests: authentication, the cheap ones answered, block reads handed on (at most 4 out, a bounded backlog) | that peer's bounded inbox, its finished block reads | the peer's `disconnect` |
//! | `send-<id>-blk`, `-tx`, `-ann` | one peer's outgoing blocks, transactions, announcements | that peer's bounded send queue of the kind (`[network] *_queue_capacity`) | the peer's `disconnect` |
//! | `block-server-<i>` | reading blocks for RequestBlock(s) (`[threads] block_servers`) | a bounded work queue | `GrpcTransport::stop` |
//! | `stream-server-<i>` | serving the REQUEST_BLOCK(S) stream peers send, replying through their links (`[threads] stream_servers`; nice +10, so the threads answering peers go first) | a bounded work queue | `GrpcTransport::stop` |
//! | `net-failures` | the failure policy for failed sends and requests (spec 5.5) | the bounded failure queue | [`node::Node::shutdown`] |
//! | `os-events` | network and chain events to actions (spec 9) | the bounded event queues and chain events | [`node::Node::shutdown`] |
//! | `block-sync` | fetching and downloading missing blocks | a bounded job queue | [`node::Node::shutdown`] |
//! | `block-sync-fetch` | the next RequestBlocks of a download round while `block-sync` attaches the last | a one-slot request queue | `block-sync`, at the end of each round |
//! | `chain-flush` | making the chain store durable once per `[chain] flush_interval_ms` (attaches never wait for the disk) | a timer | dropping the chain |
//! | `block-verify-<i>` | checking the blocks of a downloaded batch (hashes, transaction root, signature) side by side (`[threads] block_verifiers`) | a bounded work queue | dropping the chain |
//! | `api-<i>` | the operator HTTP API (`[api] listen`, `[threads] api_workers`) | incoming HTTP requests | [`node::Node::shutdown`] |
//! | `dialer` | dialing the boot nodes and persistent peers at start | — | `GrpcTransport::stop` |
//! | `scheduler` | the periodic work of spec 8: expiry, reconnection, health checks, discovery, penalties, the clock check | a tick, the bounded offence queue | [`node::Node::shutdown`] |
//! | `scheduler-<i>` | the scheduler's blocking jobs: dials, pings, health checks, discovery rounds, disconnects (`[threads] scheduler_workers`) | a bounded work queue | the `scheduler` thread as it stops |
//! | `producer` | block production (when `[producer] enabled`) | a tick and its stop channel | [`node::Node::shutdown`] |
//!
//! # Example
//!
//! ```no_run
//! use aelf_net::config::Config;
//! use aelf_net::node::Node;
//! use aelf_net::types::SystemClock;
//! use std::sync::Arc;
//!
//! let mut config = Config::default();
//! config.node.data_dir = "/tmp/aelf-net-example".into();
//! config.network.listen_address = "127.0.0.1".parse().unwrap();
//! config.network.listening_port = 16800;
//! let node = Node::start(config, Arc::new(SystemClock)).expect("node starts");
//! node.shutdown();
//! ```

pub mod api;
pub mod chain;
pub mod config;
pub mod crawl;
pub mod crypto;
pub mod daemon;
#[doc(hidden)]
pub mod fuzzing;
pub mod grpc;
pub mod inspect;
pub mod logging;
pub mod metrics;
pub mod network;
pub mod node;
pub mod os;
pub mod pb;
pub mod ports;
#[doc(hidden)]
pub mod testing;
pub mod thread;
pub mod types;
