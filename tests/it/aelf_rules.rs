//! aelf's hashing and signature rules against encodings written out byte by byte here, so the
//! vectors do not depend on the protobuf library that the code under test uses.

use aelf_net::crypto::{recover_pubkey, verify, NodeKey, SignatureError};
use aelf_net::pb::aelf_block::{BlockHeader, BlockHeaderExtraDataEntry};
use aelf_net::pb::aelf_core::Transaction;
use aelf_net::pb::network_types::HandshakeData;
use aelf_net::types::{
    block_hash, chain_id_from_name, chain_id_to_name, handshake_hash, sha256, transaction_id,
    Address, Hash,
};
use protobuf::well_known_types::timestamp::Timestamp;
use protobuf::{Message, MessageField};

/// Tag bytes of field 10000 (`signature`) and 9999 (`signer_pubkey`), length-delimited.
const TAG_10000: [u8; 3] = [0x82, 0xf1, 0x04];
const TAG_9999: [u8; 3] = [0xfa, 0xf0, 0x04];

fn wrapped32(tag: u8, bytes: &[u8; 32]) -> Vec<u8> {
    // An aelf.Hash / aelf.Address field: tag, length 34, then `0a 20 <32 bytes>`.
    let mut out = vec![tag, 34, 0x0a, 32];
    out.extend_from_slice(bytes);
    out
}

fn len_field(tag: &[u8], bytes: &[u8]) -> Vec<u8> {
    assert!(bytes.len() < 128);
    let mut out = tag.to_vec();
    out.push(bytes.len() as u8);
    out.extend_from_slice(bytes);
    out
}

fn sample_transaction() -> Transaction {
    Transaction {
        from: MessageField::some(Address([1; 32]).to_proto()),
        to: MessageField::some(Address([2; 32]).to_proto()),
        ref_block_number: 300,
        ref_block_prefix: vec![9, 8, 7, 6],
        method_name: "Transfer".into(),
        params: vec![0xaa, 0xbb],
        signature: vec![5; 65],
        ..Default::default()
    }
}

#[test]
fn chain_id_vectors() {
    for (name, id) in [("AELF", 9992731), ("tDVV", 1866392), ("tDVW", 1931928)] {
        assert_eq!(chain_id_from_name(name).unwrap(), id);
        assert_eq!(chain_id_to_name(id).unwrap(), name);
    }
}

#[test]
fn transaction_id_is_sha256_of_the_encoding_without_signature() {
    let tx = sample_transaction();
    let mut expected = wrapped32(0x0a, &[1; 32]);
    expected.extend(wrapped32(0x12, &[2; 32]));
    expected.extend([0x18, 0xac, 0x02]); // ref_block_number = 300 as a varint
    expected.extend(len_field(&[0x22], &[9, 8, 7, 6]));
    expected.extend(len_field(&[0x2a], b"Transfer"));
    expected.extend(len_field(&[0x32], &[0xaa, 0xbb]));
    assert_eq!(transaction_id(&tx).unwrap(), sha256(&expected));

    // The signature is on the wire (field 10000, last) but not in the id.
    let wire = tx.write_to_bytes().unwrap();
    assert_eq!(&wire[..expected.len()], &expected[..]);
    assert_eq!(&wire[expected.len()..expected.len() + 3], &TAG_10000);
    let unsigned = Transaction {
        signature: vec![],
        ..tx.clone()
    };
    assert_eq!(
        transaction_id(&unsigned).unwrap(),
        transaction_id(&tx).unwrap()
    );
}

#[test]
fn transaction_id_preconditions() {
    let tx = sample_transaction();
    let cases = [
        Transaction {
            from: MessageField::none(),
            ..tx.clone()
        },
        Transaction {
            to: MessageField::none(),
            ..tx.clone()
        },
        Transaction {
            ref_block_number: -1,
            ..tx.clone()
        },
        Transaction {
            method_name: String::new(),
            ..tx.clone()
        },
    ];
    for bad in cases {
        assert!(transaction_id(&bad).is_err());
    }
}

