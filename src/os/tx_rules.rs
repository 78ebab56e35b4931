//! The checks a transaction must pass before it enters the pool or is relayed: every check of
//! the C# node's transaction pool that needs no contract state, with the C# limits (issue 16,
//! item 5), so we never relay what a C# peer refuses.
//!
//! C# sources of each rule (AElfProject/AElf): `Transaction.VerifyFields` (AElf.Types) and
//! `TransactionExtensions.VerifySignature`/`VerifyExpiration` (AElf.Kernel.Core);
//! `BasicTransactionValidationProvider` (signature, size) and `TxHub` (duplicates, expiry,
//! pool limit, reference block prefix) in AElf.Kernel.TransactionPool; `Address.ToBase58`
//! (a 32-byte value), which the C# web API runs on every field of a submitted transaction and
//! which a contract call to a malformed address cannot get past.
//!
//! Owns the limits and the pure checks, each answering a [`TxRejection`] that says whether the
//! sender is to blame. It must not hold state, touch the pool or the network, or write the
//! chain: the chain is only read, through [`ChainView`].

use crate::chain::Chain;
use crate::pb::aelf_core::Transaction;
use crate::types::Hash;
use protobuf::Message;
use thiserror::Error;

/// The largest encoded transaction taken, in bytes (C# `TransactionPoolConsts.TransactionSizeLimit`
/// = 1024 * 1024 * 5), signature included (C# `CalculateSize`).
pub const TRANSACTION_SIZE_LIMIT: u64 = 1024 * 1024 * 5;
/// Blocks a reference block stays usable: a transaction referring to block `r` can go into
/// blocks up to `r + 512` and has expired once the best chain is at `r + 512` (C#
/// `KernelConstants.ReferenceBlockValidPeriod` = 64 * 8).
pub const REFERENCE_BLOCK_VALID_PERIOD: i64 = 64 * 8;
/// Bytes of the reference block's hash a transaction carries (C# `BlockHelper.GetRefBlockPrefix`
/// takes the first 4).
pub const REF_BLOCK_PREFIX_LENGTH: usize = 4;
/// Bytes of an address (C# `AElfConstants.AddressHashLength` = 32).
pub const ADDRESS_HASH_LENGTH: usize = 32;

/// Why a transaction was not taken.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TxRejection {
    /// Already pending, taken, or included in a recent block (C# `TxHub` "already known" and
    /// `HasTransactionAsync`).
    #[error("transaction {0} is already known")]
    Duplicate(Hash),
    /// C# "Transaction Pool is full." (`TransactionOptions.PoolLimit`).
    #[error("transaction pool is full ({0} transactions)")]
    Full(usize),
    /// A field C# `Transaction.VerifyFields` requires is missing or out of range.
    #[error("malformed transaction: {0}")]
    Malformed(String),
    /// `from` or `to` is not a 32-byte address.
    #[error("malformed transaction: {0} address is {1} bytes, not 32")]
    BadAddress(&'static str, usize),
    /// C# "Transaction size exceeded."
    #[error("transaction {id} is {size} bytes, over the limit of {TRANSACTION_SIZE_LIMIT}")]
    TooLarge { id: Hash, size: u64 },
    /// C# "Incorrect transaction signature."
    #[error("bad signature on transaction {0}")]
    BadSignature(Hash),
    /// The reference block is above our best chain: not known yet (we may be behind). C#
    /// `VerifyExpiration` refuses it too.
    #[error("reference block {number} is above our best chain ({best})")]
    RefBlockAhead { number: i64, best: i64 },
    /// The reference block is `ReferenceBlockValidPeriod` or more below the best chain (C#
    /// "Transaction expired.").
    #[error("reference block {number} has expired (best chain {best})")]
    Expired { number: i64, best: i64 },
    /// The prefix is not the first bytes of the hash of our best chain's block at that height
    /// (C# `RefBlockStatus.RefBlockInvalid`: kept aside, never relayed nor mined).
    #[error("reference block {number} with prefix {prefix} is not on our best chain")]
    RefBlockMismatch { number: i64, prefix: String },
}

impl TxRejection {
    /// Whether the sender of such a transaction is to blame: it fails a check no honest C# node
    /// lets a transaction through, whatever its view of the chain (malformed, oversize, badly
    /// signed, a malformed address). A duplicate, a full pool, or a reference block that only
    /// our view of the chain refuses (ahead, expired, on another branch) are not held against
    /// it: a C# peer on another branch or a few blocks away relays those in good faith.
    pub fn counts_against_sender(&self) -> bool {
        match self {
            TxRejection::Malformed(_)
            | TxRejection::BadAddress(..)
            | TxRejection::TooLarge { .. }
            | TxRejection::BadSignature(_) => true,
            TxRejection::Duplicate(_)
            | TxRejection::Full(_)
            | TxRejection::RefBlockAhead { .. }
            | TxRejection::Expired { .. }
            | TxRejection::RefBlockMismatch { .. } => false,
        }
    }
}

