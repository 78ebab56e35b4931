//! `ConnectionService`: the connection lifecycle of peers — outbound `connect` (spec 4.2, legacy
//! or stream mode by the node versions, 4.6), inbound `DoHandshake` with dial-back (spec 4.3) or
//! its stream variant (spec 4.5), confirmation, disconnection and the expiry of peers that never
//! confirm. [`PeerLifecycle`] is the part peers' own threads call back into.
//!
//! Owns the order of those steps and the pool decisions they take. Every method may block on
//! the network (dials, pings), so callers run them on dialer or handshake worker threads, never
//! on a completion-queue thread. It must not touch broadcasting or chain sync.

use super::channel::connect;
use super::client::PeerClient;
use super::error::{handler_failure, GrpcError};
use super::metadata::{do_handshake_policy, ping_policy};
use super::peer::{GrpcPeer, PeerInfo};
use super::services::CoreServices;
use super::stream::dialer::{dial_stream, StreamDial};
use super::stream::link::Link;
use super::stream::stream_peer::{StreamPeer, StreamPeerParts, StreamRole};
use super::stream::INBOX_CAPACITY;
use crate::metrics::metrics;
use crate::network::connector::{DialError, PeerConnector};
use crate::network::endpoint::Endpoint;
use crate::network::handshake::HandshakeProvider;
use crate::network::node_table::{NodeRecord, NodeTable};
use crate::network::peer::Peer;
use crate::network::peer_pool::PeerPool;
use crate::network::service::PeerLoss;
use crate::pb::network_types::{Handshake, HandshakeData, HandshakeError, HandshakeReply};
use crate::pb::peer_service::StreamMessage;
use crate::types::{Clock, NodeVersion};
use crossbeam_channel::{bounded, Sender};
use grpcio::{Environment, RpcStatus};
use log::{debug, info};
use parking_lot::Mutex;
use protobuf::{Message, MessageField};
use std::net::IpAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Which connection a simultaneous cross-dial keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossDialWinner {
    /// The connection the remote opened to us (already in the pool).
    Existing,
    /// The connection we just dialed.
    Dialed,
}

/// The earliest-handshake-wins rule of a cross-dial (spec 4.2 step 10, C# `ConnectAsync`):
/// both sides keep the connection whose handshake is older. `existing_received_ns` stamps the
/// remote's handshake on its connection to us, `dialed_sent_ns` ours on the one we dialed.
/// Our dial wins only when our handshake is strictly older; on a tie the existing connection
/// stays. (With equal stamps each side keeps the other's dial and drops its own, so both
/// connections end and the next dial settles it; stamps are nanoseconds from two clocks, so a
/// tie is practically impossible.)
pub fn cross_dial_winner(existing_received_ns: i128, dialed_sent_ns: i128) -> CrossDialWinner {
    if existing_received_ns > dialed_sent_ns {
        CrossDialWinner::Dialed
    } else {
        CrossDialWinner::Existing
    }
}

/// Threads that say goodbye to peers at shutdown, at most.
pub const SHUTDOWN_DISCONNECT_THREADS: usize = 16;

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

/// Dials, accepts and drops peers.
pub struct ConnectionService {
    handshakes: Arc<HandshakeProvider>,
    pool: Arc<PeerPool>,
    nodes: Arc<NodeTable>,
    lifecycle: Arc<PeerLifecycle>,
    /// The completion queues of our outgoing channels.
    env: Arc<Environment>,
    clock: Arc<dyn Clock>,
    settings: ConnectionSettings,
    own_pubkey_hex: String,
}

impl ConnectionService {
    /// A connection service on the pool of `services`.
    pub fn new(
        handshakes: Arc<HandshakeProvider>,
        nodes: Arc<NodeTable>,
        env: Arc<Environment>,
        clock: Arc<dyn Clock>,
        settings: ConnectionSettings,
        own_pubkey_hex: String,
        services: CoreServices,
    ) -> ConnectionService {
        let pool = services.network.pool().clone();
        ConnectionService {
            lifecycle: Arc::new(PeerLifecycle {
                pool: pool.clone(),
                nodes: nodes.clone(),
                streams: Mutex::new(Vec::new()),
                services,
            }),
            handshakes,
            pool,
            nodes,
            env,
            clock,
            settings,
            own_pubkey_hex,
        }
    }

