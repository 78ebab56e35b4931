//! The human-readable form of a report (what `aelf-netctl inspect` prints without `--json`).

use super::{BlockReport, Checked, Report, TransactionReport, Verdict};
use std::fmt::{self, Display, Formatter, Write as _};

fn checked<T: Display>(c: &Checked<T>, unit: &str) -> String {
    match (&c.reported, c.matches) {
        (Some(_), Some(true)) => format!("{}{unit} (matches the reported value)", c.computed),
        (Some(r), _) => format!("{}{unit} (MISMATCH: reported {r})", c.computed),
        (None, _) => format!("{}{unit}", c.computed),
    }
}

impl Display for Verdict {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Ok => f.write_str("ok"),
            Verdict::Failed(why) => write!(f, "FAILED: {why}"),
            Verdict::NotChecked(why) => write!(f, "not checked: {why}"),
        }
    }
}

impl Display for Report {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Report::Block(b) => block(f, b),
            Report::Transaction(t) => transaction(f, t),
        }
    }
}

fn block(f: &mut Formatter<'_>, b: &BlockReport) -> fmt::Result {
    writeln!(f, "block ({})", b.source)?;
    writeln!(f, "  hash:          {}", checked(&b.block_hash, ""))?;
    if let Some(size) = &b.block_size {
        writeln!(f, "  size:          {}", checked(size, " bytes"))?;
    }
    writeln!(f, "  height:        {}", b.height)?;
    let name = b.chain_name.as_deref().unwrap_or("-");
    writeln!(f, "  chain:         {name} ({})", b.chain_id)?;
    writeln!(f, "  time:          {}", b.time)?;
    writeln!(f, "  previous:      {}", b.previous_block_hash)?;
    writeln!(f, "  signer:        {}", b.signer_pubkey)?;
    if let Some(a) = &b.signer_address {
        writeln!(f, "  signer address: {a}")?;
    }
    writeln!(f, "  signature:     {}", b.signature)?;
    match b.bloom_len {
        Some(n) => writeln!(f, "  bloom:         {n} bytes")?,
        None => writeln!(f, "  bloom:         empty")?,
    }
    let extra: Vec<String> = b
        .extra_data
        .iter()
        .map(|(k, n)| format!("{k} ({n} bytes)"))
        .collect();
    writeln!(f, "  extra data:    {}", extra.join(", "))?;
    if let Some(n) = b.transactions_count {
        writeln!(f, "  transactions:  {n}")?;
    }
    for id in &b.transaction_ids {
        writeln!(f, "    {id}")?;
    }
    writeln!(f, "  merkle root:   {}", b.merkle_root_of_transactions)?;
    if let Some(e) = &b.consensus_error {
        writeln!(f, "consensus: ERROR: {e}")?;
    }
    if let Some(c) = &b.consensus {
        writeln!(f, "consensus ({} bytes)", c.size)?;
        writeln!(f, "  behaviour:     {}", c.behaviour)?;
        let same = if c.sender_is_signer {
            "the signer"
        } else {
            "NOT the signer"
        };
        writeln!(f, "  sender:        {} ({same})", c.sender_pubkey)?;
        writeln!(f, "  round:         {}", c.round_number)?;
        writeln!(f, "  term:          {}", c.term_number)?;
        writeln!(f, "  round id:      {}", c.round_id_for_validation)?;
        if c.blockchain_age != 0 {
            writeln!(f, "  chain age:     {} s", c.blockchain_age)?;
        }
        if !c.extra_block_producer_of_previous_round.is_empty() {
            writeln!(
                f,
                "  previous extra block producer: {}",
                c.extra_block_producer_of_previous_round
            )?;
        }
        writeln!(f, "  irreversible:  {}", c.irreversible_note)?;
        writeln!(f, "  miners:        {}", c.miners.len())?;
        for m in &c.miners {
            let mut line = format!("    {}", m.pubkey);
            if m.order != 0 {
                let _ = write!(line, " order {}", m.order);
            }
            if m.is_extra_block_producer {
                line.push_str(" extra-block-producer");
            }
            if let Some(t) = &m.expected_mining_time {
                let _ = write!(line, " expected {t}");
            }
            if !m.actual_mining_times.is_empty() {
                let _ = write!(line, " mined {}", m.actual_mining_times.join(" "));
            }
            if m.produced_blocks != 0 || m.produced_tiny_blocks != 0 {
                let _ = write!(
                    line,
                    " blocks {}/{} tiny",
                    m.produced_blocks, m.produced_tiny_blocks
                );
            }
            if m.implied_irreversible_block_height != 0 {
                let _ = write!(line, " implies {}", m.implied_irreversible_block_height);
            }
            writeln!(f, "{line}")?;
        }
    }
    Ok(())
}

fn transaction(f: &mut Formatter<'_>, t: &TransactionReport) -> fmt::Result {
    writeln!(f, "transaction ({})", t.source)?;
    match (&t.transaction_id, &t.reported_transaction_id) {
        (Some(id), _) => writeln!(f, "  id:            {}", checked(id, ""))?,
        (None, Some(r)) => writeln!(f, "  id:            not computed (reported {r})")?,
        (None, None) => writeln!(f, "  id:            not computed")?,
    }
    if let Some(size) = &t.transaction_size {
        writeln!(f, "  size:          {}", checked(size, " bytes"))?;
    }
    writeln!(f, "  from:          {}", t.from)?;
    writeln!(f, "  to:            {}", t.to)?;
    writeln!(f, "  method:        {}", t.method_name)?;
    writeln!(
        f,
        "  ref block:     {} (prefix {})",
        t.ref_block_number, t.ref_block_prefix
    )?;
    if let Some(n) = t.params_len {
        writeln!(f, "  params:        {n} bytes")?;
    }
    if let Some(k) = &t.signer_pubkey {
        writeln!(f, "  signer:        {k}")?;
    }
    if let Some(a) = &t.signer_address {
        writeln!(f, "  signer address: {a}")?;
    }
    writeln!(f, "  signature:     {}", t.signature)?;
    if let Some(s) = &t.status {
        writeln!(f, "  status:        {s}")?;
    }
    if let (Some(n), Some(h)) = (t.block_number, &t.block_hash) {
        writeln!(f, "  block:         {n} {h}")?;
    }
    for note in &t.notes {
        writeln!(f, "  note: {note}")?;
    }
    Ok(())
}
