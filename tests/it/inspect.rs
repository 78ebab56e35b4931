//! `aelf_net::inspect` and `aelf-netctl inspect` on data the real aelf chain produced
//! (`../shared/testdata/aelf-real/`, read-only beside the clone): each rule its README lists is
//! confirmed by rebuilding the chain's block and transaction from the web API's JSON and getting
//! the hash, id and sizes the chain reported. Expected values come from the data files (or, for
//! the consensus data, from the measurements in the AEDPoS spec), never from our own code.

use aelf_net::chain::{synthetic_transactions, ChainTip};
use aelf_net::crypto::NodeKey;
use aelf_net::inspect::consensus::decode_consensus;
use aelf_net::inspect::dto::extra_from_text;
use aelf_net::inspect::{
    inspect, inspect_json, BlockReport, InputKind, InspectError, InspectOptions, Report,
    TransactionReport, Verdict,
};
use aelf_net::pb::aedpos::AElfConsensusBehaviour;
use aelf_net::types::{chain_id_from_name, sha256, Hash};
use protobuf::Message;
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};

const REAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/aelf-real");
const NETCTL: &str = env!("CARGO_BIN_EXE_aelf-netctl");

fn data(file: &str) -> Value {
    let path = format!("{REAL}/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("data file is JSON")
}

/// The mainnet block as `getBlockByHeight` returned it.
fn mainnet_block() -> Value {
    data("block_aelf_mainnet_136240697.json")["block_dto"].clone()
}

/// The tDVW transaction result as `getTransactionResult` returned it.
fn testnet_tx() -> Value {
    data("tx_tdvw_testnet_DonateResourceToken_3f323bf0.json")["tx_result_dto"].clone()
}

fn block_report(json: &Value) -> BlockReport {
    match inspect_json(json, &InspectOptions::default()).expect("the block inspects") {
        Report::Block(b) => *b,
        other => panic!("not a block report: {other:?}"),
    }
}

fn tx_report(json: &Value, params: Option<Vec<u8>>) -> TransactionReport {
    let options = InspectOptions {
        params,
        ..Default::default()
    };
    match inspect_json(json, &options).expect("the transaction inspects") {
        Report::Transaction(t) => *t,
        other => panic!("not a transaction report: {other:?}"),
    }
}

fn varint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// The transaction's `Params` as the chain encoded them, written here byte by byte from the
/// decoded JSON the API shows: `token.TotalResourceTokensMaps { aelf.Hash block_hash = 2;
/// int64 block_height = 3; }` (the file's `params_proto_note`; `value` is empty).
fn testnet_params(tx: &Value) -> Vec<u8> {
    let shown: Value = serde_json::from_str(tx["Transaction"]["Params"].as_str().unwrap()).unwrap();
    let hash = hex::decode(shown["blockHash"].as_str().unwrap()).unwrap();
    let height: u64 = shown["blockHeight"].as_str().unwrap().parse().unwrap();
    let mut out = vec![0x12, 34, 0x0a, 32];
    out.extend_from_slice(&hash);
    out.push(0x18);
    out.extend_from_slice(&varint(height));
    out
}

/// The encoded header with one change, hashed: what the block hash would be under another rule.
fn hash_with(header_hex: &str, from: &[u8], to: &[u8]) -> String {
    let bytes = hex::decode(header_hex).unwrap();
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("the encoding holds the bytes to change");
    let mut changed = bytes[..at].to_vec();
    changed.extend_from_slice(to);
    changed.extend_from_slice(&bytes[at + from.len()..]);
    sha256(&changed).to_hex()
}

#[test]
fn mainnet_block_hash_and_size_are_the_chains() {
    let dto = mainnet_block();
    let b = block_report(&dto);
    // Block hash: SHA-256 of the header without its signature, signer_pubkey included.
    assert_eq!(b.block_hash.computed, dto["BlockHash"].as_str().unwrap());
    assert_eq!(b.block_hash.matches, Some(true));
    let size = b.block_size.expect("a size");
    assert_eq!(size.computed as u64, dto["BlockSize"].as_u64().unwrap());
    assert_eq!(size.matches, Some(true));
    assert_eq!(b.height, dto["Header"]["Height"].as_i64().unwrap());
    assert_eq!(
        b.signer_pubkey,
        dto["Header"]["SignerPubkey"].as_str().unwrap()
    );
    assert!(matches!(b.signature, Verdict::NotChecked(_)));
    assert!(matches!(
        b.merkle_root_of_transactions,
        Verdict::NotChecked(_)
    ));
    assert_eq!(b.transactions_count, Some(2));
}

#[test]
fn a_zero_version_is_not_written_and_the_signer_key_is_hashed() {
    let dto = mainnet_block();
    let b = block_report(&dto);
    // The header starts with field 2 (chain_id): no field 1.
    assert!(b.header_hex.starts_with("10"), "{}", &b.header_hex[..8]);
    // Writing version 0 explicitly would give another hash than the chain's.
    let chain_tag = [0x10u8];
    let with_version = [0x08u8, 0x00, 0x10];
    assert_ne!(
        hash_with(&b.header_hex, &chain_tag, &with_version),
        dto["BlockHash"].as_str().unwrap()
    );
    // Leaving signer_pubkey (field 9999) out gives another hash too.
    let signer = hex::decode(dto["Header"]["SignerPubkey"].as_str().unwrap()).unwrap();
    let mut field = vec![0xfa, 0xf0, 0x04, 65];
    field.extend_from_slice(&signer);
    assert_ne!(
        hash_with(&b.header_hex, &field, &[]),
        dto["BlockHash"].as_str().unwrap()
    );
}

#[test]
fn extra_data_keeps_the_dtos_order_and_an_empty_value_is_its_key_alone() {
    let dto = mainnet_block();
    let b = block_report(&dto);
    let keys: Vec<&str> = b.extra_data.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["CrossChain", "Consensus", "SystemTransactionCount"]);
    assert_eq!(b.extra_data[0].1, 0);
    // The CrossChain entry is `42 0c | 0a 0a "CrossChain"`: no `12 00` for the empty value.
    let mut key_alone = vec![0x42, 12, 0x0a, 10];
    key_alone.extend_from_slice(b"CrossChain");
    let header = hex::decode(&b.header_hex).unwrap();
    assert!(header.windows(key_alone.len()).any(|w| w == key_alone));
    // With an empty value field the hash is not the chain's.
    let mut with_value = vec![0x42, 14, 0x0a, 10];
    with_value.extend_from_slice(b"CrossChain");
    with_value.extend_from_slice(&[0x12, 0x00]);
    let reported = dto["BlockHash"].as_str().unwrap();
    assert_ne!(hash_with(&b.header_hex, &key_alone, &with_value), reported);

    // Listing the same entries in another order gives another hash.
    let mut reordered = dto.clone();
    let entries = extra_from_text(dto["Header"]["Extra"].as_str().unwrap()).unwrap();
    let text: Vec<String> = entries
        .iter()
        .rev()
        .map(|e| {
            use base64::Engine;
            let v = base64::engine::general_purpose::STANDARD.encode(&e.value);
            format!("\"{}\": \"{v}\"", e.key)
        })
        .collect();
    reordered["Header"]["Extra"] = Value::String(format!("{{ {} }}", text.join(", ")));
    let other = block_report(&reordered);
    assert_eq!(other.block_hash.matches, Some(false));
}

