//! Unknown fields in the order Google.Protobuf keeps them: what the generated messages call
//! (`build.rs` patches the calls in) to read and write fields that our schema does not know.
//!
//! aelf hashes re-encoded messages (a transaction id is SHA-256 of the transaction written without
//! its signature; a block hash, of the header without its signature; a handshake signature signs
//! the encoded `HandshakeData`), so a message must be re-encoded exactly as the C# node's
//! Google.Protobuf 3.27.2 writes it, unknown fields included. Its rule:
//!
//! 1. known fields first, in field-number order (the C# code generator emits them sorted by
//!    number; our `.proto` files declare them in that order, which rust-protobuf follows);
//! 2. then the unknown fields, one field number at a time, numbers in the order each *first*
//!    arrived (`UnknownFieldSet` is a `Dictionary<int, UnknownField>`, which enumerates in
//!    insertion order when nothing is removed, and nothing is: a fact of .NET's implementation
//!    that its maintainers confirm but do not promise, dotnet/runtime#99220);
//! 3. within one number, all varints, then all fixed32s, then all fixed64s, then all
//!    length-delimited values (then groups), each kind in arrival order (`UnknownField` keeps
//!    one list per wire type and `WriteTo` walks them in that order).
//!
//! rust-protobuf 3 keeps unknown fields in a `HashMap<u32, _>` and writes them in hash order,
//! which loses rule 2. So every generated message carries an [`UnknownOrder`]: the unknown field
//! numbers in order of first arrival, recorded by [`read_unknown`] and used by
//! [`write_unknown`]. Rule 3 needs nothing more: rust-protobuf keeps one list per wire type and
//! number, in arrival order.
//!
//! Not covered: groups (wire types 3/4), which rust-protobuf skips and Google.Protobuf keeps;
//! proto3 cannot declare them, so no aelf release can add one. And `google.protobuf.Timestamp`
//! is generated inside the protobuf crate, so unknown fields inside a timestamp are written in
//! hash order; that message is frozen by Google.

// `pb` turns clippy off for the generated code; this file is written by hand.
#![warn(clippy::all)]

use protobuf::{
    CodedInputStream, CodedOutputStream, SpecialFields, UnknownFields, UnknownValueRef,
};

/// Wire type of a group's start tag.
const WIRE_START_GROUP: u32 = 3;

/// The numbers of a message's unknown fields, each once, in the order they first arrived.
///
/// Empty (and not allocated) for a message without unknown fields. Unknown fields added through
/// rust-protobuf's own API are not recorded here; they are written after the recorded ones, in
/// number order.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct UnknownOrder(Vec<u32>);