    pub fn pool(&self) -> &Arc<PeerPool> {
        &self.pool
    }

    pub fn nodes(&self) -> &Arc<NodeTable> {
        &self.nodes
    }

    pub fn lifecycle(&self) -> &Arc<PeerLifecycle> {
        &self.lifecycle
    }

    /// The pool's peer for `pubkey_hex` as a stream peer, if it is one.
    pub fn stream_peer(&self, pubkey_hex: &str) -> Option<Arc<StreamPeer>> {
        self.lifecycle.stream_peer(pubkey_hex)
    }

    /// Dials `endpoint`, handshakes, enters the pool and confirms (spec 4.2). `Ok(false)` when a
    /// pre-check says no; an error when the dial or handshake fails.
    pub fn connect(&self, endpoint: &Endpoint) -> Result<bool, GrpcError> {
        let now = self.clock.now_millis();
        if let Some(existing) = self.pool.find_by_endpoint(endpoint) {
            if !existing.is_invalid(now) {
                debug!("not dialing {endpoint}: already in the pool");
                return Ok(false);
            }
            self.remove_and_disconnect(&existing, false);
        }
        if let Err(refusal) = self.pool.can_dial_outbound(&endpoint.host, now) {
            debug!("not dialing {endpoint}: {refusal}");
            return Ok(false);
        }

        let dialed = self.dial(endpoint);
        metrics().handshake(false, &outbound_handshake_result(&dialed));
        let dialed = dialed?;
        let current: Arc<dyn Peer> = match self.pool.get(dialed.pubkey_hex()) {
            Some(existing) => {
                let winner = cross_dial_winner(
                    existing.last_received_handshake_time(),
                    dialed.last_sent_handshake_time(),
                );
                if winner == CrossDialWinner::Dialed
                    && self
                        .pool
                        .try_replace(dialed.pubkey_hex(), &existing, dialed.clone())
                {
                    existing.disconnect(false);
                    dialed
                } else {
                    dialed.disconnect(false);
                    existing
                }
            }
            None => {
                if let Err(e) = self.pool.try_add(dialed.clone(), now) {
                    dialed.disconnect(false);
                    return Err(GrpcError::NotDialing {
                        endpoint: endpoint.to_string(),
                        reason: e.to_string(),
                    });
                }
                dialed
            }
        };
        if let Err(e) = self.confirm_outbound(&current) {
            self.remove_and_disconnect(&current, false);
            return Err(e);
        }
        current.mark_connected();
        self.on_connected(current.as_ref());
        Ok(true)
    }

