//! The peer pool, its admission rules and the host blacklist as behaviour: the C# node's pool
//! scenarios (spec 11.14–11.15, items 102–111) and our additions (direction budgets, caps).
//! Time is always passed in explicitly; nothing sleeps.

use aelf_net::network::blacklist::{HostBlacklist, OPERATOR_REMOVAL_SECONDS};
use aelf_net::network::endpoint::Endpoint;
use aelf_net::network::peer::{Peer, PEER_CONNECTION_TIMEOUT_MS};
use aelf_net::network::peer_pool::{
    AdmissionRefusal, PeerPool, PoolError, PoolLimits, MAX_HANDSHAKING_PEERS,
};
use aelf_net::pb::network_types::HandshakeError;
use aelf_net::testing::{FakePeer, NOW};
use std::sync::{Arc, Barrier};

fn limits(max_peers: u32, per_ip: u32) -> PoolLimits {
    PoolLimits {
        max_peers,
        max_peers_per_ip_address: per_ip,
        max_inbound_peers: 0,
        max_outbound_peers: 0,
    }
}

fn key(seed: u8) -> String {
    FakePeer::new(seed, "1.1.1.1", true).pubkey_hex
}

fn keys(peers: &[Arc<dyn Peer>]) -> Vec<String> {
    let mut k: Vec<String> = peers.iter().map(|p| p.pubkey_hex().to_owned()).collect();
    k.sort();
    k
}

// === C# scenarios 102–111 ===

#[test]
fn s102_blacklisted_host_cannot_start_a_handshake() {
    let pool = PeerPool::new(PoolLimits::default());
    assert!(pool.blacklist().add("12.34.56.67", 60_000, NOW));
    assert!(pool.blacklist().is_listed("12.34.56.67", NOW));
    assert_eq!(
        pool.add_handshaking("12.34.56.67", &key(1), NOW),
        Err(AdmissionRefusal::Blacklisted)
    );
    assert_eq!(pool.handshaking_from("12.34.56.67"), 0);
    assert_eq!(
        AdmissionRefusal::Blacklisted.handshake_error(),
        HandshakeError::CONNECTION_REFUSED
    );
}

#[test]
fn s103_peer_lists_lookups_and_ready_filter() {
    let pool = PeerPool::new(limits(0, 0));
    let peers = [
        FakePeer::new(1, "1.2.3.4:6800", true).arc(),
        FakePeer::new(2, "1.2.3.4:6801", false).arc(),
        FakePeer::new(3, "5.6.7.8:6800", true).arc(),
        FakePeer::new(4, "9.9.9.9:6800", false).not_ready().arc(),
    ];
    for p in &peers {
        pool.try_add(p.clone(), NOW).unwrap();
    }
    assert_eq!(pool.peers(false).len(), 3);
    assert_eq!(pool.peers(true).len(), 4);
    assert_eq!(pool.len(), 4);
    assert_eq!(keys(&pool.peers_by_host("1.2.3.4")), keys(&peers[..2]));
    let found = pool
        .find_by_endpoint(&Endpoint::parse("1.2.3.4:6801").unwrap())
        .expect("by endpoint");
    assert!(Arc::ptr_eq(&found, &peers[1]));
    assert!(pool
        .find_by_endpoint(&Endpoint::parse("1.2.3.4:6802").unwrap())
        .is_none());
    let by_key = pool.get(peers[3].pubkey_hex()).expect("by key");
    assert!(Arc::ptr_eq(&by_key, &peers[3]));
}

#[test]
fn s104_per_ip_limit_one_refuses_a_second_handshaking_key() {
    let pool = PeerPool::new(limits(25, 1));
    pool.add_handshaking("10.0.0.1", &key(1), NOW).unwrap();
    assert_eq!(
        pool.add_handshaking("10.0.0.1", &key(2), NOW),
        Err(AdmissionRefusal::OverIpLimit)
    );
    assert_eq!(pool.handshaking_from("10.0.0.1"), 1);
    assert!(pool.remove_handshaking("10.0.0.1", &key(1)));
    assert!(
        !pool.remove_handshaking("10.0.0.1", &key(2)),
        "was never recorded"
    );
}

#[test]
fn s105_remove_handshaking_semantics() {
    let pool = PeerPool::new(limits(25, 0));
    assert!(!pool.remove_handshaking("10.0.0.1", &key(1)));
    pool.add_handshaking("10.0.0.1", &key(1), NOW).unwrap();
    pool.add_handshaking("10.0.0.1", &key(2), NOW).unwrap();
    assert!(pool.remove_handshaking("10.0.0.1", &key(1)));
    assert!(!pool.remove_handshaking("10.0.0.1", &key(1)));
    assert_eq!(pool.handshaking_from("10.0.0.1"), 1);
    assert!(pool.remove_handshaking("10.0.0.1", &key(2)));
    assert_eq!(pool.handshaking_from("10.0.0.1"), 0);
    assert_eq!(pool.handshaking_count(), 0);
    assert!(!pool.remove_handshaking("10.0.0.1", &key(2)));
}

