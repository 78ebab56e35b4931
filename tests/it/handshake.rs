//! Handshake building and the six validation outcomes, in the C# node's order (spec 4.4).

use crate::support::chain::genesis_chain;
use aelf_net::crypto::{verify, NodeKey};
use aelf_net::network::handshake::{
    Authorization, HandshakeProvider, HandshakeRejection, HANDSHAKE_TIMEOUT_MS, PROTOCOL_VERSION,
    SESSION_ID_SIZE,
};
use aelf_net::pb::network_types::{Handshake, HandshakeData, HandshakeError};
use aelf_net::types::{handshake_hash, timestamp_from_millis, ManualClock};
use protobuf::MessageField;
use std::sync::Arc;

const NOW: i64 = 1_800_000_000_000;

struct Fixture {
    clock: ManualClock,
    ours: HandshakeProvider,
    theirs: HandshakeProvider,
    their_key: NodeKey,
    _dirs: Vec<tempfile::TempDir>,
}

fn fixture(auth: Authorization) -> Fixture {
    let clock = ManualClock::new(NOW);
    let (chain_a, dir_a) = genesis_chain();
    let (chain_b, dir_b) = genesis_chain();
    let their_key = NodeKey::generate();
    let provider = |key: NodeKey, chain, auth| {
        HandshakeProvider::new(
            key,
            chain,
            6800,
            "1.9.0.0".into(),
            Arc::new(clock.clone()),
            auth,
        )
    };
    Fixture {
        ours: provider(NodeKey::generate(), chain_a, auth),
        theirs: provider(their_key.clone(), chain_b, Authorization::Any),
        their_key,
        clock: clock.clone(),
        _dirs: vec![dir_a, dir_b],
    }
}

/// `data` signed by `key`, as a remote would send it.
fn signed(data: HandshakeData, key: &NodeKey) -> Handshake {
    Handshake {
        signature: key.sign(&handshake_hash(&data)).to_vec(),
        handshake_data: MessageField::some(data),
        session_id: vec![1, 2, 3, 4, 5],
        ..Default::default()
    }
}

fn data_of(h: &Handshake) -> HandshakeData {
    h.handshake_data.as_ref().unwrap().clone()
}

#[test]
fn built_handshake_carries_our_state_and_a_valid_signature() {
    let f = fixture(Authorization::Any);
    let h = f.theirs.build();
    let data = data_of(&h);
    assert_eq!(data.chain_id, 9992731);
    assert_eq!(data.version, PROTOCOL_VERSION);
    assert_eq!(data.listening_port, 6800);
    assert_eq!(data.pubkey, f.their_key.pubkey().to_vec());
    assert_eq!(data.best_chain_height, 1);
    assert_eq!(data.last_irreversible_block_height, 1);
    assert_eq!(data.node_version, "1.9.0.0");
    assert_eq!(data.time.as_ref().unwrap(), &timestamp_from_millis(NOW));
    assert_eq!(h.session_id.len(), SESSION_ID_SIZE);
    assert_ne!(
        h.session_id,
        f.theirs.build().session_id,
        "session ids are fresh"
    );
    assert!(verify(&handshake_hash(&data), &h.signature, &data.pubkey).is_ok());
    assert_eq!(f.ours.validate(&h), Ok(()));
}

#[test]
fn each_outcome_maps_to_the_c_sharp_error_code() {
    let f = fixture(Authorization::Any);
    let good = data_of(&f.theirs.build());

    let wrong_chain = HandshakeData {
        chain_id: 1866392,
        ..good.clone()
    };
    assert_eq!(
        f.ours.validate(&signed(wrong_chain, &f.their_key)),
        Err(HandshakeRejection::InvalidChainId(1866392))
    );
    for version in [0, 100] {
        let data = HandshakeData {
            version,
            ..good.clone()
        };
        assert_eq!(
            f.ours.validate(&signed(data, &f.their_key)),
            Err(HandshakeRejection::InvalidVersion(version))
        );
    }
    let mut h = signed(good.clone(), &NodeKey::generate());
    assert_eq!(
        f.ours.validate(&h),
        Err(HandshakeRejection::InvalidSignature)
    );
    // Signed correctly, then the pubkey swapped.
    h = signed(good.clone(), &f.their_key);
    h.handshake_data.as_mut().unwrap().pubkey = NodeKey::generate().pubkey().to_vec();
    assert_eq!(
        f.ours.validate(&h),
        Err(HandshakeRejection::InvalidSignature)
    );
    // Our own handshake fed back to us.
    assert_eq!(
        f.ours.validate(&f.ours.build()),
        Err(HandshakeRejection::SelfConnection)
    );

    let codes = [
        (
            HandshakeRejection::Unauthorized,
            HandshakeError::CONNECTION_REFUSED,
        ),
        (
            HandshakeRejection::InvalidChainId(1),
            HandshakeError::CHAIN_MISMATCH,
        ),
        (
            HandshakeRejection::InvalidVersion(0),
            HandshakeError::PROTOCOL_MISMATCH,
        ),
        (
            HandshakeRejection::HandshakeTimeout,
            HandshakeError::SIGNATURE_TIMEOUT,
        ),
        (
            HandshakeRejection::InvalidSignature,
            HandshakeError::WRONG_SIGNATURE,
        ),
        (
            HandshakeRejection::SelfConnection,
            HandshakeError::CONNECTION_REFUSED,
        ),
    ];
    for (rejection, code) in codes {
        assert_eq!(rejection.handshake_error(), Some(code));
    }
    assert_eq!(HandshakeRejection::Malformed.handshake_error(), None);
}

