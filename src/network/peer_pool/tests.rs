//! Unit tests of the pool's pure admission logic, with the in-memory `FakePeer`. The spec's
//! behaviour scenarios (102–111) live in `tests/it/peer_pool.rs`.

use super::*;
use crate::network::peer::PEER_CONNECTION_TIMEOUT_MS;
use crate::testing::FakePeer;

const NOW: UnixMillis = 1_800_000_000_000;

fn endpoint(host: &str) -> Endpoint {
    Endpoint {
        host: host.to_owned(),
        port: 6800,
    }
}

fn peer(key: &str, host: &str, inbound: bool) -> Arc<dyn Peer> {
    FakePeer::named(key, endpoint(host), inbound)
        .connected_at(NOW)
        .arc()
}

fn stale(key: &str, host: &str, inbound: bool) -> Arc<dyn Peer> {
    FakePeer::named(key, endpoint(host), inbound)
        .unconfirmed(NOW - PEER_CONNECTION_TIMEOUT_MS - 1)
        .arc()
}

fn limits(max_peers: u32, per_ip: u32, inbound: u32, outbound: u32) -> PoolLimits {
    PoolLimits {
        max_peers,
        max_peers_per_ip_address: per_ip,
        max_inbound_peers: inbound,
        max_outbound_peers: outbound,
    }
}

#[test]
fn defaults_match_the_documented_constants() {
    let d = PoolLimits::default();
    assert_eq!(
        (d.max_peers, d.max_peers_per_ip_address),
        (DEFAULT_MAX_PEERS, DEFAULT_MAX_PEERS_PER_IP_ADDRESS)
    );
    assert_eq!(d.max_inbound_peers + d.max_outbound_peers, d.max_peers);
}

#[test]
fn errors_map_to_the_csharp_handshake_errors() {
    assert_eq!(
        PoolError::AlreadyPresent.handshake_error(),
        HandshakeError::REPEATED_CONNECTION
    );
    for e in [
        PoolError::PoolFull,
        PoolError::InboundFull,
        PoolError::OutboundFull,
    ] {
        assert_eq!(e.handshake_error(), HandshakeError::CONNECTION_REFUSED);
    }
    assert_eq!(
        AdmissionRefusal::TooManyHandshakes.handshake_error(),
        HandshakeError::CONNECTION_REFUSED
    );
}

#[test]
fn try_add_checks_key_then_overall_then_direction() {
    let pool = PeerPool::new(limits(3, 0, 1, 1));
    pool.try_add(peer("a", "1.1.1.1", true), NOW).unwrap();
    assert_eq!(
        pool.try_add(peer("a", "9.9.9.9", false), NOW),
        Err(PoolError::AlreadyPresent)
    );
    assert_eq!(
        pool.try_add(peer("b", "2.2.2.2", true), NOW),
        Err(PoolError::InboundFull)
    );
    pool.try_add(peer("c", "3.3.3.3", false), NOW).unwrap();
    assert_eq!(
        pool.try_add(peer("d", "4.4.4.4", false), NOW),
        Err(PoolError::OutboundFull)
    );
    let pool = PeerPool::new(limits(1, 0, 0, 0));
    pool.try_add(peer("a", "1.1.1.1", true), NOW).unwrap();
    assert_eq!(
        pool.try_add(peer("b", "2.2.2.2", false), NOW),
        Err(PoolError::PoolFull)
    );
}

#[test]
fn try_add_ignores_handshake_marks_but_admission_counts_them() {
    let pool = PeerPool::new(limits(0, 0, 1, 0));
    pool.add_handshaking("1.1.1.1", "a", NOW).unwrap();
    assert_eq!(
        pool.can_accept_inbound(NOW),
        Err(AdmissionRefusal::InboundFull)
    );
    // The peer that holds the mark still gets in.
    pool.try_add(peer("a", "1.1.1.1", true), NOW).unwrap();
    assert!(pool.remove_handshaking("1.1.1.1", "a"));
    assert_eq!(
        pool.can_accept_inbound(NOW),
        Err(AdmissionRefusal::InboundFull)
    );
}