#[test]
fn a_zero_bloom_in_the_dto_is_no_bloom_in_the_header() {
    let dto = mainnet_block();
    // The mainnet block has a real bloom: kept as it is.
    assert_eq!(block_report(&dto).bloom_len, Some(256));
    let mut zero = dto.clone();
    zero["Header"]["Bloom"] = Value::String(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        [0u8; 256],
    ));
    let b = block_report(&zero);
    assert_eq!(b.bloom_len, None);
    // No field 6 in the header: after the previous hash (field 3) come the two roots (4, 5),
    // then the height (field 7, tag 0x38).
    let header = hex::decode(&b.header_hex).unwrap();
    let roots_end = 1 + varint(9_992_731).len() + 3 * 36;
    assert_eq!(header[roots_end], 0x38, "{}", b.header_hex);
}

#[test]
fn the_time_has_seven_fraction_digits_counted_in_hundreds_of_nanoseconds() {
    let dto = mainnet_block();
    let time = dto["Header"]["Time"].as_str().unwrap();
    assert_eq!(time, "2023-02-22T03:01:56.4141789Z");
    let b = block_report(&dto);
    assert_eq!(b.time, time);
    assert_eq!(b.block_hash.matches, Some(true));
    // Milliseconds only (nanos 414000000) is not the chain's header.
    let mut ms = dto.clone();
    ms["Header"]["Time"] = Value::String("2023-02-22T03:01:56.414Z".into());
    assert_eq!(block_report(&ms).block_hash.matches, Some(false));
}

#[test]
fn chain_ids_are_the_chains() {
    assert_eq!(chain_id_from_name("AELF"), Ok(9_992_731));
    assert_eq!(chain_id_from_name("tDVW"), Ok(1_931_928));
    let b = block_report(&mainnet_block());
    assert_eq!(b.chain_id, 9_992_731);
    assert_eq!(b.chain_name.as_deref(), Some("AELF"));
}

