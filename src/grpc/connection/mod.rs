//! `ConnectionService`: the transport side of a peer's arrival — outbound `connect` (spec 4.2,
//! legacy or stream mode by the node versions, 4.6), the inbound `DoHandshake` with its
//! dial-back (spec 4.3), and the stream handshake of an inbound `RequestByStream` (spec 4.5).
//! It builds the peer objects and hands each to the layer-2
//! [`PeerLifecycle`](crate::network::lifecycle::PeerLifecycle), which admits, confirms and
//! removes them; stream dialing is in [`stream_dial`].
//!
//! Owns the order of the handshake steps. Every method may block on the network (dials, pings),
//! so callers run them on dialer, scheduler or handshake worker threads, never on a
//! completion-queue thread. It must not decide admission or removal itself, nor touch
//! broadcasting or chain sync.

pub mod stream_dial;

use super::channel::connect;
use super::client::PeerClient;
use super::error::{handler_failure, GrpcError};
use super::metadata::{do_handshake_policy, ping_policy};
use super::peer::{GrpcPeer, PeerInfo};
use super::stream::dispatch::start_serving;
use super::stream::link::Link;
use super::stream::stream_peer::{StreamPeer, StreamPeerParts, StreamRole};
use super::stream::INBOX_CAPACITY;
use super::upcalls::Upcalls;
use crate::metrics::metrics;
use crate::network::connector::{DialError, PeerConnector};
use crate::network::endpoint::Endpoint;
use crate::network::handshake::HandshakeProvider;
use crate::network::lifecycle::{Admitted, PeerLifecycle, Removal};
use crate::network::node_table::NodeTable;
use crate::network::peer::{handshake_time_ns, Peer};
use crate::network::peer_pool::admission::Arrival;
use crate::network::peer_pool::{AdmissionRefusal, PeerPool};
use crate::pb::network_types::{Handshake, HandshakeData, HandshakeError, HandshakeReply};
use crate::pb::peer_service::StreamMessage;
use crate::thread::WorkerHandle;
use crate::types::{Clock, NodeVersion};
use crossbeam_channel::{bounded, Sender};
use grpcio::{Environment, RpcStatus};
use log::{debug, warn};
use protobuf::{Message, MessageField};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use stream_dial::{dial_stream, StreamDial};

/// What the connection service needs from the config.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// `[network] peer_dial_timeout_ms`: certificate pre-fetch and Ping; DoHandshake gets twice.
    pub dial_timeout: Duration,
    /// Largest gRPC message sent or received.
    pub max_message_length: usize,
    /// `[network] support_stream_min_version`.
    pub stream_min_version: NodeVersion,
    /// `[node] node_version`, what our handshakes announce.
    pub node_version: NodeVersion,
}

/// Dials and accepts peers (see the module documentation).
pub struct ConnectionService {
    handshakes: Arc<HandshakeProvider>,
    upcalls: Upcalls,
    /// The completion queues of our outgoing channels.
    env: Arc<Environment>,
    clock: Arc<dyn Clock>,
    settings: ConnectionSettings,
    own_pubkey_hex: String,
    /// The `stream-server-<i>` workers every stream peer's block reads go to.
    stream_servers: WorkerHandle,
}

impl ConnectionService {
    pub fn new(
        handshakes: Arc<HandshakeProvider>,
        env: Arc<Environment>,
        clock: Arc<dyn Clock>,
        settings: ConnectionSettings,
        own_pubkey_hex: String,
        upcalls: Upcalls,
        stream_servers: WorkerHandle,
    ) -> ConnectionService {
        ConnectionService {
            handshakes,
            upcalls,
            env,
            clock,
            settings,
            own_pubkey_hex,
            stream_servers,
        }
    }

    pub fn pool(&self) -> &Arc<PeerPool> {
        self.upcalls.lifecycle.pool()
    }

    pub fn nodes(&self) -> &Arc<NodeTable> {
        self.upcalls.lifecycle.nodes()
    }

    pub fn lifecycle(&self) -> &Arc<PeerLifecycle> {
        &self.upcalls.lifecycle
    }

    pub fn upcalls(&self) -> &Upcalls {
        &self.upcalls
    }

