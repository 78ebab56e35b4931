//! One node of a crawl: certificate pre-fetch, `DoHandshake` (then, with a node that streams,
//! the stream's HAND_SHAKE), `GetNodes` and a `Disconnect`, all within one time budget; the
//! outcome is a [`NodeReport`].
//!
//! Owns the crawler's own handshakes (signed with the crawl's throw-away key, announcing no
//! chain and [`CRAWLER_NODE_VERSION`]) and the checks on the remote's replies. The mode is the
//! C# dialer's rule (spec 4.2 step 8): a node that answers with a version of at least 1.4.0.0
//! took the stream path (no dial-back, no state until the stream HAND_SHAKE, after which its
//! back peer for us takes unary calls with the stream session); an older one took the legacy
//! path and dialed the crawler back before answering. It never confirms a handshake, so the
//! remote never counts the crawler as a connected peer (no PeerConnected event, no entry in its
//! node table, nothing broadcast to it), and the unconfirmed peer it keeps is removed by the
//! goodbye (or by the remote's 10 s purge if the goodbye is lost). Nothing here may panic on
//! what a remote sends.

use super::{Neighbour, NodeReport, Status};
use crate::crypto::{verify, NodeKey};
use crate::grpc::channel::{pinned_channel, DEFAULT_MAX_MESSAGE_LENGTH};
use crate::grpc::client::PeerClient;
use crate::grpc::metadata::{
    CallPolicy, PEER_INFO_METADATA_KEY, PUBKEY_METADATA_KEY, SESSION_ID_METADATA_KEY,
};
use crate::grpc::stream::link::{open_client, Link};
use crate::grpc::stream::request::request;
use crate::grpc::stream::{peer_info, RETRY_COUNT_META_KEY};
use crate::grpc::tls::{fetch_certificate, TlsError};
use crate::network::endpoint::Endpoint;
use crate::network::handshake::{sign_handshake, PROTOCOL_VERSION};
use crate::pb::network_types::{
    Handshake, HandshakeData, HandshakeError, HandshakeReply, HandshakeRequest,
};
use crate::pb::peer_service::{MessageType, StreamMessage};
use crate::types::{
    chain_id_to_name, handshake_hash, timestamp_from_millis, Clock, Hash, NodeVersion,
};
use crossbeam_channel::Receiver;
use grpcio::Environment;
use protobuf::{Message, MessageField};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The `node_version` the crawler announces: the stream minimum (C#
/// `KernelConstants.SupportStreamMinVersion`). A node of at least that version answers the
/// unary handshake without dialing back (the C# node decides on the initiator's version alone,
/// `ConnectionService.DoHandshakeAsync`), so the crawler needs no reachable port for it; an
/// older node takes the legacy path and dials the crawler back first.
pub const CRAWLER_NODE_VERSION: &str = "1.4.0.0";

/// `Disconnect` per attempt once the node's budget is spent: a short last try at a goodbye.
const LAST_GOODBYE_TIMEOUT: Duration = Duration::from_millis(500);

/// How long closing our end of a stream waits for the remote to end its own.
const STREAM_CLOSE_GRACE: Duration = Duration::from_millis(1000);

/// Most nodes one `GetNodes` answer holds (C# `DefaultDiscoveryMaxNodesToResponse`).
pub const GET_NODES_MAX: i32 = 10;

/// `GetNodes` calls per node: each answer is a random pick of at most 10 known nodes, so a
/// full answer is followed by another, up to this many.
pub const GET_NODES_ROUNDS: usize = 3;

/// `GetNodes` per attempt: 2000 ms (C# `GetNodesTimeout`), one retry.
const GET_NODES_TIMEOUT: Duration = Duration::from_millis(2000);

/// `Disconnect` per attempt. The C# client leaves it at the interceptor's 200 ms; the crawler
/// waits longer so that its goodbye is not lost on a busy remote.
const DISCONNECT_TIMEOUT: Duration = Duration::from_millis(2000);

/// Certificate pre-fetch budget, 3000 ms (C# `DefaultSslCertifFetchTimeout`), within the
/// node's budget.
const CERTIFICATE_TIMEOUT: Duration = Duration::from_millis(3000);

/// Probes single nodes as one crawler identity. Shared by the crawl's worker threads.
pub struct Prober {
    /// The crawl's throw-away identity; its public key is sent on every call.
    pub(super) key: NodeKey,
    /// The completion queues of every channel the crawl opens.
    pub(super) env: Arc<Environment>,
    /// The chain id the crawler claims; a remote on another chain answers CHAIN_MISMATCH.
    pub(super) chain_id: i32,
    /// Where the dial-back listener takes the remote's `Ping`.
    pub(super) listening_port: u16,
    /// Whole budget of one node, from the certificate fetch to the goodbye.
    pub(super) node_timeout: Duration,
    pub(super) clock: Arc<dyn Clock>,
}

/// Why a probe stopped before the node answered.
struct Stop(Status, String);

impl Prober {
    /// Probes `endpoint`; never fails, the outcome is in the report.
    pub fn probe(&self, endpoint: &Endpoint) -> NodeReport {
        let started = Instant::now();
        let mut report = NodeReport::new(endpoint.to_string(), Status::Failed);
        if let Err(Stop(status, reason)) = self.run(endpoint, started, &mut report) {
            report.status = status;
            report.reason = Some(reason);
        }
        report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        report
    }

    fn run(
        &self,
        endpoint: &Endpoint,
        started: Instant,
        report: &mut NodeReport,
    ) -> Result<(), Stop> {
        let deadline = started + self.node_timeout;
        let left = |cap: Duration| -> Result<Duration, Stop> {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Stop(
                    Status::Failed,
                    format!("no answer within {:?}", self.node_timeout),
                ));
            }
            Ok(left.min(cap))
        };

        let pem = fetch_certificate(&endpoint.host, endpoint.port, left(CERTIFICATE_TIMEOUT)?)
            .map_err(classify_tls)?;
        let channel = pinned_channel(
            self.env.clone(),
            &endpoint.host,
            endpoint.port,
            &pem,
            DEFAULT_MAX_MESSAGE_LENGTH,
        );
        let client = PeerClient::new(channel, self.key.pubkey_hex());

        let ours = self.handshake();
        let policy = CallPolicy {
            timeout: left(self.node_timeout)?,
            retries: 0,
        };
        let reply = client
            .do_handshake(&ours, policy)
            .map_err(|e| Stop(Status::Failed, format!("DoHandshake failed: {e}")))?;
        let code = reply.error.enum_value_or_default();
        if code == HandshakeError::INVALID_CONNECTION {
            return Err(Stop(
                Status::Refused,
                format!("{code:?} (usually: it could not dial the crawler back; is the crawl's listen address reachable from it?)"),
            ));
        }
        if code != HandshakeError::HANDSHAKE_OK {
            return Err(Stop(Status::Refused, format!("{code:?}")));
        }
        let theirs = reply
            .handshake
            .as_ref()
            .ok_or_else(|| Stop(Status::Failed, "the handshake reply is empty".into()))?;
        let data = self.check_reply(theirs)?;
        report.pubkey = Some(hex::encode(&data.pubkey));
        report.node_version = Some(data.node_version.clone());
        report.chain_id =
            Some(chain_id_to_name(data.chain_id).unwrap_or_else(|| data.chain_id.to_string()));
        report.best_height = Some(data.best_chain_height);
        report.best_hash = data.best_chain_hash.as_ref().map(|h| hex::encode(&h.value));
        report.lib_height = Some(data.last_irreversible_block_height);
        report.lib_hash = data
            .last_irreversible_block_hash
            .as_ref()
            .map(|h| hex::encode(&h.value));

        // Authenticated calls present the session id the remote put in its (last) reply.
        let streams = NodeVersion::parse(&data.node_version)
            .is_ok_and(|v| NodeVersion::parse(CRAWLER_NODE_VERSION).is_ok_and(|m| v.at_least(&m)));
        let (session, stream) = if streams {
            let (session, link, inbox) = self.open_stream(&client, endpoint, theirs, data)?;
            (session, Some((link, inbox)))
        } else {
            (theirs.session_id.clone(), None)
        };
        report.mode = Some(if streams { "stream" } else { "legacy" }.to_owned());
        report.status = Status::Answered;
        self.neighbours_and_goodbye(&client, endpoint, &session, report, &left);
        if let Some((link, _inbox)) = stream {
            link.close(STREAM_CLOSE_GRACE);
        }
        Ok(())
    }

    /// `GetNodes` (up to [`GET_NODES_ROUNDS`] times) and `Disconnect`, with `session`. The
    /// node answered already: a failure here only leaves its neighbours partial (and says
    /// why), and the goodbye is tried even when the node's budget is spent.
    fn neighbours_and_goodbye(
        &self,
        client: &PeerClient,
        endpoint: &Endpoint,
        session: &[u8],
        report: &mut NodeReport,
        left: &dyn Fn(Duration) -> Result<Duration, Stop>,
    ) {
        let mut neighbours = BTreeMap::new();
        for _ in 0..GET_NODES_ROUNDS {
            let Ok(timeout) = left(GET_NODES_TIMEOUT) else {
                report.neighbours_error = Some(format!(
                    "GetNodes: no time left within {:?}",
                    self.node_timeout
                ));
                break;
            };
            let policy = CallPolicy {
                timeout,
                retries: 1,
            };
            match client.get_nodes(session, GET_NODES_MAX, policy) {
                Ok(list) => {
                    let full = list.nodes.len() >= GET_NODES_MAX as usize;
                    let before = neighbours.len();
                    for node in list.nodes {
                        neighbours.insert(node.endpoint.clone(), hex::encode(&node.pubkey));
                    }
                    // A short answer is the whole table; a full one that taught us nothing
                    // new is unlikely to be followed by one that does.
                    if !full || neighbours.len() == before {
                        break;
                    }
                }
                Err(e) => {
                    report.neighbours_error = Some(format!("GetNodes failed: {e}"));
                    break;
                }
            }
        }
        report.neighbours = neighbours
            .into_iter()
            .map(|(endpoint, pubkey)| Neighbour { endpoint, pubkey })
            .collect();

        let policy = CallPolicy {
            timeout: left(DISCONNECT_TIMEOUT).unwrap_or(LAST_GOODBYE_TIMEOUT),
            retries: 1,
        };
        match client.disconnect(session, policy) {
            Ok(()) => report.goodbye = true,
            Err(e) => log::debug!("goodbye to {endpoint} failed: {e}"),
        }
    }

    /// Opens `RequestByStream` and exchanges a fresh handshake over it, as the C# dialer does
    /// (spec 7.3); no CONFIRM_HAND_SHAKE follows. Returns the session of the remote's stream
    /// reply, which its back peer for us expects on every authenticated call, the open link
    /// (closed by the caller after the goodbye) and its inbox (held until then; nothing is
    /// expected in it).
    fn open_stream(
        &self,
        client: &PeerClient,
        endpoint: &Endpoint,
        unary: &Handshake,
        unary_data: &HandshakeData,
    ) -> Result<(Vec<u8>, Link, Receiver<StreamMessage>), Stop> {
        let failed = |what: String| Stop(Status::Failed, what);
        let own = self.key.pubkey_hex();
        let (link, inbox) = open_client(client.channel(), &own, format!("crawl {endpoint}"))
            .map_err(|e| failed(format!("RequestByStream failed: {e}")))?;
        let result = (|| {
            let meta = HashMap::from([
                (PUBKEY_METADATA_KEY.to_owned(), own.clone()),
                (
                    PEER_INFO_METADATA_KEY.to_owned(),
                    peer_info(&hex::encode(&unary_data.pubkey)),
                ),
                (
                    SESSION_ID_METADATA_KEY.to_owned(),
                    hex::encode(&unary.session_id),
                ),
            ]);
            let payload = HandshakeRequest {
                handshake: MessageField::some(self.handshake()),
                ..Default::default()
            }
            .write_to_bytes()
            .map_err(|e| failed(format!("cannot encode the stream handshake: {e}")))?;
            // The default wait (3000 ms), one attempt: as the C# dialer.
            let reply = request(
                &link,
                &meta,
                MessageType::HAND_SHAKE,
                payload,
                None,
                &[(RETRY_COUNT_META_KEY, "0".to_owned())],
            )
            .map_err(|e| failed(format!("stream handshake failed: {e}")))?;
            let reply = HandshakeReply::parse_from_bytes(&reply.message)
                .map_err(|e| failed(format!("invalid stream handshake reply: {e}")))?;
            let code = reply.error.enum_value_or_default();
            if code != HandshakeError::HANDSHAKE_OK {
                return Err(Stop(
                    Status::Refused,
                    format!("{code:?} (stream handshake)"),
                ));
            }
            let theirs = reply
                .handshake
                .as_ref()
                .ok_or_else(|| failed("the stream handshake reply is empty".into()))?;
            let data = self.check_reply(theirs)?;
            if data.pubkey != unary_data.pubkey {
                return Err(failed(
                    "the stream handshake comes from another key than the unary one".into(),
                ));
            }
            Ok(theirs.session_id.clone())
        })();
        match result {
            Ok(session) => Ok((session, link, inbox)),
            Err(stop) => {
                link.close(STREAM_CLOSE_GRACE);
                Err(stop)
            }
        }
    }

    /// Our handshake: signed, fresh, with the crawl's chain id and listening port, and no chain
    /// of our own (height 0, zero hashes).
    fn handshake(&self) -> Handshake {
        let zero = Hash([0; 32]).to_proto();
        let data = HandshakeData {
            chain_id: self.chain_id,
            version: PROTOCOL_VERSION,
            listening_port: i32::from(self.listening_port),
            pubkey: self.key.pubkey().to_vec(),
            best_chain_hash: MessageField::some(zero.clone()),
            best_chain_height: 0,
            last_irreversible_block_hash: MessageField::some(zero),
            last_irreversible_block_height: 0,
            time: MessageField::some(timestamp_from_millis(self.clock.now_millis())),
            node_version: CRAWLER_NODE_VERSION.to_owned(),
            ..Default::default()
        };
        sign_handshake(&self.key, data)
    }

    /// The reply's data, once its signature matches its key and the key is not ours. Its chain
    /// id and age are reported, not judged: a crawler observes.
    fn check_reply<'a>(&self, theirs: &'a Handshake) -> Result<&'a HandshakeData, Stop> {
        let invalid = |why: &str| Stop(Status::Failed, format!("invalid handshake reply: {why}"));
        let data = theirs
            .handshake_data
            .as_ref()
            .ok_or_else(|| invalid("no data"))?;
        verify(&handshake_hash(data), &theirs.signature, &data.pubkey)
            .map_err(|_| invalid("the signature does not match its public key"))?;
        if data.pubkey[..] == self.key.pubkey()[..] {
            return Err(invalid("it carries the crawler's own key"));
        }
        Ok(data)
    }
}

/// A failed certificate pre-fetch: no TCP connection means unreachable, anything after it a
/// TLS failure.
fn classify_tls(e: TlsError) -> Stop {
    let status = match &e {
        TlsError::Resolve { .. } | TlsError::NoAddress { .. } | TlsError::Connect { .. } => {
            Status::Unreachable
        }
        TlsError::Timeout { what, .. } if *what == "connect" => Status::Unreachable,
        _ => Status::TlsFailure,
    };
    Stop(status, e.to_string())
}