fn sample_header() -> BlockHeader {
    let entry = |k: &str, v: &[u8]| BlockHeaderExtraDataEntry {
        key: k.into(),
        value: v.to_vec(),
        ..Default::default()
    };
    BlockHeader {
        chain_id: 9992731,
        previous_block_hash: MessageField::some(Hash([3; 32]).to_proto()),
        merkle_tree_root_of_transactions: MessageField::some(Hash([4; 32]).to_proto()),
        merkle_tree_root_of_world_state: MessageField::some(Hash([5; 32]).to_proto()),
        height: 2,
        // Deliberately not in key order: the hash must follow the received order.
        extra_data: vec![entry("Consensus", &[1]), entry("CrossChain", &[2])],
        time: MessageField::some(Timestamp {
            seconds: 1_767_225_600,
            nanos: 100,
            ..Default::default()
        }),
        merkle_tree_root_of_transaction_status: MessageField::some(Hash([6; 32]).to_proto()),
        signer_pubkey: vec![4; 65],
        signature: vec![7; 65],
        ..Default::default()
    }
}

fn expected_header_encoding(extra: &[(&str, u8)]) -> Vec<u8> {
    let mut e = vec![0x10, 0x9b, 0xf4, 0xe1, 0x04]; // chain_id 9992731
    e.extend(wrapped32(0x1a, &[3; 32]));
    e.extend(wrapped32(0x22, &[4; 32]));
    e.extend(wrapped32(0x2a, &[5; 32]));
    e.extend([0x38, 0x02]); // height 2
    for (k, v) in extra {
        let mut entry = len_field(&[0x0a], k.as_bytes());
        entry.extend(len_field(&[0x12], &[*v]));
        e.extend(len_field(&[0x42], &entry));
    }
    // time { seconds: 1767225600, nanos: 100 }
    e.extend([0x4a, 0x08, 0x08, 0x80, 0xf2, 0xd6, 0xca, 0x06, 0x10, 0x64]);
    e.extend(wrapped32(0x52, &[6; 32]));
    let mut signer = TAG_9999.to_vec();
    signer.push(65);
    signer.extend([4; 65]);
    e.extend(signer);
    e
}

#[test]
fn block_hash_covers_signer_and_extra_data_in_received_order() {
    let header = sample_header();
    let expected = expected_header_encoding(&[("Consensus", 1), ("CrossChain", 2)]);
    assert_eq!(block_hash(&header).unwrap(), sha256(&expected));

    // Re-encoding a received header keeps the entry order (a sorted map would not).
    let swapped = BlockHeader {
        extra_data: vec![header.extra_data[1].clone(), header.extra_data[0].clone()],
        ..header.clone()
    };
    let received = BlockHeader::parse_from_bytes(&swapped.write_to_bytes().unwrap()).unwrap();
    let expected_swapped = expected_header_encoding(&[("CrossChain", 2), ("Consensus", 1)]);
    assert_eq!(block_hash(&received).unwrap(), sha256(&expected_swapped));
    assert_ne!(block_hash(&received).unwrap(), block_hash(&header).unwrap());

    // The signature is excluded, the signer is included.
    let unsigned = BlockHeader {
        signature: vec![],
        ..header.clone()
    };
    assert_eq!(block_hash(&unsigned).unwrap(), block_hash(&header).unwrap());
    let other_signer = BlockHeader {
        signer_pubkey: vec![8; 65],
        ..header.clone()
    };
    assert_ne!(
        block_hash(&other_signer).unwrap(),
        block_hash(&header).unwrap()
    );
}

#[test]
fn unknown_fields_survive_and_are_hashed_last() {
    let mut bytes = sample_header().write_to_bytes().unwrap();
    bytes.extend([0xa0, 0x06, 0x01]); // field 100, varint 1: unknown to us
    let parsed = BlockHeader::parse_from_bytes(&bytes).unwrap();
    let mut expected = expected_header_encoding(&[("Consensus", 1), ("CrossChain", 2)]);
    expected.extend([0xa0, 0x06, 0x01]);
    assert_eq!(block_hash(&parsed).unwrap(), sha256(&expected));
}

#[test]
fn block_hash_preconditions() {
    let h = sample_header();
    let cases = [
        BlockHeader {
            chain_id: -1,
            ..h.clone()
        },
        BlockHeader {
            height: 0,
            ..h.clone()
        },
        BlockHeader {
            signer_pubkey: vec![],
            ..h.clone()
        },
        BlockHeader {
            previous_block_hash: MessageField::none(),
            ..h.clone()
        },
        BlockHeader {
            merkle_tree_root_of_transactions: MessageField::none(),
            ..h.clone()
        },
        BlockHeader {
            merkle_tree_root_of_world_state: MessageField::none(),
            ..h.clone()
        },
        BlockHeader {
            merkle_tree_root_of_transaction_status: MessageField::none(),
            ..h.clone()
        },
        BlockHeader {
            time: MessageField::none(),
            ..h.clone()
        },
    ];
    for bad in cases {
        assert!(block_hash(&bad).is_err());
    }
    // Height 1 needs no signer (genesis).
    let genesis = BlockHeader {
        height: 1,
        signer_pubkey: vec![],
        ..h
    };
    assert!(block_hash(&genesis).is_ok());
}

