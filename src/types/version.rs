//! `NodeVersion`: a .NET `System.Version` ("1.4.0.0"), which decides legacy or stream mode.
//!
//! .NET rules matter on the wire: 2 to 4 dot-separated non-negative `int32` components, and a
//! missing component compares as −1, so "1.4" < "1.4.0" < "1.4.0.0".

use super::TypesError;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A parsed version. Missing build/revision components are `None` and sort below any value.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeVersion {
    parts: [i32; 4],
    len: usize,
}

impl NodeVersion {
    /// Parses as .NET's `Version.Parse` does: each component is an integer in `0..=i32::MAX`
    /// (surrounding white space and a leading `+` tolerated, as `int.Parse` tolerates them).
    pub fn parse(s: &str) -> Result<NodeVersion, TypesError> {
        let err = || TypesError::Version(s.to_owned());
        let components: Vec<&str> = s.split('.').collect();
        if !(2..=4).contains(&components.len()) {
            return Err(err());
        }
        let mut parts = [-1i32; 4];
        for (slot, c) in parts.iter_mut().zip(&components) {
            let c = c.trim();
            let digits = c.strip_prefix('+').unwrap_or(c);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            *slot = digits.parse::<i32>().map_err(|_| err())?;
        }
        Ok(NodeVersion {
            parts,
            len: components.len(),
        })
    }

    /// `true` when `self >= min`: the C# node's stream-capability test.
    pub fn at_least(&self, min: &NodeVersion) -> bool {
        *self >= *min
    }
}

impl Ord for NodeVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts.cmp(&other.parts)
    }
}

impl PartialOrd for NodeVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl FromStr for NodeVersion {
    type Err = TypesError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NodeVersion::parse(s)
    }
}

impl fmt::Display for NodeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self.parts[..self.len].iter().map(i32::to_string).collect();
        f.write_str(&shown.join("."))
    }
}

impl fmt::Debug for NodeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeVersion({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> NodeVersion {
        NodeVersion::parse(s).unwrap()
    }

    #[test]
    fn missing_components_compare_lower() {
        let min = v("1.4.0.0");
        assert!(!v("1.4").at_least(&min));
        assert!(!v("1.4.0").at_least(&min));
        assert!(v("1.4.0.0").at_least(&min));
        assert!(v("1.4.0.1").at_least(&min));
        assert!(v("1.10.0.0").at_least(&min));
        assert!(!v("1.3.99.99").at_least(&min));
        assert!(v("2.0").at_least(&min));
    }

    #[test]
    fn malformed_versions_are_rejected() {
        for bad in [
            "",
            "1",
            "1.2.3.4.5",
            "a.b",
            "1.-2",
            "1..2",
            "1.2.",
            "1.99999999999",
        ] {
            assert!(NodeVersion::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(v(" 1 . 2 ").to_string(), "1.2");
        assert_eq!(v("1.9.0.0").to_string(), "1.9.0.0");
    }
}
