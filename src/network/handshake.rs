//! Building our signed handshake and validating a remote one (spec 2.2, 2.6, 4.4).
//!
//! Owns the six validation checks and their order, which decide the `HandshakeError` a C# peer
//! sees. It must not touch the connection state (handshaking marks, pool, dial-back): those
//! produce `REPEATED_CONNECTION` / `INVALID_CONNECTION` in the connection logic, not here.

use crate::chain::Chain;
use crate::crypto::{verify, NodeKey};
use crate::pb::network_types::{Handshake, HandshakeData, HandshakeError};
use crate::types::{handshake_hash, timestamp_from_millis, timestamp_nanos, Clock};
use parking_lot::RwLock;
use protobuf::MessageField;
use rand::RngCore;
use std::collections::HashSet;
use std::sync::Arc;
use thiserror::Error;

/// The aelf protocol version a handshake must carry (C# `KernelConstants.ProtocolVersion`).
pub const PROTOCOL_VERSION: i32 = 1;
/// How old a handshake may be, in milliseconds (C# `NetworkConstants.HandshakeTimeout`). The check
/// is one-sided, as in the C# node: a handshake stamped in the future is accepted.
pub const HANDSHAKE_TIMEOUT_MS: i64 = 1500;
/// Bytes of a fresh session id (C# `NetworkConstants.DefaultSessionIdSize`).
pub const SESSION_ID_SIZE: usize = 5;

/// Who may connect (`[network] authorized_peers` / `authorized_keys`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Authorization {
    /// Any key (C# `AuthorizedPeers.Any`).
    #[default]
    Any,
    /// Only these 65-byte public keys (C# `AuthorizedPeers.Authorized`).
    Only(HashSet<[u8; 65]>),
}

impl Authorization {
    fn allows(&self, pubkey: &[u8]) -> bool {
        match self {
            Authorization::Any => true,
            Authorization::Only(keys) => {
                <[u8; 65]>::try_from(pubkey).is_ok_and(|k| keys.contains(&k))
            }
        }
    }
}

/// Why a remote handshake was refused, in the order the checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum HandshakeRejection {
    #[error("handshake has no data or no time")]
    Malformed,
    #[error("public key is not authorized")]
    Unauthorized,
    #[error("chain id {0} is not ours")]
    InvalidChainId(i32),
    #[error("protocol version {0} is not {PROTOCOL_VERSION}")]
    InvalidVersion(i32),
    #[error("handshake is older than {HANDSHAKE_TIMEOUT_MS} ms")]
    HandshakeTimeout,
    #[error("signature does not match the handshake's public key")]
    InvalidSignature,
    #[error("handshake carries our own public key")]
    SelfConnection,
}

impl HandshakeRejection {
    /// The `HandshakeError` a C# node replies with for this outcome. `None` for a malformed
    /// handshake, which the C# node fails with an exception (gRPC status UNKNOWN) instead.
    pub fn handshake_error(&self) -> Option<HandshakeError> {
        Some(match self {
            HandshakeRejection::Malformed => return None,
            HandshakeRejection::Unauthorized | HandshakeRejection::SelfConnection => {
                HandshakeError::CONNECTION_REFUSED
            }
            HandshakeRejection::InvalidChainId(_) => HandshakeError::CHAIN_MISMATCH,
            HandshakeRejection::InvalidVersion(_) => HandshakeError::PROTOCOL_MISMATCH,
            HandshakeRejection::HandshakeTimeout => HandshakeError::SIGNATURE_TIMEOUT,
            HandshakeRejection::InvalidSignature => HandshakeError::WRONG_SIGNATURE,
        })
    }
}

