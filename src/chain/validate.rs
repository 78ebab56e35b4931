//! The stateless checks of a block: what can be decided from the block alone, before the index
//! is consulted.
//!
//! Owns the order of the checks and their errors, and the `block-verify-<i>` threads
//! ([`BlockVerifier`]) that run them for the blocks of a batch in parallel (signature recovery
//! dominates the cost of a small block). It must not read the store or the index; the rules
//! that need the chain (parent, height, LIB) live in `index`.

use super::{ChainError, GENESIS_HEIGHT};
use crate::crypto::{verify, SignatureError, PUBKEY_LEN};
use crate::pb::aelf_core::Transaction;
use crate::pb::network_types::BlockWithTransactions;
use crate::thread::WorkerPool;
use crate::types::{block_hash, merkle_root, transaction_id, Hash};
use crossbeam_channel::{bounded, SendError};

/// Blocks waiting for a verify thread at most; a batch larger than this waits to hand over
/// the rest (the threads never wait on the batch's owner, so this cannot deadlock).
const VERIFY_QUEUE: usize = 64;

/// Where a block claims to sit: its hash, its parent and its height.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Placement {
    pub hash: Hash,
    pub parent: Hash,
    pub height: i64,
}

/// The cheap checks: a header for our chain whose hash can be computed. Enough to tell whether
/// the block is already stored before paying for [`check_contents`].
pub(super) fn identify(
    block: &BlockWithTransactions,
    chain_id: i32,
) -> Result<Placement, ChainError> {
    let header = block.header.as_ref().ok_or(ChainError::MissingHeader)?;
    if header.chain_id != chain_id {
        return Err(ChainError::WrongChainId {
            expected: chain_id,
            got: header.chain_id,
        });
    }
    let hash = block_hash(header).map_err(ChainError::InvalidBlock)?;
    // `block_hash` has checked that the previous hash is present; it must also be 32 bytes.
    let parent = header
        .previous_block_hash
        .as_ref()
        .map(Hash::from_proto)
        .unwrap_or(Ok(Hash::ZERO))
        .map_err(ChainError::InvalidBlock)?;
    Ok(Placement {
        hash,
        parent,
        height: header.height,
    })
}

/// The expensive checks: every transaction hashes, the header commits to their merkle root, and
/// (above genesis) the header is signed by its `signer_pubkey`.
pub(super) fn check_contents(
    block: &BlockWithTransactions,
    placement: &Placement,
) -> Result<(), ChainError> {
    let header = block.header.as_ref().ok_or(ChainError::MissingHeader)?;
    let computed = transactions_root(&block.transactions)?;
    let claimed = header
        .merkle_tree_root_of_transactions
        .as_ref()
        .map(Hash::from_proto)
        .unwrap_or(Ok(Hash::ZERO))
        .map_err(ChainError::InvalidBlock)?;
    if claimed != computed {
        return Err(ChainError::BadTransactionsRoot {
            block: placement.hash,
            header: claimed,
            computed,
        });
    }
    if placement.height > GENESIS_HEIGHT {
        let bad = |source| ChainError::BadSignature {
            block: placement.hash,
            source,
        };
        if header.signer_pubkey.len() != PUBKEY_LEN {
            return Err(bad(SignatureError::BadPubkey));
        }
        verify(&placement.hash, &header.signature, &header.signer_pubkey).map_err(bad)?;
    }
    Ok(())
}

/// The stateless verdict on one block: where it claims to sit (when its header can be read)
/// and whether its contents hold ([`check_contents`]; not tried when the header cannot be read).
#[derive(Debug)]
pub(super) struct Verdict {
    pub placement: Result<Placement, ChainError>,
    pub contents: Result<(), ChainError>,
}

impl Verdict {
    /// Both checks, in order.
    pub fn of(block: &BlockWithTransactions, chain_id: i32) -> Verdict {
        match identify(block, chain_id) {
            Ok(placement) => Verdict {
                contents: check_contents(block, &placement),
                placement: Ok(placement),
            },
            Err(e) => Verdict {
                placement: Err(e),
                contents: Ok(()),
            },
        }
    }
}

/// The threads that check the blocks of a batch side by side.
pub(super) struct BlockVerifier {
    pool: Option<WorkerPool>,
}

