//! `TxPool`: the node's pending transactions — bounded, de-duplicated, each one's id and
//! signature checked — which the producer takes in arrival order (spec 9: a transaction
//! accepted here is what gets broadcast).
//!
//! Owns the pending list and a bounded memory of ids already seen (pending, taken or included
//! in a block), so a transaction that comes back from another peer is a duplicate and is not
//! broadcast again. It must not broadcast or touch the chain: the event thread does both.

use crate::chain::PendingTransactions;
use crate::crypto::recover_pubkey;
use crate::pb::aelf_core::Transaction;
use crate::types::{transaction_id, Address, Hash};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet, VecDeque};
use thiserror::Error;

/// Default pending transactions (`[network] transaction_pool_capacity`).
pub const DEFAULT_TX_POOL_CAPACITY: usize = 5_120;
/// Seen ids remembered per pending slot: a transaction is recognised for a while after it left
/// the pool.
const SEEN_PER_SLOT: usize = 4;

/// Why a transaction was not taken.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TxRejection {
    #[error("transaction {0} is already known")]
    Duplicate(Hash),
    #[error("transaction pool is full ({0} transactions)")]
    Full(usize),
    #[error("malformed transaction: {0}")]
    Malformed(String),
    #[error("bad signature on transaction {0}")]
    BadSignature(Hash),
}

/// Counters for operators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxPoolStats {
    pub pending: usize,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
}

struct Inner {
    /// Arrival order of the pending ids (an id taken or included stays here until popped;
    /// `pending` says whether it is still waiting).
    order: VecDeque<Hash>,
    pending: HashMap<Hash, Transaction>,
    /// Ids seen recently, oldest first, bounded.
    seen_order: VecDeque<Hash>,
    seen: HashSet<Hash>,
    stats: TxPoolStats,
}

/// See the module documentation.
pub struct TxPool {
    capacity: usize,
    seen_capacity: usize,
    inner: Mutex<Inner>,
}

/// The id of `tx` if its signature recovers to the key of its `from` address.
fn checked_id(tx: &Transaction) -> Result<Hash, TxRejection> {
    let id = transaction_id(tx).map_err(|e| TxRejection::Malformed(e.to_string()))?;
    let from = tx
        .from
        .as_ref()
        .map(|a| a.value.as_slice())
        .ok_or_else(|| TxRejection::Malformed("no from address".into()))?;
    let pubkey = recover_pubkey(&id, &tx.signature).map_err(|_| TxRejection::BadSignature(id))?;
    if Address::from_pubkey(&pubkey).0.as_slice() != from {
        return Err(TxRejection::BadSignature(id));
    }
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

    /// Checks id and signature, de-duplicates and stores `tx`. `Ok(id)`: newly accepted.
    pub fn add(&self, tx: Transaction) -> Result<Hash, TxRejection> {
        let checked = checked_id(&tx);
        let mut inner = self.inner.lock();
        let id = match checked {
            Ok(id) => id,
            Err(e) => {
                inner.stats.rejected += 1;
                return Err(e);
            }
        };
        if inner.seen.contains(&id) || inner.pending.contains_key(&id) {
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

    /// Transactions included in an accepted block leave the pool (and stay remembered).
    pub fn remove_included(&self, ids: &[Hash]) {
        let mut inner = self.inner.lock();
        for id in ids {
            inner.pending.remove(id);
            self.remember(&mut inner, *id);
        }
        let Inner { order, pending, .. } = &mut *inner;
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
        let ids: Vec<Hash> = list.iter().map(|t| pool.add(t.clone()).unwrap()).collect();
        assert_eq!(
            pool.add(list[1].clone()),
            Err(TxRejection::Duplicate(ids[1]))
        );
        assert_eq!(pool.len(), 3);
        let taken = pool.take(2);
        assert_eq!(taken, list[..2].to_vec());
        assert_eq!(pool.take(5), list[2..].to_vec());
        assert!(pool.is_empty());
        // Taken transactions are still recognised.
        assert!(matches!(
            pool.add(list[0].clone()),
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
            pool.add(tampered),
            Err(TxRejection::BadSignature(_))
        ));
        let mut signed_by_other = txs(&key, 1, 1).remove(0);
        let other = NodeKey::generate();
        let id = transaction_id(&signed_by_other).unwrap();
        signed_by_other.signature = other.sign(&id).to_vec();
        assert_eq!(
            pool.add(signed_by_other),
            Err(TxRejection::BadSignature(id))
        );
        let mut unsigned = txs(&key, 1, 2).remove(0);
        unsigned.signature.clear();
        assert!(matches!(
            pool.add(unsigned),
            Err(TxRejection::BadSignature(_))
        ));
        assert!(matches!(
            pool.add(Transaction::new()),
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
        let a = pool.add(list[0].clone()).unwrap();
        pool.add(list[1].clone()).unwrap();
        assert_eq!(pool.add(list[2].clone()), Err(TxRejection::Full(2)));
        pool.remove_included(&[a]);
        assert!(!pool.contains(&a));
        assert_eq!(pool.len(), 1);
        pool.add(list[2].clone()).unwrap();
        assert!(matches!(
            pool.add(list[0].clone()),
            Err(TxRejection::Duplicate(_))
        ));
        assert_eq!(pool.take(10), list[1..].to_vec());
    }

    #[test]
    fn the_memory_of_seen_ids_is_bounded() {
        let pool = TxPool::new(1);
        let key = NodeKey::generate();
        for (i, tx) in txs(&key, 20, 0).into_iter().enumerate() {
            pool.add(tx).unwrap_or_else(|e| panic!("{i}: {e}"));
            pool.take(1);
        }
        let inner = pool.inner.lock();
        assert!(inner.seen.len() <= SEEN_PER_SLOT, "{}", inner.seen.len());
        assert_eq!(inner.seen.len(), inner.seen_order.len());
    }
}
