//! Connections over real TLS on 127.0.0.1: legacy-mode dialing and inbound handshakes with
//! dial-back, authentication, refusals, disconnection and expiry (spec 4, 11.1–11.4). Stream
//! mode has its own module, `stream`.
//!
//! The "remote" side of several tests is built here from the generated stubs and hand-built
//! handshakes, not from our peer code, so the server is checked by something else than our
//! own client.

use crate::support::chain::genesis_chain;
use crate::support::node::TestNode;
use crate::support::wire_peer::raw_client;
use crate::support::{free_port, LEGACY};
use aelf_net::crypto::NodeKey;
use aelf_net::grpc::metadata::call_option;
use aelf_net::network::handshake::{Authorization, HandshakeProvider};
use aelf_net::network::lifecycle::Removal;
use aelf_net::pb::network_types::{
    ConfirmHandshakeRequest, Handshake, HandshakeError, HandshakeRequest, NodesRequest,
};
use aelf_net::pb::peer_service::HealthCheckRequest;
use aelf_net::types::{handshake_hash, Clock, ManualClock, SystemClock};
use grpcio::RpcStatusCode;
use protobuf::MessageField;
use std::sync::Arc;
use std::time::Duration;

const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// Sends `handshake` with DoHandshake and returns the reply's error code.
fn do_handshake(node: &TestNode, as_key: &NodeKey, handshake: Handshake) -> HandshakeError {
    let request = HandshakeRequest {
        handshake: MessageField::some(handshake),
        ..Default::default()
    };
    raw_client(node)
        .do_handshake_opt(
            &request,
            call_option(&as_key.pubkey_hex(), None, CALL_TIMEOUT),
        )
        .expect("DoHandshake call")
        .error
        .enum_value_or_default()
}

#[test]
fn two_legacy_nodes_connect_and_both_see_a_ready_peer() {
    let a = TestNode::legacy();
    let b = TestNode::legacy();
    assert!(a
        .net()
        .connections()
        .connect(&b.endpoint())
        .expect("connect"));
    assert!(a.has_ready_peer(&b.key), "dialer sees the listener ready");
    // The listener marked the dialer connected before it answered ConfirmHandshake.
    assert!(b.has_ready_peer(&a.key), "listener sees the dialer ready");
    assert_eq!(a.peer_count(), 1);
    assert_eq!(b.peer_count(), 1);
    // Dialing again is refused by the pre-check: already in the pool.
    assert!(!a.net().connections().connect(&b.endpoint()).unwrap());
    // Both know each other in their node tables (what GetNodes serves).
    assert_eq!(a.net().connections().nodes().len(), 1);
    assert_eq!(b.net().connections().nodes().len(), 1);
}

#[test]
fn graceful_disconnect_removes_the_peer_on_both_sides() {
    let a = TestNode::legacy();
    let b = TestNode::legacy();
    assert!(a.net().connections().connect(&b.endpoint()).unwrap());
    assert!(a
        .net()
        .connections()
        .lifecycle()
        .remove_key(&b.key.pubkey_hex(), Removal::Operator));
    assert_eq!(a.peer_count(), 0);
    // Disconnect is answered only after the listener removed the peer.
    assert_eq!(b.peer_count(), 0);
}