#[test]
fn s106_add_find_remove_and_double_add() {
    let pool = PeerPool::new(PoolLimits::default());
    let peer = FakePeer::new(1, "1.2.3.4:6800", true).arc();
    pool.try_add(peer.clone(), NOW).unwrap();
    let endpoint = peer.endpoint().clone();
    assert!(pool.find_by_endpoint(&endpoint).is_some());
    assert!(pool.get(peer.pubkey_hex()).is_some());
    assert_eq!(
        pool.try_add(peer.clone(), NOW),
        Err(PoolError::AlreadyPresent)
    );
    assert_eq!(
        PoolError::AlreadyPresent.handshake_error(),
        HandshakeError::REPEATED_CONNECTION
    );
    let removed = pool.remove(peer.pubkey_hex()).expect("removed");
    assert!(Arc::ptr_eq(&removed, &peer));
    assert!(
        removed.is_connected(),
        "removing from the pool disconnects nothing"
    );
    assert!(pool.find_by_endpoint(&endpoint).is_none());
    assert!(pool.get(peer.pubkey_hex()).is_none());
    assert!(pool.remove(peer.pubkey_hex()).is_none());
}

#[test]
fn s107_try_replace_swaps_only_the_expected_object() {
    let pool = PeerPool::new(PoolLimits::default());
    let old = FakePeer::new(1, "1.2.3.4:6800", true).arc();
    let new = FakePeer::new(1, "1.2.3.4:6800", false).arc();
    let other = FakePeer::new(1, "1.2.3.4:6800", false).arc();
    let key = old.pubkey_hex().to_owned();
    assert!(
        !pool.try_replace(&key, &old, new.clone()),
        "nothing to replace"
    );
    pool.try_add(old.clone(), NOW).unwrap();
    assert!(!pool.try_replace(&key, &other, new.clone()));
    assert!(Arc::ptr_eq(&pool.get(&key).unwrap(), &old));
    assert!(pool.try_replace(&key, &old, new.clone()));
    assert!(Arc::ptr_eq(&pool.get(&key).unwrap(), &new));
    assert!(!pool.remove_exact(&key, &old));
    assert!(pool.remove_exact(&key, &new));
}

#[test]
fn s108_max_peers_two_then_full() {
    let pool = PeerPool::new(limits(2, 1));
    pool.try_add(FakePeer::new(1, "1.1.1.1", true).arc(), NOW)
        .unwrap();
    assert!(!pool.is_full(NOW));
    pool.try_add(FakePeer::new(2, "2.2.2.2", false).arc(), NOW)
        .unwrap();
    assert!(pool.is_full(NOW));
    assert_eq!(
        pool.add_handshaking("3.3.3.3", &key(3), NOW),
        Err(AdmissionRefusal::PoolFull)
    );
    assert_eq!(
        pool.try_add(FakePeer::new(3, "3.3.3.3", true).arc(), NOW),
        Err(PoolError::PoolFull)
    );
}

#[test]
fn s109_max_peers_zero_is_never_full() {
    let pool = PeerPool::new(limits(0, 0));
    for seed in 0..100 {
        let host = format!("10.0.0.{seed}");
        pool.add_handshaking(&host, &key(seed), NOW).unwrap();
        pool.try_add(FakePeer::new(seed, &host, seed % 2 == 0).arc(), NOW)
            .unwrap();
        assert!(!pool.is_full(NOW));
    }
    assert_eq!(pool.len(), 100);
}

#[test]
fn s110_per_ip_limit_two_and_the_loopback_exemption() {
    let pool = PeerPool::new(limits(25, 2));
    for seed in 1..=3 {
        pool.add_handshaking("127.0.0.1", &key(seed), NOW).unwrap();
    }
    pool.add_handshaking("10.0.0.1", &key(1), NOW).unwrap();
    pool.add_handshaking("10.0.0.1", &key(2), NOW).unwrap();
    assert_eq!(
        pool.add_handshaking("10.0.0.1", &key(3), NOW),
        Err(AdmissionRefusal::OverIpLimit)
    );
    // One pool peer on the host leaves room for one handshake.
    pool.try_add(FakePeer::new(9, "10.0.0.2:6800", false).arc(), NOW)
        .unwrap();
    pool.add_handshaking("10.0.0.2", &key(1), NOW).unwrap();
    assert_eq!(
        pool.add_handshaking("10.0.0.2", &key(2), NOW),
        Err(AdmissionRefusal::OverIpLimit)
    );
    assert!(pool.is_over_ip_limit("10.0.0.2"));
    assert!(!pool.is_over_ip_limit("127.0.0.1"));
}