#[test]
fn testnet_transaction_id_size_and_signer_are_the_chains() {
    let dto = testnet_tx();
    let t = tx_report(&dto, Some(testnet_params(&dto)));
    let id = t.transaction_id.expect("an id");
    assert_eq!(id.computed, dto["TransactionId"].as_str().unwrap());
    assert_eq!(id.matches, Some(true));
    let size = t.transaction_size.expect("a size");
    assert_eq!(
        size.computed as u64,
        dto["TransactionSize"].as_u64().unwrap()
    );
    assert_eq!(size.matches, Some(true));
    // The 65-byte signature over the id recovers the key whose address is From.
    assert_eq!(t.signature, Verdict::Ok);
    let from = dto["Transaction"]["From"].as_str().unwrap();
    assert_eq!(t.signer_address.as_deref(), Some(from));
    let key = hex::decode(t.signer_pubkey.unwrap()).unwrap();
    assert_eq!(key.len(), 65);
    let address = sha256(sha256(&key).as_bytes());
    assert_eq!(
        bs58::encode(address.0).with_check().into_string(),
        from,
        "Base58Check of SHA-256(SHA-256(key))"
    );
    // RefBlockPrefix is base64 of the 4 bytes.
    assert_eq!(t.ref_block_prefix, "01f509cf");
}

#[test]
fn decoded_params_are_named_and_the_signature_still_checks_over_the_reported_id() {
    let dto = testnet_tx();
    let t = tx_report(&dto, None);
    assert!(t.transaction_id.is_none());
    assert!(t.transaction_size.is_none());
    assert!(
        t.notes.iter().any(|n| n.contains("--params")),
        "{:?}",
        t.notes
    );
    assert_eq!(t.signature, Verdict::Ok);
    assert_eq!(
        t.signer_address.as_deref(),
        dto["Transaction"]["From"].as_str()
    );
    // Wrong params give an id the chain did not report.
    let t = tx_report(&dto, Some(vec![0x18, 1]));
    assert_eq!(t.transaction_id.unwrap().matches, Some(false));
    assert!(matches!(t.signature, Verdict::Failed(_)));
}

#[test]
fn mainnet_consensus_data_decodes() {
    let dto = mainnet_block();
    let header = &dto["Header"];
    let b = block_report(&dto);
    assert_eq!(b.consensus_error, None);
    let c = b.consensus.expect("consensus data");
    // Measured in aedpos-follow.md (§5, §6): a TINY_BLOCK of round 1834151, 19 miners, 2886
    // bytes, its signer implying height − 2.
    assert_eq!(c.behaviour, "TINY_BLOCK");
    assert_eq!(c.round_number, 1_834_151);
    assert_eq!(c.miners.len(), 19);
    assert_eq!(c.size, 2886);
    let height = header["Height"].as_i64().unwrap();
    assert_eq!(c.signer_implied_irreversible_block_height, Some(height - 2));
    // Not carried by tiny blocks.
    assert_eq!(c.confirmed_irreversible_block_height, 0);
    // The sender is the header's signer, and its latest actual mining time is the header's time.
    let signer = header["SignerPubkey"].as_str().unwrap();
    assert_eq!(c.sender_pubkey, signer);
    assert!(c.sender_is_signer);
    let own = c
        .miners
        .iter()
        .find(|m| m.pubkey == signer)
        .expect("signer");
    assert_eq!(
        own.actual_mining_times.last().map(String::as_str),
        header["Time"].as_str()
    );
    assert!(c
        .miners
        .iter()
        .all(|m| m.pubkey.len() == 130 && m.pubkey.starts_with("04")));

    // Straight from the library as well.
    let entries = extra_from_text(header["Extra"].as_str().unwrap()).unwrap();
    let value = &entries.iter().find(|e| e.key == "Consensus").unwrap().value;
    let info = decode_consensus(value).unwrap();
    assert_eq!(
        info.behaviour.enum_value(),
        Ok(AElfConsensusBehaviour::TINY_BLOCK)
    );
    assert_eq!(hex::encode(&info.sender_pubkey), signer);
    assert_eq!(info.round.real_time_miners_information.len(), 19);
}