    /// Dials `endpoint`, handshakes, is admitted and confirms (spec 4.2). `Ok(false)` when a
    /// pre-check says no; an error when the dial, the handshake or the admission fails.
    pub fn connect(&self, endpoint: &Endpoint) -> Result<bool, GrpcError> {
        let lifecycle = self.lifecycle();
        let now = self.clock.now_millis();
        if let Some(existing) = self.pool().find_by_endpoint(endpoint) {
            if !existing.is_invalid(now) {
                debug!("not dialing {endpoint}: already in the pool");
                return Ok(false);
            }
            lifecycle.remove(&existing, Removal::Unconfirmed);
        }
        if let Err(refusal) = self.pool().can_dial_outbound(&endpoint.host, now) {
            debug!("not dialing {endpoint}: {refusal}");
            return Ok(false);
        }

        let dialed = self.dial(endpoint);
        metrics().handshake(false, &outbound_handshake_result(&dialed));
        let dialed = dialed?;
        let arrival = Arrival::Dialed {
            sent_handshake_ns: dialed.last_sent_handshake_time(),
        };
        let current = match lifecycle.admit(dialed.clone(), arrival) {
            Admitted::Entered => dialed,
            Admitted::Kept(existing) => existing,
            Admitted::Refused(e) => {
                return Err(GrpcError::NotDialing {
                    endpoint: endpoint.to_string(),
                    reason: e.to_string(),
                })
            }
        };
        if let Err(e) = current.confirm_handshake() {
            lifecycle.remove(&current, Removal::Unconfirmed);
            return Err(e.into());
        }
        lifecycle.connected(current.as_ref());
        Ok(true)
    }

    /// DoHandshake on a fresh pinned channel and the validation of the reply (spec 4.2 4–9),
    /// then the peer object of the mode both versions allow.
    fn dial(&self, endpoint: &Endpoint) -> Result<Arc<dyn Peer>, GrpcError> {
        let client = self.open_client(endpoint)?;
        let ours = self.handshakes.build();
        let reply = client.do_handshake(&ours, do_handshake_policy(self.settings.dial_timeout))?;
        let error = reply.error.enum_value_or_default();
        if error != HandshakeError::HANDSHAKE_OK {
            return Err(GrpcError::Refused(error));
        }
        let theirs = reply.handshake.as_ref().ok_or(GrpcError::EmptyReply)?;
        self.handshakes
            .validate(theirs)
            .map_err(GrpcError::InvalidReply)?;
        let (our_data, their_data) = (data(&ours), data(theirs));
        let info = self.peer_info(their_data, endpoint.clone(), false);
        if self.streams_with(&our_data.node_version, &their_data.node_version) {
            let peer = dial_stream(StreamDial {
                client,
                info,
                own_pubkey_hex: self.own_pubkey_hex.clone(),
                handshakes: &self.handshakes,
                upcalls: self.upcalls.clone(),
                servers: self.stream_servers.clone(),
                unary_session: theirs.session_id.clone(),
                received: their_data.clone(),
                sent: our_data.clone(),
            })?;
            return Ok(peer);
        }
        let peer = GrpcPeer::start(
            info,
            client,
            theirs.session_id.clone(),
            their_data,
            &self.upcalls.peer_context,
        )?;
        peer.core()
            .record_sent_handshake(ours.session_id.clone(), handshake_time_ns(our_data));
        Ok(Arc::new(peer))
    }

    /// A client on a fresh pinned channel to `endpoint` (certificate pre-fetch, spec 3.1).
    fn open_client(&self, endpoint: &Endpoint) -> Result<PeerClient, GrpcError> {
        let (channel, _pem) = connect(
            &endpoint.host,
            endpoint.port,
            self.env.clone(),
            self.settings.dial_timeout,
            self.settings.max_message_length,
        )?;
        Ok(PeerClient::new(channel, self.own_pubkey_hex.clone()))
    }

    /// What a peer object records of the remote whose handshake said `theirs`, reached at
    /// `endpoint`.
    fn peer_info(&self, theirs: &HandshakeData, endpoint: Endpoint, inbound: bool) -> PeerInfo {
        PeerInfo {
            pubkey: theirs.pubkey.clone(),
            pubkey_hex: hex::encode(&theirs.pubkey),
            endpoint,
            inbound,
            connection_time: self.clock.now_millis(),
            protocol_version: theirs.version,
            node_version: theirs.node_version.clone(),
        }
    }

    /// Our reply to an accepted handshake, built only now that `peer` is in the pool (and any
    /// peer it replaced is closed, which can take seconds): its stamp must fall within the
    /// dialer's 1.5 s window, as the C# node's does. `peer` records its session and stamp.
    fn reply_handshake(&self, peer: &dyn Peer) -> Handshake {
        let ours = self.handshakes.build();
        peer.core()
            .record_sent_handshake(ours.session_id.clone(), handshake_time_ns(data(&ours)));
        ours
    }

    /// Whether a connection whose initiator announced `initiator` and whose listener announced
    /// `listener` runs in stream mode: both must be at least `support_stream_min_version`
    /// (spec 4.6). An unparseable version means legacy mode.
    fn streams_with(&self, initiator: &str, listener: &str) -> bool {
        let min = &self.settings.stream_min_version;
        let capable = |v: &str| NodeVersion::parse(v).is_ok_and(|v| v.at_least(min));
        capable(initiator) && capable(listener)
    }

