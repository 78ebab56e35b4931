//! The hostile-peer suite: a scripted attacker talks to a running `aelf-netd` over real TLS
//! sockets while an honest C#-like peer is connected. Each attack has an exact expected
//! outcome, and after each one the daemon still answers and the honest peer still receives
//! the producer's blocks.
//!
//! Attacks that end in a ban of the attacker's host are not here: on loopback the honest peer
//! shares that host (the ban itself is tested in `scheduler.rs`). Reputation thresholds are
//! raised in this suite for the same reason, so malformed input is refused message by message.

use crate::support::daemon::{config_with_network, Node};
use crate::support::free_port;
use crate::support::http::http;
use crate::support::wait::{wait_until, DEADLINE};
use crate::support::wire_peer::{headers, signed_handshake, WirePeer};
use aelf_net::crypto::NodeKey;
use aelf_net::grpc::sender::raw_method;
use aelf_net::pb::aelf_core::Hash as PbHash;
use aelf_net::pb::network_types::{
    BlockRequest, BlocksRequest, HandshakeError, HandshakeReply, HandshakeRequest, NodesRequest,
};
use aelf_net::pb::peer_service::{HealthCheckRequest, PingRequest, VoidReply};
use aelf_net::pb::peer_service_grpc::PeerServiceClient;
use aelf_net::types::{handshake_hash, timestamp_from_millis, Clock, SystemClock};
use grpcio::{Method, RpcStatusCode, WriteFlags};
use protobuf::MessageField;
use std::sync::Arc;
use std::time::Instant;

/// The listening port hostile handshakes claim: nothing listens on port 1, so every dial-back
/// is refused (a port from `free_port` could meanwhile be taken by another test's server).
const NO_LISTENER: u16 = 1;
/// Small enough to test the cap cheaply (the config's minimum).
const MAX_MESSAGE: usize = 1 << 20;
const PRODUCER: &str = "[producer]\nenabled = true\n\n[chain]\nmining_interval_ms = 800\n\n\
    [reputation]\ndisconnect_threshold = -1000000\nban_threshold = -1000000\n";

/// The daemon, the honest peer, and the attacker's channel to the daemon.
struct Arena {
    node: Node,
    port: u16,
    honest: WirePeer,
    honest_session: Vec<u8>,
    attacker: PeerServiceClient,
    _dir: tempfile::TempDir,
}

impl Arena {
    fn start() -> Arena {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let node = Node::start(config_with_network(
            dir.path(),
            port,
            &[],
            "1.3.0.0",
            &format!("max_message_size = {MAX_MESSAGE}"),
            PRODUCER,
        ));
        let honest = WirePeer::start(false);
        let (_, honest_session) = honest.connect(port);
        let channel = honest.dial(port);
        let arena = Arena {
            node,
            port,
            honest,
            honest_session,
            attacker: PeerServiceClient::new(channel),
            _dir: dir,
        };
        arena.still_serving("the start");
        arena
    }

    /// The daemon answers its API and the honest peer receives a block produced from now on.
    fn still_serving(&self, after: &str) {
        let (code, _) = http(self.node.api, "GET", "/api/blockChain/chainStatus", "");
        assert_eq!(code, 200, "API after {after}");
        while self.honest.blocks.try_recv().is_ok() {}
        assert!(
            self.honest.blocks.recv_timeout(DEADLINE).is_ok(),
            "the honest peer got no block after {after}"
        );
    }

    fn handshake(&self, request: &HandshakeRequest, key: &NodeKey) -> HandshakeReply {
        self.attacker
            .do_handshake_opt(request, headers(&key.pubkey_hex(), None))
            .expect("a handshake reply")
    }
}

fn error_of(reply: &HandshakeReply) -> HandshakeError {
    reply.error.enum_value_or_default()
}

/// A handshake from `key` whose data `tamper` changed, signed afterwards unless `resign` is
/// false.
fn tampered(
    key: &NodeKey,
    tamper: impl FnOnce(&mut aelf_net::pb::network_types::HandshakeData),
    resign: bool,
) -> HandshakeRequest {
    let mut request = signed_handshake(key, NO_LISTENER, &[7; 5], "1.3.0.0");
    let handshake = request.handshake.as_mut().unwrap();
    tamper(handshake.handshake_data.as_mut().unwrap());
    if resign {
        let data = handshake.handshake_data.as_ref().unwrap();
        handshake.signature = key.sign(&handshake_hash(data)).to_vec();
    }
    request
}

