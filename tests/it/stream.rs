//! Stream peer mode over real TLS on 127.0.0.1 (spec 4.5, 4.6, 7): two in-process nodes that
//! connect with `RequestByStream`, health checks and node lists over the stream in both
//! directions, graceful disconnects from either side, mixed versions falling back to legacy
//! mode, and a raw `RequestByStream` client built from the generated stubs (not our peer code)
//! that checks the listener's authentication, reply routing and teardown.

use crate::support::chain::{genesis_chain, grow_with_bulky_blocks};
use crate::support::node::TestNode;
use crate::support::wait::DEADLINE;
use crate::support::wire_peer::raw_client;
use crate::support::{free_port, LEGACY, STREAM};
use aelf_net::crypto::NodeKey;
use aelf_net::grpc::metadata::call_option;
use aelf_net::grpc::stream::stream_peer::StreamRole;
use aelf_net::network::handshake::{Authorization, HandshakeProvider};
use aelf_net::network::lifecycle::Removal;
use aelf_net::pb::network_types::{
    BlockList, BlocksRequest, ConfirmHandshakeRequest, Handshake, HandshakeError, HandshakeReply,
    HandshakeRequest, NodeList, NodesRequest,
};
use aelf_net::pb::peer_service::{
    HealthCheckRequest, MessageType, StreamMessage, StreamType, VoidReply,
};
use aelf_net::pb::peer_service_grpc::PeerServiceClient;
use aelf_net::types::{handshake_hash, SystemClock};
use crossbeam_channel::{bounded, unbounded, Receiver, RecvTimeoutError};
use futures_util::SinkExt as _;
use grpcio::{CallOption, ClientDuplexSender, MetadataBuilder, WriteFlags};
use protobuf::{EnumOrUnknown, Message, MessageField};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The deadline of a raw client's unary calls.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// A fresh handshake from `key` announcing `version` and `listening_port`.
fn handshake_from(key: &NodeKey, listening_port: u16, version: &str) -> Handshake {
    let (chain, _dir) = genesis_chain();
    let provider = HandshakeProvider::new(
        key.clone(),
        chain,
        listening_port,
        version.into(),
        Arc::new(SystemClock),
        Authorization::Any,
    );
    provider.build()
}

#[test]
fn two_stream_nodes_connect_with_a_stream_peer_and_a_back_peer() {
    let a = TestNode::start(STREAM);
    let b = TestNode::start(STREAM);
    a.connect_to(&b);
    assert_eq!(a.role_of(&b.key), Some(StreamRole::Dialer));
    assert_eq!(b.role_of(&a.key), Some(StreamRole::Back));
    assert!(a.has_ready_peer(&b.key), "dialer sees the listener ready");
    // CONFIRM_HAND_SHAKE is answered only after the back peer was marked connected.
    assert!(b.has_ready_peer(&a.key), "listener sees the dialer ready");
    assert_eq!((a.peer_count(), b.peer_count()), (1, 1));
    assert_eq!(a.net().connections().nodes().len(), 1);
    assert_eq!(b.net().connections().nodes().len(), 1);
    // The back peer's endpoint is the caller's IP and the advertised listening port.
    let back = b
        .net()
        .connections()
        .pool()
        .get(&a.key.pubkey_hex())
        .unwrap();
    assert_eq!(back.endpoint(), &a.endpoint());
    assert!(back.is_inbound());
    // Dialing again is refused by the pre-check: already in the pool.
    assert!(!a.net().connections().connect(&b.endpoint()).unwrap());
}

