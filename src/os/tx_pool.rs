//! TEMPORARY STUB.
use crate::pb::aelf_core::Transaction;
use crate::types::{transaction_id, Hash};
pub const DEFAULT_TX_POOL_CAPACITY: usize = 5_120;
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxPoolStats {
    pub pending: usize,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
}
#[derive(Default)]
pub struct TxPool {
    p: parking_lot::Mutex<(Vec<Transaction>, std::collections::HashSet<Hash>)>,
}
impl TxPool {
    pub fn new(_capacity: usize) -> TxPool {
        Self::default()
    }
    pub fn add(&self, tx: Transaction) -> Result<Hash, TxRejection> {
        let id = transaction_id(&tx).map_err(|e| TxRejection::Malformed(e.to_string()))?;
        let mut p = self.p.lock();
        if !p.1.insert(id) {
            return Err(TxRejection::Duplicate(id));
        }
        p.0.push(tx);
        Ok(id)
    }
    pub fn contains(&self, id: &Hash) -> bool {
        self.p.lock().1.contains(id)
    }
    pub fn len(&self) -> usize {
        self.p.lock().0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn remove_included(&self, _ids: &[Hash]) {}
    pub fn stats(&self) -> TxPoolStats {
        TxPoolStats::default()
    }
}
impl crate::chain::PendingTransactions for TxPool {
    fn take(&self, max: usize) -> Vec<Transaction> {
        let mut p = self.p.lock();
        let n = max.min(p.0.len());
        p.0.drain(..n).collect()
    }
}
