//! `TxPool`: the node's pending transactions — bounded, de-duplicated, each one checked as a C#
//! node's pool checks it before it is taken ([`super::tx_rules`]: fields, addresses, size,
//! reference block, signature) — which the producer takes in arrival order (spec 9: a
//! transaction accepted here is what gets broadcast).
//!
//! Owns the pending list, a bounded memory of the ids already seen (pending or taken) and of
//! the ids included in the best chain's blocks of the last `ReferenceBlockValidPeriod` heights,
//! so a transaction that comes back from another peer, or that a block already holds, is a
//! duplicate and is not broadcast again. It reads the best
//! chain (through [`ChainView`]) and must not write it nor broadcast: the event thread does both.

use super::tx_rules::{
    check_fields, check_reference, check_size, expired_at, ChainView, REFERENCE_BLOCK_VALID_PERIOD,
};
use crate::chain::PendingTransactions;
use crate::crypto::recover_pubkey;
use crate::pb::aelf_core::Transaction;
use crate::types::{transaction_id, Address, Hash};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet, VecDeque};

pub use super::tx_rules::TxRejection;

/// Default pending transactions (`[network] transaction_pool_capacity`; C#
/// `TransactionOptions.PoolLimit` = 5120).
pub const DEFAULT_TX_POOL_CAPACITY: usize = 5_120;
/// Seen ids remembered per pending slot: a transaction is recognised for a while after it left
/// the pool.
const SEEN_PER_SLOT: usize = 4;
/// Ids of included transactions remembered at most: `ReferenceBlockValidPeriod` blocks of C#
/// `TransactionOptions.BlockTransactionLimit` (512) each. Past it the oldest are forgotten (C#
/// asks its transaction store, which is unbounded).
pub const MAX_INCLUDED_REMEMBERED: usize = REFERENCE_BLOCK_VALID_PERIOD as usize * 512;

/// Counters for operators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxPoolStats {
    pub pending: usize,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// Pending transactions dropped because the best chain left their reference block behind.
    pub expired: u64,
}

struct Inner {
    /// Arrival order of the pending ids (an id taken or included stays here until popped;
    /// `pending` says whether it is still waiting).
    order: VecDeque<Hash>,
    pending: HashMap<Hash, Transaction>,
    /// Ids seen recently, oldest first, bounded.
    seen_order: VecDeque<Hash>,
    seen: HashSet<Hash>,
    /// Ids included in recent blocks, by block height, oldest first (bounded).
    included_order: VecDeque<(i64, Vec<Hash>)>,
    included: HashSet<Hash>,
    stats: TxPoolStats,
}

/// See the module documentation.
pub struct TxPool {
    capacity: usize,
    seen_capacity: usize,
    inner: Mutex<Inner>,
}

/// Whether the signature of `tx` (id `id`) recovers to the key of its `from` address (C#
/// `VerifySignature`).
fn check_signature(tx: &Transaction, id: Hash) -> Result<(), TxRejection> {
    let from = tx
        .from
        .as_ref()
        .map(|a| a.value.as_slice())
        .unwrap_or_default();
    let pubkey = recover_pubkey(&id, &tx.signature).map_err(|_| TxRejection::BadSignature(id))?;
    if Address::from_pubkey(&pubkey).0.as_slice() != from {
        return Err(TxRejection::BadSignature(id));
    }
    Ok(())
}

/// Every check but the duplicate and capacity ones, cheapest first; the signature last.
fn check(tx: &Transaction, chain: &(impl ChainView + ?Sized)) -> Result<Hash, TxRejection> {
    check_fields(tx)?;
    let id = transaction_id(tx).map_err(|e| TxRejection::Malformed(e.to_string()))?;
    check_size(tx, id)?;
    check_reference(tx, chain)?;
    check_signature(tx, id)?;
    Ok(id)
}

