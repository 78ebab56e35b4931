//! `ConnectionService`: the connection lifecycle of legacy-mode peers — outbound `connect`
//! (spec 4.2), inbound `DoHandshake` with dial-back (spec 4.3), confirmation, disconnection and
//! the expiry of peers that never confirm.
//!
//! Owns the order of those steps and the pool decisions they take. Every method may block on
//! the network (dials, pings), so callers run them on dialer or handshake worker threads, never
//! on a completion-queue thread. It must not touch broadcasting or chain sync.

use super::channel::connect;
use super::client::PeerClient;
use super::error::{handler_failure, GrpcError};
use super::metadata::{do_handshake_policy, ping_policy};
use super::peer::{GrpcPeer, PeerInfo};
use crate::network::endpoint::Endpoint;
use crate::network::handshake::HandshakeProvider;
use crate::network::node_table::{NodeRecord, NodeTable};
use crate::network::peer::Peer;
use crate::network::peer_pool::PeerPool;
use crate::pb::network_types::{Handshake, HandshakeData, HandshakeError, HandshakeReply};
use crate::types::{Clock, NodeVersion};
use grpcio::{Environment, RpcStatus};
use log::{debug, info, warn};
use protobuf::{Message, MessageField};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

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
    /// The completion queues of our outgoing channels.
    env: Arc<Environment>,
    clock: Arc<dyn Clock>,
    settings: ConnectionSettings,
    own_pubkey_hex: String,
}

impl ConnectionService {
    pub fn new(
        handshakes: Arc<HandshakeProvider>,
        pool: Arc<PeerPool>,
        nodes: Arc<NodeTable>,
        env: Arc<Environment>,
        clock: Arc<dyn Clock>,
        settings: ConnectionSettings,
        own_pubkey_hex: String,
    ) -> ConnectionService {
        ConnectionService {
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

        let dialed = self.dial(endpoint)?;
        let current: Arc<dyn Peer> = match self.pool.get(dialed.pubkey_hex()) {
            Some(existing) => {
                // A simultaneous cross-dial: both sides keep the connection whose handshake is
                // older, so they agree on one (earliest-handshake-wins, C# ConnectAsync).
                if existing.last_received_handshake_time() > dialed.last_sent_handshake_time()
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
        let peer = GrpcPeer::start(
            PeerInfo {
                pubkey: their_data.pubkey.clone(),
                pubkey_hex: hex::encode(&their_data.pubkey),
                endpoint: endpoint.clone(),
                inbound: false,
                connection_time: self.clock.now_millis(),
                protocol_version: their_data.version,
                node_version: their_data.node_version.clone(),
            },
            client,
            theirs.session_id.clone(),
            ours.session_id.clone(),
            their_data,
            our_data,
        )?;
        Ok(Arc::new(peer))
    }

    fn confirm_outbound(&self, peer: &Arc<dyn Peer>) -> Result<(), GrpcError> {
        Ok(peer.confirm_handshake()?)
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
        if their_version.at_least(&self.settings.stream_min_version) {
            // The stream path (spec 4.5) is not served yet: refuse cleanly rather than promise
            // a stream this node cannot open.
            warn!(
                "refusing stream-mode handshake from {ip} (node_version {their_version}): stream mode is not supported yet"
            );
            return Ok(refusal(HandshakeError::CONNECTION_REFUSED));
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

    /// The remote confirmed its handshake (ConfirmHandshake RPC): the peer becomes ready.
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
    }

    /// Removes the peer named by `pubkey_hex` and closes it; `graceful` tells the remote.
    pub fn disconnect_by_pubkey(&self, pubkey_hex: &str, graceful: bool) -> bool {
        match self.pool.remove(pubkey_hex) {
            Some(peer) => {
                info!(
                    "peer {} at {} disconnected",
                    short(pubkey_hex),
                    peer.endpoint()
                );
                peer.disconnect(graceful);
                true
            }
            None => false,
        }
    }

    fn remove_and_disconnect(&self, peer: &Arc<dyn Peer>, graceful: bool) {
        self.pool.remove_exact(peer.pubkey_hex(), peer);
        peer.disconnect(graceful);
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

    /// Disconnects every peer (node shutdown); `graceful` sends Disconnect to each.
    pub fn disconnect_all(&self, graceful: bool) {
        for peer in self.pool.peers(true) {
            self.remove_and_disconnect(&peer, graceful);
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
    pubkey_hex.get(..16).unwrap_or(pubkey_hex)
}
