//! The [`Chain`] trait: everything the network layer may ask of the chain, and its value types.
//!
//! Owns only declarations. It must not hold state or know how the chain is stored.

use super::ChainError;
use crate::pb::network_types::BlockWithTransactions;
use crate::types::{block_hash, Hash};

/// A block on the chain named by hash and height (the best tip, the LIB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainTip {
    pub hash: Hash,
    pub height: i64,
}

/// What happened to the chain. Sent to subscribers after the change is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChainEvent {
    /// The block became part of the best chain. On a reorganisation, sent for each newly
    /// canonical block of the winning branch, in height order.
    BlockAccepted { hash: Hash, height: i64 },
    /// The last irreversible block advanced to this block (at most once per attached block).
    NewIrreversible { hash: Hash, height: i64 },
}

/// How an accepted block was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttachOutcome {
    /// Stored, and it is the new best tip (possibly after a reorganisation).
    Extended,
    /// Stored on a branch that is not (or not yet) the best chain.
    SideBranch,
    /// Already stored; nothing changed and no event was sent.
    AlreadyKnown,
}

/// What [`Chain::attach_blocks`] did with a batch.
#[derive(Debug)]
pub struct BatchOutcome {
    /// One outcome per block taken, in the batch's order: a prefix of the batch.
    pub outcomes: Vec<AttachOutcome>,
    /// Why the block after the last outcome was refused; the blocks after it were not tried.
    pub refused: Option<ChainError>,
}

/// The network layer's view of the chain.
pub trait Chain: Send + Sync + 'static {
    /// The chain id every block and handshake must carry.
    fn chain_id(&self) -> i32;
    /// The hash of the block at height 1 (zero when a follower was not told it).
    fn genesis_hash(&self) -> Hash;
    /// A follower's checkpoint while it is not stored yet (then it is also the best block and
    /// the LIB the chain names): block sync fetches it by hash first.
    fn awaiting_checkpoint(&self) -> Option<ChainTip> {
        None
    }
    /// The tip of the best chain.
    fn best_chain(&self) -> ChainTip;
    /// The last irreversible block (on the best chain, never going backwards).
    fn last_irreversible(&self) -> ChainTip;
    /// Whether the block is stored (on any branch).
    fn has_block(&self, hash: &Hash) -> bool;
    /// A stored block on any branch.
    fn block_by_hash(&self, hash: &Hash) -> Result<Option<BlockWithTransactions>, ChainError>;
    /// The block at `height` on the best chain.
    fn block_by_height(&self, height: i64) -> Result<Option<BlockWithTransactions>, ChainError>;
    /// The hash of the block at `height` on the best chain (a transaction's reference block).
    /// The default reads the block; a chain with an index answers from it.
    fn canonical_hash(&self, height: i64) -> Result<Option<Hash>, ChainError> {
        match self.block_by_height(height)? {
            Some(block) => match block.header.as_ref() {
                Some(header) => Ok(Some(block_hash(header).map_err(ChainError::InvalidBlock)?)),
                None => Err(ChainError::MissingHeader),
            },
            None => Ok(None),
        }
    }
    /// Up to `max` blocks that follow `hash` on the best chain, in height order; empty if `hash`
    /// is unknown or not on the best chain.
    fn blocks_after(
        &self,
        hash: &Hash,
        max: usize,
    ) -> Result<Vec<BlockWithTransactions>, ChainError>;
    /// Validates and stores a block, moving the best chain and the LIB as the fork choice says.
    fn attach_block(&self, block: BlockWithTransactions) -> Result<AttachOutcome, ChainError>;
    /// Attaches blocks in order, as [`Chain::attach_block`] would one after another, and stops
    /// at the first one refused. The default does exactly that; a chain may check the blocks
    /// in parallel and store the batch at once.
    fn attach_blocks(&self, blocks: Vec<BlockWithTransactions>) -> BatchOutcome {
        let mut outcomes = Vec::with_capacity(blocks.len());
        for block in blocks {
            match self.attach_block(block) {
                Ok(outcome) => outcomes.push(outcome),
                Err(e) => {
                    return BatchOutcome {
                        outcomes,
                        refused: Some(e),
                    }
                }
            }
        }
        BatchOutcome {
            outcomes,
            refused: None,
        }
    }
    /// A bounded receiver of chain events; when a subscriber's queue is full the event is
    /// dropped for it, counted and logged (never blocks attach). A capacity of 0 is taken as 1.
    fn subscribe(&self, capacity: usize) -> crossbeam_channel::Receiver<ChainEvent>;
}
