//! The value rules: how one key's TOML value is checked and turned into its typed value, and
//! how a typed value is written back as TOML.
//!
//! Owns the [`Rule`] trait, each value type's own rule ([`Plain`]: addresses, versions,
//! endpoints, keys, log levels, blank-means-unset strings and paths, integers in their type's
//! range) and the rules a row may name instead ([`InRange`], [`AtLeast`], [`ChainId`]). It must
//! not name a section or a key (that is [`super::keys`]'s), read files or know the file name:
//! errors carry the dotted key they are given and the reason, and [`super::Config`] adds the
//! file.

use super::raw::{Int, IntName, RawChainId};
use super::{AuthorizedPeers, ChainModeName};
use crate::crypto::{pubkey_from_hex, PUBKEY_LEN};
use crate::network::endpoint::Endpoint;
use crate::types::Hash;
use crate::types::{chain_id_from_name, chain_id_to_name, NodeVersion};
use serde::de::DeserializeOwned;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use toml::Value;

/// A value that breaks a rule: the dotted key and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Invalid {
    pub key: String,
    pub reason: String,
}

pub(super) type Checked<T> = Result<T, Invalid>;

pub(super) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Invalid {
    Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// How a key of type `T` is read and written. A rule is a type (never a value): the table
/// names it in a row, and the generated code calls its functions.
pub(super) trait Rule<T> {
    /// What serde reads for the key: its TOML shape. A wrong TOML type is serde's error.
    type Raw: DeserializeOwned + fmt::Debug;
    /// Checks a value the file gives; `key` is its dotted name, for the error.
    fn check(key: &str, raw: Self::Raw) -> Checked<T>;
    /// The value as the file writes it (the shipped file shows each default so).
    fn render(value: &T) -> Value;
}

/// A type's own rule, for a row that names none.
pub(super) enum Plain {}

/// What [`Plain`] does for a value type.
pub(super) trait PlainValue: Sized {
    type Raw: DeserializeOwned + fmt::Debug;
    fn check(key: &str, raw: Self::Raw) -> Checked<Self>;
    fn render(&self) -> Value;
}

impl<T: PlainValue> Rule<T> for Plain {
    type Raw = T::Raw;
    fn check(key: &str, raw: T::Raw) -> Checked<T> {
        T::check(key, raw)
    }
    fn render(value: &T) -> Value {
        value.render()
    }
}

/// An integer in `LO..=HI` (`HI == i64::MAX`: no upper bound, and the reason says "at least").
pub(super) enum InRange<const LO: i64, const HI: i64> {}

/// An integer of at least `LO`.
pub(super) type AtLeast<const LO: i64> = InRange<LO, { i64::MAX }>;

/// The integer types a key can have: read as the TOML `i64`, then range-checked and converted.
pub(super) trait Integer: Copy + TryFrom<i64> + IntName + fmt::Debug {
    /// The type's own range, as far as a TOML integer reaches.
    const RANGE: (i64, i64);
    fn to_i64(self) -> i64;
}

macro_rules! integer {
    ($($t:ty),*) => {$(
        impl Integer for $t {
            const RANGE: (i64, i64) = (
                if (<$t>::MIN as i128) < (i64::MIN as i128) { i64::MIN } else { <$t>::MIN as i64 },
                if (<$t>::MAX as i128) > (i64::MAX as i128) { i64::MAX } else { <$t>::MAX as i64 },
            );
            fn to_i64(self) -> i64 {
                // Saturating: only a value above i64::MAX (never one read from TOML) is cut.
                i64::try_from(self).unwrap_or(i64::MAX)
            }
        }

        impl PlainValue for $t {
            type Raw = Int<$t>;
            fn check(key: &str, raw: Int<$t>) -> Checked<$t> {
                int(key, raw, <$t as Integer>::RANGE)
            }
            fn render(&self) -> Value {
                Value::Integer(self.to_i64())
            }
        }
    )*};
}
integer!(u16, u32, u64, i64, usize);

impl<T: Integer, const LO: i64, const HI: i64> Rule<T> for InRange<LO, HI> {
    type Raw = Int<T>;
    fn check(key: &str, raw: Int<T>) -> Checked<T> {
        // Never wider than the type itself.
        let (type_lo, type_hi) = T::RANGE;
        int(key, raw, (LO.max(type_lo), HI.min(type_hi)))
    }
    fn render(value: &T) -> Value {
        Value::Integer(value.to_i64())
    }
}

/// Checks a raw integer against `lo..=hi` and converts it to the key's type. The reason names
/// the range (`hi == i64::MAX` means no upper bound).
fn int<T: TryFrom<i64>>(key: &str, raw: Int<T>, (lo, hi): (i64, i64)) -> Checked<T> {
    let value = raw.value;
    let out_of_range = || {
        let reason = if hi == i64::MAX {
            format!("must be at least {lo}, got {value}")
        } else {
            format!("must be in {lo}..={hi}, got {value}")
        };
        invalid(key, reason)
    };
    if !(lo..=hi).contains(&value) {
        return Err(out_of_range());
    }
    T::try_from(value).map_err(|_| out_of_range())
}

/// `[node] chain_id`: a chain name ("AELF") or an integer id in `0..=i32::MAX`; written as the
/// name when the id has one.
pub(super) enum ChainId {}

impl Rule<i32> for ChainId {
    type Raw = RawChainId;
    fn check(key: &str, raw: RawChainId) -> Checked<i32> {
        match raw {
            RawChainId::Name(name) => {
                chain_id_from_name(&name).map_err(|e| invalid(key, e.to_string()))
            }
            RawChainId::Id(id) => i32::try_from(id).ok().filter(|id| *id >= 0).ok_or_else(|| {
                invalid(
                    key,
                    format!(
                        "must be a 4-character chain name or an integer in 0..={}, got {id}",
                        i32::MAX
                    ),
                )
            }),
        }
    }
    fn render(value: &i32) -> Value {
        match chain_id_to_name(*value) {
            Some(name) => Value::String(name),
            None => Value::Integer(i64::from(*value)),
        }
    }
}

impl PlainValue for bool {
    type Raw = bool;
    fn check(_: &str, raw: bool) -> Checked<bool> {
        Ok(raw)
    }
    fn render(&self) -> Value {
        Value::Boolean(*self)
    }
}

/// Parses text with `FromStr`; the reason quotes the text and says what was expected.
fn parsed<T: FromStr>(key: &str, text: &str, what: &str) -> Checked<T> {
    text.parse()
        .map_err(|_| invalid(key, format!("{text:?} is not {what}")))
}

impl PlainValue for IpAddr {
    type Raw = String;
    fn check(key: &str, raw: String) -> Checked<IpAddr> {
        parsed(key, &raw, "an IP address (e.g. \"0.0.0.0\" or \"::\")")
    }
    fn render(&self) -> Value {
        Value::String(self.to_string())
    }
}

impl PlainValue for SocketAddr {
    type Raw = String;
    fn check(key: &str, raw: String) -> Checked<SocketAddr> {
        parsed(
            key,
            &raw,
            "a socket address (ip:port, e.g. \"127.0.0.1:8000\" or \"[::1]:8000\")",
        )
    }
    fn render(&self) -> Value {
        Value::String(self.to_string())
    }
}

impl PlainValue for log::LevelFilter {
    type Raw = String;
    fn check(key: &str, raw: String) -> Checked<log::LevelFilter> {
        // `LevelFilter::from_str` takes exactly these six names, ignoring case.
        parsed(
            key,
            &raw,
            "a log level (off, error, warn, info, debug or trace)",
        )
    }
    fn render(&self) -> Value {
        Value::String(self.as_str().to_ascii_lowercase())
    }
}

impl PlainValue for NodeVersion {
    type Raw = String;
    fn check(key: &str, raw: String) -> Checked<NodeVersion> {
        NodeVersion::parse(&raw).map_err(|e| invalid(key, e.to_string()))
    }
    fn render(&self) -> Value {
        Value::String(self.to_string())
    }
}

impl PlainValue for ChainModeName {
    type Raw = ChainModeName;
    fn check(_: &str, raw: ChainModeName) -> Checked<ChainModeName> {
        Ok(raw)
    }
    fn render(&self) -> Value {
        Value::String(
            match self {
                ChainModeName::Development => "development",
                ChainModeName::Follow => "follow",
            }
            .into(),
        )
    }
}

/// An optional block hash: `""` is unset, else 64 hex characters.
impl PlainValue for Option<Hash> {
    type Raw = String;
    fn check(key: &str, raw: String) -> Checked<Option<Hash>> {
        if raw.trim().is_empty() {
            return Ok(None);
        }
        Hash::from_hex(raw.trim())
            .map(Some)
            .map_err(|_| invalid(key, "must be a block hash: 64 hex characters"))
    }
    fn render(&self) -> Value {
        Value::String(self.map(|h| h.to_hex()).unwrap_or_default())
    }
}

impl PlainValue for AuthorizedPeers {
    type Raw = AuthorizedPeers;
    fn check(_: &str, raw: AuthorizedPeers) -> Checked<AuthorizedPeers> {
        Ok(raw)
    }
    fn render(&self) -> Value {
        Value::String(
            match self {
                AuthorizedPeers::Any => "any",
                AuthorizedPeers::Authorized => "authorized",
            }
            .into(),
        )
    }
}

/// A path that must be given (an empty one is refused).
impl PlainValue for PathBuf {
    type Raw = PathBuf;
    fn check(key: &str, raw: PathBuf) -> Checked<PathBuf> {
        if raw.as_os_str().is_empty() {
            return Err(invalid(key, "must not be empty"));
        }
        Ok(raw)
    }
    fn render(&self) -> Value {
        Value::String(self.to_string_lossy().into_owned())
    }
}

/// An optional path: `""` is unset.
impl PlainValue for Option<PathBuf> {
    type Raw = PathBuf;
    fn check(_: &str, raw: PathBuf) -> Checked<Option<PathBuf>> {
        Ok(Some(raw).filter(|p| !p.as_os_str().is_empty()))
    }
    fn render(&self) -> Value {
        Value::String(
            self.as_deref()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
        )
    }
}

/// An optional string: blank is unset, as the C# node treats whitespace-only credentials.
impl PlainValue for Option<String> {
    type Raw = String;
    fn check(_: &str, raw: String) -> Checked<Option<String>> {
        Ok(Some(raw).filter(|s| !s.trim().is_empty()))
    }
    fn render(&self) -> Value {
        Value::String(self.clone().unwrap_or_default())
    }
}

/// Checks each item of a list; the key of a bad one carries its index (`network.boot_nodes[1]`).
fn each<T>(key: &str, list: &[String], item: impl Fn(&str, &str) -> Checked<T>) -> Checked<Vec<T>> {
    list.iter()
        .enumerate()
        .map(|(i, text)| item(&format!("{key}[{i}]"), text))
        .collect()
}

/// Peer endpoints (`"host"`, `"host:port"`, `"[ipv6]:port"`).
impl PlainValue for Vec<Endpoint> {
    type Raw = Vec<String>;
    fn check(key: &str, raw: Vec<String>) -> Checked<Vec<Endpoint>> {
        each(key, &raw, |key, text| {
            Endpoint::parse(text).map_err(|e| invalid(key, e.to_string()))
        })
    }
    fn render(&self) -> Value {
        Value::Array(self.iter().map(|e| Value::String(e.to_string())).collect())
    }
}

/// Public keys, each 130 hex characters.
impl PlainValue for Vec<[u8; PUBKEY_LEN]> {
    type Raw = Vec<String>;
    fn check(key: &str, raw: Vec<String>) -> Checked<Vec<[u8; PUBKEY_LEN]>> {
        each(key, &raw, authorized_key)
    }
    fn render(&self) -> Value {
        Value::Array(self.iter().map(|k| Value::String(hex::encode(k))).collect())
    }
}

/// 130 hex characters: an uncompressed (`04…`) secp256k1 public key on the curve.
fn authorized_key(key: &str, text: &str) -> Checked<[u8; PUBKEY_LEN]> {
    let expected = PUBKEY_LEN * 2;
    let len = text.chars().count();
    if len != expected {
        return Err(invalid(
            key,
            format!(
                "must be {expected} hex characters (an uncompressed secp256k1 public key), \
                 got {len}"
            ),
        ));
    }
    pubkey_from_hex(text).map_err(|_| {
        invalid(
            key,
            "is not an uncompressed secp256k1 public key (hex, starting with 04, on the curve)",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "04\
        79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798\
        483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8";

    #[test]
    fn chain_id_as_name_or_integer() {
        let key = "node.chain_id";
        let check = |raw| ChainId::check(key, raw);
        assert_eq!(check(RawChainId::Name("AELF".into())), Ok(9_992_731));
        assert_eq!(check(RawChainId::Name("tDVV".into())), Ok(1_866_392));
        assert_eq!(check(RawChainId::Id(9_992_731)), Ok(9_992_731));
        assert_eq!(check(RawChainId::Id(0)), Ok(0));
        assert_eq!(check(RawChainId::Id(i32::MAX as i64)), Ok(i32::MAX));
        for bad in [
            RawChainId::Id(-1),
            RawChainId::Id(i32::MAX as i64 + 1),
            RawChainId::Id(i64::MIN),
            RawChainId::Name("AEL0".into()),
            RawChainId::Name(String::new()),
        ] {
            let e = check(bad.clone()).expect_err("invalid");
            assert_eq!(e.key, key, "{bad:?}");
        }
        // Written as the name when the id has one, else as the integer.
        assert_eq!(ChainId::render(&9_992_731), Value::String("AELF".into()));
        assert_eq!(ChainId::render(&i32::MAX), Value::Integer(i32::MAX.into()));
    }

    #[test]
    fn ranges_name_the_key_and_the_bounds() {
        type Port = InRange<1, 65_535>;
        assert_eq!(
            Port::check("a.b", Int::<u16>::new(0)),
            Err(invalid("a.b", "must be in 1..=65535, got 0"))
        );
        assert_eq!(
            Port::check("a.b", Int::<u16>::new(70_000)),
            Err(invalid("a.b", "must be in 1..=65535, got 70000"))
        );
        assert_eq!(
            <Plain as Rule<u32>>::check("a.b", Int::new(-1)),
            Err(invalid("a.b", "must be in 0..=4294967295, got -1"))
        );
        assert_eq!(
            AtLeast::<100>::check("a.b", Int::<u64>::new(99)),
            Err(invalid("a.b", "must be at least 100, got 99"))
        );
        assert_eq!(InRange::<1, 64>::check("a.b", Int::<usize>::new(5)), Ok(5));
        assert_eq!(
            <Plain as Rule<u64>>::check("a.b", Int::new(i64::MAX)),
            Ok(i64::MAX as u64)
        );
        // A range wider than the type is cut to the type's.
        assert_eq!(
            AtLeast::<0>::check("a.b", Int::<u16>::new(65_536)),
            Err(invalid("a.b", "must be in 0..=65535, got 65536"))
        );
        assert_eq!(<u64 as Integer>::RANGE, (0, i64::MAX));
        assert_eq!(<usize as Integer>::RANGE.0, 0);
        assert_eq!(<i64 as Integer>::RANGE, (i64::MIN, i64::MAX));
    }

    #[test]
    fn authorized_keys_are_checked() {
        let k = "network.authorized_keys[0]";
        assert!(authorized_key(k, KEY).is_ok());
        assert!(authorized_key(k, &KEY.to_uppercase()).is_ok());
        // Right length, wrong prefix (compressed marker) or not hex, or off the curve.
        let compressed_marker = format!("02{}", &KEY[2..]);
        let not_hex = format!("zz{}", &KEY[2..]);
        let off_curve = format!("{}00", &KEY[..128]);
        for bad in [compressed_marker, not_hex, off_curve] {
            let e = authorized_key(k, &bad).expect_err("invalid");
            assert!(e.reason.contains("secp256k1"), "{}", e.reason);
        }
        let e = authorized_key(k, "04abc").expect_err("short");
        assert!(e.reason.contains("130 hex characters"), "{}", e.reason);
        // Multi-byte characters count as characters and never panic.
        assert!(authorized_key(k, &"é".repeat(130)).is_err());
        // The index of the bad one is in the key.
        let keys = vec![KEY.to_owned(), "04ab".to_owned()];
        let e = <Vec<[u8; PUBKEY_LEN]>>::check("network.authorized_keys", keys);
        assert_eq!(e.expect_err("bad").key, "network.authorized_keys[1]");
    }

    #[test]
    fn log_levels_ignore_case_and_are_written_in_lower_case() {
        for (text, level) in [
            ("off", log::LevelFilter::Off),
            ("ERROR", log::LevelFilter::Error),
            ("Warn", log::LevelFilter::Warn),
            ("debug", log::LevelFilter::Debug),
            ("trace", log::LevelFilter::Trace),
        ] {
            assert_eq!(log::LevelFilter::check("log.level", text.into()), Ok(level));
        }
        let e = log::LevelFilter::check("log.level", "verbose".into()).expect_err("bad");
        assert_eq!(e.key, "log.level");
        assert_eq!(
            PlainValue::render(&log::LevelFilter::Info),
            Value::String("info".into())
        );
    }

    #[test]
    fn blank_is_unset_for_optional_strings_and_paths() {
        assert_eq!(<Option<String>>::check("k", "  ".into()), Ok(None));
        assert_eq!(
            <Option<String>>::check("k", "u".into()),
            Ok(Some("u".into()))
        );
        assert_eq!(<Option<PathBuf>>::check("k", PathBuf::new()), Ok(None));
        assert_eq!(
            PlainValue::render(&None::<String>),
            Value::String(String::new())
        );
        assert_eq!(
            PathBuf::check("node.data_dir", PathBuf::new()),
            Err(invalid("node.data_dir", "must not be empty"))
        );
    }
}
