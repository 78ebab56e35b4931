//! The integration tests, one binary with a module per topic (one link of grpcio, not one per
//! file). Everything runs on real files in temporary directories; nothing sleeps to wait.

mod aelf_rules;
mod api;
mod bench;
mod block_sync;
mod chain;
mod config;
mod connections;
mod daemon;
mod devnet;
mod fake_peer;
mod faults;
mod fuzz_replay;
mod handshake;
mod hostile;
mod monitor;
mod network_service;
mod operator;
mod peer_pool;
mod propagation;
mod receive;
mod scheduler;
mod stream;
mod support;
mod tls;
mod two_nodes;
mod wire_broadcast;
mod wire_peer;
