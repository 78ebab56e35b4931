//! A C#-like peer written against the wire format (generated stubs, hand-built handshake, its
//! own TLS `PeerService` server) connected to `aelf-netd` daemons in legacy mode: it receives a
//! producer's blocks on BlockBroadcastStream and a relay's announcements on
//! AnnouncementBroadcastStream, and its RequestBlocks gets a gzip-compressed answer it decodes.
//! A peer that never reads its block stream does not slow what another daemon receives.

use crate::support::daemon::{config, config_with_network, wait_converged, Node};
use crate::support::free_port;
use crate::support::http::http;
use crate::support::wait::{wait_until, DEADLINE};
use crate::support::wire_peer::{headers, WirePeer};
use aelf_net::pb::network_types::BlocksRequest;
use aelf_net::types::{block_hash, Hash};
use protobuf::{Message, MessageField};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Blocks with transactions, so a block list compresses well.
const PRODUCER: &str = "[producer]\nenabled = true\ntransactions_per_block = 40\n";

/// A TCP relay to a daemon's port that counts the bytes flowing back to the client.
struct CountingRelay {
    port: u16,
    down: Arc<AtomicU64>,
}

impl CountingRelay {
    fn start(target: u16) -> CountingRelay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicU64::new(0));
        let counter = down.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let (mut c_read, mut s_write) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c_read, &mut s_write);
                    let _ = s_write.shutdown(std::net::Shutdown::Write);
                });
                let (mut s_read, mut c_write) = (server, client);
                let counter = counter.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 * 1024];
                    while let Ok(n) = s_read.read(&mut buf) {
                        if n == 0 || c_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        counter.fetch_add(n as u64, Ordering::SeqCst);
                    }
                    let _ = c_write.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        CountingRelay { port, down }
    }

    fn downstream(&self) -> u64 {
        self.down.load(Ordering::SeqCst)
    }
}

#[test]
fn a_csharp_like_peer_gets_blocks_announcements_and_gzipped_block_lists() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (port_a, port_b) = (free_port(), free_port());
    let mut a = Node::start(config(dir_a.path(), port_a, &[], "1.3.0.0", PRODUCER));
    let b = Node::start(config(dir_b.path(), port_b, &[port_a], "1.3.0.0", ""));
    let producer_key = a
        .daemon
        .lines_so_far()
        .iter()
        .find_map(|l| l.split("node pubkey ").nth(1))
        .expect("the daemon logs its key")
        .trim()
        .to_owned();

    let wire = WirePeer::start(false);
    let _a_link = wire.connect(port_a);
    let _b_link = wire.connect(port_b);

    // Full blocks from the producer itself, consecutive and signed by it.
    let mut last: Option<(i64, Hash)> = None;
    for _ in 0..3 {
        let block = wire
            .blocks
            .recv_timeout(DEADLINE)
            .expect("a broadcast block");
        let header = block.header.as_ref().unwrap();
        assert_eq!(hex::encode(&header.signer_pubkey), producer_key);
        let hash = block_hash(header).unwrap();
        if let Some((height, previous)) = last {
            assert_eq!(header.height, height + 1);
            assert_eq!(
                Hash::from_proto(&header.previous_block_hash).unwrap(),
                previous
            );
        }
        last = Some((header.height, hash));
    }
    // Announcements from the relay (which never sends full blocks it did not produce).
    let announcement = wire
        .announcements
        .recv_timeout(DEADLINE)
        .expect("an announcement from the relay");
    assert!(announcement.block_height > 1);
    assert!(Hash::from_proto(&announcement.block_hash).is_ok());

    // RequestBlocks from genesis: the answer decodes, and it crossed the wire gzip-compressed
    // (C-core hides `grpc-encoding` from the application, so the bytes are counted by a TCP
    // relay in front of the daemon: far fewer than the encoded answer).
    let relay = CountingRelay::start(port_a);
    // A second wire peer, linked through the relay (the first one's key is connected and
    // healthy, so a second link of it would be refused).
    let second = WirePeer::start(false);
    let (client_r, session_r) = second.connect(relay.port);
    let genesis = a_genesis(&a);
    wait_until("six blocks past genesis", || a.status().best_height >= 7);
    let request = BlocksRequest {
        previous_block_hash: MessageField::some(genesis.to_proto()),
        count: 5,
        ..Default::default()
    };
    let before = relay.downstream();
    let list = client_r
        .request_blocks_opt(
            &request,
            headers(&second.key.pubkey_hex(), Some(&session_r)),
        )
        .unwrap();
    let on_wire = relay.downstream() - before;
    let encoded = list.write_to_bytes().unwrap().len() as u64;
    assert_eq!(list.blocks.len(), 5);
    assert_eq!(
        Hash::from_proto(&list.blocks[0].header.previous_block_hash).unwrap(),
        genesis
    );
    assert!(
        on_wire * 2 < encoded,
        "{on_wire} bytes on the wire for a {encoded}-byte answer: not compressed"
    );
    // More than 50 asked: nothing, as the C# node answers.
    let too_many = BlocksRequest {
        count: 51,
        ..request
    };
    let empty = client_r
        .request_blocks_opt(
            &too_many,
            headers(&second.key.pubkey_hex(), Some(&session_r)),
        )
        .unwrap();
    assert!(empty.blocks.is_empty());

    b.stop();
    a.stop();
    wire.stop();
    second.stop();
}

