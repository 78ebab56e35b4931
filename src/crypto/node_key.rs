//! `NodeKey`: the node's secp256k1 identity key.

use super::signature::{PUBKEY_LEN, SIGNATURE_LEN};
use crate::types::{Address, Hash};
use secp256k1::ecdsa::RecoverableSignature;
use secp256k1::{Message, SecretKey};
use std::fmt;

/// The node's private key with its public forms precomputed. `Debug` never shows the secret.
#[derive(Clone)]
pub struct NodeKey {
    secret: SecretKey,
    pubkey: [u8; PUBKEY_LEN],
}

impl NodeKey {
    /// A fresh random key.
    pub fn generate() -> NodeKey {
        NodeKey::from_secret(SecretKey::new(&mut rand::rng()))
    }

    /// Wraps 32 secret bytes; `None` when they are not a valid secp256k1 scalar.
    pub fn from_bytes(bytes: [u8; 32]) -> Option<NodeKey> {
        SecretKey::from_secret_bytes(bytes)
            .ok()
            .map(NodeKey::from_secret)
    }

    fn from_secret(secret: SecretKey) -> NodeKey {
        let pubkey = secret.public_key().serialize_uncompressed();
        NodeKey { secret, pubkey }
    }

    /// The 65-byte uncompressed public key.
    pub fn pubkey(&self) -> &[u8; PUBKEY_LEN] {
        &self.pubkey
    }

    /// The public key as 130 lowercase hex characters: the node's identity on the network.
    pub fn pubkey_hex(&self) -> String {
        hex::encode(self.pubkey)
    }

    pub fn address(&self) -> Address {
        Address::from_pubkey(&self.pubkey)
    }

    /// The 32 secret bytes as 64 lowercase hex characters (the key file's content).
    pub fn secret_hex(&self) -> String {
        hex::encode(self.secret.to_secret_bytes())
    }

    /// Signs a 32-byte digest: `r ‖ s ‖ recovery id`, low-S, RFC 6979 nonce.
    pub fn sign(&self, digest: &Hash) -> [u8; SIGNATURE_LEN] {
        let sig = RecoverableSignature::sign_ecdsa_recoverable(
            Message::from_digest(digest.0),
            &self.secret,
        );
        let (recid, rs) = sig.serialize_compact();
        let mut out = [0u8; SIGNATURE_LEN];
        out[..64].copy_from_slice(&rs);
        out[64] = recid.to_u8();
        out
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NodeKey(pubkey={}, secret=<redacted>)",
            self.pubkey_hex()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{recover_pubkey, verify, SignatureError};
    use crate::types::sha256;

    #[test]
    fn sign_and_recover_round_trip() {
        let key = NodeKey::generate();
        let digest = sha256(b"payload");
        let sig = key.sign(&digest);
        assert_eq!(recover_pubkey(&digest, &sig), Ok(*key.pubkey()));
        assert_eq!(verify(&digest, &sig, key.pubkey()), Ok(()));
        assert_eq!(key.pubkey()[0], 0x04);
    }

    #[test]
    fn signatures_are_low_s() {
        // Half the curve order: any s above it is "high".
        let half_n =
            hex::decode("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0")
                .unwrap();
        let key = NodeKey::generate();
        for i in 0..32u8 {
            let sig = key.sign(&sha256(&[i]));
            assert!(sig[32..64] <= half_n[..], "high-S signature");
        }
    }

    #[test]
    fn bad_signatures_are_rejected() {
        let key = NodeKey::generate();
        let other = NodeKey::generate();
        let digest = sha256(b"payload");
        let sig = key.sign(&digest);
        assert_eq!(
            verify(&digest, &sig[..64], key.pubkey()),
            Err(SignatureError::Length(64))
        );
        let mut bad_recid = sig;
        bad_recid[64] = 4;
        assert_eq!(
            verify(&digest, &bad_recid, key.pubkey()),
            Err(SignatureError::RecoveryId(4))
        );
        assert_eq!(
            verify(&digest, &sig, other.pubkey()),
            Err(SignatureError::WrongKey)
        );
        assert_eq!(
            verify(&sha256(b"other"), &sig, key.pubkey()),
            Err(SignatureError::WrongKey)
        );
        assert!(!format!("{key:?}").contains(&key.secret_hex()));
    }
}