#[test]
fn health_checks_and_node_lists_go_over_the_stream_both_ways() {
    let a = TestNode::start(STREAM);
    let b = TestNode::start(STREAM);
    a.connect_to(&b);
    assert_eq!(a.role_of(&b.key), Some(StreamRole::Dialer));
    assert_eq!(b.role_of(&a.key), Some(StreamRole::Back));
    let (a_to_b, b_to_a) = (a.peer(&b.key), b.peer(&a.key));
    a_to_b.check_health().expect("dialer → listener");
    b_to_a
        .check_health()
        .expect("listener → dialer, on the response stream");
    // GET_NODES is authenticated (an unauthenticated one is dropped and times out): both
    // sessions are right in both directions.
    let from_b = a_to_b.request_nodes(10).expect("GET_NODES to the listener");
    assert_eq!(from_b.len(), 1);
    assert_eq!(from_b[0].pubkey, a.key.pubkey().to_vec());
    let from_a = b_to_a.request_nodes(10).expect("GET_NODES to the dialer");
    assert_eq!(from_a.len(), 1);
    assert_eq!(from_a[0].pubkey, b.key.pubkey().to_vec());
}

#[test]
fn graceful_disconnect_by_the_dialer_removes_the_peer_on_both_sides() {
    let a = TestNode::start(STREAM);
    let b = TestNode::start(STREAM);
    a.connect_to(&b);
    assert!(a
        .net()
        .connections()
        .lifecycle()
        .remove_key(&b.key.pubkey_hex(), Removal::Operator));
    assert_eq!(a.peer_count(), 0);
    // DISCONNECT is answered only after the listener removed the back peer.
    assert_eq!(b.peer_count(), 0);
    // And they can connect again.
    a.connect_to(&b);
    assert!(b.has_ready_peer(&a.key));
}

#[test]
fn graceful_disconnect_by_the_listener_removes_the_peer_on_both_sides() {
    let a = TestNode::start(STREAM);
    let b = TestNode::start(STREAM);
    a.connect_to(&b);
    // The back peer really sends DISCONNECT (the C# back peer never does).
    assert!(b
        .net()
        .connections()
        .lifecycle()
        .remove_key(&a.key.pubkey_hex(), Removal::Operator));
    assert_eq!(b.peer_count(), 0);
    assert_eq!(a.peer_count(), 0);
}

#[test]
fn a_legacy_dialer_and_a_stream_listener_connect_in_legacy_mode() {
    let a = TestNode::start(LEGACY);
    let b = TestNode::start(STREAM);
    a.connect_to(&b);
    assert_eq!(a.role_of(&b.key), None, "legacy peer on the dialer");
    assert_eq!(b.role_of(&a.key), None, "legacy peer on the listener");
    assert!(a.has_ready_peer(&b.key) && b.has_ready_peer(&a.key));
}

#[test]
fn a_stream_dialer_and_a_legacy_listener_connect_in_legacy_mode() {
    let a = TestNode::start(STREAM);
    let b = TestNode::start(LEGACY);
    a.connect_to(&b);
    assert_eq!(a.role_of(&b.key), None);
    assert_eq!(b.role_of(&a.key), None);
    assert!(a.has_ready_peer(&b.key) && b.has_ready_peer(&a.key));
}

#[test]
fn a_stream_initiators_unary_handshake_is_answered_and_leaves_no_state() {
    let b = TestNode::start(STREAM);
    let key = NodeKey::generate();
    let request = HandshakeRequest {
        handshake: MessageField::some(handshake_from(&key, free_port(), STREAM)),
        ..Default::default()
    };
    let reply = raw_client(&b)
        .do_handshake_opt(&request, call_option(&key.pubkey_hex(), None, CALL_TIMEOUT))
        .expect("DoHandshake");
    assert_eq!(
        reply.error.enum_value_or_default(),
        HandshakeError::HANDSHAKE_OK
    );
    let dialer = TestNode::start(STREAM);
    assert!(dialer
        .handshakes
        .validate(reply.handshake.as_ref().unwrap())
        .is_ok());
    // No dial-back (the advertised port is closed), no peer, no mark.
    assert_eq!(b.peer_count(), 0);
    assert_eq!(
        b.net().connections().pool().handshaking_from("127.0.0.1"),
        0
    );
}

/// A `RequestByStream` call driven from a test thread with the generated stubs.
struct RawStream {
    key: NodeKey,
    sink: ClientDuplexSender<StreamMessage>,
    received: Receiver<StreamMessage>,
    ended: Receiver<()>,
    _client: PeerServiceClient,
}

