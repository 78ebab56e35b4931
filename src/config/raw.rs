//! The TOML shapes of values that serde cannot read as a plain Rust type: an integer kept as
//! read so that its range is checked with the key's name, and a chain id that is a name or an
//! integer.
//!
//! Owns only how these values are read. It must not name sections or keys (the raw section
//! structs are generated from [`super::keys`]), apply defaults or check values beyond their
//! TOML type: that is [`super::validate`]'s, so every semantic error is produced in one place
//! with one shape.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use std::marker::PhantomData;

/// A TOML integer for a field of type `T`, kept as read (`i64`) so that validation checks its
/// range and names it ("must be in 1..=65535, got 70000"). A value of the wrong TOML type is
/// reported as serde reports it for `T` ("invalid type: string \"x\", expected u32").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Int<T> {
    pub value: i64,
    ty: PhantomData<T>,
}

impl<T> Int<T> {
    pub fn new(value: i64) -> Int<T> {
        Int {
            value,
            ty: PhantomData,
        }
    }
}

/// The Rust name of an integer type, for "expected u32" messages.
pub(super) trait IntName {
    const NAME: &'static str;
}

macro_rules! int_name {
    ($($t:ty),*) => { $(impl IntName for $t { const NAME: &'static str = stringify!($t); })* };
}
int_name!(u16, u32, u64, i64, usize);

impl<'de, T: IntName> Deserialize<'de> for Int<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntVisitor<T>(PhantomData<T>);

        impl<T: IntName> Visitor<'_> for IntVisitor<T> {
            type Value = Int<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::NAME)
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int<T>, E> {
                Ok(Int::new(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int<T>, E> {
                // TOML integers are i64; saturating keeps "out of range" for anything larger.
                Ok(Int::new(i64::try_from(v).unwrap_or(i64::MAX)))
            }
        }

        deserializer.deserialize_any(IntVisitor(PhantomData))
    }
}

/// `[node] chain_id`: a chain name (`"AELF"`) or the integer id (`9992731`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RawChainId {
    Name(String),
    Id(i64),
}

impl<'de> Deserialize<'de> for RawChainId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ChainIdVisitor;

        impl Visitor<'_> for ChainIdVisitor {
            type Value = RawChainId;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a chain name such as \"AELF\" or a non-negative integer chain id")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawChainId, E> {
                Ok(RawChainId::Name(v.to_owned()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawChainId, E> {
                Ok(RawChainId::Id(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawChainId, E> {
                // Saturate: anything above i64::MAX is out of range for a chain id anyway.
                Ok(RawChainId::Id(i64::try_from(v).unwrap_or(i64::MAX)))
            }
        }

        deserializer.deserialize_any(ChainIdVisitor)
    }
}