fn a_genesis(node: &Node) -> Hash {
    let (_, body) = http(node.api, "GET", "/api/blockChain/chainStatus", "");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    Hash::from_hex(v["GenesisBlockHash"].as_str().unwrap()).unwrap()
}

#[test]
fn a_peer_that_stops_reading_does_not_slow_the_others() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (port_a, port_b) = (free_port(), free_port());
    // Large blocks, so the stalled stream's flow-control window fills within a few blocks.
    let producer = "[producer]\nenabled = true\ntransactions_per_block = 300\n";
    // The C# behaviour: the stalled peer stays, its block queue full.
    let a = Node::start(config_with_network(
        dir_a.path(),
        port_a,
        &[],
        "1.3.0.0",
        "stalled_send_timeout_ms = 0",
        producer,
    ));
    let stalled = WirePeer::start(true);
    let _link = stalled.connect(port_a);
    let start = a.status().best_height;
    let b = Node::start(config(dir_b.path(), port_b, &[port_a], "1.3.0.0", ""));
    // B keeps up with A block after block while the stalled peer holds its stream.
    let agreed = wait_converged(&[&a, &b], start + 60);
    assert!(agreed.best_height >= start + 60);
    wait_until("B still following", || {
        b.status().best_height >= agreed.best_height + 10
    });
    b.stop();
    a.stop();
    stalled.stop();
}

/// The pubkeys in a node's `GET /api/net/peers`.
fn peer_keys(node: &Node) -> Vec<String> {
    let (_, body) = http(node.api, "GET", "/api/net/peers", "");
    let peers: serde_json::Value = serde_json::from_str(&body).unwrap();
    peers
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["Pubkey"].as_str().map(str::to_owned))
        .collect()
}

/// A peer that keeps answering health checks but never reads its block stream is
/// disconnected once a send to it has waited `stalled_send_timeout_ms`, and its queues go
/// with it; an honest node connected at the same time keeps following.
#[test]
fn a_peer_that_stops_reading_one_stream_is_disconnected() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (port_a, port_b) = (free_port(), free_port());
    let producer = "[producer]\nenabled = true\ntransactions_per_block = 300\n";
    let mut a = Node::start(config_with_network(
        dir_a.path(),
        port_a,
        &[],
        "1.3.0.0",
        "stalled_send_timeout_ms = 2000",
        producer,
    ));
    let b = Node::start(config(dir_b.path(), port_b, &[port_a], "1.3.0.0", ""));
    let stalled = WirePeer::start(true);
    let _link = stalled.connect(port_a);
    let key = stalled.key.pubkey_hex();
    wait_until("A holds the stalled peer", || peer_keys(&a).contains(&key));
    let line = a.daemon.wait_for("stream for");
    assert!(
        line.contains("took nothing from its block stream") && line.contains("disconnecting"),
        "{line}"
    );
    wait_until("A dropped the stalled peer", || {
        !peer_keys(&a).contains(&key)
    });
    wait_until("the drop counted in /metrics", || {
        let (_, metrics) = http(a.api, "GET", "/metrics", "");
        metrics.contains("aelf_net_stalled_peers_dropped_total{kind=\"blocks\"} 1")
    });
    // The honest node is still A's peer and still follows.
    assert_eq!(peer_keys(&a).len(), 1);
    let agreed = wait_converged(&[&a, &b], a.status().best_height + 10);
    assert!(agreed.best_height > 10);
    b.stop();
    a.stop();
    stalled.stop();
}