#[test]
fn s111_blacklist_expiry_removal_no_extension_and_purge() {
    let list = HostBlacklist::default();
    assert!(list.add("1.2.3.4", 1_000, NOW));
    assert!(list.is_listed("1.2.3.4", NOW));
    assert!(!list.is_listed("1.2.3.4", NOW + 1_200));

    assert!(list.add("1.2.3.4", 1_000, NOW));
    assert!(list.remove("1.2.3.4"));
    assert!(!list.remove("1.2.3.4"));

    assert!(list.add("5.6.7.8", 1_000, NOW));
    assert!(!list.add("5.6.7.8", 60_000, NOW + 500), "still listed");
    assert_eq!(
        list.expiry("5.6.7.8", NOW + 500),
        Some(NOW + 1_000),
        "not extended"
    );

    // Adding another host after the first expired purges it.
    assert!(list.add("9.9.9.9", 1_000, NOW + 2_000));
    assert_eq!(list.len(), 1);
    assert_eq!(
        list.entries(NOW + 2_000),
        vec![("9.9.9.9".to_owned(), NOW + 3_000)]
    );
}

// === Ours: validity, direction budgets, caps ===

#[test]
fn unconfirmed_peers_older_than_the_timeout_do_not_count_toward_full() {
    let pool = PeerPool::new(limits(2, 0));
    let young = FakePeer::new(1, "1.1.1.1", true).unconfirmed(NOW).arc();
    let old = FakePeer::new(2, "2.2.2.2", true)
        .unconfirmed(NOW - PEER_CONNECTION_TIMEOUT_MS - 1)
        .arc();
    pool.try_add(young.clone(), NOW).unwrap();
    pool.try_add(old, NOW).unwrap();
    assert!(!pool.is_full(NOW), "the old unconfirmed peer is invalid");
    pool.add_handshaking("3.3.3.3", &key(3), NOW).unwrap();
    // Ten seconds later the young one is invalid too, unless it was confirmed meanwhile.
    young.mark_connected();
    pool.try_add(FakePeer::new(3, "3.3.3.3", true).arc(), NOW)
        .unwrap();
    assert!(pool.is_full(NOW + PEER_CONNECTION_TIMEOUT_MS + 1));
    assert_eq!(pool.len(), 3);
}

#[test]
fn full_inbound_budget_still_allows_outbound_dials_and_vice_versa() {
    let pool = PeerPool::new(PoolLimits {
        max_peers: 4,
        max_peers_per_ip_address: 1,
        max_inbound_peers: 2,
        max_outbound_peers: 2,
    });
    pool.try_add(FakePeer::new(1, "1.1.1.1", true).arc(), NOW)
        .unwrap();
    pool.add_handshaking("2.2.2.2", &key(2), NOW).unwrap();
    // One inbound peer plus one handshake in progress fill the inbound budget.
    assert_eq!(
        pool.can_accept_inbound(NOW),
        Err(AdmissionRefusal::InboundFull)
    );
    assert_eq!(
        pool.add_handshaking("3.3.3.3", &key(3), NOW),
        Err(AdmissionRefusal::InboundFull)
    );
    assert_eq!(pool.can_dial_outbound("4.4.4.4", NOW), Ok(()));
    pool.try_add(FakePeer::new(4, "4.4.4.4", false).arc(), NOW)
        .unwrap();
    pool.try_add(FakePeer::new(5, "5.5.5.5", false).arc(), NOW)
        .unwrap();
    assert_eq!(
        pool.can_dial_outbound("6.6.6.6", NOW),
        Err(AdmissionRefusal::OutboundFull)
    );
    assert_eq!(
        pool.try_add(FakePeer::new(6, "6.6.6.6", false).arc(), NOW),
        Err(PoolError::OutboundFull)
    );
    // The handshake in progress completes into the pool: its mark reserved the place.
    pool.try_add(FakePeer::new(2, "2.2.2.2", true).arc(), NOW)
        .unwrap();
    assert!(pool.remove_handshaking("2.2.2.2", &key(2)));
    assert!(pool.is_full(NOW));
    assert_eq!(
        pool.can_dial_outbound("7.7.7.7", NOW),
        Err(AdmissionRefusal::PoolFull)
    );
}

