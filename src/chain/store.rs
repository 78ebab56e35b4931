//! The redb layout of `<data_dir>/chain.redb`.
//!
//! Owns the tables, their encodings and the write transactions. Every change is one redb write
//! transaction (crash-safe: after an interruption the file holds either all of it or none of
//! it). It must not decide anything about blocks: validation and fork choice happen before a
//! write is asked for.
//!
//! # Layout (format 1)
//!
//! | table | key | value |
//! |---|---|---|
//! | `blocks` | block hash (32 bytes) | the `BlockWithTransactions`, protobuf-encoded |
//! | `block_index` | block hash (32 bytes) | (height, parent hash, arrival sequence) |
//! | `meta` | `format` | `u32` little-endian, [`FORMAT`] |
//! | | `chain_id` | `i32` little-endian |
//! | | `genesis` | genesis hash (32 bytes) |
//! | | `best` | best tip hash (32 bytes) |
//! | | `lib_height` | `i64` little-endian |

use super::index::IndexEntry;
use super::ChainError;
use crate::pb::network_types::BlockWithTransactions;
use crate::types::Hash;
use protobuf::Message;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::HashMap;
use std::path::Path;

/// The layout version written to `meta/format`; a different value refuses to open.
pub(super) const FORMAT: u32 = 1;
/// redb's page cache limit. Blocks are read on demand (served to syncing peers), so a modest
/// cache suffices; redb's default is 1 GiB.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

const BLOCKS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("blocks");
const INDEX: TableDefinition<&[u8; 32], (i64, [u8; 32], u64)> = TableDefinition::new("block_index");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

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
    pub entries: HashMap<Hash, IndexEntry>,
}

/// One block write: the block, its index entry, and the pointers that move with it.
pub(super) struct BlockWrite<'a> {
    pub hash: Hash,
    pub block: &'a BlockWithTransactions,
    pub entry: IndexEntry,
    /// The new best tip, when the block extends the best chain.
    pub best: Option<Hash>,
    /// The new LIB height, when it advances.
    pub lib_height: Option<i64>,
}

/// The open database. Dropping it closes the file cleanly (redb's `Database` drop); every
/// committed write is already durable by then.
pub(super) struct Store {
    db: Database,
}

impl Store {
    /// Opens the file, creating an empty database when it does not exist.
    pub fn open(path: &Path) -> Result<Store, ChainError> {
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
        Ok(Store { db })
    }

    /// The stored chain, or `None` for a fresh (empty) database.
    pub fn load(&self) -> Result<Option<Loaded>, ChainError> {
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
        let mut entries = HashMap::new();
        for row in index.iter().map_err(ChainError::store)? {
            let (k, v) = row.map_err(ChainError::store)?;
            let (height, parent, seq) = v.value();
            entries.insert(
                Hash(*k.value()),
                IndexEntry {
                    height,
                    parent: Hash(parent),
                    seq,
                },
            );
        }
        Ok(Some(Loaded {
            chain_id,
            genesis,
            best,
            lib_height,
            entries,
        }))
    }

    /// Writes a fresh chain: the genesis block, its index entry, and every `meta` key.
    pub fn init(
        &self,
        chain_id: i32,
        genesis: Hash,
        block: &BlockWithTransactions,
        lib_height: i64,
    ) -> Result<(), ChainError> {
        let entry = IndexEntry {
            height: super::GENESIS_HEIGHT,
            parent: Hash::ZERO,
            seq: 0,
        };
        self.write(
            &BlockWrite {
                hash: genesis,
                block,
                entry,
                best: Some(genesis),
                lib_height: Some(lib_height),
            },
            &[
                (META_FORMAT, FORMAT.to_le_bytes().to_vec()),
                (META_CHAIN_ID, chain_id.to_le_bytes().to_vec()),
                (META_GENESIS, genesis.0.to_vec()),
            ],
        )
    }

    /// Stores one block and the pointers that move with it, in one write transaction.
    pub fn write_block(&self, w: &BlockWrite<'_>) -> Result<(), ChainError> {
        self.write(w, &[])
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

    fn write(&self, w: &BlockWrite<'_>, extra_meta: &[(&str, Vec<u8>)]) -> Result<(), ChainError> {
        let bytes = w.block.write_to_bytes().map_err(ChainError::Encode)?;
        let tx = self.db.begin_write().map_err(ChainError::store)?;
        {
            let mut blocks = tx.open_table(BLOCKS).map_err(ChainError::store)?;
            blocks
                .insert(&w.hash.0, bytes.as_slice())
                .map_err(ChainError::store)?;
            let mut index = tx.open_table(INDEX).map_err(ChainError::store)?;
            index
                .insert(&w.hash.0, (w.entry.height, w.entry.parent.0, w.entry.seq))
                .map_err(ChainError::store)?;
            let mut meta = tx.open_table(META).map_err(ChainError::store)?;
            for (key, value) in extra_meta {
                meta.insert(*key, value.as_slice())
                    .map_err(ChainError::store)?;
            }
            if let Some(best) = w.best {
                meta.insert(META_BEST, best.0.as_slice())
                    .map_err(ChainError::store)?;
            }
            if let Some(lib) = w.lib_height {
                meta.insert(META_LIB_HEIGHT, lib.to_le_bytes().as_slice())
                    .map_err(ChainError::store)?;
            }
        }
        tx.commit().map_err(ChainError::store)
    }
}

/// A `meta` value of exactly `N` bytes.
fn fixed<const N: usize>(bytes: &[u8], key: &str) -> Result<[u8; N], ChainError> {
    <[u8; N]>::try_from(bytes).map_err(|_| {
        ChainError::Corrupt(format!("meta/{key} is {} bytes, expected {N}", bytes.len()))
    })
}