#[test]
fn freshness_window_is_one_sided_and_follows_the_clock() {
    let f = fixture(Authorization::Any);
    let h = f.theirs.build();
    f.clock.advance(HANDSHAKE_TIMEOUT_MS);
    assert_eq!(
        f.ours.validate(&h),
        Ok(()),
        "exactly at the limit is still fresh"
    );
    f.clock.advance(1);
    assert_eq!(
        f.ours.validate(&h),
        Err(HandshakeRejection::HandshakeTimeout)
    );
    // A handshake from the future is accepted, as the C# node does.
    f.clock.set(NOW - 60_000);
    assert_eq!(f.ours.validate(&h), Ok(()));
}

#[test]
fn authorization_is_checked_first_and_can_change_live() {
    let f = fixture(Authorization::Only(Default::default()));
    let good = data_of(&f.theirs.build());
    // Fails every later check too, yet the answer is Unauthorized.
    let hopeless = HandshakeData {
        chain_id: 1,
        version: 9,
        ..good.clone()
    };
    assert_eq!(
        f.ours.validate(&signed(hopeless, &NodeKey::generate())),
        Err(HandshakeRejection::Unauthorized)
    );
    f.ours
        .set_authorization(Authorization::Only([*f.their_key.pubkey()].into()));
    assert_eq!(f.ours.validate(&signed(good, &f.their_key)), Ok(()));
}

#[test]
fn checks_run_in_the_reference_order() {
    let f = fixture(Authorization::Any);
    let stale = timestamp_from_millis(NOW - 10_000);
    let good = data_of(&f.theirs.build());
    let stranger = NodeKey::generate();
    // Wrong chain, version and time, signed by the wrong key: the chain id is reported first.
    let mut data = HandshakeData {
        chain_id: 7,
        version: 2,
        time: MessageField::some(stale),
        ..good
    };
    let expectations = [
        HandshakeRejection::InvalidChainId(7),
        HandshakeRejection::InvalidVersion(2),
        HandshakeRejection::HandshakeTimeout,
        HandshakeRejection::InvalidSignature,
    ];
    for expected in expectations {
        assert_eq!(
            f.ours.validate(&signed(data.clone(), &stranger)),
            Err(expected)
        );
        match expected {
            HandshakeRejection::InvalidChainId(_) => data.chain_id = 9992731,
            HandshakeRejection::InvalidVersion(_) => data.version = PROTOCOL_VERSION,
            HandshakeRejection::HandshakeTimeout => {
                data.time = MessageField::some(timestamp_from_millis(NOW))
            }
            _ => {}
        }
    }
    assert_eq!(f.ours.validate(&signed(data.clone(), &f.their_key)), Ok(()));
}

#[test]
fn malformed_handshakes_are_refused_without_panicking() {
    let f = fixture(Authorization::Any);
    assert_eq!(
        f.ours.validate(&Handshake::default()),
        Err(HandshakeRejection::Malformed)
    );
    let no_time = HandshakeData {
        time: MessageField::none(),
        ..data_of(&f.theirs.build())
    };
    assert_eq!(
        f.ours.validate(&signed(no_time, &f.their_key)),
        Err(HandshakeRejection::Malformed)
    );
    let garbage = HandshakeData {
        pubkey: vec![1, 2, 3],
        ..data_of(&f.theirs.build())
    };
    assert_eq!(
        f.ours.validate(&signed(garbage, &f.their_key)),
        Err(HandshakeRejection::InvalidSignature)
    );
}
