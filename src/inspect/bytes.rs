//! Inspecting protobuf bytes: decoding them as the kind asked for (or the first of block,
//! block with transactions, header, transaction that decodes cleanly, with no undeclared
//! fields) and handing the message to the report builders of [`super`].
//!
//! Owns the decoding and its errors; what is computed and checked is [`super`]'s.

use super::*;

/// Inspects protobuf bytes of the kind asked for, or of the first kind they decode as cleanly.
pub fn inspect_bytes(bytes: &[u8], options: &InspectOptions) -> Result<Report, InspectError> {
    let kinds: &[InputKind] = match options.kind {
        InputKind::Auto => &[
            InputKind::Block,
            InputKind::BlockWithTransactions,
            InputKind::Header,
            InputKind::Transaction,
        ],
        ref k => std::slice::from_ref(k),
    };
    let mut reasons = Vec::new();
    for kind in kinds {
        match decode_as(*kind, bytes, options) {
            Ok(report) => return Ok(report),
            Err(e) => reasons.push(e),
        }
    }
    if reasons.len() == 1 {
        return Err(reasons.remove(0));
    }
    Err(InspectError::Shape(format!(
        "the bytes are no Block, BlockWithTransactions, BlockHeader or Transaction ({})",
        reasons
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    )))
}

fn decode_err(kind: &'static str, reason: impl ToString) -> InspectError {
    InspectError::Decode {
        kind,
        reason: reason.to_string(),
    }
}

fn clean<M: Message>(m: &M, kind: &'static str) -> Result<(), InspectError> {
    if m.special_fields().unknown_fields().iter().next().is_none() {
        Ok(())
    } else {
        Err(decode_err(kind, "has fields it does not declare"))
    }
}

fn decode_as(
    kind: InputKind,
    bytes: &[u8],
    options: &InspectOptions,
) -> Result<Report, InspectError> {
    match kind {
        InputKind::Block | InputKind::Auto => {
            const K: &str = "aelf.Block";
            let block = Block::parse_from_bytes(bytes).map_err(|e| decode_err(K, e))?;
            clean(&block, K)?;
            let header = block
                .header
                .as_ref()
                .ok_or_else(|| decode_err(K, "no header"))?;
            clean(header, K)?;
            let body = block.body.get_or_default();
            clean(body, K)?;
            let ids = body
                .transaction_ids
                .iter()
                .map(Hash::from_proto)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| decode_err(K, e))?;
            let size = Checked::new(bytes.len(), None);
            block_report(
                "protobuf (aelf.Block)",
                header,
                None,
                Some(size),
                Some(&ids),
                None,
            )
            .map(|r| Report::Block(Box::new(r)))
        }
        InputKind::BlockWithTransactions => {
            const K: &str = "BlockWithTransactions";
            let b = BlockWithTransactions::parse_from_bytes(bytes).map_err(|e| decode_err(K, e))?;
            clean(&b, K)?;
            let header = b
                .header
                .as_ref()
                .ok_or_else(|| decode_err(K, "no header"))?;
            clean(header, K)?;
            let ids = b
                .transactions
                .iter()
                .map(transaction_id)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| decode_err(K, e))?;
            let size = Checked::new(aelf_block_size(header, &ids), None);
            block_report(
                "protobuf (BlockWithTransactions)",
                header,
                None,
                Some(size),
                Some(&ids),
                None,
            )
            .map(|r| Report::Block(Box::new(r)))
        }
        InputKind::Header => {
            const K: &str = "aelf.BlockHeader";
            let header = BlockHeader::parse_from_bytes(bytes).map_err(|e| decode_err(K, e))?;
            clean(&header, K)?;
            block_report(
                "protobuf (aelf.BlockHeader)",
                &header,
                None,
                None,
                None,
                None,
            )
            .map(|r| Report::Block(Box::new(r)))
        }
        InputKind::Transaction => {
            const K: &str = "aelf.Transaction";
            let tx = Transaction::parse_from_bytes(bytes).map_err(|e| decode_err(K, e))?;
            clean(&tx, K)?;
            transaction_id(&tx).map_err(|e| decode_err(K, e))?;
            let mut report = transaction_report(
                "protobuf (aelf.Transaction)",
                &tx,
                None,
                None,
                None,
                options.params.is_some(),
            );
            report.transaction_size = Some(Checked::new(bytes.len(), None));
            Ok(Report::Transaction(Box::new(report)))
        }
    }
}