impl RawStream {
    fn open(node: &TestNode, key: &NodeKey) -> RawStream {
        let client = raw_client(node);
        let mut md = MetadataBuilder::new();
        md.add_str("public-key", &key.pubkey_hex()).unwrap();
        let (sink, receiver) = client
            .request_by_stream_opt(CallOption::default().headers(md.build()))
            .expect("RequestByStream");
        let (tx, received) = unbounded();
        let (end_tx, ended) = bounded::<()>(0);
        std::thread::spawn(move || {
            for message in futures_executor::block_on_stream(receiver) {
                match message {
                    Ok(m) => {
                        let _ = tx.send(m);
                    }
                    Err(_) => break,
                }
            }
            drop(end_tx);
        });
        RawStream {
            key: key.clone(),
            sink,
            received,
            ended,
            _client: client,
        }
    }

    fn send(&mut self, message: StreamMessage) {
        futures_executor::block_on(self.sink.send((message, WriteFlags::default())))
            .expect("write");
    }

    fn request(
        &mut self,
        id: &str,
        t: MessageType,
        payload: &dyn protobuf::MessageDyn,
        session_hex: Option<&str>,
    ) {
        let mut meta = HashMap::from([("public-key".to_owned(), self.key.pubkey_hex())]);
        if let Some(s) = session_hex {
            meta.insert("session-id-bin".to_owned(), s.to_owned());
        }
        self.send(StreamMessage {
            stream_type: EnumOrUnknown::new(StreamType::REQUEST),
            message_type: EnumOrUnknown::new(t),
            request_id: id.into(),
            message: payload.write_to_bytes_dyn().unwrap(),
            meta,
            ..Default::default()
        });
    }

    fn next(&self) -> StreamMessage {
        self.received
            .recv_timeout(DEADLINE)
            .expect("a message from the node")
    }

    /// HAND_SHAKE with a fresh handshake; returns the reply and our handshake.
    fn handshake(&mut self, id: &str) -> (HandshakeReply, Handshake) {
        let ours = handshake_from(&self.key, free_port(), STREAM);
        let request = HandshakeRequest {
            handshake: MessageField::some(ours.clone()),
            ..Default::default()
        };
        self.request(id, MessageType::HAND_SHAKE, &request, None);
        let reply = self.next();
        assert_eq!(reply.stream_type.enum_value(), Ok(StreamType::REPLY));
        assert_eq!(reply.message_type.enum_value(), Ok(MessageType::HAND_SHAKE));
        assert_eq!(reply.request_id, id);
        assert!(reply.meta.is_empty(), "the HAND_SHAKE reply has no meta");
        (
            HandshakeReply::parse_from_bytes(&reply.message).unwrap(),
            ours,
        )
    }

    /// Half-closes and waits until the node ended the call.
    fn close(mut self) {
        futures_executor::block_on(self.sink.close()).expect("half-close");
        assert_eq!(
            self.ended.recv_timeout(DEADLINE),
            Err(RecvTimeoutError::Disconnected),
            "the node ends the call"
        );
    }
}