#[test]
fn malformed_consensus_data_is_a_clear_error() {
    let entries = extra_from_text(mainnet_block()["Header"]["Extra"].as_str().unwrap()).unwrap();
    let value = &entries.iter().find(|e| e.key == "Consensus").unwrap().value;
    for cut in [1, 10, 100, value.len() / 2, value.len() - 1] {
        assert!(decode_consensus(&value[..cut]).is_err(), "cut at {cut}");
    }
    assert!(decode_consensus(&[]).is_err());
    assert!(decode_consensus(&[0xff, 0xff, 0xff]).is_err());
    // In a block: the report names the error, the hash is still computed.
    let mut dto = mainnet_block();
    dto["Header"]["Extra"] = Value::String(r#"{ "Consensus": "/////w==" }"#.into());
    let b = block_report(&dto);
    assert!(b.consensus.is_none());
    assert!(b
        .consensus_error
        .unwrap()
        .contains("AElfConsensusHeaderInformation"));
}

#[test]
fn bad_inputs_are_refused_with_reasons() {
    let options = InspectOptions::default();
    assert_eq!(inspect("  ", &options).unwrap_err(), InspectError::Empty);
    assert!(matches!(
        inspect("xyz", &options),
        Err(InspectError::NotHexOrJson(_))
    ));
    assert!(inspect("{ nope", &options).is_err());
    assert!(inspect(r#"{"Foo": 1}"#, &options).is_err());
    assert!(inspect("0a0b0c", &options).is_err());
    let mut dto = mainnet_block();
    dto["Header"]["Time"] = Value::String("yesterday".into());
    let err = inspect_json(&dto, &options).unwrap_err();
    assert!(err.to_string().contains("Header.Time"), "{err}");
    let mut dto = mainnet_block();
    dto["Header"]["ChainId"] = Value::String("A".into());
    let err = inspect_json(&dto, &options).unwrap_err();
    assert!(err.to_string().contains("Header.ChainId"), "{err}");
}

#[test]
fn protobuf_hex_of_a_signed_block_checks_signature_and_merkle_root() {
    let key = NodeKey::from_bytes([7; 32]).unwrap();
    let tip = ChainTip {
        hash: Hash([3; 32]),
        height: 41,
    };
    let txs = synthetic_transactions(&key, &tip, 3, 0);
    let block =
        crate::support::chain::unchecked_block(&tip, 9_992_731, &key, 1_700_000_000_123, txs);
    let bytes = block.write_to_bytes().unwrap();
    let report = inspect(&hex::encode(&bytes), &InspectOptions::default()).unwrap();
    let Report::Block(b) = report else {
        panic!("not a block")
    };
    assert_eq!(b.source, "protobuf (BlockWithTransactions)");
    assert_eq!(b.height, 42);
    assert_eq!(b.signature, Verdict::Ok);
    assert_eq!(b.merkle_root_of_transactions, Verdict::Ok);
    assert_eq!(b.transaction_ids.len(), 3);
    assert!(b.consensus.is_none() && b.consensus_error.is_none());
    // One transaction alone, as hex.
    let tx = block.transactions[0].write_to_bytes().unwrap();
    let options = InspectOptions {
        kind: InputKind::Transaction,
        ..Default::default()
    };
    let Report::Transaction(t) = inspect(&hex::encode(tx), &options).unwrap() else {
        panic!("not a transaction")
    };
    assert_eq!(t.transaction_id.unwrap().computed, b.transaction_ids[0]);
    assert_eq!(t.signature, Verdict::Ok);
    // A tampered signature fails.
    let mut bad = block.clone();
    bad.header.as_mut().unwrap().signature[5] ^= 1;
    let Report::Block(b) = inspect(
        &hex::encode(bad.write_to_bytes().unwrap()),
        &InspectOptions::default(),
    )
    .unwrap() else {
        panic!("not a block")
    };
    assert!(matches!(b.signature, Verdict::Failed(_)));
}

/// Runs `aelf-netctl` with `stdin` piped in; (exit code, stdout, stderr).
fn netctl(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(NETCTL)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("aelf-netctl runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn netctl_inspect_prints_the_mainnet_blocks_hash_and_consensus() {
    let dto = mainnet_block();
    let hash = dto["BlockHash"].as_str().unwrap();
    let (code, out, err) = netctl(&["inspect", "-"], &dto.to_string());
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!(
            "hash:          {hash} (matches the reported value)"
        )),
        "{out}"
    );
    assert!(out.contains("size:          3589 bytes (matches"), "{out}");
    assert!(out.contains("behaviour:     TINY_BLOCK"), "{out}");
    assert!(out.contains("round:         1834151"), "{out}");
    assert!(out.contains("miners:        19"), "{out}");

    let (code, out, err) = netctl(&["--json", "inspect", "-"], &dto.to_string());
    assert_eq!(code, 0, "{err}");
    let json: Value = serde_json::from_str(&out).expect("--json prints JSON");
    assert_eq!(json["kind"], "block");
    assert_eq!(json["block_hash"]["computed"], hash);
    assert_eq!(json["block_hash"]["matches"], true);
    assert_eq!(json["consensus"]["round_number"], 1_834_151);
    assert_eq!(json["consensus"]["miners"].as_array().unwrap().len(), 19);
}

#[test]
fn netctl_inspect_computes_the_testnet_transaction_id_from_a_file() {
    let dto = testnet_tx();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tx.json");
    std::fs::write(&file, dto.to_string()).unwrap();
    let file = file.to_str().unwrap();
    let params = hex::encode(testnet_params(&dto));
    let id = dto["TransactionId"].as_str().unwrap();
    let (code, out, err) = netctl(&["inspect", file, "--params", &params], "");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("id:            {id} (matches the reported value)")),
        "{out}"
    );
    assert!(out.contains("size:          216 bytes (matches"), "{out}");
    assert!(out.contains("signature:     ok"), "{out}");
    // Without --params the id cannot be computed, and the tool says why.
    let (code, out, _) = netctl(&["inspect", file], "");
    assert_eq!(code, 0);
    assert!(
        out.contains("not computed") && out.contains("--params"),
        "{out}"
    );
    // Garbage is a clear error with exit status 1.
    let (code, _, err) = netctl(&["inspect", "not-hex-nor-json"], "");
    assert_eq!(code, 1);
    assert!(err.contains("neither JSON nor hex"), "{err}");
}

