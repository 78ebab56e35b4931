//! `Hash`: a 32-byte SHA-256 digest, the identity of blocks and transactions.

use super::TypesError;
use crate::pb::aelf_core as pb;
use sha2::{Digest, Sha256};
use std::fmt;

/// A 32-byte digest. Displays as lowercase hex, as the C# node's `ToHex()` does.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> Hash {
    Hash(Sha256::digest(bytes).into())
}

impl Hash {
    /// aelf's `Hash.Empty`: 32 zero bytes (still emitted on the wire as a non-empty value).
    pub const ZERO: Hash = Hash([0; 32]);

    pub fn from_slice(bytes: &[u8]) -> Result<Hash, TypesError> {
        <[u8; 32]>::try_from(bytes)
            .map(Hash)
            .map_err(|_| TypesError::HashLength(bytes.len()))
    }

    pub fn from_hex(s: &str) -> Result<Hash, TypesError> {
        let bytes = hex::decode(s).map_err(|e| TypesError::Hex(e.to_string()))?;
        Hash::from_slice(&bytes)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// SHA-256 of the two digests' bytes concatenated (aelf's `HashHelper.ConcatAndCompute`).
    pub fn concat_and_compute(&self, other: &Hash) -> Hash {
        let mut buf = [0u8; 64];
        buf[..32].copy_from_slice(&self.0);
        buf[32..].copy_from_slice(&other.0);
        sha256(&buf)
    }

    /// The wire form (`aelf.Hash`).
    pub fn to_proto(&self) -> pb::Hash {
        pb::Hash {
            value: self.0.to_vec(),
            ..Default::default()
        }
    }

    /// Reads a wire `aelf.Hash`; anything but 32 bytes is an error.
    pub fn from_proto(h: &pb::Hash) -> Result<Hash, TypesError> {
        Hash::from_slice(&h.value)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_input_is_the_standard_vector() {
        assert_eq!(
            sha256(b"").to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn wrong_lengths_are_rejected() {
        assert_eq!(Hash::from_slice(&[0; 31]), Err(TypesError::HashLength(31)));
        assert!(Hash::from_hex("zz").is_err());
        let h = sha256(b"x");
        assert_eq!(Hash::from_hex(&h.to_hex()), Ok(h));
        assert_eq!(Hash::from_proto(&h.to_proto()), Ok(h));
    }
}
