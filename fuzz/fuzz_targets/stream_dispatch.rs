//! The stream-message dispatcher's pure parts on arbitrary stream messages: authentication
//! classification, naming, request-id parsing, the unauthenticated reply, and routing (replies
//! to the request registry, requests to a bounded inbox), then the payload decoded as the type
//! the message claims.
#![no_main]

use aelf_net::grpc::stream::dispatch::unauthenticated_reply;
use aelf_net::grpc::stream::link::route;
use aelf_net::grpc::stream::{needs_auth, request_latency_ms, type_name};
use aelf_net::pb::aelf_core::Transaction;
use aelf_net::pb::network_types::{
    BlockAnnouncement, BlockRequest, BlockWithTransactions, BlocksRequest, DisconnectReason,
    LibAnnouncement, NodesRequest,
};
use aelf_net::pb::peer_service::{MessageType, StreamMessage};
use libfuzzer_sys::fuzz_target;
use protobuf::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = StreamMessage::parse_from_bytes(data) else {
        return;
    };
    let _ = needs_auth(&message);
    let _ = type_name(&message);
    let _ = request_latency_ms(&message.request_id);
    let _ = unauthenticated_reply(&message);
    let body = message.message.clone();
    match message.message_type.enum_value() {
        Ok(MessageType::REQUEST_BLOCK) => drop(BlockRequest::parse_from_bytes(&body)),
        Ok(MessageType::REQUEST_BLOCKS) => drop(BlocksRequest::parse_from_bytes(&body)),
        Ok(MessageType::BLOCK_BROADCAST) => drop(BlockWithTransactions::parse_from_bytes(&body)),
        Ok(MessageType::TRANSACTION_BROADCAST) => drop(Transaction::parse_from_bytes(&body)),
        Ok(MessageType::ANNOUNCEMENT_BROADCAST) => drop(BlockAnnouncement::parse_from_bytes(&body)),
        Ok(MessageType::LIB_ANNOUNCEMENT_BROADCAST) => {
            drop(LibAnnouncement::parse_from_bytes(&body))
        }
        Ok(MessageType::GET_NODES) => drop(NodesRequest::parse_from_bytes(&body)),
        Ok(MessageType::DISCONNECT) => drop(DisconnectReason::parse_from_bytes(&body)),
        _ => {}
    }
    let (inbox, requests) = crossbeam_channel::bounded(4);
    route("fuzz", message, &inbox);
    while requests.try_recv().is_ok() {}
});