#[test]
fn a_raw_stream_client_is_answered_only_with_the_right_session() {
    let b = TestNode::start(STREAM);
    let key = NodeKey::generate();
    let mut raw = RawStream::open(&b, &key);
    let (reply, ours) = raw.handshake("hs-1");
    assert_eq!(
        reply.error.enum_value_or_default(),
        HandshakeError::HANDSHAKE_OK
    );
    let session = hex::encode(&reply.handshake.session_id);
    assert_eq!(b.role_of(&key), Some(StreamRole::Back));
    assert!(
        !b.has_ready_peer(&key),
        "not ready before CONFIRM_HAND_SHAKE"
    );

    // Requests are handled in order on one thread: had the wrong one been answered, its reply
    // would come first.
    raw.request(
        "wrong",
        MessageType::CONFIRM_HAND_SHAKE,
        &ConfirmHandshakeRequest::new(),
        Some("0102030405"),
    );
    raw.request(
        "missing",
        MessageType::GET_NODES,
        &NodesRequest::new(),
        None,
    );
    raw.request(
        "right",
        MessageType::CONFIRM_HAND_SHAKE,
        &ConfirmHandshakeRequest::new(),
        Some(&session),
    );
    let answer = raw.next();
    assert_eq!(answer.request_id, "right");
    assert_eq!(answer.stream_type.enum_value(), Ok(StreamType::REPLY));
    assert_eq!(
        answer.message_type.enum_value(),
        Ok(MessageType::CONFIRM_HAND_SHAKE)
    );
    VoidReply::parse_from_bytes(&answer.message).unwrap();
    // Replies to authenticated requests carry the replier's outbound session: ours.
    assert_eq!(
        answer.meta.get("session-id-bin"),
        Some(&hex::encode(&ours.session_id))
    );
    assert_eq!(b.peer(&key).profile().unauthenticated_requests, 2);
    assert!(b.has_ready_peer(&key), "CONFIRM_HAND_SHAKE made it ready");

    // GET_NODES with the right session is served from the node table.
    raw.request(
        "nodes",
        MessageType::GET_NODES,
        &NodesRequest {
            max_count: 10,
            ..Default::default()
        },
        Some(&session),
    );
    let nodes = raw.next();
    assert_eq!(nodes.request_id, "nodes");
    let list = NodeList::parse_from_bytes(&nodes.message).unwrap();
    assert_eq!(list.nodes.len(), 1);
    assert_eq!(list.nodes[0].pubkey, key.pubkey().to_vec());

    // Ending the call removes the back peer before the node ends its half.
    raw.close();
    assert_eq!(b.peer_count(), 0);
}

#[test]
fn replies_with_unknown_ids_and_malformed_requests_leave_the_stream_usable() {
    let b = TestNode::start(STREAM);
    let key = NodeKey::generate();
    let mut raw = RawStream::open(&b, &key);
    // HEALTH_CHECK needs no handshake.
    raw.request(
        "early",
        MessageType::HEALTH_CHECK,
        &HealthCheckRequest::new(),
        None,
    );
    assert_eq!(raw.next().request_id, "early");
    let (reply, _) = raw.handshake("hs");
    let session = hex::encode(&reply.handshake.session_id);
    raw.send(StreamMessage {
        stream_type: EnumOrUnknown::new(StreamType::REPLY),
        message_type: EnumOrUnknown::new(MessageType::HEALTH_CHECK),
        request_id: "nobody-asked".into(),
        ..Default::default()
    });
    // A GET_NODES whose body is not a NodesRequest: an error reply, stream unharmed.
    raw.send(StreamMessage {
        stream_type: EnumOrUnknown::new(StreamType::REQUEST),
        message_type: EnumOrUnknown::new(MessageType::GET_NODES),
        request_id: "garbage".into(),
        message: vec![0xff, 0xff, 0xff],
        meta: HashMap::from([("session-id-bin".to_owned(), session.clone())]),
        ..Default::default()
    });
    let refused = raw.next();
    assert_eq!(refused.request_id, "garbage");
    assert!(refused.message.is_empty());
    assert!(refused.meta.contains_key("error"), "{:?}", refused.meta);
    raw.request(
        "late",
        MessageType::HEALTH_CHECK,
        &HealthCheckRequest::new(),
        None,
    );
    let answer = raw.next();
    assert_eq!(answer.request_id, "late");
    assert_eq!(
        answer.message_type.enum_value(),
        Ok(MessageType::HEALTH_CHECK)
    );
    assert!(answer.meta.is_empty(), "HEALTH_CHECK is not authenticated");
}

