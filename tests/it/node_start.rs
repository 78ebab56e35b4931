//! `aelf_net::node::Node` in this process: a start that fails part way stops every thread it
//! had started and lets go of the chain store, so the same data dir opens again at once.

use crate::support::free_port;
use aelf_net::chain::{ChainError, EmbeddedChain};
use aelf_net::config::Config;
use aelf_net::node::{Node, NodeError};
use aelf_net::types::SystemClock;
use std::net::TcpListener;
use std::sync::Arc;

/// A node on loopback in `dir`, its API on `api`.
fn config(dir: &std::path::Path, api: std::net::SocketAddr) -> Config {
    let mut config = Config::default();
    config.node.data_dir = dir.to_path_buf();
    config.network.listen_address = "127.0.0.1".parse().unwrap();
    config.network.listening_port = free_port();
    config.network.enable_peer_discovery = false;
    config.api.listen = api;
    config
}

#[test]
fn a_start_that_fails_at_the_last_step_stops_what_it_started() {
    let dir = tempfile::tempdir().unwrap();
    // The API is the last thing a node starts: with its address taken, everything else
    // (chain, event and sync threads, transport, scheduler) was already running.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let config = config(dir.path(), taken.local_addr().unwrap());
    let p2p_port = config.network.listening_port;
    match Node::start(config.clone(), Arc::new(SystemClock)) {
        Err(NodeError::Api(_)) => {}
        Err(e) => panic!("expected the API to fail, got {e}"),
        Ok(_) => panic!("the API address is taken: the start must fail"),
    }
    // Every thread that held the chain has been joined: the store opens again.
    let reopened =
        EmbeddedChain::open_with(dir.path(), config.chain_settings(), config.chain_options());
    assert!(
        !matches!(reopened, Err(ChainError::InUse(_))),
        "the failed node still holds its chain store"
    );
    drop(reopened);
    // And the peer service is gone: its port can be bound again.
    TcpListener::bind(("127.0.0.1", p2p_port)).expect("the P2P port is free again");

    // The same config with a free API address starts.
    drop(taken);
    let api = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let node = Node::start(
        Config {
            api: aelf_net::config::ApiConfig {
                listen: api,
                ..config.api.clone()
            },
            ..config
        },
        Arc::new(SystemClock),
    )
    .expect("the node starts on the same data dir");
    node.shutdown();
}