#[test]
fn outbound_budget_full_still_accepts_inbound() {
    let pool = PeerPool::new(PoolLimits {
        max_peers: 10,
        max_peers_per_ip_address: 1,
        max_inbound_peers: 5,
        max_outbound_peers: 1,
    });
    pool.try_add(FakePeer::new(1, "1.1.1.1", false).arc(), NOW)
        .unwrap();
    assert_eq!(
        pool.can_dial_outbound("2.2.2.2", NOW),
        Err(AdmissionRefusal::OutboundFull)
    );
    assert_eq!(pool.can_accept_inbound(NOW), Ok(()));
    pool.add_handshaking("2.2.2.2", &key(2), NOW).unwrap();
}

#[test]
fn dials_are_refused_for_blacklisted_and_over_limit_hosts() {
    let pool = PeerPool::new(PoolLimits::default());
    pool.try_add(FakePeer::new(1, "1.1.1.1", true).arc(), NOW)
        .unwrap();
    assert_eq!(
        pool.can_dial_outbound("1.1.1.1", NOW),
        Err(AdmissionRefusal::OverIpLimit)
    );
    pool.blacklist().add_for_seconds("2.2.2.2", 300, NOW);
    assert_eq!(
        pool.can_dial_outbound("2.2.2.2", NOW),
        Err(AdmissionRefusal::Blacklisted)
    );
    assert_eq!(pool.can_dial_outbound("2.2.2.2", NOW + 300_001), Ok(()));
}

#[test]
fn handshaking_marks_are_capped() {
    let pool = PeerPool::new(PoolLimits::unlimited());
    for i in 0..MAX_HANDSHAKING_PEERS {
        let host = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
        pool.add_handshaking(&host, &key(1), NOW).unwrap();
    }
    assert_eq!(
        pool.add_handshaking("192.168.0.1", &key(1), NOW),
        Err(AdmissionRefusal::TooManyHandshakes)
    );
    assert!(pool.remove_handshaking("10.0.0.0", &key(1)));
    pool.add_handshaking("192.168.0.1", &key(1), NOW).unwrap();
    assert_eq!(pool.handshaking_count(), MAX_HANDSHAKING_PEERS);
}

#[test]
fn concurrent_handshakes_never_exceed_the_inbound_budget() {
    let pool = Arc::new(PeerPool::new(PoolLimits::default()));
    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8u8)
        .map(|t| {
            let (pool, start) = (pool.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                (0..50u8)
                    .filter(|i| {
                        let host = format!("10.{t}.{i}.1");
                        pool.add_handshaking(&host, &key(*i), NOW).is_ok()
                    })
                    .count()
            })
        })
        .collect();
    let admitted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(admitted, 17);
    assert_eq!(pool.handshaking_count(), 17);
}

#[test]
fn blacklist_cap_evicts_the_earliest_expiry() {
    let list = HostBlacklist::with_capacity(3);
    assert!(list.add("a", 3_000, NOW));
    assert!(list.add("b", 1_000, NOW));
    assert!(list.add("c", 2_000, NOW));
    assert!(list.add("d", 500, NOW));
    let hosts: Vec<String> = list.entries(NOW).into_iter().map(|(h, _)| h).collect();
    assert_eq!(hosts, ["a", "c", "d"]);
    // Expired entries go first, so nothing live is evicted.
    assert!(list.add("e", 10_000, NOW + 600));
    let hosts: Vec<String> = list
        .entries(NOW + 600)
        .into_iter()
        .map(|(h, _)| h)
        .collect();
    assert_eq!(hosts, ["a", "c", "e"]);
}

#[test]
fn huge_blacklist_durations_do_not_overflow() {
    let pool = PeerPool::new(PoolLimits::default());
    let list = pool.blacklist();
    assert!(list.add_for_seconds("1.2.3.4", OPERATOR_REMOVAL_SECONDS, NOW));
    let expiry = list.expiry("1.2.3.4", NOW).unwrap();
    assert_eq!(expiry, NOW + OPERATOR_REMOVAL_SECONDS * 1_000);
    assert!(list.is_listed("1.2.3.4", NOW + 60 * 365 * 24 * 3_600 * 1_000));
    assert!(list.add("5.6.7.8", i64::MAX, NOW));
    assert!(list.add_for_seconds("9.9.9.9", i64::MAX, i64::MAX - 1));
    assert_eq!(list.expiry("9.9.9.9", i64::MAX - 1), Some(i64::MAX));
    assert_eq!(
        pool.add_handshaking("5.6.7.8", &key(1), i64::MAX),
        Err(AdmissionRefusal::Blacklisted)
    );
}
