//! Every protobuf message the node decodes from the network: the first byte picks the type,
//! the rest is decoded; whatever decodes is encoded again and must decode to the same message.
#![no_main]

use aelf_net::pb::aelf_core::Transaction;
use aelf_net::pb::network_types::{
    BlockAnnouncement, BlockList, BlockReply, BlockRequest, BlockWithTransactions, BlocksRequest,
    ConfirmHandshakeRequest, DisconnectReason, HandshakeReply, HandshakeRequest, LibAnnouncement,
    NodeList, NodesRequest,
};
use aelf_net::pb::peer_service::{HealthCheckRequest, PingRequest, StreamMessage, VoidReply};
use libfuzzer_sys::fuzz_target;
use protobuf::Message;

fn round_trip<M: Message + PartialEq>(bytes: &[u8]) {
    if let Ok(message) = M::parse_from_bytes(bytes) {
        let again = message.write_to_bytes().expect("a decoded message encodes");
        assert!(M::parse_from_bytes(&again).expect("re-decodes") == message);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    match kind % 17 {
        0 => round_trip::<HandshakeRequest>(bytes),
        1 => round_trip::<HandshakeReply>(bytes),
        2 => round_trip::<BlockWithTransactions>(bytes),
        3 => round_trip::<Transaction>(bytes),
        4 => round_trip::<BlockAnnouncement>(bytes),
        5 => round_trip::<LibAnnouncement>(bytes),
        6 => round_trip::<BlocksRequest>(bytes),
        7 => round_trip::<BlockList>(bytes),
        8 => round_trip::<BlockRequest>(bytes),
        9 => round_trip::<BlockReply>(bytes),
        10 => round_trip::<NodesRequest>(bytes),
        11 => round_trip::<NodeList>(bytes),
        12 => round_trip::<DisconnectReason>(bytes),
        13 => round_trip::<ConfirmHandshakeRequest>(bytes),
        14 => round_trip::<StreamMessage>(bytes),
        15 => round_trip::<PingRequest>(bytes),
        _ => {
            round_trip::<HealthCheckRequest>(bytes);
            round_trip::<VoidReply>(bytes);
        }
    }
});
