//! The four broadcast-stream handlers over real connections (spec 11.8): a hand-written legacy
//! peer streams blocks, announcements, transactions and LIB announcements to an in-process
//! node, and the test reads what the node hands up to the OS layer and what it now knows
//! about the peer.

use crate::support::chain::unchecked_block;
use crate::support::node::TestNode;
use crate::support::wait::DEADLINE;
use crate::support::wire_peer::{headers, stream_all, WirePeer};
use aelf_net::chain::{synthetic_transactions, Chain, ChainTip};
use aelf_net::crypto::NodeKey;
use aelf_net::network::inbound::NetworkEvent;
use aelf_net::network::peer::Peer;
use aelf_net::pb::network_types::{BlockAnnouncement, LibAnnouncement};
use aelf_net::types::{block_hash, transaction_id, Clock, Hash, SystemClock};
use crossbeam_channel::Receiver;
use grpcio::RpcStatusCode;
use protobuf::MessageField;
use std::sync::Arc;

/// The next event on `queue` about a received item (connection events are skipped).
fn next(queue: &Receiver<NetworkEvent>) -> NetworkEvent {
    loop {
        match queue.recv_timeout(DEADLINE).expect("an event") {
            NetworkEvent::PeerConnected { .. } | NetworkEvent::NetworkInitialized => {}
            event => return event,
        }
    }
}

struct Setup {
    node: TestNode,
    wire: WirePeer,
    client: aelf_net::pb::peer_service_grpc::PeerServiceClient,
    session: Vec<u8>,
}

fn setup() -> Setup {
    let node = TestNode::legacy();
    let wire = WirePeer::start(false);
    let (client, session) = wire.connect(node.port);
    Setup {
        node,
        wire,
        client,
        session,
    }
}

impl Setup {
    fn opt(&self) -> grpcio::CallOption {
        headers(&self.wire.key.pubkey_hex(), Some(&self.session))
    }

    fn peer(&self) -> Arc<dyn Peer> {
        self.node
            .net()
            .connections()
            .pool()
            .get(&self.wire.key.pubkey_hex())
            .expect("the wire peer is in the pool")
    }
}

#[test]
fn blocks_are_handed_up_once_and_mark_the_sender_synced() {
    let s = setup();
    assert!(!s.peer().knowledge().is_sync_finished());
    let key = NodeKey::generate();
    let now = SystemClock.now_millis();
    let (tip, id) = (s.node.chain.best_chain(), s.node.chain.chain_id());
    let first = unchecked_block(&tip, id, &key, now, Vec::new());
    let second = unchecked_block(&tip, id, &key, now + 1, Vec::new());
    let hash = block_hash(first.header.as_ref().unwrap()).unwrap();
    let call = s.client.block_broadcast_stream_opt(s.opt()).unwrap();
    let ended = stream_all(call, vec![first.clone(), first, second]);
    assert!(ended.is_ok(), "{ended:?}");
    let events: Vec<Hash> = (0..2)
        .map(|_| match next(&s.node.events.blocks) {
            NetworkEvent::BlockReceived { hash, sender, .. } => {
                assert_eq!(sender, s.wire.key.pubkey_hex());
                hash
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(events[0], hash);
    assert_ne!(
        events[1], hash,
        "the repeated block was not handed up again"
    );
    assert!(s.peer().knowledge().knows_block(&hash));
    assert!(s.peer().knowledge().is_sync_finished());
    s.wire.stop();
}

#[test]
fn streams_from_strangers_end_cancelled() {
    let s = setup();
    let stranger = NodeKey::generate();
    let call = s
        .client
        .announcement_broadcast_stream_opt(headers(&stranger.pubkey_hex(), Some(&s.session)))
        .unwrap();
    assert_eq!(
        stream_all(call, vec![BlockAnnouncement::new()]),
        Err(RpcStatusCode::CANCELLED)
    );
    s.wire.stop();
}

#[test]
fn announcements_without_a_hash_are_ignored_and_repeats_dropped() {
    let s = setup();
    let hash = Hash([4; 32]);
    let announcement = |h: Hash, height: i64| BlockAnnouncement {
        block_hash: MessageField::some(h.to_proto()),
        block_height: height,
        ..Default::default()
    };
    let call = s.client.announcement_broadcast_stream_opt(s.opt()).unwrap();
    let items = vec![
        BlockAnnouncement::new(),
        announcement(hash, 9),
        announcement(hash, 9),
        announcement(Hash([5; 32]), 10),
    ];
    assert!(stream_all(call, items).is_ok());
    let mut got = Vec::new();
    for _ in 0..2 {
        match next(&s.node.events.other) {
            NetworkEvent::AnnouncementReceived { hash, height, .. } => got.push((hash, height)),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, vec![(hash, 9), (Hash([5; 32]), 10)]);
    assert!(s.peer().knowledge().knows_block(&hash));
    assert!(s.peer().knowledge().is_sync_finished());
    s.wire.stop();
}

#[test]
fn transactions_far_ahead_are_dropped_unmarked_and_repeats_once() {
    let s = setup();
    let key = NodeKey::generate();
    let best = s.node.chain.best_chain();
    let far = ChainTip {
        hash: best.hash,
        height: best.height + 512 + 1,
    };
    let too_far = synthetic_transactions(&key, &far, 1, 0).remove(0);
    let good = synthetic_transactions(&key, &best, 2, 10);
    let far_id = transaction_id(&too_far).unwrap();
    let good_id = transaction_id(&good[0]).unwrap();
    let call = s.client.transaction_broadcast_stream_opt(s.opt()).unwrap();
    let items = vec![too_far, good[0].clone(), good[0].clone(), good[1].clone()];
    assert!(stream_all(call, items).is_ok());
    let ids: Vec<Hash> = (0..2)
        .map(|_| match next(&s.node.events.other) {
            NetworkEvent::TransactionReceived { id, .. } => id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids[0], good_id);
    assert_eq!(ids[1], transaction_id(&good[1]).unwrap());
    assert!(s.peer().knowledge().knows_transaction(&good_id));
    assert!(!s.peer().knowledge().knows_transaction(&far_id));
    s.wire.stop();
}

#[test]
fn lib_announcements_raise_the_peers_lib() {
    let s = setup();
    let lib = |height: i64| LibAnnouncement {
        lib_hash: MessageField::some(Hash([height as u8; 32]).to_proto()),
        lib_height: height,
        ..Default::default()
    };
    let call = s
        .client
        .lib_announcement_broadcast_stream_opt(s.opt())
        .unwrap();
    let items = vec![
        LibAnnouncement::new(),
        lib(100),
        lib(101),
        lib(103),
        lib(102),
    ];
    assert!(stream_all(call, items).is_ok());
    let state = s.peer().knowledge().chain_state();
    assert_eq!((state.lib_height, state.lib_hash), (103, Hash([103; 32])));
    assert!(s.peer().knowledge().is_sync_finished());
    s.wire.stop();
}