fn code_of<T: std::fmt::Debug>(result: grpcio::Result<T>) -> RpcStatusCode {
    match result {
        Err(grpcio::Error::RpcFailure(status)) => status.code(),
        other => panic!("expected a refused call, got {other:?}"),
    }
}

#[test]
fn hostile_handshakes_get_their_exact_refusals_and_the_node_keeps_serving() {
    let arena = Arena::start();
    let now = SystemClock.now_millis();
    let cases: Vec<(&str, HandshakeRequest, HandshakeError)> = {
        let k = NodeKey::generate;
        vec![
            (
                "a bad signature",
                tampered(&k(), |d| d.best_chain_height = 99, false),
                HandshakeError::WRONG_SIGNATURE,
            ),
            (
                "a stale time",
                tampered(
                    &k(),
                    |d| d.time = MessageField::some(timestamp_from_millis(now - 60_000)),
                    true,
                ),
                HandshakeError::SIGNATURE_TIMEOUT,
            ),
            (
                "the wrong chain",
                tampered(&k(), |d| d.chain_id = 1, true),
                HandshakeError::CHAIN_MISMATCH,
            ),
            (
                "the wrong protocol version",
                tampered(&k(), |d| d.version = 2, true),
                HandshakeError::PROTOCOL_MISMATCH,
            ),
            (
                "another key's data",
                tampered(
                    &k(),
                    |d| d.pubkey = NodeKey::generate().pubkey().to_vec(),
                    true,
                ),
                HandshakeError::WRONG_SIGNATURE,
            ),
        ]
    };
    for (what, request, expected) in &cases {
        let key = NodeKey::generate();
        assert_eq!(
            error_of(&arena.handshake(request, &key)),
            *expected,
            "{what}"
        );
    }
    // A far-future time passes the one-sided window (C# quirk 11, kept: a C# peer relies on
    // nothing else), then fails at the dial-back: nobody listens on the claimed port.
    let key = NodeKey::generate();
    let future = tampered(
        &key,
        |d| d.time = MessageField::some(timestamp_from_millis(now + 3_600_000)),
        true,
    );
    assert_eq!(
        error_of(&arena.handshake(&future, &key)),
        HandshakeError::INVALID_CONNECTION
    );
    // The honest peer's handshake replayed by the attacker (same key, port and session, still
    // inside the time window): the key is connected and healthy, so it is refused.
    let replay = signed_handshake(
        &arena.honest.key,
        arena.honest.port,
        &[1, 2, 3, 4, 5],
        "1.3.0.0",
    );
    assert_eq!(
        error_of(&arena.handshake(&replay, &arena.honest.key)),
        HandshakeError::REPEATED_CONNECTION
    );
    // An empty handshake makes the C# handler throw: the call fails, nothing else happens.
    let empty = HandshakeRequest::new();
    assert_eq!(
        code_of(
            arena
                .attacker
                .do_handshake_opt(&empty, headers(&key.pubkey_hex(), None))
        ),
        RpcStatusCode::UNKNOWN
    );
    let mut big = signed_handshake(&key, NO_LISTENER, &[], "1.3.0.0");
    big.handshake.as_mut().unwrap().session_id = vec![1; MAX_MESSAGE - 1024];
    assert!(arena
        .attacker
        .do_handshake_opt(&big, headers(&key.pubkey_hex(), None))
        .is_ok());
    arena.still_serving("the handshake attacks");

    // Over the cap: refused by the transport, the connection stays usable.
    big.handshake.as_mut().unwrap().session_id = vec![1; MAX_MESSAGE + 1];
    assert_eq!(
        code_of(
            arena
                .attacker
                .do_handshake_opt(&big, headers(&key.pubkey_hex(), None))
        ),
        RpcStatusCode::RESOURCE_EXHAUSTED
    );
    assert!(arena.attacker.ping(&PingRequest::new()).is_ok());

    // A flood of 1000 handshakes from one host, from 8 threads.
    let started = Instant::now();
    let client = arena.attacker.clone();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            std::thread::spawn(move || {
                for _ in 0..125 {
                    let key = NodeKey::generate();
                    let request = signed_handshake(&key, NO_LISTENER, &[9; 8], "1.3.0.0");
                    let reply = client.do_handshake_opt(&request, headers(&key.pubkey_hex(), None));
                    // Refused (no dial-back listener, or the inbound budget): never accepted.
                    if let Ok(reply) = reply {
                        assert_ne!(
                            reply.error.enum_value_or_default(),
                            HandshakeError::HANDSHAKE_OK
                        );
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("flood thread");
    }
    eprintln!("1000 hostile handshakes in {:?}", started.elapsed());
    arena.still_serving("a flood of 1000 handshakes");
    let (_, body) = http(arena.node.api, "GET", "/api/net/peers", "");
    let peers: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        peers.as_array().map(Vec::len),
        Some(1),
        "only the honest peer: {body}"
    );
    let _ = arena.port;
}

#[test]
fn authenticated_calls_without_the_right_session_are_cancelled() {
    let arena = Arena::start();
    let stranger = NodeKey::generate();
    let honest_key = arena.honest.key.pubkey_hex();
    let unknown = stranger.pubkey_hex();
    let c = &arena.attacker;
    let block = BlockRequest {
        hash: MessageField::some(PbHash {
            value: vec![0; 32],
            ..Default::default()
        }),
        ..Default::default()
    };
    let cases: [(&str, &str, &[u8]); 2] = [
        ("an unknown key", &unknown, &[1, 2, 3]),
        ("a wrong session", &honest_key, &[9, 9, 9, 9]),
    ];
    for (who, key, session) in cases {
        let opt = || headers(key, Some(session));
        assert_eq!(
            code_of(c.request_block_opt(&block, opt())),
            RpcStatusCode::CANCELLED,
            "{who}"
        );
        assert_eq!(
            code_of(c.request_blocks_opt(&BlocksRequest::new(), opt())),
            RpcStatusCode::CANCELLED,
            "{who}"
        );
        assert_eq!(
            code_of(c.get_nodes_opt(&NodesRequest::new(), opt())),
            RpcStatusCode::CANCELLED,
            "{who}"
        );
        assert_eq!(
            code_of(c.check_health_opt(&HealthCheckRequest::new(), opt())),
            RpcStatusCode::CANCELLED,
            "{who}"
        );
        let (mut sink, receiver) = c.transaction_broadcast_stream_opt(opt()).unwrap();
        let _ = futures_executor::block_on(async {
            use futures_util::SinkExt as _;
            sink.send((Default::default(), WriteFlags::default()))
                .await?;
            sink.close().await
        });
        assert_eq!(
            code_of(futures_executor::block_on(receiver)),
            RpcStatusCode::CANCELLED,
            "{who}"
        );
    }
    arena.still_serving("calls with bad credentials");
}

#[test]
fn request_blocks_counts_and_unknown_hashes_get_empty_answers() {
    let arena = Arena::start();
    let auth = || headers(&arena.honest.key.pubkey_hex(), Some(&arena.honest_session));
    let c = &arena.attacker;
    // The genesis hash: read from the API.
    let (_, body) = http(arena.node.api, "GET", "/api/blockChain/chainStatus", "");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    let genesis = hex::decode(status["GenesisBlockHash"].as_str().unwrap()).unwrap();
    let after = |hash: Vec<u8>, count: i32| BlocksRequest {
        previous_block_hash: MessageField::some(PbHash {
            value: hash,
            ..Default::default()
        }),
        count,
        ..Default::default()
    };
    // Wait until the chain holds more than 50 blocks after genesis.
    wait_until("the producer at height 60", || status_height(&arena) >= 60);
    for (count, expected) in [
        (0, 0),
        (-1, 0),
        (1, 1),
        (50, 50),
        (51, 0),
        (i32::MAX, 0),
        (i32::MIN, 0),
    ] {
        let list = c
            .request_blocks_opt(&after(genesis.clone(), count), auth())
            .unwrap();
        assert_eq!(list.blocks.len(), expected, "count {count}");
    }
    for unknown in [vec![0xab; 32], vec![0xab; 31], vec![], vec![1; 1000]] {
        let list = c
            .request_blocks_opt(&after(unknown.clone(), 10), auth())
            .unwrap();
        assert!(list.blocks.is_empty(), "{} bytes", unknown.len());
        let request = BlockRequest {
            hash: MessageField::some(PbHash {
                value: unknown,
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(c
            .request_block_opt(&request, auth())
            .unwrap()
            .block
            .is_none());
    }
    arena.still_serving("odd block requests");
}

fn status_height(arena: &Arena) -> i64 {
    let (_, body) = http(arena.node.api, "GET", "/api/blockChain/blockHeight", "");
    body.trim().parse().unwrap_or(0)
}

#[test]
fn malformed_and_silent_streams_are_refused_without_harm() {
    let arena = Arena::start();
    // The attacker becomes a real peer first (so its streams pass authentication).
    let attacker = WirePeer::start(false);
    let (_, session) = attacker.connect(arena.port);
    let auth = || headers(&attacker.key.pubkey_hex(), Some(&session));
    let grpc = grpcio::Client::new(attacker.dial(arena.port));
    const STREAMS: [Method<Arc<[u8]>, VoidReply>; 4] = [
        raw_method("/PeerService/BlockBroadcastStream"),
        raw_method("/PeerService/TransactionBroadcastStream"),
        raw_method("/PeerService/AnnouncementBroadcastStream"),
        raw_method("/PeerService/LibAnnouncementBroadcastStream"),
    ];
    // Bytes that are not protobuf (a truncated length-delimited field).
    let garbage: Arc<[u8]> = Arc::from(&[0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01][..]);
    for method in &STREAMS {
        let (mut sink, receiver) = grpc.client_streaming(method, auth()).unwrap();
        let garbage = garbage.clone();
        let sent = futures_executor::block_on(async {
            use futures_util::SinkExt as _;
            sink.send((garbage, WriteFlags::default())).await?;
            sink.close().await
        });
        let ended = futures_executor::block_on(receiver);
        assert!(
            sent.is_err() || ended.is_err(),
            "{}: garbage accepted",
            method.name
        );
    }
    arena.still_serving("malformed broadcast streams");
    // Streams opened and never written to: the node is not held up by them.
    let mut silent = Vec::new();
    for _ in 0..25 {
        for method in &STREAMS {
            silent.push(grpc.client_streaming(method, auth()).unwrap());
        }
    }
    arena.still_serving("100 silent streams");
    drop(silent);
}

/// Blocks pushed by their signer with a signature by another key or a merkle root that does
/// not match its transactions reach validation (the node logs each refusal with its reason)
/// and are not stored; the node goes on serving.
#[test]
fn blocks_with_a_bad_signature_or_merkle_root_are_not_stored() {
    use aelf_net::chain::{synthetic_transactions, ChainTip};
    use aelf_net::types::{block_hash, Hash};
    let mut arena = Arena::start();
    let attacker = WirePeer::start(false);
    let (client, session) = attacker.connect(arena.port);
    let (_, body) = http(arena.node.api, "GET", "/api/blockChain/chainStatus", "");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    let tip = ChainTip {
        hash: Hash::from_hex(status["BestChainHash"].as_str().unwrap()).unwrap(),
        height: status["BestChainHeight"].as_i64().unwrap(),
    };
    let key = &attacker.key;
    let txs = synthetic_transactions(key, &tip, 3, 1);
    let now = SystemClock.now_millis();
    let good = crate::support::chain::unchecked_block(&tip, 9992731, key, now, txs);
    // A signature by another key, and a merkle root that does not match (signed correctly).
    let mut forged = good.clone();
    forged.header.as_mut().unwrap().signature = NodeKey::generate()
        .sign(&block_hash(good.header.get_or_default()).unwrap())
        .to_vec();
    let mut wrong_root = good.clone();
    {
        let header = wrong_root.header.as_mut().unwrap();
        header.merkle_tree_root_of_transactions = MessageField::some(PbHash {
            value: vec![0x5a; 32],
            ..Default::default()
        });
        header.signature.clear();
        let hash = block_hash(header).unwrap();
        header.signature = key.sign(&hash).to_vec();
    }
    for (bad, reason) in [
        (&forged, "is not signed by"),
        (&wrong_root, "transactions root"),
    ] {
        let (mut sink, receiver) = client
            .block_broadcast_stream_opt(headers(&key.pubkey_hex(), Some(&session)))
            .unwrap();
        let hash = block_hash(bad.header.get_or_default()).unwrap();
        let bad = bad.clone();
        let _ = futures_executor::block_on(async {
            use futures_util::SinkExt as _;
            sink.send((bad, WriteFlags::default())).await?;
            sink.close().await
        });
        let _ = futures_executor::block_on(receiver);
        // Judged and refused for the right reason, by the checks under test.
        let line = arena
            .node
            .daemon
            .wait_for(&format!("refused block {} {hash}", tip.height + 1));
        assert!(line.contains(reason), "{line}");
        let path = format!("/api/blockChain/block?blockHash={}", hash.to_hex());
        // Not stored: the C# node's "not found" (403, code 20001).
        assert_eq!(http(arena.node.api, "GET", &path, "").0, 403, "{path}");
    }
    arena.still_serving("forged blocks");
}