impl BlockVerifier {
    /// `threads` verify threads (at least 1).
    pub fn start(threads: usize) -> std::io::Result<BlockVerifier> {
        Ok(BlockVerifier {
            pool: Some(WorkerPool::start("block-verify", threads, VERIFY_QUEUE)?),
        })
    }

    /// The verdicts on `blocks`, in their order, each beside its block. A single block is
    /// checked on the calling thread; so is every block once the threads have stopped.
    pub fn check_all(
        &self,
        blocks: Vec<BlockWithTransactions>,
        chain_id: i32,
    ) -> Vec<(BlockWithTransactions, Verdict)> {
        let sender = self.pool.as_ref().and_then(WorkerPool::sender);
        let Some(sender) = sender.filter(|_| blocks.len() > 1) else {
            return blocks
                .into_iter()
                .map(|block| {
                    let verdict = Verdict::of(&block, chain_id);
                    (block, verdict)
                })
                .collect();
        };
        let n = blocks.len();
        let (reply, replies) = bounded(n);
        for (i, block) in blocks.into_iter().enumerate() {
            let reply = reply.clone();
            let work: crate::thread::Work = Box::new(move || {
                let verdict = Verdict::of(&block, chain_id);
                let _ = reply.send((i, block, verdict));
            });
            if let Err(SendError(work)) = sender.send(work) {
                work();
            }
        }
        drop(reply);
        let mut slots: Vec<Option<(BlockWithTransactions, Verdict)>> =
            std::iter::repeat_with(|| None).take(n).collect();
        // Every job replies once; a job lost to a panicking thread ends the batch there.
        for (i, block, verdict) in replies.iter() {
            if let Some(slot) = slots.get_mut(i) {
                *slot = Some((block, verdict));
            }
        }
        slots.into_iter().map_while(|slot| slot).collect()
    }
}

impl Drop for BlockVerifier {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            pool.stop();
        }
    }
}

/// The merkle root of the transactions' ids; a transaction that cannot be hashed is named by
/// its position.
pub(super) fn transactions_root(txs: &[Transaction]) -> Result<Hash, ChainError> {
    let mut ids = Vec::with_capacity(txs.len());
    for (index, tx) in txs.iter().enumerate() {
        let id = transaction_id(tx)
            .map_err(|source| ChainError::InvalidTransaction { index, source })?;
        ids.push(id);
    }
    Ok(merkle_root(&ids))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{genesis_block, ChainSettings};
    use crate::types::{BlockWithTransactionsExt, TypesError};

    fn settings() -> ChainSettings {
        ChainSettings::development(9_992_731, 1_767_225_600)
    }

    #[test]
    fn genesis_passes_both_stages() {
        let g = genesis_block(&settings());
        let p = identify(&g, settings().chain_id).unwrap();
        assert_eq!(p.hash, g.block_hash().unwrap());
        assert_eq!((p.parent, p.height), (Hash::ZERO, 1));
        check_contents(&g, &p).unwrap();
    }

    #[test]
    fn malformed_hashes_in_the_header_are_errors_not_panics() {
        let mut g = genesis_block(&settings());
        if let Some(h) = g.header.as_mut() {
            h.previous_block_hash.mut_or_insert_default().value = vec![1; 3];
        }
        assert!(matches!(
            identify(&g, settings().chain_id),
            Err(ChainError::InvalidBlock(TypesError::HashLength(3)))
        ));

        let mut g = genesis_block(&settings());
        if let Some(h) = g.header.as_mut() {
            h.merkle_tree_root_of_transactions
                .mut_or_insert_default()
                .value = vec![];
        }
        let p = identify(&g, settings().chain_id).unwrap();
        assert!(matches!(
            check_contents(&g, &p),
            Err(ChainError::InvalidBlock(TypesError::HashLength(0)))
        ));
    }

    #[test]
    fn a_short_signer_pubkey_is_a_bad_signature() {
        let mut g = genesis_block(&settings());
        if let Some(h) = g.header.as_mut() {
            h.height = 2;
            h.signer_pubkey = vec![4; 33];
        }
        let p = identify(&g, settings().chain_id).unwrap();
        assert!(matches!(
            check_contents(&g, &p),
            Err(ChainError::BadSignature {
                source: SignatureError::BadPubkey,
                ..
            })
        ));
    }
}