#[test]
fn a_round_changing_header_shows_time_slots_and_the_carried_irreversible_height() {
    use aelf_net::inspect::consensus::consensus_of_header;
    use aelf_net::pb::aedpos::{
        AElfConsensusHeaderInformation, MinerInRound, Round, RoundMinerEntry,
    };
    use aelf_net::pb::aelf_block::{BlockHeader, BlockHeaderExtraDataEntry};
    use protobuf::well_known_types::timestamp::Timestamp;
    // Two miners, as a NEXT_ROUND header lists them (aedpos-follow.md §1.3).
    let keys: Vec<NodeKey> = (1..=2u8)
        .map(|i| NodeKey::from_bytes([i; 32]).unwrap())
        .collect();
    let miners = keys
        .iter()
        .enumerate()
        .map(|(i, k)| RoundMinerEntry {
            key: k.pubkey_hex(),
            value: Some(MinerInRound {
                order: i as i32 + 1,
                is_extra_block_producer: i == 0,
                expected_mining_time: Some(Timestamp {
                    seconds: 1_700_000_000 + 4 * i as i64,
                    ..Default::default()
                })
                .into(),
                pubkey: k.pubkey_hex(),
                ..Default::default()
            })
            .into(),
            ..Default::default()
        })
        .collect();
    let info = AElfConsensusHeaderInformation {
        sender_pubkey: keys[1].pubkey().to_vec(),
        round: Some(Round {
            round_number: 10,
            term_number: 2,
            confirmed_irreversible_block_height: 77,
            confirmed_irreversible_block_round_number: 8,
            real_time_miners_information: miners,
            ..Default::default()
        })
        .into(),
        behaviour: AElfConsensusBehaviour::NEXT_ROUND.into(),
        ..Default::default()
    };
    let header = BlockHeader {
        height: 100,
        signer_pubkey: keys[1].pubkey().to_vec(),
        extra_data: vec![BlockHeaderExtraDataEntry {
            key: "Consensus".into(),
            value: info.write_to_bytes().unwrap(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let c = consensus_of_header(&header).unwrap().unwrap();
    assert_eq!(c.behaviour, "NEXT_ROUND");
    assert!(c.sender_is_signer);
    assert_eq!((c.round_number, c.term_number), (10, 2));
    assert_eq!(c.confirmed_irreversible_block_height, 77);
    assert!(
        c.irreversible_note.contains("77"),
        "{}",
        c.irreversible_note
    );
    let times: Vec<_> = c
        .miners
        .iter()
        .map(|m| (m.order, m.expected_mining_time.clone().unwrap()))
        .collect();
    assert_eq!(
        times,
        [
            (1, "2023-11-14T22:13:20Z".to_owned()),
            (2, "2023-11-14T22:13:24Z".to_owned())
        ]
    );
    assert!(c.miners[0].is_extra_block_producer);
    // A sender other than the signer is shown as such (the C# node rejects that block).
    let other = BlockHeader {
        signer_pubkey: keys[0].pubkey().to_vec(),
        ..header
    };
    assert!(
        !consensus_of_header(&other)
            .unwrap()
            .unwrap()
            .sender_is_signer
    );
}