impl TxPool {
    /// At most `capacity` pending transactions (0 is taken as 1).
    pub fn new(capacity: usize) -> TxPool {
        let capacity = capacity.max(1);
        TxPool {
            capacity,
            seen_capacity: capacity.saturating_mul(SEEN_PER_SLOT),
            inner: Mutex::new(Inner {
                order: VecDeque::new(),
                pending: HashMap::new(),
                seen_order: VecDeque::new(),
                seen: HashSet::new(),
                included_order: VecDeque::new(),
                included: HashSet::new(),
                stats: TxPoolStats::default(),
            }),
        }
    }

    fn remember(&self, inner: &mut Inner, id: Hash) {
        if !inner.seen.insert(id) {
            return;
        }
        inner.seen_order.push_back(id);
        while inner.seen_order.len() > self.seen_capacity {
            if let Some(old) = inner.seen_order.pop_front() {
                // A pending transaction stays recognisable while it is pending.
                if !inner.pending.contains_key(&old) {
                    inner.seen.remove(&old);
                } else {
                    inner.seen_order.push_back(old);
                    break;
                }
            }
        }
    }

    fn is_known(inner: &Inner, id: &Hash) -> bool {
        inner.seen.contains(id) || inner.pending.contains_key(id) || inner.included.contains(id)
    }

    /// Checks `tx` against the rules of [`super::tx_rules`] and the best chain of `chain`,
    /// de-duplicates and stores it. `Ok(id)`: newly accepted (to be relayed).
    pub fn add<V: ChainView + ?Sized>(
        &self,
        tx: Transaction,
        chain: &V,
    ) -> Result<Hash, TxRejection> {
        // A known id is refused before the costly checks (C# `TxHub` looks it up first).
        if let Ok(id) = transaction_id(&tx) {
            let mut inner = self.inner.lock();
            if Self::is_known(&inner, &id) {
                inner.stats.duplicates += 1;
                return Err(TxRejection::Duplicate(id));
            }
        }
        let checked = check(&tx, chain);
        let mut inner = self.inner.lock();
        let id = match checked {
            Ok(id) => id,
            Err(e) => {
                inner.stats.rejected += 1;
                return Err(e);
            }
        };
        if Self::is_known(&inner, &id) {
            inner.stats.duplicates += 1;
            return Err(TxRejection::Duplicate(id));
        }
        if inner.pending.len() >= self.capacity {
            inner.stats.rejected += 1;
            return Err(TxRejection::Full(self.capacity));
        }
        inner.pending.insert(id, tx);
        inner.order.push_back(id);
        self.remember(&mut inner, id);
        inner.stats.accepted += 1;
        Ok(id)
    }