/// What the reference-block checks read of the chain.
pub trait ChainView {
    /// The height of the best chain's tip.
    fn best_height(&self) -> i64;
    /// The hash of the best chain's block at `height` (`None` when there is none or it cannot
    /// be read).
    fn hash_at(&self, height: i64) -> Option<Hash>;
}

impl<C: Chain + ?Sized> ChainView for C {
    fn best_height(&self) -> i64 {
        self.best_chain().height
    }

    fn hash_at(&self, height: i64) -> Option<Hash> {
        self.canonical_hash(height).ok().flatten()
    }
}

/// The reference prefix of a block hash (C# `BlockHelper.GetRefBlockPrefix`).
pub fn ref_block_prefix(hash: &Hash) -> &[u8] {
    &hash.0[..REF_BLOCK_PREFIX_LENGTH]
}

/// The checks that need nothing but the transaction: the fields C# `VerifyFields` requires
/// (`from`, `to`, a method name, a reference block number of at least 0) and 32-byte addresses.
/// The size is checked with the id known ([`check_size`]).
pub fn check_fields(tx: &Transaction) -> Result<(), TxRejection> {
    let (Some(from), Some(to)) = (tx.from.as_ref(), tx.to.as_ref()) else {
        return Err(TxRejection::Malformed("from and to must be set".into()));
    };
    if tx.ref_block_number < 0 {
        return Err(TxRejection::Malformed(
            "ref_block_number is negative".into(),
        ));
    }
    if tx.method_name.is_empty() {
        return Err(TxRejection::Malformed("method_name is empty".into()));
    }
    if from.value.len() != ADDRESS_HASH_LENGTH {
        return Err(TxRejection::BadAddress("from", from.value.len()));
    }
    if to.value.len() != ADDRESS_HASH_LENGTH {
        return Err(TxRejection::BadAddress("to", to.value.len()));
    }
    Ok(())
}

/// The encoded size against [`TRANSACTION_SIZE_LIMIT`].
pub fn check_size(tx: &Transaction, id: Hash) -> Result<(), TxRejection> {
    let size = tx.compute_size();
    if size > TRANSACTION_SIZE_LIMIT {
        return Err(TxRejection::TooLarge { id, size });
    }
    Ok(())
}

/// The reference block against the best chain: at or below its tip (C# `VerifyExpiration`),
/// less than [`REFERENCE_BLOCK_VALID_PERIOD`] below it, and with the prefix of our block at
/// that height (C# `TxHub.CheckRefBlockStatus`; no block there, as at height 0, is a mismatch).
pub fn check_reference<V: ChainView + ?Sized>(
    tx: &Transaction,
    chain: &V,
) -> Result<(), TxRejection> {
    let number = tx.ref_block_number;
    let best = chain.best_height();
    if number > best {
        return Err(TxRejection::RefBlockAhead { number, best });
    }
    if number.saturating_add(REFERENCE_BLOCK_VALID_PERIOD) <= best {
        return Err(TxRejection::Expired { number, best });
    }
    match chain.hash_at(number) {
        Some(hash) if ref_block_prefix(&hash) == tx.ref_block_prefix.as_slice() => Ok(()),
        _ => Err(TxRejection::RefBlockMismatch {
            number,
            prefix: hex::encode(&tx.ref_block_prefix),
        }),
    }
}

