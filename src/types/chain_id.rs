//! Chain ids: an `int32` on the wire, a 4-character base58 name for people ("AELF", "tDVV").
//!
//! The name base58-decodes (plain, no checksum) to 3 bytes; zero-padded to 4 they are read as a
//! little-endian `int32`. The reverse takes the 3 low-order bytes of that little-endian form.

use super::TypesError;

/// "AELF" → 9992731. Only 4-character names whose value fits in 3 bytes are valid chain names.
pub fn chain_id_from_name(name: &str) -> Result<i32, TypesError> {
    let invalid = |reason| TypesError::ChainIdName {
        name: name.to_owned(),
        reason,
    };
    if name.len() != 4 {
        return Err(invalid("must be 4 base58 characters"));
    }
    let bytes = bs58::decode(name)
        .into_vec()
        .map_err(|_| invalid("not base58"))?;
    if bytes.len() != 3 {
        return Err(invalid("does not decode to 3 bytes"));
    }
    Ok(i32::from_le_bytes([bytes[0], bytes[1], bytes[2], 0]))
}

/// 9992731 → "AELF". Ids outside the 3-byte range have no name and give `None`.
pub fn chain_id_to_name(chain_id: i32) -> Option<String> {
    let le = chain_id.to_le_bytes();
    if le[3] != 0 {
        return None;
    }
    let name = bs58::encode(&le[..3]).into_string();
    (chain_id_from_name(&name).ok() == Some(chain_id)).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_chain_ids() {
        for (name, id) in [("AELF", 9992731), ("tDVV", 1866392), ("tDVW", 1931928)] {
            assert_eq!(chain_id_from_name(name), Ok(id));
            assert_eq!(chain_id_to_name(id).as_deref(), Some(name));
        }
    }

    #[test]
    fn bad_names_are_rejected() {
        for bad in ["", "AEL", "AELFX", "AEL0", "ÄELF"] {
            assert!(chain_id_from_name(bad).is_err(), "{bad}");
        }
        assert_eq!(chain_id_to_name(0), None);
        assert_eq!(chain_id_to_name(-1), None);
    }
}
