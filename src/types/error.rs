//! The error type of the domain-rules layer.

use thiserror::Error;

/// Why a value off the wire or out of a config file does not satisfy an aelf rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TypesError {
    #[error("hash must be 32 bytes, got {0}")]
    HashLength(usize),
    #[error("invalid hex: {0}")]
    Hex(String),
    #[error("chain id name {name:?} is not valid: {reason}")]
    ChainIdName { name: String, reason: &'static str },
    #[error("version {0:?} is not of the form major.minor[.build[.revision]]")]
    Version(String),
    #[error("cannot hash transaction: {0}")]
    Transaction(&'static str),
    #[error("cannot hash block header: {0}")]
    BlockHeader(&'static str),
}