    /// DoHandshake on a fresh pinned channel and the validation of the reply (spec 4.2 4–9).
    fn dial(&self, endpoint: &Endpoint) -> Result<Arc<dyn Peer>, GrpcError> {
        let (channel, _pem) = connect(
            &endpoint.host,
            endpoint.port,
            self.env.clone(),
            self.settings.dial_timeout,
            self.settings.max_message_length,
        )?;
        let client = PeerClient::new(channel, self.own_pubkey_hex.clone());
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
        let info = PeerInfo {
            pubkey: their_data.pubkey.clone(),
            pubkey_hex: hex::encode(&their_data.pubkey),
            endpoint: endpoint.clone(),
            inbound: false,
            connection_time: self.clock.now_millis(),
            protocol_version: their_data.version,
            node_version: their_data.node_version.clone(),
        };
        if self.streams_with(&our_data.node_version, &their_data.node_version) {
            let peer = dial_stream(StreamDial {
                client,
                info,
                own_pubkey_hex: self.own_pubkey_hex.clone(),
                handshakes: &self.handshakes,
                lifecycle: self.lifecycle.clone(),
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
            ours.session_id.clone(),
            their_data,
            our_data,
            &self.lifecycle.services.peer_context,
        )?;
        Ok(Arc::new(peer))
    }

    fn confirm_outbound(&self, peer: &Arc<dyn Peer>) -> Result<(), GrpcError> {
        Ok(peer.confirm_handshake()?)
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
            return Ok(HandshakeReply {
                handshake: MessageField::some(self.handshakes.build()),
                error: HandshakeError::HANDSHAKE_OK.into(),
                ..Default::default()
            });
        }
        let host = ip.to_string();
        let pubkey_hex = hex::encode(&theirs.pubkey);
        if let Err(refusal_reason) =
            self.pool
                .add_handshaking(&host, &pubkey_hex, self.clock.now_millis())
        {
            debug!("refusing handshake from {host}: {refusal_reason}");
            return Ok(refusal(refusal_reason.handshake_error()));
        }
        let result = self.accept_marked(ip, handshake, theirs);
        self.pool.remove_handshaking(&host, &pubkey_hex);
        result
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
        let channel = match connect(
            &endpoint.host,
            port,
            self.env.clone(),
            self.settings.dial_timeout,
            self.settings.max_message_length,
        ) {
            Ok((channel, _)) => channel,
            Err(e) => {
                debug!("dial-back to {endpoint} failed: {e}");
                return Ok(refusal(HandshakeError::INVALID_CONNECTION));
            }
        };
        let client = PeerClient::new(channel, self.own_pubkey_hex.clone());
        client
            .ping(ping_policy(self.settings.dial_timeout))
            .map_err(|e| handler_failure(format!("dial-back ping to {endpoint} failed: {e}")))?;

        let ours = self.handshakes.build();
        let peer: Arc<dyn Peer> = Arc::new(
            GrpcPeer::start(
                PeerInfo {
                    pubkey: theirs.pubkey.clone(),
                    pubkey_hex: hex::encode(&theirs.pubkey),
                    endpoint,
                    inbound: true,
                    connection_time: self.clock.now_millis(),
                    protocol_version: theirs.version,
                    node_version: theirs.node_version.clone(),
                },
                client,
                handshake.session_id.clone(),
                ours.session_id.clone(),
                theirs,
                data(&ours),
                &self.lifecycle.services.peer_context,
            )
            .map_err(|e| handler_failure(e.to_string()))?,
        );
        let now = self.clock.now_millis();
        match self.pool.get(peer.pubkey_hex()) {
            // A stale entry may be replaced: one that never confirmed (the C# node allows this
            // for invalid stream back-peers), or — beyond the C# node — one that no longer
            // answers CheckHealth, such as the old connection of a node that restarted. The C#
            // node refuses those with REPEATED_CONNECTION until its health check notices.
            Some(existing) if existing.is_invalid(now) || existing.check_health().is_err() => {
                if !self
                    .pool
                    .try_replace(peer.pubkey_hex(), &existing, peer.clone())
                {
                    peer.disconnect(false);
                    return Ok(refusal(HandshakeError::REPEATED_CONNECTION));
                }
                existing.disconnect(false);
            }
            Some(_) => {
                peer.disconnect(false);
                return Ok(refusal(HandshakeError::REPEATED_CONNECTION));
            }
            None => {
                if let Err(e) = self.pool.try_add(peer.clone(), now) {
                    peer.disconnect(false);
                    return Ok(refusal(e.handshake_error()));
                }
            }
        }
        Ok(HandshakeReply {
            handshake: MessageField::some(ours),
            error: HandshakeError::HANDSHAKE_OK.into(),
            ..Default::default()
        })
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
        let host = ip.to_string();
        let pubkey_hex = hex::encode(&theirs.pubkey);
        if let Err(reason) = self
            .pool
            .add_handshaking(&host, &pubkey_hex, self.clock.now_millis())
        {
            debug!("refusing stream handshake from {host}: {reason}");
            return (refusal(reason.handshake_error()), None);
        }
        let outcome = self.admit_back_peer(ip, handshake, theirs, link);
        self.pool.remove_handshaking(&host, &pubkey_hex);
        match outcome {
            Ok((reply, inbox)) => (reply, Some(inbox)),
            Err(code) => (refusal(code), None),
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
        let ours = self.handshakes.build();
        let peer = Arc::new(StreamPeer::new(
            StreamPeerParts {
                info: PeerInfo {
                    pubkey: theirs.pubkey.clone(),
                    pubkey_hex: hex::encode(&theirs.pubkey),
                    endpoint: Endpoint {
                        host: ip.to_string(),
                        port,
                    },
                    inbound: true,
                    connection_time: self.clock.now_millis(),
                    protocol_version: theirs.version,
                    node_version: theirs.node_version.clone(),
                },
                role: StreamRole::Back,
                client: None,
                own_pubkey_hex: self.own_pubkey_hex.clone(),
                outbound_session: handshake.session_id.clone(),
                inbound_session: ours.session_id.clone(),
                received: theirs.clone(),
                sent: data(&ours).clone(),
                context: self.lifecycle.services.peer_context.clone(),
            },
            link.clone(),
        ));
        let entry: Arc<dyn Peer> = peer.clone();
        let now = self.clock.now_millis();
        match self.pool.get(entry.pubkey_hex()) {
            Some(existing) => {
                if !self
                    .pool
                    .try_replace(entry.pubkey_hex(), &existing, entry.clone())
                {
                    return Err(HandshakeError::REPEATED_CONNECTION);
                }
                info!(
                    "stream handshake from {} replaces the existing connection",
                    short(entry.pubkey_hex())
                );
                existing.disconnect(false);
            }
            None => {
                if let Err(e) = self.pool.try_add(entry.clone(), now) {
                    return Err(e.handshake_error());
                }
            }
        }
        let (inbox_tx, inbox) = bounded(INBOX_CAPACITY);
        if let Err(e) = peer.start(self.lifecycle.clone(), inbox) {
            log::warn!("cannot start the stream thread for {peer}: {e}");
            self.pool.remove_exact(entry.pubkey_hex(), &entry);
            return Err(HandshakeError::INVALID_CONNECTION);
        }
        self.lifecycle.register_stream(&peer);
        Ok((
            HandshakeReply {
                handshake: MessageField::some(ours),
                error: HandshakeError::HANDSHAKE_OK.into(),
                ..Default::default()
            },
            inbox_tx,
        ))
    }

    /// The remote confirmed its handshake (ConfirmHandshake RPC): the peer becomes ready.
    pub fn confirm_inbound(&self, pubkey_hex: &str) -> bool {
        self.lifecycle.confirm_inbound(pubkey_hex)
    }

    fn on_connected(&self, peer: &dyn Peer) {
        self.lifecycle.on_connected(peer);
    }

    /// Removes the peer named by `pubkey_hex` and closes it; `graceful` tells the remote. A
    /// pending reconnection of its endpoint is cancelled (an explicit disconnect).
    pub fn disconnect_by_pubkey(&self, pubkey_hex: &str, graceful: bool) -> bool {
        self.lifecycle.disconnect_by_pubkey(pubkey_hex, graceful)
    }

    /// The remote said goodbye (Disconnect RPC): see [`PeerLifecycle::remote_left`].
    pub fn remote_left(&self, pubkey_hex: &str) -> bool {
        self.lifecycle.remote_left(pubkey_hex)
    }

    fn remove_and_disconnect(&self, peer: &Arc<dyn Peer>, graceful: bool) {
        self.lifecycle.remove_and_disconnect(peer, graceful);
    }

    /// Drops peers that stayed unconfirmed past the connection timeout (C# `IsInvalid`).
    pub fn purge_invalid(&self) -> usize {
        let now = self.clock.now_millis();
        let stale: Vec<Arc<dyn Peer>> = self
            .pool
            .peers(true)
            .into_iter()
            .filter(|p| p.is_invalid(now))
            .collect();
        for peer in &stale {
            info!(
                "dropping {} at {}: never confirmed",
                short(peer.pubkey_hex()),
                peer.endpoint()
            );
            self.remove_and_disconnect(peer, false);
        }
        stale.len()
    }

    /// Disconnects every peer (node shutdown); `graceful` sends Disconnect to each. Peers are
    /// told in parallel, by up to [`SHUTDOWN_DISCONNECT_THREADS`] scoped threads, so the stop
    /// takes about one peer's worst case (a dead peer's goodbye waits out its deadline), not
    /// the sum over all peers.
    pub fn disconnect_all(&self, graceful: bool) {
        let peers = Mutex::new(self.pool.peers(true));
        let next = || peers.lock().pop();
        let threads = SHUTDOWN_DISCONNECT_THREADS.min(peers.lock().len());
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    while let Some(peer) = next() {
                        self.remove_and_disconnect(&peer, graceful);
                    }
                });
            }
        });
    }
}

