//! The node config, `conf/aelf-netd.toml`: loading, the errors that name the file, the key and
//! the reason, and the typed [`Config`] the rest of the node reads.
//!
//! Every key is defined once, as a row of the table in `keys.rs` (name, type, default, rule,
//! doc); `table.rs` generates from it the typed section structs and their defaults, the raw
//! serde structs, the validation, the dotted key names and [`Config::KEYS`]. The value rules
//! are `validate.rs`'s, the TOML shapes serde cannot read directly `raw.rs`'s.
//!
//! This module owns loading ([`Config::load`], [`Config::from_toml_str`]), the error type and
//! the limits several keys share. It must not act on a config: starting, reloading and logging
//! belong to [`crate::node`] and [`crate::daemon`].
//!
//! Every section and key is optional and takes its default; unknown sections and keys are
//! errors. Loading is two passes: serde reads the TOML shape (type errors carry the exact
//! dotted path via `serde_path_to_error`), then each section's generated `validate` checks the
//! values and builds [`Config`], producing errors of the same shape.

mod keys;
mod raw;
mod table;
mod validate;

pub use keys::{
    ApiConfig, ChainConfig, Config, LogConfig, NetworkConfig, NodeConfig, ProducerConfig,
    ReputationConfig, SyncConfig, ThreadsConfig,
};

use crate::chain::{ChainMode, ChainOptions, ChainSettings, ChainTip, DevelopmentConsensus};
use crate::types::Hash;
use serde::Deserialize;
use std::io;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Largest penalty weight and lowest threshold (`[reputation]`).
pub const MAX_PENALTY: u32 = 1_000_000;
/// Largest per-peer send queue of any kind (`[network] *_queue_capacity`).
pub const MAX_QUEUE_CAPACITY: usize = 100_000;
/// Largest thread count of any `[threads]` key.
pub const MAX_THREADS: usize = 64;

/// Who may connect (C# `AuthorizedPeers`); TOML values `"any"` and `"authorized"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthorizedPeers {
    /// Any node may connect.
    Any,
    /// Only nodes whose key is in `authorized_keys`.
    Authorized,
}

/// Which chain the node keeps (`[chain] mode`); TOML values `"development"` and `"follow"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChainModeName {
    /// Its own development chain, from its own genesis block.
    Development,
    /// A real aelf chain, from `checkpoint_height` / `checkpoint_hash`.
    Follow,
}

/// Why a config file does not load. Each message starts with the file; `Invalid` then names
/// the dotted key (`network.boot_nodes[1]`) and the reason.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{}: cannot read: {source}", file.display())]
    Read { file: PathBuf, source: io::Error },
    #[error("{}: {reason}", file.display())]
    Syntax { file: PathBuf, reason: String },
    #[error("{}: {key}: {reason}", file.display())]
    Invalid {
        file: PathBuf,
        key: String,
        reason: String,
    },
}

impl ConfigError {
    /// The file the error is about.
    pub fn file(&self) -> &Path {
        match self {
            ConfigError::Read { file, .. }
            | ConfigError::Syntax { file, .. }
            | ConfigError::Invalid { file, .. } => file,
        }
    }

    /// The dotted key of an `Invalid` error.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

impl Config {
    /// The chain this config describes: id, genesis time and the development consensus, or
    /// the checkpoint a follower starts from.
    pub fn chain_settings(&self) -> ChainSettings {
        let c = &self.chain;
        let mode = match c.mode {
            ChainModeName::Development => ChainMode::Development,
            ChainModeName::Follow => ChainMode::Follow {
                checkpoint: ChainTip {
                    hash: c.checkpoint_hash.unwrap_or(Hash::ZERO),
                    height: c.checkpoint_height,
                },
                genesis_hash: c.genesis_hash.unwrap_or(Hash::ZERO),
            },
        };
        ChainSettings {
            mode,
            chain_id: self.node.chain_id,
            genesis_time: c.genesis_time,
            consensus: DevelopmentConsensus {
                miners: c.miners,
                mining_interval_ms: i64::try_from(c.mining_interval_ms).unwrap_or(i64::MAX),
                miners_per_term: c.miners_per_term,
                term_period_seconds: i64::try_from(c.term_period_seconds).unwrap_or(i64::MAX),
            },
        }
    }