#[test]
fn invalid_peers_free_their_budget() {
    let pool = PeerPool::new(limits(2, 0, 1, 1));
    pool.try_add(stale("a", "1.1.1.1", true), NOW).unwrap();
    pool.try_add(stale("b", "2.2.2.2", false), NOW).unwrap();
    assert!(!pool.is_full(NOW));
    assert_eq!(pool.can_accept_inbound(NOW), Ok(()));
    assert_eq!(pool.can_dial_outbound("3.3.3.3", NOW), Ok(()));
    assert_eq!(pool.len(), 2);
}

#[test]
fn ip_limit_counts_pool_peers_and_marks_and_exempts_loopbacks() {
    let pool = PeerPool::new(limits(0, 2, 0, 0));
    pool.try_add(peer("a", "1.1.1.1", false), NOW).unwrap();
    assert!(!pool.is_over_ip_limit("1.1.1.1"));
    pool.add_handshaking("1.1.1.1", "b", NOW).unwrap();
    assert!(pool.is_over_ip_limit("1.1.1.1"));
    for host in ["127.0.0.1", "::1"] {
        for key in ["x", "y", "z"] {
            pool.add_handshaking(host, key, NOW).unwrap();
        }
        assert!(!pool.is_over_ip_limit(host));
    }
    assert!(!PeerPool::new(limits(0, 0, 0, 0)).is_over_ip_limit("1.1.1.1"));
}

#[test]
fn refusal_order_blacklist_first_then_budget_then_ip() {
    let pool = PeerPool::new(limits(1, 1, 0, 0));
    pool.try_add(peer("a", "1.1.1.1", true), NOW).unwrap();
    pool.blacklist().add("1.1.1.1", 1000, NOW);
    assert_eq!(
        pool.add_handshaking("1.1.1.1", "b", NOW),
        Err(AdmissionRefusal::Blacklisted)
    );
    assert_eq!(
        pool.add_handshaking("1.1.1.1", "b", NOW + 1001),
        Err(AdmissionRefusal::PoolFull)
    );
    assert_eq!(
        pool.can_dial_outbound("1.1.1.1", NOW + 1001),
        Err(AdmissionRefusal::OverIpLimit)
    );
    assert_eq!(
        pool.can_dial_outbound("2.2.2.2", NOW + 1001),
        Err(AdmissionRefusal::PoolFull)
    );
}

#[test]
fn handshake_marks_are_counted_and_capped() {
    let pool = PeerPool::new(PoolLimits::unlimited());
    for i in 0..MAX_HANDSHAKING_PEERS {
        pool.add_handshaking("127.0.0.1", &i.to_string(), NOW)
            .unwrap();
    }
    assert_eq!(pool.handshaking_count(), MAX_HANDSHAKING_PEERS);
    assert_eq!(
        pool.add_handshaking("127.0.0.1", "0", NOW),
        Err(AdmissionRefusal::AlreadyHandshaking)
    );
    assert_eq!(
        pool.add_handshaking("5.5.5.5", "new", NOW),
        Err(AdmissionRefusal::TooManyHandshakes)
    );
    assert!(pool.remove_handshaking("127.0.0.1", "0"));
    assert!(!pool.remove_handshaking("127.0.0.1", "0"));
    assert_eq!(pool.handshaking_count(), MAX_HANDSHAKING_PEERS - 1);
    pool.add_handshaking("5.5.5.5", "new", NOW).unwrap();
}

#[test]
fn remove_exact_and_try_replace_compare_identity() {
    let pool = PeerPool::new(PoolLimits::unlimited());
    let first = peer("a", "1.1.1.1", true);
    let twin = peer("a", "1.1.1.1", true);
    pool.try_add(first.clone(), NOW).unwrap();
    assert!(!pool.remove_exact("a", &twin));
    assert!(!pool.try_replace("a", &twin, twin.clone()));
    assert!(pool.try_replace("a", &first, twin.clone()));
    assert!(!pool.remove_exact("a", &first));
    assert!(pool.remove_exact("a", &twin));
    assert!(pool.is_empty());
}