#[test]
fn handshake_hash_is_sha256_of_the_whole_data() {
    let data = HandshakeData {
        chain_id: 9992731,
        version: 1,
        listening_port: 6800,
        node_version: "1.9.0.0".into(),
        ..Default::default()
    };
    let mut expected = vec![0x08, 0x9b, 0xf4, 0xe1, 0x04, 0x10, 0x01, 0x18, 0x90, 0x35];
    expected.extend(len_field(&[0x52], b"1.9.0.0"));
    assert_eq!(handshake_hash(&data), sha256(&expected));
}

#[test]
fn address_is_double_sha256_in_base58check() {
    let key = NodeKey::generate();
    let address = Address::from_pubkey(key.pubkey());
    assert_eq!(address.0, sha256(sha256(key.pubkey()).as_bytes()).0);
    let text = address.to_base58();
    let raw = bs58::decode(&text).into_vec().unwrap();
    assert_eq!(raw.len(), 36);
    assert_eq!(&raw[..32], &address.0);
    let check = sha256(sha256(&raw[..32]).as_bytes());
    assert_eq!(&raw[32..], &check.0[..4]);
    assert_eq!(Address::from_base58(&text), Some(address));
}

#[test]
fn signatures_round_trip_and_bad_ones_are_rejected() {
    let key = NodeKey::generate();
    let digest = sha256(b"block");
    let sig = key.sign(&digest);
    assert_eq!(sig.len(), 65);
    assert_eq!(recover_pubkey(&digest, &sig).unwrap(), *key.pubkey());
    assert_eq!(
        verify(&digest, &sig[..64], key.pubkey()),
        Err(SignatureError::Length(64))
    );
    let mut bad_v = sig;
    bad_v[64] = 7;
    assert_eq!(
        verify(&digest, &bad_v, key.pubkey()),
        Err(SignatureError::RecoveryId(7))
    );
    let other = NodeKey::generate();
    assert_eq!(
        verify(&digest, &sig, other.pubkey()),
        Err(SignatureError::WrongKey)
    );
    // Only the uncompressed 65-byte form is accepted as the claimed key.
    assert_eq!(
        verify(&digest, &sig, &key.pubkey()[..33]),
        Err(SignatureError::WrongKey)
    );
}

#[test]
fn extra_data_is_hashed_as_the_c_sharp_map_holds_it() {
    // A repeated key keeps its first position and takes its last value, as a C# MapField does.
    let h = sample_header();
    let entry = |k: &str, v: u8| BlockHeaderExtraDataEntry {
        key: k.into(),
        value: vec![v],
        ..Default::default()
    };
    let repeated = BlockHeader {
        extra_data: vec![
            entry("Consensus", 9),
            entry("CrossChain", 2),
            entry("Consensus", 1),
        ],
        ..h.clone()
    };
    assert_eq!(block_hash(&repeated).unwrap(), block_hash(&h).unwrap());

    // Unknown fields inside an entry are not part of a map entry.
    let mut bytes = entry("Consensus", 1).write_to_bytes().unwrap();
    bytes.extend([0x18, 0x05]); // field 3 of the entry: unknown
    let with_unknown = BlockHeaderExtraDataEntry::parse_from_bytes(&bytes).unwrap();
    let odd = BlockHeader {
        extra_data: vec![with_unknown, entry("CrossChain", 2)],
        ..h.clone()
    };
    assert_eq!(block_hash(&odd).unwrap(), block_hash(&h).unwrap());
}

// Unknown fields, as a later aelf release would send them. Google.Protobuf (3.27.2, the C# node's)
// writes a parsed message's unknown fields after its known ones, one field number at a time in the
// order each number first arrived, and within a number: varints, fixed32s, fixed64s, then
// length-delimited values, each kind in arrival order.

/// Five unknown fields in descending field-number order: 500, 400, 300, 200, 100.
const UNKNOWN_DESCENDING: &[u8] = &[
    0xa0, 0x1f, 0x05, // field 500, varint 5
    0x82, 0x19, 0x02, b'h', b'i', // field 400, bytes "hi"
    0xe5, 0x12, 1, 2, 3, 4, // field 300, fixed32
    0xc1, 0x0c, 1, 2, 3, 4, 5, 6, 7, 8, // field 200, fixed64
    0xa0, 0x06, 0x01, // field 100, varint 1
];

