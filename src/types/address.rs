//! `Address`: SHA-256(SHA-256(public key)), shown as Base58Check.

use super::{sha256, Hash};
use crate::pb::aelf_core as pb;
use std::fmt;

/// A 32-byte account address derived from a 65-byte public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Address(pub [u8; 32]);

impl Address {
    /// aelf's `Address.FromPublicKey`: double SHA-256 of the key bytes.
    pub fn from_pubkey(pubkey: &[u8]) -> Address {
        Address(sha256(sha256(pubkey).as_bytes()).0)
    }

    /// Base58 of the 32 bytes followed by a 4-byte double-SHA-256 checksum.
    pub fn to_base58(&self) -> String {
        bs58::encode(self.0).with_check().into_string()
    }

    pub fn from_base58(s: &str) -> Option<Address> {
        let bytes = bs58::decode(s).with_check(None).into_vec().ok()?;
        Hash::from_slice(&bytes).ok().map(|h| Address(h.0))
    }

    pub fn to_proto(&self) -> pb::Address {
        pb::Address {
            value: self.0.to_vec(),
            ..Default::default()
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base58())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self.to_base58())
    }
}