/// Whether a pending transaction has expired once the best chain is at `best` (C# drops it
/// from the pool: `TxHub` `_expiredByExpiryBlock`).
pub fn expired_at(tx: &Transaction, best: i64) -> bool {
    tx.ref_block_number
        .saturating_add(REFERENCE_BLOCK_VALID_PERIOD)
        <= best
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::pb::aelf_core::Address as PbAddress;
    use protobuf::MessageField;
    use std::collections::HashMap;

    /// A best chain given by its hashes by height.
    pub(crate) struct View {
        pub best: i64,
        pub hashes: HashMap<i64, Hash>,
    }

    impl View {
        /// Heights 1..=best, block `h` hashed as `[h as u8; 32]`.
        pub(crate) fn up_to(best: i64) -> View {
            View {
                best,
                hashes: (1..=best).map(|h| (h, Hash([h as u8; 32]))).collect(),
            }
        }
    }

    impl ChainView for View {
        fn best_height(&self) -> i64 {
            self.best
        }
        fn hash_at(&self, height: i64) -> Option<Hash> {
            self.hashes.get(&height).copied()
        }
    }

    fn address(len: usize) -> MessageField<PbAddress> {
        MessageField::some(PbAddress {
            value: vec![1; len],
            ..Default::default()
        })
    }

    fn referring_to(number: i64, prefix: &[u8]) -> Transaction {
        Transaction {
            from: address(32),
            to: address(32),
            ref_block_number: number,
            ref_block_prefix: prefix.to_vec(),
            method_name: "Transfer".into(),
            ..Default::default()
        }
    }

    #[test]
    fn reference_block_must_be_a_recent_block_of_the_best_chain() {
        let view = View::up_to(600);
        let ok = |n: i64| check_reference(&referring_to(n, &[n as u8; 4]), &view);
        assert_eq!(ok(600), Ok(()));
        // The last block still usable: 600 - 512 + 1.
        assert_eq!(ok(89), Ok(()));
        assert_eq!(
            ok(88),
            Err(TxRejection::Expired {
                number: 88,
                best: 600
            })
        );
        assert_eq!(
            ok(601),
            Err(TxRejection::RefBlockAhead {
                number: 601,
                best: 600
            })
        );
        assert!(matches!(
            check_reference(&referring_to(500, &[1, 2, 3, 4]), &view),
            Err(TxRejection::RefBlockMismatch { number: 500, .. })
        ));
        // A prefix of the wrong length never matches, and height 0 has no block.
        assert!(check_reference(&referring_to(500, &[244; 3]), &view).is_err());
        let young = View::up_to(3);
        assert!(matches!(
            check_reference(&referring_to(0, &[0; 4]), &young),
            Err(TxRejection::RefBlockMismatch { number: 0, .. })
        ));
        assert!(expired_at(&referring_to(88, &[]), 600));
        assert!(!expired_at(&referring_to(89, &[]), 600));
    }

    #[test]
    fn fields_addresses_and_size() {
        assert_eq!(check_fields(&referring_to(1, &[1; 4])), Ok(()));
        let mut tx = referring_to(1, &[1; 4]);
        tx.to = address(20);
        assert_eq!(check_fields(&tx), Err(TxRejection::BadAddress("to", 20)));
        tx.to = address(32);
        tx.from = address(33);
        assert_eq!(check_fields(&tx), Err(TxRejection::BadAddress("from", 33)));
        tx.from = MessageField::none();
        assert!(matches!(check_fields(&tx), Err(TxRejection::Malformed(_))));
        let mut tx = referring_to(-1, &[1; 4]);
        assert!(matches!(check_fields(&tx), Err(TxRejection::Malformed(_))));
        tx.ref_block_number = 1;
        tx.method_name.clear();
        assert!(matches!(check_fields(&tx), Err(TxRejection::Malformed(_))));

        let mut tx = referring_to(1, &[1; 4]);
        let base = tx.compute_size();
        // Params field: tag, a 4-byte length, the bytes.
        tx.params = vec![0; (TRANSACTION_SIZE_LIMIT - base - 5) as usize];
        assert_eq!(tx.compute_size(), TRANSACTION_SIZE_LIMIT);
        assert_eq!(check_size(&tx, Hash::ZERO), Ok(()));
        tx.params.push(0);
        assert_eq!(
            check_size(&tx, Hash::ZERO),
            Err(TxRejection::TooLarge {
                id: Hash::ZERO,
                size: TRANSACTION_SIZE_LIMIT + 1
            })
        );
    }

    /// The tDVW testnet transaction 3f323bf0… (shared/testdata/aelf-real) refers to block
    /// 123908525 with prefix `AfUJzw==` (base64), and its params name that block's hash
    /// 01f509cf3b63…: the prefix is the hash's first four bytes.
    #[test]
    fn the_prefix_is_the_first_four_bytes_of_the_hash_as_on_the_testnet() {
        let hash =
            Hash::from_hex("01f509cf3b6372c4567b5dc685be07fab281cedb603b60d889150343d100ce53")
                .unwrap();
        assert_eq!(ref_block_prefix(&hash), [0x01, 0xf5, 0x09, 0xcf]);
        let mut view = View::up_to(0);
        view.best = 123_908_526;
        view.hashes.insert(123_908_525, hash);
        let tx = referring_to(123_908_525, &[0x01, 0xf5, 0x09, 0xcf]);
        assert_eq!(check_reference(&tx, &view), Ok(()));
    }

    #[test]
    fn only_what_no_honest_peer_sends_counts_against_it() {
        let id = Hash::ZERO;
        assert!(TxRejection::BadSignature(id).counts_against_sender());
        assert!(TxRejection::TooLarge { id, size: 1 }.counts_against_sender());
        assert!(TxRejection::BadAddress("to", 1).counts_against_sender());
        assert!(TxRejection::Malformed(String::new()).counts_against_sender());
        assert!(!TxRejection::Duplicate(id).counts_against_sender());
        assert!(!TxRejection::Full(1).counts_against_sender());
        assert!(!TxRejection::RefBlockAhead { number: 2, best: 1 }.counts_against_sender());
        assert!(!TxRejection::Expired {
            number: 1,
            best: 600
        }
        .counts_against_sender());
        assert!(!TxRejection::RefBlockMismatch {
            number: 1,
            prefix: String::new()
        }
        .counts_against_sender());
    }
}
