//! The redb layout of `<data_dir>/chain.redb`.
//!
//! Owns the tables, their encodings and the write transactions. Every change is one redb write
//! transaction (crash-safe: after an interruption the file holds either all of it or none of
//! it). It must not decide anything about blocks: validation and fork choice happen before a
//! write is asked for.
//!
//! # Layout (format 2)
//!
//! | table | key | value |
//! |---|---|---|
//! | `blocks` | block hash (32 bytes) | the `BlockWithTransactions`, protobuf-encoded |
//! | `block_index` | block hash (32 bytes) | (height, parent hash, arrival sequence) |
//! | `consensus_states` | block hash (32 bytes) | the AEDPoS state after the block (`aedpos` encoding) |
//! | `canonical` | height (`i64`) | the best chain's block at that height |
//! | `by_height` | (height, block hash) | nothing: every stored block by height, so a restart loads only the blocks near the LIB |
//! | `meta` | `format` | `u32` little-endian, [`FORMAT`] |
//! | | `chain_id` | `i32` little-endian |
//! | | `genesis` | the first stored block's hash (genesis, or a follower's checkpoint) |
//! | | `best` | best tip hash (32 bytes) |
//! | | `lib_height` | `i64` little-endian |

use super::index::IndexEntry;
use super::ChainError;
use crate::pb::network_types::BlockWithTransactions;
use crate::types::Hash;
use parking_lot::Mutex;
use protobuf::Message;
use redb::{Database, Durability, ReadableDatabase, TableDefinition};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// The layout version written to `meta/format`; a different value refuses to open.
/// Format 2 added `consensus_states`, `canonical` and `by_height`; a format-1 store (a chain
/// with a fixed-depth LIB) is not read.
pub(super) const FORMAT: u32 = 2;
/// redb's page cache limit. Blocks are read on demand (served to syncing peers), so a modest
/// cache suffices; redb's default is 1 GiB.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

const BLOCKS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("blocks");
const INDEX: TableDefinition<&[u8; 32], (i64, [u8; 32], u64)> = TableDefinition::new("block_index");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const CONSENSUS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("consensus_states");
const CANONICAL: TableDefinition<i64, &[u8; 32]> = TableDefinition::new("canonical");
const BY_HEIGHT: TableDefinition<(i64, [u8; 32]), ()> = TableDefinition::new("by_height");

const META_FORMAT: &str = "format";
const META_CHAIN_ID: &str = "chain_id";
const META_GENESIS: &str = "genesis";
const META_BEST: &str = "best";
const META_LIB_HEIGHT: &str = "lib_height";

/// What [`Store::load`] reads back to rebuild the in-memory index.
#[derive(Debug)]
pub(super) struct Loaded {
    pub chain_id: i32,
    pub genesis: Hash,
    pub best: Hash,
    pub lib_height: i64,
    /// The first block the index holds in memory: the best chain's block at `floor`.
    pub floor_root: Hash,
    /// The stored blocks from the floor up.
    pub entries: HashMap<Hash, IndexEntry>,
}

/// One block write: the block, its index entry, and the pointers that move with it.
pub(super) struct BlockWrite<'a> {
    pub hash: Hash,
    pub block: &'a BlockWithTransactions,
    pub entry: IndexEntry,
    /// The encoded consensus state after the block.
    pub consensus: &'a [u8],
    /// The new best tip, when the block extends the best chain.
    pub best: Option<Hash>,
    /// The blocks that become the best chain's at their heights (the new block last).
    pub canonical: &'a [super::ChainTip],
    /// The new LIB height, when it advances.
    pub lib_height: Option<i64>,
}