    /// The node key of a producing node: the development key of `[producer] miner` (in aelf
    /// the miner signs blocks with the node key); `None` when the producer is off or the node
    /// follows a real chain (a follower does not mine).
    pub fn producer_key(&self) -> Option<crate::crypto::NodeKey> {
        (self.producer.enabled && self.chain.mode == ChainModeName::Development)
            .then(|| crate::chain::aedpos::development_key(self.producer.miner))
    }

    /// How the chain store writes and checks batches (`[chain] flush_interval_ms`,
    /// `[threads] block_verifiers`).
    pub fn chain_options(&self) -> ChainOptions {
        ChainOptions {
            flush_interval: std::time::Duration::from_millis(self.chain.flush_interval_ms),
            block_verifiers: self.threads.block_verifiers,
            ..ChainOptions::default()
        }
    }

    /// Reads, parses and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_owned(),
            source,
        })?;
        Config::from_toml_str(&text, path)
    }

    /// Parses and validates TOML text; `origin` is only used to name the file in errors.
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let deserializer = toml::Deserializer::parse(text).map_err(|e| ConfigError::Syntax {
            file: origin.to_owned(),
            reason: syntax_reason(text, &e),
        })?;
        let raw: keys::RawConfig = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let key = e.path().to_string();
            ConfigError::Invalid {
                file: origin.to_owned(),
                // The path of a root-level error is "."; name the document instead.
                key: if key == "." {
                    "(top level)".into()
                } else {
                    key
                },
                reason: e.inner().message().to_owned(),
            }
        })?;
        raw.validate().map_err(|e| ConfigError::Invalid {
            file: origin.to_owned(),
            key: e.key,
            reason: e.reason,
        })
    }
}

/// A one-line syntax error: `line L, column C: message`.
fn syntax_reason(text: &str, error: &toml::de::Error) -> String {
    let lines: Vec<&str> = error
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let message = lines.join("; ");
    match error.span() {
        Some(span) => {
            let (line, column) = line_column(text, span.start);
            format!("TOML syntax error at line {line}, column {column}: {message}")
        }
        None => format!("TOML syntax error: {message}"),
    }
}

/// 1-based line and column (in characters) of a byte offset, clamped to the text.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_lines_and_characters() {
        let text = "a = 1\nbé = x\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 10), (2, 4));
        // Inside a multi-byte character, or past the end: clamped, never a panic.
        assert_eq!(line_column(text, 8), (2, 2));
        assert_eq!(line_column(text, 999), (3, 1));
    }

    #[test]
    fn syntax_errors_are_one_line_with_a_position() {
        let e =
            Config::from_toml_str("[network]\nmax_peers = = 3\n", Path::new("f.toml")).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, ConfigError::Syntax { .. }), "{msg}");
        assert!(
            msg.starts_with("f.toml: TOML syntax error at line 2"),
            "{msg}"
        );
        assert!(!msg.contains('\n'), "{msg}");
    }

    #[test]
    fn duplicate_keys_are_syntax_errors() {
        let e = Config::from_toml_str(
            "[log]\nlevel = \"info\"\nlevel = \"warn\"\n",
            Path::new("f"),
        )
        .unwrap_err();
        assert!(matches!(e, ConfigError::Syntax { .. }), "{e}");
    }

    #[test]
    fn type_errors_name_the_exact_key() {
        let e = Config::from_toml_str("[network]\nmax_peers = \"x\"\n", Path::new("conf/a.toml"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "conf/a.toml: network.max_peers: invalid type: string \"x\", expected u32"
        );
        assert_eq!(e.key(), Some("network.max_peers"));
        assert_eq!(e.file(), Path::new("conf/a.toml"));
    }
}
