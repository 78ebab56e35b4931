//! Recoverable secp256k1 signatures as aelf uses them (spec 2.6).
//!
//! A signature is 65 bytes, `r ‖ s ‖ recovery id`, made over the 32-byte digest itself (no
//! further hashing). Verification recovers the signer's key and compares all 65 bytes of its
//! uncompressed form with the claimed key.

use crate::types::Hash;
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, PublicKey};
use thiserror::Error;

/// Length of an uncompressed secp256k1 public key (`0x04 ‖ X ‖ Y`).
pub const PUBKEY_LEN: usize = 65;
/// Length of an aelf signature (`r ‖ s ‖ recovery id`).
pub const SIGNATURE_LEN: usize = 65;

/// Why a signature does not prove what it claims.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    #[error("signature must be {SIGNATURE_LEN} bytes, got {0}")]
    Length(usize),
    #[error("recovery id must be 0..=3, got {0}")]
    RecoveryId(u8),
    #[error("signature is not a valid secp256k1 signature")]
    Malformed,
    #[error("signature was made by another key")]
    WrongKey,
    #[error("public key must be {PUBKEY_LEN} bytes of uncompressed secp256k1 key")]
    BadPubkey,
}

/// Recovers the uncompressed public key that signed `digest`.
pub fn recover_pubkey(digest: &Hash, signature: &[u8]) -> Result<[u8; PUBKEY_LEN], SignatureError> {
    if signature.len() != SIGNATURE_LEN {
        return Err(SignatureError::Length(signature.len()));
    }
    let v = signature[64];
    let recid = RecoveryId::try_from(i32::from(v)).map_err(|_| SignatureError::RecoveryId(v))?;
    let sig = RecoverableSignature::from_compact(&signature[..64], recid)
        .map_err(|_| SignatureError::Malformed)?;
    let key = sig
        .recover(Message::from_digest(digest.0))
        .map_err(|_| SignatureError::Malformed)?;
    Ok(key.serialize_uncompressed())
}

/// Checks that `signature` over `digest` was made by `pubkey` (65 bytes, uncompressed).
pub fn verify(digest: &Hash, signature: &[u8], pubkey: &[u8]) -> Result<(), SignatureError> {
    if recover_pubkey(digest, signature)?[..] == *pubkey {
        Ok(())
    } else {
        Err(SignatureError::WrongKey)
    }
}

/// Parses a public key given as 130 hex characters (the aelf peer identity form).
pub fn pubkey_from_hex(s: &str) -> Result<[u8; PUBKEY_LEN], SignatureError> {
    let bytes = hex::decode(s).map_err(|_| SignatureError::BadPubkey)?;
    let key: [u8; PUBKEY_LEN] = bytes.try_into().map_err(|_| SignatureError::BadPubkey)?;
    // Must be a point on the curve, in uncompressed form.
    match PublicKey::from_slice(&key) {
        Ok(_) if key[0] == 0x04 => Ok(key),
        _ => Err(SignatureError::BadPubkey),
    }
}