    /// Whether `id` is pending now.
    pub fn contains(&self, id: &Hash) -> bool {
        self.inner.lock().pending.contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.inner.lock().pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The block at `height` became part of the best chain with the transactions `ids`: they
    /// leave the pool and are remembered while a transaction could still refer to a block
    /// below them; pending transactions whose reference block has now expired leave too (C#
    /// `TxHub` drops them on a new best chain).
    pub fn on_best_chain_block(&self, height: i64, ids: &[Hash]) {
        let mut inner = self.inner.lock();
        for id in ids {
            inner.pending.remove(id);
            self.remember(&mut inner, *id);
        }
        let Inner {
            order,
            pending,
            included_order,
            included,
            stats,
            ..
        } = &mut *inner;
        if !ids.is_empty() {
            included.extend(ids.iter().copied());
            included_order.push_back((height, ids.to_vec()));
        }
        // A transaction included at height h refers to a block below h, so it has expired (and
        // is refused as such) once the best chain is at h + ReferenceBlockValidPeriod - 1; its
        // record goes one block later.
        let mut remembered: usize = included_order.iter().map(|(_, ids)| ids.len()).sum();
        while let Some((h, old)) = included_order.front() {
            let too_many = remembered > MAX_INCLUDED_REMEMBERED;
            if !too_many && h.saturating_add(REFERENCE_BLOCK_VALID_PERIOD) > height {
                break;
            }
            remembered -= old.len();
            for id in old {
                included.remove(id);
            }
            included_order.pop_front();
        }
        let before = pending.len();
        pending.retain(|_, tx| !expired_at(tx, height));
        stats.expired += (before - pending.len()) as u64;
        order.retain(|id| pending.contains_key(id));
    }

    pub fn stats(&self) -> TxPoolStats {
        let inner = self.inner.lock();
        TxPoolStats {
            pending: inner.pending.len(),
            ..inner.stats
        }
    }
}

impl PendingTransactions for TxPool {
    /// Up to `max` pending transactions, oldest first; they leave the pool.
    fn take(&self, max: usize) -> Vec<Transaction> {
        let mut inner = self.inner.lock();
        let mut taken = Vec::new();
        while taken.len() < max {
            let Some(id) = inner.order.pop_front() else {
                break;
            };
            if let Some(tx) = inner.pending.remove(&id) {
                taken.push(tx);
            }
        }
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{synthetic_transactions, ChainTip};
    use crate::crypto::NodeKey;
    use crate::os::tx_rules::tests::View;

    fn txs(key: &NodeKey, n: usize, nonce: u64) -> Vec<Transaction> {
        let tip = ChainTip {
            hash: Hash([1; 32]),
            height: 1,
        };
        synthetic_transactions(key, &tip, n, nonce)
    }

    #[test]
    fn accepts_once_and_hands_out_in_arrival_order() {
        let pool = TxPool::new(10);
        let key = NodeKey::generate();
        let list = txs(&key, 3, 0);
        let ids: Vec<Hash> = list
            .iter()
            .map(|t| pool.add(t.clone(), &View::up_to(1)).unwrap())
            .collect();
        assert_eq!(
            pool.add(list[1].clone(), &View::up_to(1)),
            Err(TxRejection::Duplicate(ids[1]))
        );
        assert_eq!(pool.len(), 3);
        let taken = pool.take(2);
        assert_eq!(taken, list[..2].to_vec());
        assert_eq!(pool.take(5), list[2..].to_vec());
        assert!(pool.is_empty());
        // Taken transactions are still recognised.
        assert!(matches!(
            pool.add(list[0].clone(), &View::up_to(1)),
            Err(TxRejection::Duplicate(_))
        ));
        let stats = pool.stats();
        assert_eq!((stats.accepted, stats.duplicates, stats.pending), (3, 2, 0));
    }

    #[test]
    fn refuses_bad_signatures_and_malformed_transactions() {
        let pool = TxPool::new(10);
        let key = NodeKey::generate();
        let mut tampered = txs(&key, 1, 0).remove(0);
        tampered.params = vec![9, 9];
        assert!(matches!(
            pool.add(tampered, &View::up_to(1)),
            Err(TxRejection::BadSignature(_))
        ));
        let mut signed_by_other = txs(&key, 1, 1).remove(0);
        let other = NodeKey::generate();
        let id = transaction_id(&signed_by_other).unwrap();
        signed_by_other.signature = other.sign(&id).to_vec();
        assert_eq!(
            pool.add(signed_by_other, &View::up_to(1)),
            Err(TxRejection::BadSignature(id))
        );
        let mut unsigned = txs(&key, 1, 2).remove(0);
        unsigned.signature.clear();
        assert!(matches!(
            pool.add(unsigned, &View::up_to(1)),
            Err(TxRejection::BadSignature(_))
        ));
        assert!(matches!(
            pool.add(Transaction::new(), &View::up_to(1)),
            Err(TxRejection::Malformed(_))
        ));
        assert_eq!(pool.stats().rejected, 4);
        assert!(pool.is_empty());
    }

    #[test]
    fn a_full_pool_refuses_and_included_ones_leave() {
        let pool = TxPool::new(2);
        let key = NodeKey::generate();
        let list = txs(&key, 3, 0);
        let a = pool.add(list[0].clone(), &View::up_to(1)).unwrap();
        pool.add(list[1].clone(), &View::up_to(1)).unwrap();
        assert_eq!(
            pool.add(list[2].clone(), &View::up_to(1)),
            Err(TxRejection::Full(2))
        );
        pool.on_best_chain_block(1, &[a]);
        assert!(!pool.contains(&a));
        assert_eq!(pool.len(), 1);
        pool.add(list[2].clone(), &View::up_to(1)).unwrap();
        assert!(matches!(
            pool.add(list[0].clone(), &View::up_to(1)),
            Err(TxRejection::Duplicate(_))
        ));
        assert_eq!(pool.take(10), list[1..].to_vec());
    }

    #[test]
    fn the_memory_of_seen_ids_is_bounded() {
        let pool = TxPool::new(1);
        let key = NodeKey::generate();
        for (i, tx) in txs(&key, 20, 0).into_iter().enumerate() {
            pool.add(tx, &View::up_to(1))
                .unwrap_or_else(|e| panic!("{i}: {e}"));
            pool.take(1);
        }
        let inner = pool.inner.lock();
        assert!(inner.seen.len() <= SEEN_PER_SLOT, "{}", inner.seen.len());
        assert_eq!(inner.seen.len(), inner.seen_order.len());
    }

    #[test]
    fn included_ids_are_duplicates_until_they_expire_and_expired_ones_leave() {
        let pool = TxPool::new(10);
        let key = NodeKey::generate();
        let view = View::up_to(1);
        let list = txs(&key, 3, 0);
        let included = transaction_id(&list[0]).unwrap();
        // Included by another producer's block 2: never taken here.
        pool.on_best_chain_block(2, &[included]);
        assert_eq!(
            pool.add(list[0].clone(), &View::up_to(2)),
            Err(TxRejection::Duplicate(included))
        );
        let pending = pool.add(list[1].clone(), &view).unwrap();
        // At height 1 + 512 every transaction referring to block 1 has expired.
        pool.on_best_chain_block(512, &[]);
        assert!(pool.contains(&pending));
        pool.on_best_chain_block(513, &[]);
        assert!(!pool.contains(&pending));
        assert_eq!(pool.stats().expired, 1);
        // The block-2 record went with it (2 + 512 > 513 keeps it one more block).
        assert!(pool.inner.lock().included.contains(&included));
        pool.on_best_chain_block(514, &[]);
        let inner = pool.inner.lock();
        assert!(inner.included.is_empty() && inner.included_order.is_empty());
    }

    #[test]
    fn the_memory_of_included_ids_is_bounded() {
        let pool = TxPool::new(1);
        let ids = |start: usize, n: usize| -> Vec<Hash> {
            (start..start + n)
                .map(|i| {
                    let mut h = [0u8; 32];
                    h[..8].copy_from_slice(&(i as u64).to_be_bytes());
                    Hash(h)
                })
                .collect()
        };
        let half = MAX_INCLUDED_REMEMBERED / 2;
        pool.on_best_chain_block(2, &ids(0, half));
        pool.on_best_chain_block(3, &ids(half, half));
        assert_eq!(pool.inner.lock().included.len(), MAX_INCLUDED_REMEMBERED);
        pool.on_best_chain_block(4, &ids(2 * half, 1));
        let inner = pool.inner.lock();
        assert_eq!(
            inner.included_order.len(),
            2,
            "the oldest block was forgotten"
        );
        assert_eq!(inner.included.len(), half + 1);
    }

    #[test]
    fn refuses_what_a_c_sharp_pool_refuses_before_the_signature() {
        let pool = TxPool::new(10);
        let key = NodeKey::generate();
        let ahead = synthetic_transactions(
            &key,
            &ChainTip {
                hash: Hash([2; 32]),
                height: 2,
            },
            1,
            0,
        )
        .remove(0);
        assert!(matches!(
            pool.add(ahead.clone(), &View::up_to(1)),
            Err(TxRejection::RefBlockAhead { number: 2, best: 1 })
        ));
        // Not remembered: once our chain has its reference block, it is taken.
        pool.add(ahead, &View::up_to(2)).unwrap();
        let mut wrong = txs(&key, 1, 5).remove(0);
        wrong.signature = vec![1; 65];
        wrong.ref_block_prefix = vec![9; 4];
        assert!(matches!(
            pool.add(wrong, &View::up_to(1)),
            Err(TxRejection::RefBlockMismatch { number: 1, .. })
        ));
        assert_eq!(pool.len(), 1);
    }
}