    /// The legacy inbound `DoHandshake` (spec 4.3). `Err` is a gRPC status for the call (the C#
    /// node throws in those cases); handshake refusals are replies with `error` set.
    pub fn accept_handshake(
        &self,
        caller: Option<IpAddr>,
        handshake: &Handshake,
    ) -> Result<HandshakeReply, RpcStatus> {
        let Some(ip) = caller else {
            return Ok(refusal(HandshakeError::INVALID_CONNECTION));
        };
        if let Err(rejection) = self.handshakes.validate(handshake) {
            return match rejection.handshake_error() {
                Some(code) => Ok(refusal(code)),
                None => Err(handler_failure(rejection.to_string())),
            };
        }
        let theirs = data(handshake);
        let their_version =
            NodeVersion::parse(&theirs.node_version).map_err(|e| handler_failure(e.to_string()))?;
        if their_version.at_least(&self.settings.stream_min_version)
            && self
                .settings
                .node_version
                .at_least(&self.settings.stream_min_version)
        {
            // Stream path (spec 4.5): answer with a fresh handshake and keep no state; the
            // initiator opens RequestByStream next. Beyond the C# rule (initiator's version
            // alone), our own version must allow streams too: a listener configured below
            // the minimum behaves as an old C# node would, in legacy mode, and so agrees with
            // the dialer, which decides on both versions.
            debug!("stream-mode handshake from {ip} (node_version {their_version})");
            return Ok(accepted(self.handshakes.build()));
        }
        match self.while_handshaking(ip, theirs, || self.accept_marked(ip, handshake, theirs)) {
            Ok(result) => result,
            Err(reason) => {
                debug!("refusing handshake from {ip}: {reason}");
                Ok(refusal(reason.handshake_error()))
            }
        }
    }

    /// Runs `accept` while the remote's handshake is marked in progress in the pool (which
    /// refuses a second one for the same host and key, and counts it against the inbound
    /// budget); the mark is removed when `accept` returns.
    fn while_handshaking<T>(
        &self,
        ip: IpAddr,
        theirs: &HandshakeData,
        accept: impl FnOnce() -> T,
    ) -> Result<T, AdmissionRefusal> {
        let host = ip.to_string();
        let pubkey_hex = hex::encode(&theirs.pubkey);
        self.pool()
            .add_handshaking(&host, &pubkey_hex, self.clock.now_millis())?;
        let outcome = accept();
        self.pool().remove_handshaking(&host, &pubkey_hex);
        Ok(outcome)
    }

    fn accept_marked(
        &self,
        ip: IpAddr,
        handshake: &Handshake,
        theirs: &HandshakeData,
    ) -> Result<HandshakeReply, RpcStatus> {
        let port = u16::try_from(theirs.listening_port)
            .ok()
            .filter(|p| *p != 0);
        let Some(port) = port else {
            return Ok(refusal(HandshakeError::INVALID_CONNECTION));
        };
        let endpoint = Endpoint {
            host: ip.to_string(),
            port,
        };
        // Dial back: the remote must be reachable where it says it listens.
        let client = match self.open_client(&endpoint) {
            Ok(client) => client,
            Err(e) => {
                debug!("dial-back to {endpoint} failed: {e}");
                return Ok(refusal(HandshakeError::INVALID_CONNECTION));
            }
        };
        client
            .ping(ping_policy(self.settings.dial_timeout))
            .map_err(|e| handler_failure(format!("dial-back ping to {endpoint} failed: {e}")))?;

        let peer: Arc<dyn Peer> = Arc::new(
            GrpcPeer::start(
                self.peer_info(theirs, endpoint, true),
                client,
                handshake.session_id.clone(),
                theirs,
                &self.upcalls.peer_context,
            )
            .map_err(|e| handler_failure(e.to_string()))?,
        );
        match self.lifecycle().admit(peer.clone(), Arrival::Inbound) {
            Admitted::Entered => Ok(accepted(self.reply_handshake(peer.as_ref()))),
            Admitted::Refused(e) => Ok(refusal(e.handshake_error())),
            Admitted::Kept(_) => Ok(refusal(HandshakeError::REPEATED_CONNECTION)),
        }
    }