/// Unknown fields where one number comes back later with another wire type: field 200 as bytes,
/// field 100, field 200 as a varint, field 200 as bytes again.
const UNKNOWN_INTERLEAVED: &[u8] = &[
    0xc2, 0x0c, 0x01, b'a', // field 200, bytes "a"
    0xa0, 0x06, 0x07, // field 100, varint 7
    0xc0, 0x0c, 0x09, // field 200, varint 9
    0xc2, 0x0c, 0x01, b'b', // field 200, bytes "b"
];

/// `UNKNOWN_INTERLEAVED` as Google.Protobuf writes it back: field 200 first (its varint, then its
/// two byte strings in arrival order), then field 100.
const UNKNOWN_INTERLEAVED_WRITTEN: &[u8] = &[
    0xc0, 0x0c, 0x09, // field 200, varint 9
    0xc2, 0x0c, 0x01, b'a', // field 200, bytes "a"
    0xc2, 0x0c, 0x01, b'b', // field 200, bytes "b"
    0xa0, 0x06, 0x07, // field 100, varint 7
];

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn transaction_id_keeps_unknown_fields_in_arrival_order() {
    let tx = sample_transaction();
    let known = tx.write_to_bytes().unwrap(); // ends with the signature (field 10000)
    let unsigned = Transaction {
        signature: vec![],
        ..tx
    }
    .write_to_bytes()
    .unwrap();
    for (tail, written) in [
        (UNKNOWN_DESCENDING, UNKNOWN_DESCENDING),
        (UNKNOWN_INTERLEAVED, UNKNOWN_INTERLEAVED_WRITTEN),
    ] {
        let parsed = Transaction::parse_from_bytes(&concat(&[&known, tail])).unwrap();
        let expected = concat(&[&unsigned, written]);
        assert_eq!(transaction_id(&parsed).unwrap(), sha256(&expected));
        // Relayed or stored, the transaction is written as a C# node would write it.
        assert_eq!(parsed.write_to_bytes().unwrap(), concat(&[&known, written]));
    }
}

#[test]
fn block_hash_keeps_unknown_fields_in_arrival_order() {
    let known = sample_header().write_to_bytes().unwrap();
    let unsigned = expected_header_encoding(&[("Consensus", 1), ("CrossChain", 2)]);
    for (tail, written) in [
        (UNKNOWN_DESCENDING, UNKNOWN_DESCENDING),
        (UNKNOWN_INTERLEAVED, UNKNOWN_INTERLEAVED_WRITTEN),
    ] {
        let parsed = BlockHeader::parse_from_bytes(&concat(&[&known, tail])).unwrap();
        assert_eq!(
            block_hash(&parsed).unwrap(),
            sha256(&concat(&[&unsigned, written]))
        );
        assert_eq!(parsed.write_to_bytes().unwrap(), concat(&[&known, written]));
    }
}

#[test]
fn handshake_hash_keeps_unknown_fields_in_arrival_order() {
    let mut known = vec![0x08, 0x9b, 0xf4, 0xe1, 0x04, 0x10, 0x01, 0x18, 0x90, 0x35];
    known.extend(len_field(&[0x52], b"1.9.0.0"));
    for (tail, written) in [
        (UNKNOWN_DESCENDING, UNKNOWN_DESCENDING),
        (UNKNOWN_INTERLEAVED, UNKNOWN_INTERLEAVED_WRITTEN),
    ] {
        let parsed = HandshakeData::parse_from_bytes(&concat(&[&known, tail])).unwrap();
        assert_eq!(handshake_hash(&parsed), sha256(&concat(&[&known, written])));
    }
}

#[test]
fn unknown_fields_of_nested_messages_keep_their_order_too() {
    // `from` carries two unknown fields of its own, in descending order.
    let mut from = vec![0x0a, 0x20];
    from.extend([1; 32]);
    from.extend([0xc0, 0x0c, 0x02, 0xa0, 0x06, 0x01]); // field 200 varint 2, field 100 varint 1
    let mut wire = len_field(&[0x0a], &from);
    wire.extend(wrapped32(0x12, &[2; 32]));
    wire.extend(len_field(&[0x2a], b"Transfer"));
    let parsed = Transaction::parse_from_bytes(&wire).unwrap();
    assert_eq!(transaction_id(&parsed).unwrap(), sha256(&wire));
}
