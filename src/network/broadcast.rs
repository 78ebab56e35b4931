//! What a broadcast is made of, for every peer kind: the item (encoded once, shared by every
//! peer's queue), the three per-peer queues it travels in (spec 5.2), why an enqueue can fail
//! and the counters operators read.
//!
//! Owns only values. It must not know how an item reaches the wire (that is the gRPC layer's
//! sender threads) nor who gets it ([`super::service::NetworkService`] decides).

use crate::pb::aelf_core::Transaction;
use crate::pb::network_types::{BlockAnnouncement, BlockWithTransactions, LibAnnouncement};
use crate::types::Hash;
use protobuf::MessageField;
use std::sync::Arc;
use thiserror::Error;

/// Per-peer queue of full blocks (C# `DefaultMaxBufferedBlockCount`).
pub const DEFAULT_BLOCK_QUEUE_CAPACITY: usize = 50;
/// Per-peer queue of transactions (C# `DefaultMaxBufferedTransactionCount`).
pub const DEFAULT_TRANSACTION_QUEUE_CAPACITY: usize = 100;
/// Per-peer queue of block and LIB announcements (C# `DefaultMaxBufferedAnnouncementCount`).
pub const DEFAULT_ANNOUNCEMENT_QUEUE_CAPACITY: usize = 200;

/// The four things a node broadcasts (spec 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BroadcastKind {
    /// A full `BlockWithTransactions`, sent only by its producer.
    Block,
    /// An `aelf.Transaction` accepted into the pool.
    Transaction,
    /// A `BlockAnnouncement` of an accepted block.
    Announcement,
    /// A `LibAnnouncement` of a new last irreversible block.
    LibAnnouncement,
}

impl BroadcastKind {
    /// The queue that carries this kind (announcements share one, as in the C# node).
    pub fn queue(self) -> QueueKind {
        match self {
            BroadcastKind::Block => QueueKind::Blocks,
            BroadcastKind::Transaction => QueueKind::Transactions,
            BroadcastKind::Announcement | BroadcastKind::LibAnnouncement => {
                QueueKind::Announcements
            }
        }
    }

    /// Position in [`crate::metrics::BROADCAST_KINDS`].
    pub fn index(self) -> usize {
        match self {
            BroadcastKind::Block => 0,
            BroadcastKind::Transaction => 1,
            BroadcastKind::Announcement => 2,
            BroadcastKind::LibAnnouncement => 3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BroadcastKind::Block => "block",
            BroadcastKind::Transaction => "transaction",
            BroadcastKind::Announcement => "announcement",
            BroadcastKind::LibAnnouncement => "lib announcement",
        }
    }
}

/// One of a peer's three send queues, each drained by its own sender thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueKind {
    Blocks,
    Transactions,
    Announcements,
}

impl QueueKind {
    pub const ALL: [QueueKind; 3] = [
        QueueKind::Blocks,
        QueueKind::Transactions,
        QueueKind::Announcements,
    ];

    /// Short name used in thread names and logs.
    pub fn name(self) -> &'static str {
        match self {
            QueueKind::Blocks => "blk",
            QueueKind::Transactions => "tx",
            QueueKind::Announcements => "ann",
        }
    }

    /// What the queue carries, for operators' messages.
    pub fn label(self) -> &'static str {
        match self {
            QueueKind::Blocks => "block",
            QueueKind::Transactions => "transaction",
            QueueKind::Announcements => "announcement",
        }
    }

    pub fn index(self) -> usize {
        match self {
            QueueKind::Blocks => 0,
            QueueKind::Transactions => 1,
            QueueKind::Announcements => 2,
        }
    }
}

/// How many items each per-peer queue holds (`[network] *_queue_capacity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueCapacities {
    pub blocks: usize,
    pub transactions: usize,
    pub announcements: usize,
}

impl QueueCapacities {
    pub fn of(&self, queue: QueueKind) -> usize {
        match queue {
            QueueKind::Blocks => self.blocks,
            QueueKind::Transactions => self.transactions,
            QueueKind::Announcements => self.announcements,
        }
        .max(1)
    }
}

impl Default for QueueCapacities {
    fn default() -> QueueCapacities {
        QueueCapacities {
            blocks: DEFAULT_BLOCK_QUEUE_CAPACITY,
            transactions: DEFAULT_TRANSACTION_QUEUE_CAPACITY,
            announcements: DEFAULT_ANNOUNCEMENT_QUEUE_CAPACITY,
        }
    }
}

/// An item to broadcast, encoded once: every peer's queue holds the same shared bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastItem {
    pub kind: BroadcastKind,
    /// Block hash or transaction id: what the peers' seen caches hold.
    pub id: Hash,
    /// Block height (0 for transactions).
    pub height: i64,
    /// The protobuf encoding of the wire message of `kind`.
    pub bytes: Arc<[u8]>,
}

/// An item could not be encoded (a message protobuf refuses to write).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("cannot encode the {kind} to broadcast: {reason}")]
pub struct EncodeError {
    pub kind: &'static str,
    pub reason: String,
}