#[test]
fn authenticated_calls_need_a_known_key_and_the_right_session() {
    let a = TestNode::legacy();
    let b = TestNode::legacy();
    assert!(a.net().connections().connect(&b.endpoint()).unwrap());
    let client = raw_client(&b);
    let health = |key: &str, session: Option<&[u8]>| {
        client
            .check_health_opt(
                &HealthCheckRequest::new(),
                call_option(key, session, CALL_TIMEOUT),
            )
            .map(drop)
            .map_err(|e| match e {
                grpcio::Error::RpcFailure(s) => s.code(),
                other => panic!("unexpected {other}"),
            })
    };
    let stranger = NodeKey::generate();
    assert_eq!(
        health(&stranger.pubkey_hex(), Some(&[1, 2, 3, 4, 5])),
        Err(RpcStatusCode::CANCELLED)
    );
    assert_eq!(
        health(&a.key.pubkey_hex(), Some(&[1, 2, 3, 4, 5])),
        Err(RpcStatusCode::CANCELLED)
    );
    assert_eq!(
        health(&a.key.pubkey_hex(), None),
        Err(RpcStatusCode::CANCELLED)
    );
    let session = b
        .net()
        .connections()
        .pool()
        .get(&a.key.pubkey_hex())
        .unwrap()
        .inbound_session_id()
        .to_vec();
    assert_eq!(health(&a.key.pubkey_hex(), Some(&session)), Ok(()));
    // Ping needs no session.
    client
        .ping_opt(
            &Default::default(),
            call_option(&stranger.pubkey_hex(), None, CALL_TIMEOUT),
        )
        .expect("ping");
    // GetNodes is authenticated and serves the node table.
    let nodes = client
        .get_nodes_opt(
            &NodesRequest {
                max_count: 10,
                ..Default::default()
            },
            call_option(&a.key.pubkey_hex(), Some(&session), CALL_TIMEOUT),
        )
        .expect("GetNodes");
    assert_eq!(nodes.nodes.len(), 1);
    assert_eq!(nodes.nodes[0].pubkey, a.key.pubkey().to_vec());
}

/// A hand-built handshake from `key` claiming `listening_port`, signed after `edit`.
fn handshake_from(
    key: &NodeKey,
    listening_port: u16,
    edit: impl FnOnce(&mut aelf_net::pb::network_types::HandshakeData),
) -> Handshake {
    let (chain, _dir) = genesis_chain();
    let provider = HandshakeProvider::new(
        key.clone(),
        chain,
        listening_port,
        "1.3.0.0".into(),
        Arc::new(SystemClock),
        Authorization::Any,
    );
    let mut h = provider.build();
    let data = h.handshake_data.as_mut().unwrap();
    edit(data);
    h.signature = key.sign(&handshake_hash(data)).to_vec();
    h
}

#[test]
fn inbound_handshake_refusals_carry_the_c_sharp_codes() {
    let b = TestNode::legacy();
    let dialer = TestNode::legacy();
    let key = dialer.key.clone();
    let port = dialer.port;
    assert_eq!(
        do_handshake(
            &b,
            &key,
            handshake_from(&key, port, |d| d.chain_id = 1866392)
        ),
        HandshakeError::CHAIN_MISMATCH
    );
    assert_eq!(
        do_handshake(&b, &key, handshake_from(&key, port, |d| d.version = 2)),
        HandshakeError::PROTOCOL_MISMATCH
    );
    let mut bad_signature = handshake_from(&key, port, |_| {});
    bad_signature.signature = NodeKey::generate()
        .sign(&handshake_hash(
            bad_signature.handshake_data.as_ref().unwrap(),
        ))
        .to_vec();
    assert_eq!(
        do_handshake(&b, &key, bad_signature),
        HandshakeError::WRONG_SIGNATURE
    );
    assert_eq!(
        do_handshake(
            &b,
            &key,
            handshake_from(&key, port, |d| {
                d.time = MessageField::some(aelf_net::types::timestamp_from_millis(
                    SystemClock.now_millis() - 60_000,
                ))
            })
        ),
        HandshakeError::SIGNATURE_TIMEOUT
    );
    assert_eq!(
        do_handshake(&b, &b.key, handshake_from(&b.key, b.port, |_| {})),
        HandshakeError::CONNECTION_REFUSED,
        "our own key"
    );
    // Nothing was admitted.
    assert_eq!(b.peer_count(), 0);
}

#[test]
fn failed_dial_back_is_invalid_connection_and_leaves_no_mark() {
    let b = TestNode::legacy();
    let key = NodeKey::generate();
    let closed = free_port();
    assert_eq!(
        do_handshake(&b, &key, handshake_from(&key, closed, |_| {})),
        HandshakeError::INVALID_CONNECTION
    );
    assert_eq!(b.peer_count(), 0);
    assert_eq!(
        b.net().connections().pool().handshaking_from("127.0.0.1"),
        0
    );
}

