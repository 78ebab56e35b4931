//! The integration tests, one binary with a module per topic (one link of grpcio, not one per
//! file). Everything runs on real files in temporary directories. Topic modules hold tests and
//! the helpers only they use; what several share is in `support`. Every wait is
//! `support::wait::wait_until` or a channel wait, both bounded by the one
//! `support::wait::DEADLINE`: nothing sleeps a fixed time and hopes.

// Helpers shared by the topic modules (nodes, chains, daemons, HTTP, waits, wire peers).
mod support;

// aelf's hashing and signature rules against byte-by-byte encodings.
mod aelf_rules;
// The operator HTTP API over a socket with a fake backend: routes, JSON, auth, errors.
mod api;
// `aelf-netbench --smoke`: every bench scenario still runs.
mod bench;
// The block-sync thread against fake peers: batch downloads, broken sequences, forks.
mod block_sync;
// The embedded chain on real files: attach rules, fork choice, LIB, events, flushing.
mod chain;
// `conf/aelf-netd.toml` and `Config`: defaults and an exact error for every bad file.
mod config;
// Legacy-mode connections between in-process nodes: handshakes, auth, refusals, expiry.
mod connections;
// The `aelf-netd` binary: identity, signals, reload, `--check-config`, `aelf-netctl keygen`.
mod daemon;
// `aelf-devnet`: a local network started, checked, partitioned, healed and stopped.
mod devnet;
// Storage faults (root only): a full disk while syncing, a read-only data dir.
mod faults;
// Follow mode across processes: a follower from a checkpoint reaches the producer's best and
// LIB through round and term changes.
mod follow;
// The fuzz targets replayed over saved crashes and a short deterministic mutation run.
mod fuzz_replay;
// `aelf-netctl inspect` and the library behind it on real aelf chain data (shared/testdata).
mod inspect;
// Handshake building and its validation outcomes, in the C# node's order.
mod handshake;
// Scripted attacks on a running daemon, each with an exact outcome; the node keeps serving.
mod hostile;
// What an operator looks at: `aelf-netctl crawl` over a devnet, the Grafana dashboard's every
// query against a real Prometheus, the alert rules with promtool.
mod monitor;
// `Node` in this process: a start that fails part way stops what it started.
mod node_start;
// The network service's broadcast, request, failure and serving rules with fake peers.
mod network_service;
// The operator surface of running daemons: web API, `/metrics`, `aelf-netctl`, systemd unit.
mod operator;
// The peer pool's admission rules and the host blacklist (C# scenarios 102–111).
mod peer_pool;
// Daemons in a line, both modes: blocks and a transaction propagate, crashes, catching up.
mod propagation;
// The four broadcast-stream handlers of an in-process node, fed by a wire peer.
mod receive;
// The scheduler across processes: reconnection, discovery, bans, a frozen peer.
mod scheduler;
// Stream mode between in-process nodes, and a raw `RequestByStream` client.
mod stream;
// TLS as the C# node does it: the `aelf` identity, certificate pre-fetch, pinned channels.
mod tls;
// Two daemons naming each other as boot nodes: connect, reconnect, say goodbye.
mod two_nodes;
// The transaction pool's admission rules (the C# checks that need no contract state).
mod tx_pool;
// A C#-like wire peer on running daemons: broadcasts received, gzipped lists, stalled streams.
mod wire_broadcast;
// A hand-written peer's legacy handshake with a daemon, including its dial-back.
mod wire_peer;