/// The open database. Dropping it makes every commit durable ([`Store::flush`]) and closes
/// the file cleanly (redb's `Database` drop).
///
/// # Durability
///
/// With a flush interval of zero every block write is durable when it returns. With an
/// interval, block writes are committed without waiting for the disk (redb
/// `Durability::None`) and become durable with [`Store::flush`], which the chain's
/// `chain-flush` thread calls once per interval: an attach never waits for the disk (a
/// durable commit is two fsyncs, and with blocks seconds apart every attach used to pay
/// them). A crash then loses at most the blocks of the last interval (peers serve them
/// again); the file is never left half-written, as redb reverts to its last durable commit.
/// A fresh chain's first block ([`Store::init`]) is durable at once.
pub(super) struct Store {
    db: Database,
    flush_interval: Duration,
    flush: Mutex<FlushState>,
}

/// Whether commits wait for a durable one.
struct FlushState {
    pending: bool,
}

impl Store {
    /// Opens the file, creating an empty database when it does not exist. `flush_interval`:
    /// see the type's documentation.
    pub fn open(path: &Path, flush_interval: Duration) -> Result<Store, ChainError> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => ChainError::InUse(path.to_owned()),
                e => ChainError::Open {
                    path: path.to_owned(),
                    source: e.into(),
                },
            })?;
        Ok(Store {
            db,
            flush_interval,
            flush: Mutex::new(FlushState { pending: false }),
        })
    }

    /// The stored chain, or `None` for a fresh (empty) database: its blocks from
    /// `keep_below_lib` below the LIB up (the rest stays on disk, read on demand).
    pub fn load(&self, keep_below_lib: i64) -> Result<Option<Loaded>, ChainError> {
        let tx = self.db.begin_read().map_err(ChainError::store)?;
        let meta = match tx.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(ChainError::store(e)),
        };
        let get = |key: &str| -> Result<Vec<u8>, ChainError> {
            match meta.get(key).map_err(ChainError::store)? {
                Some(v) => Ok(v.value().to_vec()),
                None => Err(ChainError::Corrupt(format!("meta/{key} is missing"))),
            }
        };
        let format = u32::from_le_bytes(fixed(&get(META_FORMAT)?, META_FORMAT)?);
        if format != FORMAT {
            return Err(ChainError::Corrupt(format!(
                "store format {format}, this build reads format {FORMAT}"
            )));
        }
        let chain_id = i32::from_le_bytes(fixed(&get(META_CHAIN_ID)?, META_CHAIN_ID)?);
        let genesis = Hash(fixed(&get(META_GENESIS)?, META_GENESIS)?);
        let best = Hash(fixed(&get(META_BEST)?, META_BEST)?);
        let lib_height = i64::from_le_bytes(fixed(&get(META_LIB_HEIGHT)?, META_LIB_HEIGHT)?);

        let index = tx.open_table(INDEX).map_err(ChainError::store)?;
        let entry = |hash: &[u8; 32]| -> Result<Option<IndexEntry>, ChainError> {
            Ok(index.get(hash).map_err(ChainError::store)?.map(|v| {
                let (height, parent, seq) = v.value();
                IndexEntry {
                    height,
                    parent: Hash(parent),
                    seq,
                }
            }))
        };
        let root_height = entry(&genesis.0)?
            .ok_or_else(|| ChainError::Corrupt(format!("root block {genesis} is not stored")))?
            .height;
        let floor = root_height.max(lib_height.saturating_sub(keep_below_lib));
        let canonical = tx.open_table(CANONICAL).map_err(ChainError::store)?;
        let floor_root = Hash(
            *canonical
                .get(floor)
                .map_err(ChainError::store)?
                .ok_or_else(|| {
                    ChainError::Corrupt(format!("no best-chain block at height {floor}"))
                })?
                .value(),
        );
        let by_height = tx.open_table(BY_HEIGHT).map_err(ChainError::store)?;
        let mut entries = HashMap::new();
        for row in by_height
            .range((floor, [0u8; 32])..)
            .map_err(ChainError::store)?
        {
            let (k, _) = row.map_err(ChainError::store)?;
            let (_, hash) = k.value();
            let e = entry(&hash)?.ok_or_else(|| {
                ChainError::Corrupt(format!("block {} has no index entry", Hash(hash)))
            })?;
            entries.insert(Hash(hash), e);
        }
        Ok(Some(Loaded {
            chain_id,
            genesis,
            best,
            lib_height,
            floor_root,
            entries,
        }))
    }

    /// Writes a fresh chain: its first block (genesis, or a follower's checkpoint at `height`),
    /// its index entry and consensus state, and every `meta` key.
    pub fn init(
        &self,
        chain_id: i32,
        genesis: Hash,
        block: &BlockWithTransactions,
        height: i64,
        consensus: &[u8],
    ) -> Result<(), ChainError> {
        let entry = IndexEntry {
            height,
            parent: Hash::ZERO,
            seq: 0,
        };
        self.write(
            true,
            &[BlockWrite {
                hash: genesis,
                block,
                entry,
                consensus,
                best: Some(genesis),
                canonical: &[super::ChainTip {
                    hash: genesis,
                    height,
                }],
                lib_height: Some(height),
            }],
            &[
                (META_FORMAT, FORMAT.to_le_bytes().to_vec()),
                (META_CHAIN_ID, chain_id.to_le_bytes().to_vec()),
                (META_GENESIS, genesis.0.to_vec()),
            ],
        )
    }

    /// Stores blocks (in order: a block's parent is stored or earlier in `writes`) and the
    /// pointers that move with them, in one write transaction: all of them or none.
    pub fn write_blocks(&self, writes: &[BlockWrite<'_>]) -> Result<(), ChainError> {
        self.write(self.flush_interval.is_zero(), writes, &[])
    }

    /// The stored block with this hash.
    pub fn block(&self, hash: &Hash) -> Result<Option<BlockWithTransactions>, ChainError> {
        Ok(self.blocks(std::slice::from_ref(hash))?.pop().flatten())
    }

    /// The stored blocks with these hashes, in order, read from one snapshot.
    pub fn blocks(
        &self,
        hashes: &[Hash],
    ) -> Result<Vec<Option<BlockWithTransactions>>, ChainError> {
        let tx = self.db.begin_read().map_err(ChainError::store)?;
        let table = tx.open_table(BLOCKS).map_err(ChainError::store)?;
        let mut out = Vec::with_capacity(hashes.len());
        for hash in hashes {
            let block = match table.get(&hash.0).map_err(ChainError::store)? {
                Some(v) => Some(BlockWithTransactions::parse_from_bytes(v.value()).map_err(
                    |e| ChainError::Corrupt(format!("block {hash} does not decode: {e}")),
                )?),
                None => None,
            };
            out.push(block);
        }
        Ok(out)
    }

    /// The height of a stored block (any branch).
    pub fn height_of(&self, hash: &Hash) -> Result<Option<i64>, ChainError> {
        let tx = self.db.begin_read().map_err(ChainError::store)?;
        let index = tx.open_table(INDEX).map_err(ChainError::store)?;
        Ok(index
            .get(&hash.0)
            .map_err(ChainError::store)?
            .map(|v| v.value().0))
    }

    /// The best chain's block at `height`.
    pub fn canonical_at(&self, height: i64) -> Result<Option<Hash>, ChainError> {
        let tx = self.db.begin_read().map_err(ChainError::store)?;
        let table = tx.open_table(CANONICAL).map_err(ChainError::store)?;
        Ok(table
            .get(height)
            .map_err(ChainError::store)?
            .map(|v| Hash(*v.value())))
    }

    /// The best chain's blocks at heights `from..from + count` (fewer at the top).
    pub fn canonical_range(&self, from: i64, count: usize) -> Result<Vec<Hash>, ChainError> {
        let tx = self.db.begin_read().map_err(ChainError::store)?;
        let table = tx.open_table(CANONICAL).map_err(ChainError::store)?;
        let mut out = Vec::new();
        for row in table.range(from..).map_err(ChainError::store)?.take(count) {
            let (_, v) = row.map_err(ChainError::store)?;
            out.push(Hash(*v.value()));
        }
        Ok(out)
    }

    /// The stored consensus states of these blocks, in order, read from one snapshot.
    pub fn consensus_states(&self, hashes: &[Hash]) -> Result<Vec<Option<Vec<u8>>>, ChainError> {
        let tx = self.db.begin_read().map_err(ChainError::store)?;
        let table = tx.open_table(CONSENSUS).map_err(ChainError::store)?;
        hashes
            .iter()
            .map(|hash| {
                Ok(table
                    .get(&hash.0)
                    .map_err(ChainError::store)?
                    .map(|v| v.value().to_vec()))
            })
            .collect()
    }

    /// One write transaction; `durable`: it waits for the disk.
    fn write(
        &self,
        durable: bool,
        writes: &[BlockWrite<'_>],
        extra_meta: &[(&str, Vec<u8>)],
    ) -> Result<(), ChainError> {
        let encoded = writes
            .iter()
            .map(|w| w.block.write_to_bytes().map_err(ChainError::Encode))
            .collect::<Result<Vec<_>, _>>()?;
        let mut tx = self.db.begin_write().map_err(ChainError::store)?;
        if !durable {
            tx.set_durability(Durability::None)
                .map_err(ChainError::store)?;
        }
        {
            let mut blocks = tx.open_table(BLOCKS).map_err(ChainError::store)?;
            let mut index = tx.open_table(INDEX).map_err(ChainError::store)?;
            let mut by_height = tx.open_table(BY_HEIGHT).map_err(ChainError::store)?;
            let mut canonical = tx.open_table(CANONICAL).map_err(ChainError::store)?;
            let mut states = tx.open_table(CONSENSUS).map_err(ChainError::store)?;
            for (w, bytes) in writes.iter().zip(&encoded) {
                blocks
                    .insert(&w.hash.0, bytes.as_slice())
                    .map_err(ChainError::store)?;
                index
                    .insert(&w.hash.0, (w.entry.height, w.entry.parent.0, w.entry.seq))
                    .map_err(ChainError::store)?;
                by_height
                    .insert((w.entry.height, w.hash.0), ())
                    .map_err(ChainError::store)?;
                for tip in w.canonical {
                    canonical
                        .insert(tip.height, &tip.hash.0)
                        .map_err(ChainError::store)?;
                }
                states
                    .insert(&w.hash.0, w.consensus)
                    .map_err(ChainError::store)?;
            }
            let mut meta = tx.open_table(META).map_err(ChainError::store)?;
            for (key, value) in extra_meta {
                meta.insert(*key, value.as_slice())
                    .map_err(ChainError::store)?;
            }
            if let Some(best) = writes.iter().rev().find_map(|w| w.best) {
                meta.insert(META_BEST, best.0.as_slice())
                    .map_err(ChainError::store)?;
            }
            if let Some(lib) = writes.iter().filter_map(|w| w.lib_height).max() {
                meta.insert(META_LIB_HEIGHT, lib.to_le_bytes().as_slice())
                    .map_err(ChainError::store)?;
            }
        }
        tx.commit().map_err(ChainError::store)?;
        let mut state = self.flush.lock();
        state.pending = !durable;
        Ok(())
    }

    /// Makes every commit so far durable (an empty durable commit), if any is not yet.
    pub fn flush(&self) -> Result<(), ChainError> {
        // Held through the commit: a write committed meanwhile marks itself pending only
        // after this durable commit (which then includes it) has cleared the mark.
        let mut state = self.flush.lock();
        if !state.pending {
            return Ok(());
        }
        let tx = self.db.begin_write().map_err(ChainError::store)?;
        tx.commit().map_err(ChainError::store)?;
        state.pending = false;
        Ok(())
    }

    /// Whether commits wait for a durable one.
    pub fn has_pending(&self) -> bool {
        self.flush.lock().pending
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            log::error!("chain store: the last blocks could not be made durable: {e}");
        }
    }
}

/// A `meta` value of exactly `N` bytes.
fn fixed<const N: usize>(bytes: &[u8], key: &str) -> Result<[u8; N], ChainError> {
    <[u8; N]>::try_from(bytes).map_err(|_| {
        ChainError::Corrupt(format!("meta/{key} is {} bytes, expected {N}", bytes.len()))
    })
}