impl PeerConnector for ConnectionService {
    fn dial(&self, endpoint: &Endpoint) -> Result<bool, DialError> {
        self.connect(endpoint).map_err(|e| DialError(e.to_string()))
    }

    fn is_reachable(&self, endpoint: &Endpoint) -> bool {
        let dial_timeout = self.settings.dial_timeout;
        let reachable = connect(
            &endpoint.host,
            endpoint.port,
            self.env.clone(),
            dial_timeout,
            self.settings.max_message_length,
        )
        .map_err(GrpcError::from)
        .and_then(|(channel, _pem)| {
            PeerClient::new(channel, self.own_pubkey_hex.clone()).ping(ping_policy(dial_timeout))
        });
        if let Err(e) = &reachable {
            debug!("{endpoint} is not reachable: {e}");
        }
        reachable.is_ok()
    }

    fn purge_unconfirmed(&self) -> usize {
        self.purge_invalid()
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

/// The pool and node-table side of the connection service: what peers' own threads (the
/// stream peers' inbox threads) call back into when the remote confirms, says goodbye, or the
/// stream closes. Also keeps track of the stream peers, so their concrete type can be found
/// from a pool entry.
pub struct PeerLifecycle {
    pool: Arc<PeerPool>,
    nodes: Arc<NodeTable>,
    /// Stream peers created by this service (weak: the pool owns them).
    streams: Mutex<Vec<Weak<StreamPeer>>>,
    /// Where received items go, blocks are served from, and what new peers get.
    services: CoreServices,
}

impl PeerLifecycle {
    pub fn pool(&self) -> &Arc<PeerPool> {
        &self.pool
    }

    pub fn nodes(&self) -> &Arc<NodeTable> {
        &self.nodes
    }

    pub fn services(&self) -> &CoreServices {
        &self.services
    }

    /// Remembers a stream peer (forgets the ones gone).
    pub fn register_stream(&self, peer: &Arc<StreamPeer>) {
        let mut streams = self.streams.lock();
        streams.retain(|w| w.strong_count() > 0);
        streams.push(Arc::downgrade(peer));
    }

    /// The pool's peer for `pubkey_hex` as a stream peer, if it is one.
    pub fn stream_peer(&self, pubkey_hex: &str) -> Option<Arc<StreamPeer>> {
        let entry = self.pool.get(pubkey_hex)?;
        self.streams
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .find(|s| s.is(&entry))
    }

    /// The remote confirmed its handshake (ConfirmHandshake RPC or CONFIRM_HAND_SHAKE): the
    /// peer becomes ready.
    pub fn confirm_inbound(&self, pubkey_hex: &str) -> bool {
        match self.pool.get(pubkey_hex) {
            Some(peer) => {
                peer.mark_connected();
                self.on_connected(peer.as_ref());
                true
            }
            None => {
                debug!("ConfirmHandshake from unknown peer {pubkey_hex}");
                false
            }
        }
    }

    fn on_connected(&self, peer: &dyn Peer) {
        info!(
            "peer connected: {} at {} ({})",
            short(peer.pubkey_hex()),
            peer.endpoint(),
            if peer.is_inbound() {
                "inbound"
            } else {
                "outbound"
            }
        );
        let record = NodeRecord {
            endpoint: peer.endpoint().clone(),
            pubkey: peer.pubkey().to_vec(),
        };
        if !self.nodes.add(record.clone()) {
            self.nodes.update(&record);
        }
        self.services.inbound.peer_connected(peer);
    }

    /// Removes the peer named by `pubkey_hex` and closes it; `graceful` tells the remote. A
    /// pending reconnection of its endpoint is cancelled (an explicit disconnect, spec 8.2).
    pub fn disconnect_by_pubkey(&self, pubkey_hex: &str, graceful: bool) -> bool {
        match self.pool.remove(pubkey_hex) {
            Some(peer) => {
                info!(
                    "peer {} at {} disconnected",
                    short(pubkey_hex),
                    peer.endpoint()
                );
                self.services
                    .network
                    .reconnections()
                    .cancel(peer.endpoint());
                peer.disconnect(graceful);
                true
            }
            None => false,
        }
    }

    /// The remote said goodbye (Disconnect RPC): the peer leaves the pool and is closed
    /// without a reply; only a persistent peer is dialed again.
    pub fn remote_left(&self, pubkey_hex: &str) -> bool {
        match self.pool.remove(pubkey_hex) {
            Some(peer) => {
                peer.disconnect(false);
                self.services.network.peer_lost(&peer, PeerLoss::Goodbye);
                true
            }
            None => false,
        }
    }

    /// Removes `peer` from the pool if it is still the entry for its key, and closes it.
    pub fn remove_and_disconnect(&self, peer: &Arc<dyn Peer>, graceful: bool) {
        self.pool.remove_exact(peer.pubkey_hex(), peer);
        peer.disconnect(graceful);
    }

    /// Removes `peer` from the pool if it is still the entry for its key (not a replacement).
    pub fn remove_exact(&self, peer: &Arc<dyn Peer>) -> bool {
        self.pool.remove_exact(peer.pubkey_hex(), peer)
    }

    /// A stream peer's call ended (the remote closed it, it failed, or a write failed): an
    /// unrecoverable failure, so the peer leaves the pool and is closed.
    pub fn stream_closed(&self, peer: Arc<StreamPeer>) {
        let entry: Arc<dyn Peer> = peer;
        let removed = self.remove_exact(&entry);
        entry.disconnect(false);
        if removed {
            self.services
                .network
                .peer_lost(&entry, PeerLoss::Failed("stream closed".into()));
        }
    }
}

fn data(h: &Handshake) -> &HandshakeData {
    // Validated handshakes always carry data; an empty default stands in otherwise.
    h.handshake_data
        .as_ref()
        .unwrap_or_else(|| HandshakeData::default_instance())
}

fn refusal(code: HandshakeError) -> HandshakeReply {
    HandshakeReply {
        error: code.into(),
        ..Default::default()
    }
}

/// The first 16 hex characters of a pubkey, for logs.
pub fn short(pubkey_hex: &str) -> &str {
    crate::network::peer::short_key(pubkey_hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stamps its handshake at `a`, B at `b`; A dials B and B dials A at once. Each side
    /// decides with its own view; the connection it keeps is named by who dialed it.
    fn kept(a: i128, b: i128) -> (&'static str, &'static str) {
        // On A: the existing connection is B's dial (its handshake `b`), ours is `a`.
        let on_a = match cross_dial_winner(b, a) {
            CrossDialWinner::Dialed => "A->B",
            CrossDialWinner::Existing => "B->A",
        };
        // On B: the existing connection is A's dial (`a`), its own is `b`.
        let on_b = match cross_dial_winner(a, b) {
            CrossDialWinner::Dialed => "B->A",
            CrossDialWinner::Existing => "A->B",
        };
        (on_a, on_b)
    }

    #[test]
    fn the_older_handshake_wins_and_both_sides_agree() {
        // A's handshake is older: both keep A's dial.
        assert_eq!(kept(100, 200), ("A->B", "A->B"));
        // B's handshake is older: both keep B's dial.
        assert_eq!(kept(300, 200), ("B->A", "B->A"));
    }

    #[test]
    fn a_tie_keeps_the_existing_connection() {
        assert_eq!(cross_dial_winner(5, 5), CrossDialWinner::Existing);
        // With equal stamps each side keeps the other's dial: they disagree (see the rule's
        // documentation).
        assert_eq!(kept(7, 7), ("B->A", "A->B"));
    }
}