fn encode(
    kind: BroadcastKind,
    message: &dyn protobuf::MessageDyn,
) -> Result<Arc<[u8]>, EncodeError> {
    message
        .write_to_bytes_dyn()
        .map(Arc::from)
        .map_err(|e| EncodeError {
            kind: kind.name(),
            reason: e.to_string(),
        })
}

impl BroadcastItem {
    /// A full block whose hash is `hash`.
    pub fn block(
        block: &BlockWithTransactions,
        hash: Hash,
        height: i64,
    ) -> Result<BroadcastItem, EncodeError> {
        Ok(BroadcastItem {
            kind: BroadcastKind::Block,
            id: hash,
            height,
            bytes: encode(BroadcastKind::Block, block)?,
        })
    }

    /// A transaction whose id is `id`.
    pub fn transaction(tx: &Transaction, id: Hash) -> Result<BroadcastItem, EncodeError> {
        Ok(BroadcastItem {
            kind: BroadcastKind::Transaction,
            id,
            height: 0,
            bytes: encode(BroadcastKind::Transaction, tx)?,
        })
    }

    /// The announcement of an accepted block.
    pub fn announcement(hash: Hash, height: i64) -> Result<BroadcastItem, EncodeError> {
        let message = BlockAnnouncement {
            block_hash: MessageField::some(hash.to_proto()),
            block_height: height,
            ..Default::default()
        };
        Ok(BroadcastItem {
            kind: BroadcastKind::Announcement,
            id: hash,
            height,
            bytes: encode(BroadcastKind::Announcement, &message)?,
        })
    }

    /// The announcement of a new last irreversible block.
    pub fn lib_announcement(hash: Hash, height: i64) -> Result<BroadcastItem, EncodeError> {
        let message = LibAnnouncement {
            lib_hash: MessageField::some(hash.to_proto()),
            lib_height: height,
            ..Default::default()
        };
        Ok(BroadcastItem {
            kind: BroadcastKind::LibAnnouncement,
            id: hash,
            height,
            bytes: encode(BroadcastKind::LibAnnouncement, &message)?,
        })
    }
}

/// Why an item was not queued for a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum EnqueueError {
    /// The peer is not ready (unconfirmed, or its transport is down) (C# `NotConnected`).
    #[error("the peer is not ready")]
    NotReady,
    /// The peer's queue for this kind is full: the item is dropped for this peer (counted).
    #[error("the peer's send queue is full")]
    QueueFull,
}

/// One send queue's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounters {
    /// Items waiting now.
    pub buffered: usize,
    /// Items handed to the transport.
    pub sent: u64,
    /// Items dropped because the queue was full.
    pub dropped: u64,
    /// Items whose send failed.
    pub failed: u64,
    /// How long the send in progress has been waiting for the peer to take it, in
    /// milliseconds; 0 when the queue's sender is not inside a send.
    pub stalled_ms: u64,
}

/// A peer's three send queues' counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub blocks: QueueCounters,
    pub transactions: QueueCounters,
    pub announcements: QueueCounters,
}

impl QueueStats {
    pub fn of(&self, queue: QueueKind) -> &QueueCounters {
        match queue {
            QueueKind::Blocks => &self.blocks,
            QueueKind::Transactions => &self.transactions,
            QueueKind::Announcements => &self.announcements,
        }
    }

    pub fn of_mut(&mut self, queue: QueueKind) -> &mut QueueCounters {
        match queue {
            QueueKind::Blocks => &mut self.blocks,
            QueueKind::Transactions => &mut self.transactions,
            QueueKind::Announcements => &mut self.announcements,
        }
    }

    /// The queue whose send in progress has waited longest, and for how long (ms); `None`
    /// when no send is waiting.
    pub fn longest_stall(&self) -> Option<(QueueKind, u64)> {
        QueueKind::ALL
            .into_iter()
            .map(|kind| (kind, self.of(kind).stalled_ms))
            .filter(|(_, ms)| *ms > 0)
            .max_by_key(|(_, ms)| *ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protobuf::Message;

    #[test]
    fn announcements_share_one_queue_and_items_encode_their_wire_message() {
        assert_eq!(
            BroadcastKind::Announcement.queue(),
            QueueKind::Announcements
        );
        assert_eq!(
            BroadcastKind::LibAnnouncement.queue(),
            QueueKind::Announcements
        );
        let hash = Hash([7; 32]);
        let item = BroadcastItem::lib_announcement(hash, 42).unwrap();
        let decoded = LibAnnouncement::parse_from_bytes(&item.bytes).unwrap();
        assert_eq!(decoded.lib_height, 42);
        assert_eq!(Hash::from_proto(&decoded.lib_hash).unwrap(), hash);
    }

    #[test]
    fn the_longest_stall_is_the_longest_waiting_send() {
        let mut stats = QueueStats::default();
        assert_eq!(stats.longest_stall(), None);
        stats.transactions.stalled_ms = 40;
        stats.announcements.stalled_ms = 900;
        assert_eq!(stats.longest_stall(), Some((QueueKind::Announcements, 900)));
    }

    #[test]
    fn capacities_are_at_least_one() {
        let caps = QueueCapacities {
            blocks: 0,
            transactions: 3,
            announcements: 5,
        };
        assert_eq!(caps.of(QueueKind::Blocks), 1);
        assert_eq!(caps.of(QueueKind::Transactions), 3);
    }
}
