//! [`ChainError`]: why a block was refused or the store could not be used.
//!
//! Owns the error type of the chain layer only. It must not decide anything.

use crate::crypto::SignatureError;
use crate::types::{Hash, TypesError};
use std::path::PathBuf;
use thiserror::Error;

/// Why the chain refused a block, or could not read or write its store.
#[derive(Debug, Error)]
pub enum ChainError {
    #[error("block has no header")]
    MissingHeader,
    #[error("block is for chain id {got}, this chain is {expected}")]
    WrongChainId { expected: i32, got: i32 },
    #[error("invalid block: {0}")]
    InvalidBlock(#[source] TypesError),
    #[error("transaction {index} of the block cannot be hashed: {source}")]
    InvalidTransaction {
        index: usize,
        #[source]
        source: TypesError,
    },
    #[error(
        "block {block} commits to transactions root {header}, its transactions give {computed}"
    )]
    BadTransactionsRoot {
        block: Hash,
        header: Hash,
        computed: Hash,
    },
    #[error("block {block} is not signed by its signer_pubkey: {source}")]
    BadSignature {
        block: Hash,
        #[source]
        source: SignatureError,
    },
    #[error("block {block} breaks the consensus rules: {source}")]
    Consensus {
        block: Hash,
        #[source]
        source: super::aedpos::ConsensusError,
    },
    #[error("block {block} is {ahead_ms} ms ahead of the local clock (at most 4000 allowed)")]
    FutureBlock { block: Hash, ahead_ms: i64 },
    #[error("block {block} builds on unknown block {parent}")]
    UnknownParent { block: Hash, parent: Hash },
    #[error("block {block} claims height {got}, its parent makes it {expected}")]
    WrongHeight {
        block: Hash,
        expected: i64,
        got: i64,
    },
    #[error("block {block} forks off the best chain at height {fork_height}, below the last irreversible height {lib_height}")]
    BelowIrreversible {
        block: Hash,
        fork_height: i64,
        lib_height: i64,
    },
    #[error("data dir holds chain {stored_name} ({stored_chain_id}) with genesis {stored_genesis}, config says {config_name} ({config_chain_id})/{config_genesis}")]
    GenesisMismatch {
        stored_chain_id: i32,
        stored_name: String,
        stored_genesis: Hash,
        config_chain_id: i32,
        config_name: String,
        config_genesis: Hash,
    },
    #[error("cannot create the data dir {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("chain store {0} is already open (is another node running on this data dir?)")]
    InUse(PathBuf),
    #[error("cannot open chain store {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: redb::Error,
    },
    #[error("chain store: {0}")]
    Store(#[from] redb::Error),
    #[error("chain store is corrupt: {0}")]
    Corrupt(String),
    #[error("cannot encode block: {0}")]
    Encode(#[source] protobuf::Error),
    #[error("cannot start the block verify threads: {0}")]
    VerifyThreads(#[source] std::io::Error),
    #[error("block {0} of the batch was not verified: a verify thread stopped")]
    Unverified(usize),
}

impl ChainError {
    /// Any redb error (database, transaction, table, storage, commit) as a store error.
    pub(super) fn store<E: Into<redb::Error>>(e: E) -> ChainError {
        ChainError::Store(e.into())
    }
}