/// Builds our handshakes and validates remote ones. Shared by every connection.
pub struct HandshakeProvider {
    /// Signs our handshakes; its public key also detects self-connections.
    key: NodeKey,
    /// Source of chain id and the tips we advertise.
    chain: Arc<dyn Chain>,
    /// `[network] listening_port`, advertised so the remote can dial us back.
    listening_port: u16,
    /// `[node] node_version`, advertised as a four-part .NET version string.
    node_version: String,
    clock: Arc<dyn Clock>,
    /// Replaced live on SIGHUP.
    authorization: RwLock<Authorization>,
}

impl HandshakeProvider {
    pub fn new(
        key: NodeKey,
        chain: Arc<dyn Chain>,
        listening_port: u16,
        node_version: String,
        clock: Arc<dyn Clock>,
        authorization: Authorization,
    ) -> HandshakeProvider {
        HandshakeProvider {
            key,
            chain,
            listening_port,
            node_version,
            clock,
            authorization: RwLock::new(authorization),
        }
    }

    pub fn set_authorization(&self, authorization: Authorization) {
        *self.authorization.write() = authorization;
    }

    pub fn authorization(&self) -> Authorization {
        self.authorization.read().clone()
    }

    /// A fresh signed handshake with our current chain tips and a new session id.
    pub fn build(&self) -> Handshake {
        let best = self.chain.best_chain();
        let lib = self.chain.last_irreversible();
        let data = HandshakeData {
            chain_id: self.chain.chain_id(),
            version: PROTOCOL_VERSION,
            listening_port: i32::from(self.listening_port),
            pubkey: self.key.pubkey().to_vec(),
            best_chain_hash: MessageField::some(best.hash.to_proto()),
            best_chain_height: best.height,
            last_irreversible_block_hash: MessageField::some(lib.hash.to_proto()),
            last_irreversible_block_height: lib.height,
            time: MessageField::some(timestamp_from_millis(self.clock.now_millis())),
            node_version: self.node_version.clone(),
            ..Default::default()
        };
        sign_handshake(&self.key, data)
    }

    /// The C# node's checks, in its order: authorization, chain id, protocol version, freshness,
    /// signature, self-connection.
    pub fn validate(&self, handshake: &Handshake) -> Result<(), HandshakeRejection> {
        let data = handshake
            .handshake_data
            .as_ref()
            .ok_or(HandshakeRejection::Malformed)?;
        if !self.authorization.read().allows(&data.pubkey) {
            return Err(HandshakeRejection::Unauthorized);
        }
        if data.chain_id != self.chain.chain_id() {
            return Err(HandshakeRejection::InvalidChainId(data.chain_id));
        }
        if data.version != PROTOCOL_VERSION {
            return Err(HandshakeRejection::InvalidVersion(data.version));
        }
        let stamped = timestamp_nanos(data.time.as_ref().ok_or(HandshakeRejection::Malformed)?);
        let now = i128::from(self.clock.now_millis()) * 1_000_000;
        if now > stamped + i128::from(HANDSHAKE_TIMEOUT_MS) * 1_000_000 {
            return Err(HandshakeRejection::HandshakeTimeout);
        }
        verify(&handshake_hash(data), &handshake.signature, &data.pubkey)
            .map_err(|_| HandshakeRejection::InvalidSignature)?;
        if data.pubkey[..] == self.key.pubkey()[..] {
            return Err(HandshakeRejection::SelfConnection);
        }
        Ok(())
    }
}

/// `data` signed by `key` over aelf's handshake hash, with a fresh session id: the handshake
/// a node (or a crawler, with data of its own) sends.
pub fn sign_handshake(key: &NodeKey, data: HandshakeData) -> Handshake {
    let signature = key.sign(&handshake_hash(&data)).to_vec();
    Handshake {
        handshake_data: MessageField::some(data),
        signature,
        session_id: new_session_id().to_vec(),
        ..Default::default()
    }
}

/// Five random bytes identifying one side of a session.
pub fn new_session_id() -> [u8; SESSION_ID_SIZE] {
    let mut id = [0u8; SESSION_ID_SIZE];
    rand::rng().fill_bytes(&mut id);
    id
}