impl UnknownOrder {
    pub const fn new() -> UnknownOrder {
        UnknownOrder(Vec::new())
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The recorded numbers, in order of first arrival.
    pub fn numbers(&self) -> &[u32] {
        &self.0
    }
}

/// Reads one unknown field (the generated `merge_from`'s fallback arm) and records its number
/// the first time it arrives.
pub fn read_unknown(
    tag: u32,
    is: &mut CodedInputStream<'_>,
    special_fields: &mut SpecialFields,
    order: &mut UnknownOrder,
) -> protobuf::Result<()> {
    let number = tag >> 3;
    // A number is new when the map holds nothing for it yet: one hash lookup, whatever the number
    // of distinct unknown fields. Groups are skipped by rust-protobuf, so they are not recorded.
    let first =
        tag & 7 != WIRE_START_GROUP && special_fields.unknown_fields().get(number).is_none();
    protobuf::rt::read_unknown_or_skip_group(tag, is, special_fields.mut_unknown_fields())?;
    if first {
        order.0.push(number);
    }
    Ok(())
}

/// Writes a message's unknown fields in Google.Protobuf's order (the module rules 2 and 3).
pub fn write_unknown(
    os: &mut CodedOutputStream<'_>,
    fields: &UnknownFields,
    order: &UnknownOrder,
) -> protobuf::Result<()> {
    let mut iter = fields.iter();
    let Some(first) = iter.next() else {
        return Ok(());
    };
    let mut values: Vec<(u32, UnknownValueRef<'_>)> = Vec::with_capacity(4);
    values.push(first);
    values.extend(iter);
    if values.len() > 1 {
        let ranks = Ranks::new(order);
        // Stable: values of one number and one wire type keep their arrival order.
        values.sort_by_key(|(number, value)| (ranks.of(*number), wire_rank(value)));
    }
    for (number, value) in values {
        os.write_unknown(number, value)?;
    }
    Ok(())
}

/// Google.Protobuf's order of the wire types within one field number.
fn wire_rank(value: &UnknownValueRef<'_>) -> u8 {
    match value {
        UnknownValueRef::Varint(_) => 0,
        UnknownValueRef::Fixed32(_) => 1,
        UnknownValueRef::Fixed64(_) => 2,
        UnknownValueRef::LengthDelimited(_) => 3,
    }
}

/// Position of each field number in an [`UnknownOrder`]: recorded numbers by first arrival,
/// unrecorded ones after them by number.
struct Ranks {
    /// (number, first position), sorted by number.
    by_number: Vec<(u32, usize)>,
}

impl Ranks {
    fn new(order: &UnknownOrder) -> Ranks {
        let mut by_number: Vec<(u32, usize)> =
            order.0.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        // Sorted by (number, position), so the first of equal numbers is its first position.
        by_number.sort_unstable();
        by_number.dedup_by_key(|(n, _)| *n);
        Ranks { by_number }
    }

    fn of(&self, number: u32) -> (usize, u32) {
        match self.by_number.binary_search_by_key(&number, |(n, _)| *n) {
            Ok(i) => (self.by_number[i].1, 0),
            Err(_) => (usize::MAX, number),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Ranks, UnknownOrder};
    use crate::pb::aelf_core::{Address, Transaction};
    use protobuf::Message;

    #[test]
    fn numbers_are_recorded_once_in_order_of_first_arrival() {
        // field 3 varint, field 2 varint, field 3 bytes, field 2 varint (on an Address: 1 is known)
        let wire = [0x18, 0x01, 0x10, 0x02, 0x1a, 0x00, 0x10, 0x03];
        let a = Address::parse_from_bytes(&wire).unwrap();
        assert_eq!(a.unknown_order.numbers(), &[3, 2]);
        // Field 3's varint before its bytes, then field 2's two varints in arrival order.
        assert_eq!(
            a.write_to_bytes().unwrap(),
            [0x18, 0x01, 0x1a, 0x00, 0x10, 0x02, 0x10, 0x03]
        );
    }

    #[test]
    fn groups_are_skipped_and_not_recorded() {
        // field 5 as a group holding field 1 varint, then field 4 varint.
        let wire = [0x2b, 0x08, 0x01, 0x2c, 0x20, 0x07];
        let a = Address::parse_from_bytes(&wire).unwrap();
        assert_eq!(a.unknown_order.numbers(), &[4]);
        assert_eq!(a.write_to_bytes().unwrap(), [0x20, 0x07]);
    }

    #[test]
    fn unrecorded_fields_follow_the_recorded_ones_by_number() {
        let mut a = Address::parse_from_bytes(&[0x28, 0x01]).unwrap(); // field 5, varint 1
        a.special_fields.mut_unknown_fields().add_varint(9, 2);
        a.special_fields.mut_unknown_fields().add_varint(7, 3);
        assert_eq!(
            a.write_to_bytes().unwrap(),
            [0x28, 0x01, 0x38, 0x03, 0x48, 0x02]
        );
    }

    /// Rule 1 holds because rust-protobuf writes fields in declaration order and every `.proto`
    /// message declares its fields in number order (and none has a oneof, which it writes last).
    #[test]
    fn known_fields_are_declared_in_number_order() {
        use crate::pb::{aelf_block, aelf_core, network_types, peer_service};
        for file in [
            aelf_core::file_descriptor(),
            aelf_block::file_descriptor(),
            network_types::file_descriptor(),
            peer_service::file_descriptor(),
        ] {
            for message in file.messages() {
                let numbers: Vec<i32> = message.fields().map(|f| f.number()).collect();
                assert!(
                    numbers.windows(2).all(|w| w[0] < w[1]),
                    "{}: {numbers:?}",
                    message.name()
                );
                assert_eq!(message.oneofs().count(), 0, "{}", message.name());
            }
        }
    }

    #[test]
    fn a_number_ranks_by_its_first_position() {
        let ranks = Ranks::new(&UnknownOrder(vec![5, 3, 5, 9]));
        assert_eq!(ranks.of(5), (0, 0));
        assert_eq!(ranks.of(3), (1, 0));
        assert_eq!(ranks.of(9), (3, 0));
        assert_eq!(ranks.of(4), (usize::MAX, 4));
    }

    #[test]
    fn clear_forgets_the_order() {
        let mut tx = Transaction::parse_from_bytes(&[0xa0, 0x06, 0x01]).unwrap();
        assert_eq!(tx.unknown_order.numbers(), &[100]);
        tx.clear();
        assert!(tx.unknown_order.numbers().is_empty());
        assert!(tx.write_to_bytes().unwrap().is_empty());
    }

    #[test]
    fn malformed_unknown_fields_are_errors() {
        for wire in [
            &[0x0c][..],             // an end-group tag with no group open
            &[0x1f, 0x00],           // wire type 7
            &[0x1a, 0x05, 0x01],     // bytes longer than the input
            &[0x18],                 // a varint cut short
            &[0x03, 0x08, 0x01][..], // field number 0
        ] {
            assert!(Address::parse_from_bytes(wire).is_err(), "{wire:02x?}");
        }
    }
}
