//! The node's identity and aelf's signature rules: secp256k1 keys, 65-byte recoverable
//! signatures over 32-byte digests, and the node key file.
//!
//! Owns the private key. It must not log or print it: `NodeKey`'s `Debug` is redacted.

mod key_file;
mod node_key;
mod signature;

pub use key_file::{load_key_file, load_or_create_key_file, write_new_key_file, KeyFileError};
pub use node_key::NodeKey;
pub use signature::{
    pubkey_from_hex, recover_pubkey, verify, SignatureError, PUBKEY_LEN, SIGNATURE_LEN,
};