#[test]
fn a_stream_handshake_replaces_an_existing_peer_for_the_same_key() {
    let a = TestNode::start(STREAM);
    let b = TestNode::start(STREAM);
    a.connect_to(&b);
    let first = b
        .net()
        .connections()
        .pool()
        .get(&a.key.pubkey_hex())
        .unwrap();
    // Someone holding A's key handshakes again over a new call (C# quirk 9: replaced).
    let mut raw = RawStream::open(&b, &a.key);
    let (reply, _) = raw.handshake("again");
    assert_eq!(
        reply.error.enum_value_or_default(),
        HandshakeError::HANDSHAKE_OK
    );
    let now = b
        .net()
        .connections()
        .pool()
        .get(&a.key.pubkey_hex())
        .unwrap();
    assert!(
        !Arc::ptr_eq(&first, &now),
        "the new back peer replaced the old"
    );
    assert!(!first.is_ready(), "the old one was closed");
    assert_eq!(b.peer_count(), 1);
}

#[test]
fn an_invalid_stream_handshake_is_refused_and_the_call_stays_open() {
    let b = TestNode::start(STREAM);
    let key = NodeKey::generate();
    let mut raw = RawStream::open(&b, &key);
    let mut stale = handshake_from(&key, free_port(), STREAM);
    stale.signature = NodeKey::generate()
        .sign(&handshake_hash(stale.handshake_data.as_ref().unwrap()))
        .to_vec();
    raw.request(
        "bad",
        MessageType::HAND_SHAKE,
        &HandshakeRequest {
            handshake: MessageField::some(stale),
            ..Default::default()
        },
        None,
    );
    let reply = HandshakeReply::parse_from_bytes(&raw.next().message).unwrap();
    assert_eq!(
        reply.error.enum_value_or_default(),
        HandshakeError::WRONG_SIGNATURE
    );
    assert!(reply.handshake.is_none());
    assert_eq!(b.peer_count(), 0);
    // Same call, a good handshake now.
    let (reply, _) = raw.handshake("good");
    assert_eq!(
        reply.error.enum_value_or_default(),
        HandshakeError::HANDSHAKE_OK
    );
    assert_eq!(b.peer_count(), 1);
}

#[test]
fn a_health_check_is_answered_while_the_same_peer_waits_for_big_block_batches() {
    let b = TestNode::start(STREAM);
    // 50 blocks of 200 transactions with 1 KB of params each: ~10 MB per REQUEST_BLOCKS reply.
    let first = grow_with_bulky_blocks(&b.chain, 50, 200, 1_000);
    let key = NodeKey::generate();
    let mut raw = RawStream::open(&b, &key);
    let (reply, _) = raw.handshake("hs");
    let session = hex::encode(&reply.handshake.session_id);
    raw.request(
        "confirm",
        MessageType::CONFIRM_HAND_SHAKE,
        &ConfirmHandshakeRequest::new(),
        Some(&session),
    );
    assert_eq!(raw.next().request_id, "confirm");

    // Several batches of 50 blocks, then a HEALTH_CHECK, back to back on the one stream.
    const BATCHES: usize = 6;
    let request = BlocksRequest {
        previous_block_hash: MessageField::some(first.to_proto()),
        count: 50,
        ..Default::default()
    };
    for i in 0..BATCHES {
        raw.request(
            &format!("blocks-{i}"),
            MessageType::REQUEST_BLOCKS,
            &request,
            Some(&session),
        );
    }
    raw.request(
        "health",
        MessageType::HEALTH_CHECK,
        &HealthCheckRequest::new(),
        None,
    );
    let order: Vec<String> = (0..=BATCHES)
        .map(|_| {
            let reply = raw.next();
            if reply.request_id.starts_with("blocks-") {
                assert!(!reply.meta.contains_key("error"), "{:?}", reply.meta);
                let list = BlockList::parse_from_bytes(&reply.message).unwrap();
                assert_eq!(list.blocks.len(), 50, "every batch is served in full");
            }
            reply.request_id
        })
        .collect();
    let health = order.iter().position(|id| id == "health").unwrap();
    let last_batch = order
        .iter()
        .rposition(|id| id.starts_with("blocks-"))
        .unwrap();
    // Today's single thread per peer answers strictly in order: the check comes last.
    assert!(
        health < last_batch,
        "the HEALTH_CHECK waited for every batch: {order:?}"
    );
}