#[test]
fn a_second_handshake_for_a_connected_key_is_a_repeated_connection() {
    let a = TestNode::legacy();
    let b = TestNode::legacy();
    assert!(a.net().connections().connect(&b.endpoint()).unwrap());
    assert_eq!(
        do_handshake(&b, &a.key, handshake_from(&a.key, a.port, |_| {})),
        HandshakeError::REPEATED_CONNECTION
    );
    assert!(
        b.has_ready_peer(&a.key),
        "the first connection is untouched"
    );
}

#[test]
fn an_unconfirmed_inbound_peer_expires_after_ten_seconds() {
    let clock = ManualClock::new(SystemClock.now_millis());
    let b = TestNode::start_with(LEGACY, Arc::new(clock.clone()), Authorization::Any);
    let dialer = TestNode::legacy();
    // A handshake that is answered but never confirmed.
    assert_eq!(
        do_handshake(
            &b,
            &dialer.key,
            handshake_from(&dialer.key, dialer.port, |_| {})
        ),
        HandshakeError::HANDSHAKE_OK
    );
    let peer = b
        .net()
        .connections()
        .pool()
        .get(&dialer.key.pubkey_hex())
        .expect("in the pool");
    assert!(!peer.is_ready(), "not ready before ConfirmHandshake");
    assert_eq!(b.net().connections().lifecycle().purge_unconfirmed(), 0);
    clock.advance(10_001);
    assert_eq!(b.net().connections().lifecycle().purge_unconfirmed(), 1);
    assert_eq!(b.peer_count(), 0);
}

#[test]
fn confirm_handshake_makes_an_inbound_peer_ready() {
    let b = TestNode::legacy();
    let dialer = TestNode::legacy();
    let request = HandshakeRequest {
        handshake: MessageField::some(handshake_from(&dialer.key, dialer.port, |_| {})),
        ..Default::default()
    };
    let client = raw_client(&b);
    let reply = client
        .do_handshake_opt(
            &request,
            call_option(&dialer.key.pubkey_hex(), None, CALL_TIMEOUT),
        )
        .unwrap();
    assert_eq!(
        reply.error.enum_value_or_default(),
        HandshakeError::HANDSHAKE_OK
    );
    let session = reply.handshake.session_id.clone();
    assert_eq!(session.len(), 5);
    client
        .confirm_handshake_opt(
            &ConfirmHandshakeRequest::new(),
            call_option(&dialer.key.pubkey_hex(), Some(&session), CALL_TIMEOUT),
        )
        .expect("ConfirmHandshake");
    assert!(b.has_ready_peer(&dialer.key));
    // The reply handshake is B's own, valid for the dialer.
    assert!(dialer
        .handshakes
        .validate(reply.handshake.as_ref().unwrap())
        .is_ok());
}

#[test]
fn authorized_keys_mode_refuses_strangers() {
    let b = TestNode::start_with(
        LEGACY,
        Arc::new(SystemClock),
        Authorization::Only(Default::default()),
    );
    let a = TestNode::legacy();
    assert!(a.net().connections().connect(&b.endpoint()).is_err());
    assert_eq!(b.peer_count(), 0);
    b.handshakes
        .set_authorization(Authorization::Only([*a.key.pubkey()].into()));
    assert!(a.net().connections().connect(&b.endpoint()).unwrap());
}

#[test]
fn blacklisted_hosts_are_not_dialed_and_refused() {
    let a = TestNode::legacy();
    let b = TestNode::legacy();
    let now = SystemClock.now_millis();
    a.net()
        .connections()
        .pool()
        .blacklist()
        .add("127.0.0.1", 60_000, now);
    assert!(!a.net().connections().connect(&b.endpoint()).unwrap());
    b.net()
        .connections()
        .pool()
        .blacklist()
        .add("127.0.0.1", 60_000, now);
    let key = NodeKey::generate();
    let dialer = TestNode::legacy();
    assert_eq!(
        do_handshake(&b, &key, handshake_from(&key, dialer.port, |_| {})),
        HandshakeError::CONNECTION_REFUSED
    );
}