    /// The HAND_SHAKE request of an inbound stream (spec 4.5): validate, mark the handshake in
    /// progress, create a back peer writing on `link`, put it in the pool (replacing any peer
    /// with the same key, C# quirk 9 — but only once the new handshake is valid), answer with
    /// our handshake. Refusals are replies with `error` set; the call stays open either way.
    /// Returns the back peer's inbox when one was admitted. Blocks (it may disconnect the
    /// peer it replaces): runs on a handshake worker.
    pub fn accept_stream_handshake(
        &self,
        caller: Option<IpAddr>,
        handshake: &Handshake,
        link: &Link,
    ) -> (HandshakeReply, Option<Sender<StreamMessage>>) {
        let Some(ip) = caller else {
            return (refusal(HandshakeError::INVALID_CONNECTION), None);
        };
        if let Err(rejection) = self.handshakes.validate(handshake) {
            debug!("stream handshake from {ip} refused: {rejection}");
            let code = rejection
                .handshake_error()
                .unwrap_or(HandshakeError::INVALID_CONNECTION);
            return (refusal(code), None);
        }
        let theirs = data(handshake);
        let admit = || self.admit_back_peer(ip, handshake, theirs, link);
        match self.while_handshaking(ip, theirs, admit) {
            Ok(Ok((reply, inbox))) => (reply, Some(inbox)),
            Ok(Err(code)) => (refusal(code), None),
            Err(reason) => {
                debug!("refusing stream handshake from {ip}: {reason}");
                (refusal(reason.handshake_error()), None)
            }
        }
    }

    fn admit_back_peer(
        &self,
        ip: IpAddr,
        handshake: &Handshake,
        theirs: &HandshakeData,
        link: &Link,
    ) -> Result<(HandshakeReply, Sender<StreamMessage>), HandshakeError> {
        let port = u16::try_from(theirs.listening_port)
            .ok()
            .filter(|p| *p != 0)
            .ok_or(HandshakeError::INVALID_CONNECTION)?;
        let endpoint = Endpoint {
            host: ip.to_string(),
            port,
        };
        let peer = Arc::new(StreamPeer::new(
            StreamPeerParts {
                info: self.peer_info(theirs, endpoint, true),
                role: StreamRole::Back,
                client: None,
                own_pubkey_hex: self.own_pubkey_hex.clone(),
                outbound_session: handshake.session_id.clone(),
                received: theirs.clone(),
                context: self.upcalls.peer_context.clone(),
            },
            link.clone(),
        ));
        let entry: Arc<dyn Peer> = peer.clone();
        match self
            .lifecycle()
            .admit(entry.clone(), Arrival::InboundStream)
        {
            Admitted::Entered => {}
            Admitted::Refused(e) => return Err(e.handshake_error()),
            Admitted::Kept(_) => return Err(HandshakeError::REPEATED_CONNECTION),
        }
        let ours = self.reply_handshake(entry.as_ref());
        let (inbox_tx, inbox) = bounded(INBOX_CAPACITY);
        if let Err(e) = start_serving(
            &peer,
            self.upcalls.clone(),
            self.stream_servers.clone(),
            inbox,
        ) {
            warn!("cannot start the stream thread for {peer}: {e}");
            self.lifecycle().remove(&entry, Removal::Unconfirmed);
            return Err(HandshakeError::INVALID_CONNECTION);
        }
        Ok((accepted(ours), inbox_tx))
    }
}

impl PeerConnector for ConnectionService {
    fn dial(&self, endpoint: &Endpoint) -> Result<bool, DialError> {
        self.connect(endpoint).map_err(|e| DialError(e.to_string()))
    }

    fn is_reachable(&self, endpoint: &Endpoint) -> bool {
        let reachable = self
            .open_client(endpoint)
            .and_then(|client| client.ping(ping_policy(self.settings.dial_timeout)));
        if let Err(e) = &reachable {
            debug!("{endpoint} is not reachable: {e}");
        }
        reachable.is_ok()
    }

    fn purge_unconfirmed(&self) -> usize {
        self.lifecycle().purge_unconfirmed()
    }
}

/// The `result` label of an outbound handshake: the remote's `HandshakeError`, or why there
/// was no usable reply.
fn outbound_handshake_result(dialed: &Result<Arc<dyn Peer>, GrpcError>) -> String {
    match dialed {
        Ok(_) => format!("{:?}", HandshakeError::HANDSHAKE_OK),
        Err(GrpcError::Refused(code)) => format!("{code:?}"),
        Err(GrpcError::InvalidReply(_) | GrpcError::EmptyReply) => "INVALID_REPLY".into(),
        Err(_) => "UNREACHABLE".into(),
    }
}

fn data(h: &Handshake) -> &HandshakeData {
    // Validated handshakes always carry data; an empty default stands in otherwise.
    h.handshake_data
        .as_ref()
        .unwrap_or_else(|| HandshakeData::default_instance())
}

/// A handshake refusal: no handshake, `error` set.
pub(crate) fn refusal(code: HandshakeError) -> HandshakeReply {
    HandshakeReply {
        error: code.into(),
        ..Default::default()
    }
}

/// A handshake acceptance carrying `ours`.
fn accepted(ours: Handshake) -> HandshakeReply {
    HandshakeReply {
        handshake: MessageField::some(ours),
        error: HandshakeError::HANDSHAKE_OK.into(),
        ..Default::default()
    }
}
