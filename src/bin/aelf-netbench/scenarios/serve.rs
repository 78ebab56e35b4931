//! The serve scenario: one stream peer keeps several 50-block REQUEST_BLOCKS in flight to a
//! node while it sends HEALTH_CHECKs on the same `RequestByStream` call, one after another
//! (at least 10 ms apart);
//! the health-check reply latency (p50, p99) is what the C# side's 2-3 s timeouts would see.
//!
//! Owns its chain of bulky blocks and the raw stream client (the generated stubs, not our peer
//! code). It must not touch the other scenarios.

use super::{channel, start_node, Scratch};
use crate::report::{Report, Row};
use crate::sink::genesis_chain;
use crate::Sizes;
use aelf_net::chain::{build_block, Chain, EmbeddedChain, SYNTHETIC_METHOD};
use aelf_net::config::Config;
use aelf_net::crypto::NodeKey;
use aelf_net::network::handshake::{Authorization, HandshakeProvider};
use aelf_net::pb::aelf_core::Transaction;
use aelf_net::pb::network_types::{
    BlockList, BlocksRequest, ConfirmHandshakeRequest, HandshakeReply, HandshakeRequest,
};
use aelf_net::pb::peer_service::{HealthCheckRequest, MessageType, StreamMessage, StreamType};
use aelf_net::pb::peer_service_grpc::PeerServiceClient;
use aelf_net::types::{Address, Hash, SystemClock};
use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError};
use futures_util::SinkExt as _;
use grpcio::{CallOption, ClientDuplexSender, EnvBuilder, MetadataBuilder, WriteFlags};
use protobuf::{EnumOrUnknown, Message, MessageField};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Blocks per REQUEST_BLOCKS (the C# limit) and blocks in the chain.
const BATCH: i32 = 50;
/// Transactions per block and params bytes per transaction: ~50 KB blocks, ~2.5 MB batches.
const TXS_PER_BLOCK: usize = 100;
const PARAM_BYTES: usize = 500;
/// REQUEST_BLOCKS the client keeps in flight.
const IN_FLIGHT: usize = 4;
/// Health checks are sent this far apart at least (the next goes when the last is answered).
const CHECK_INTERVAL: Duration = Duration::from_millis(10);
/// No single reply is waited for longer than this.
const REPLY_DEADLINE: Duration = Duration::from_secs(60);

/// Builds, in `dir`, a chain of `BATCH` bulky blocks after genesis; the genesis hash.
fn build_chain(dir: &Path) -> Result<Hash, String> {
    let chain =
        EmbeddedChain::open(dir, Config::default().chain_settings()).map_err(|e| e.to_string())?;
    let key = NodeKey::generate();
    let from = key.address().to_proto();
    let to = Address::from_pubkey(b"serve scenario").to_proto();
    let genesis = chain.best_chain().hash;
    let start_ms = aelf_net::types::Clock::now_millis(&SystemClock) - 1_000_000;
    for b in 0..BATCH as usize {
        let tip = chain.best_chain();
        let txs = (0..TXS_PER_BLOCK)
            .map(|i| Transaction {
                from: MessageField::some(from.clone()),
                to: MessageField::some(to.clone()),
                ref_block_number: tip.height,
                method_name: SYNTHETIC_METHOD.to_owned(),
                params: [
                    (b * TXS_PER_BLOCK + i).to_be_bytes().to_vec(),
                    vec![7; PARAM_BYTES],
                ]
                .concat(),
                ..Default::default()
            })
            .collect();
        let block = build_block(&chain, start_ms, txs).map_err(|e| e.to_string())?;
        chain.attach_block(block).map_err(|e| e.to_string())?;
    }
    chain.close();
    Ok(genesis)
}

/// A raw `RequestByStream` call: the write half, and what arrives with its arrival time.
struct RawStream {
    sink: ClientDuplexSender<StreamMessage>,
    received: Receiver<(Instant, StreamMessage)>,
    key: NodeKey,
    session: Option<String>,
    next_id: u64,
    _client: PeerServiceClient,
}

impl RawStream {
    fn open(port: u16) -> Result<RawStream, String> {
        let env = Arc::new(EnvBuilder::new().cq_count(1).name_prefix("serve").build());
        let client = PeerServiceClient::new(channel(&env, port)?);
        let key = NodeKey::generate();
        let mut md = MetadataBuilder::new();
        md.add_str("public-key", &key.pubkey_hex())
            .map_err(|e| e.to_string())?;
        let (sink, replies) = client
            .request_by_stream_opt(CallOption::default().headers(md.build()))
            .map_err(|e| e.to_string())?;
        let (tx, received) = unbounded();
        aelf_net::thread::spawn("serve-reader", move || {
            for message in futures_executor::block_on_stream(replies) {
                match message {
                    Ok(m) => {
                        if tx.send((Instant::now(), m)).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        Ok(RawStream {
            sink,
            received,
            key,
            session: None,
            next_id: 0,
            _client: client,
        })
    }

    /// Sends a `t` request; its id.
    fn request(
        &mut self,
        t: MessageType,
        payload: &dyn protobuf::MessageDyn,
    ) -> Result<String, String> {
        self.next_id += 1;
        let id = format!("{t:?}-{}", self.next_id);
        let mut meta = HashMap::from([("public-key".to_owned(), self.key.pubkey_hex())]);
        if let Some(session) = &self.session {
            meta.insert("session-id-bin".to_owned(), session.clone());
        }
        let message = StreamMessage {
            stream_type: EnumOrUnknown::new(StreamType::REQUEST),
            message_type: EnumOrUnknown::new(t),
            request_id: id.clone(),
            message: payload.write_to_bytes_dyn().map_err(|e| e.to_string())?,
            meta,
            ..Default::default()
        };
        futures_executor::block_on(self.sink.send((message, WriteFlags::default())))
            .map_err(|e| format!("write: {e}"))?;
        Ok(id)
    }

    /// Answers a request from the node with an empty payload.
    fn reply(&mut self, request: &StreamMessage) -> Result<(), String> {
        let message = StreamMessage {
            stream_type: EnumOrUnknown::new(StreamType::REPLY),
            message_type: request.message_type,
            request_id: request.request_id.clone(),
            ..Default::default()
        };
        futures_executor::block_on(self.sink.send((message, WriteFlags::default())))
            .map_err(|e| format!("write: {e}"))
    }

    fn next(&self) -> Result<(Instant, StreamMessage), String> {
        self.received
            .recv_timeout(REPLY_DEADLINE)
            .map_err(|_| "no reply from the node".to_owned())
    }

    /// HAND_SHAKE and CONFIRM_HAND_SHAKE; from then on requests carry the session.
    fn connect(&mut self, port: u16) -> Result<(), String> {
        let dir = Scratch::new("serve-client")?;
        let chain = genesis_chain(&dir.0)?;
        let provider = HandshakeProvider::new(
            self.key.clone(),
            chain,
            port,
            "1.9.0.0".into(),
            Arc::new(SystemClock),
            Authorization::Any,
        );
        let request = HandshakeRequest {
            handshake: MessageField::some(provider.build()),
            ..Default::default()
        };
        self.request(MessageType::HAND_SHAKE, &request)?;
        let reply =
            HandshakeReply::parse_from_bytes(&self.next()?.1.message).map_err(|e| e.to_string())?;
        let handshake = reply.handshake.into_option().ok_or("handshake refused")?;
        self.session = Some(hex::encode(&handshake.session_id));
        self.request(
            MessageType::CONFIRM_HAND_SHAKE,
            &ConfirmHandshakeRequest::new(),
        )?;
        self.next()?;
        Ok(())
    }
}

/// The block requests kept in flight, and what they brought.
struct Load {
    request: BlocksRequest,
    batches: usize,
    bytes: usize,
    /// The size of a full batch, once one came.
    batch_bytes: usize,
}

impl Load {
    /// Handles what is not the awaited health-check reply: a batch is checked and asked for
    /// again (the same number stays in flight); a request from the node (its own health
    /// check of us) is answered.
    fn other(&mut self, raw: &mut RawStream, message: StreamMessage) -> Result<(), String> {
        if message.stream_type.enum_value() == Ok(StreamType::REQUEST) {
            // An empty payload is a HealthCheckReply, a PongReply, a VoidReply.
            return raw.reply(&message);
        }
        if message.message_type.enum_value() != Ok(MessageType::REQUEST_BLOCKS) {
            return Ok(());
        }
        // Every batch is the same request's answer: the first is decoded and checked, the
        // others must have its size (the client's decoding would compete with the node).
        if self.batch_bytes == 0 {
            let list = BlockList::parse_from_bytes(&message.message).map_err(|e| e.to_string())?;
            if list.blocks.len() != BATCH as usize {
                return Err(format!(
                    "a batch came back with {} blocks ({:?})",
                    list.blocks.len(),
                    message.meta
                ));
            }
            self.batch_bytes = message.message.len();
        } else if message.message.len() != self.batch_bytes {
            return Err(format!("a batch came back different ({:?})", message.meta));
        }
        self.batches += 1;
        self.bytes += message.message.len();
        raw.request(MessageType::REQUEST_BLOCKS, &self.request)
            .map(drop)
    }
}

/// Runs the scenario: one row.
pub fn run(sizes: &Sizes, report: &mut Report) -> Result<(), String> {
    let dir = Scratch::new("serve-node")?;
    let genesis = build_chain(&dir.0)?;
    let node = start_node(&dir.0, "1.9.0.0", |_| {})?;
    let port = node.config().network.listening_port;
    let mut raw = RawStream::open(port)?;
    raw.connect(port)?;
    let request = BlocksRequest {
        previous_block_hash: MessageField::some(genesis.to_proto()),
        count: BATCH,
        ..Default::default()
    };
    let started = Instant::now();
    for _ in 0..IN_FLIGHT {
        raw.request(MessageType::REQUEST_BLOCKS, &request)?;
    }
    let mut load = Load {
        request,
        batches: 0,
        bytes: 0,
        batch_bytes: 0,
    };
    let mut latencies = Vec::new();
    for _ in 0..sizes.serve_checks.max(1) {
        let sent = Instant::now();
        let id = raw.request(MessageType::HEALTH_CHECK, &HealthCheckRequest::new())?;
        loop {
            let (at, reply) = raw.next()?;
            if reply.request_id == id {
                latencies.push(at.duration_since(sent).as_secs_f64() * 1e3);
                break;
            }
            load.other(&mut raw, reply)?;
        }
        // One check per CHECK_INTERVAL at most; the batches keep coming meanwhile.
        let until = sent + CHECK_INTERVAL;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match raw.received.recv_timeout(left) {
                Ok((_, reply)) => load.other(&mut raw, reply)?,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return Err("the stream ended".into()),
            }
        }
    }
    let (batches, bytes) = (load.batches, load.bytes);
    let elapsed = started.elapsed();
    drop(raw);
    node.shutdown();
    latencies.sort_by(f64::total_cmp);
    let p50 = super::percentile(&latencies, 50.0);
    let p99 = super::percentile(&latencies, 99.0);
    report.add(Row {
        scenario: "serve",
        case: format!(
            "{} health checks, {IN_FLIGHT} × {BATCH}-block requests in flight",
            latencies.len()
        ),
        figures: vec![
            ("health_p50_ms", p50),
            ("health_p99_ms", p99),
            ("batches_per_s", batches as f64 / elapsed.as_secs_f64()),
            ("mb_per_s", bytes as f64 / 1e6 / elapsed.as_secs_f64()),
        ],
        note: format!("health-check reply p99 {p99:.1} ms on the busy stream (goal: under 50 ms)"),
    });
    Ok(())
}
