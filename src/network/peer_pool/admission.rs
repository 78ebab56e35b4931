//! The admission decision: what happens when a peer whose handshake just succeeded meets the
//! pool — it is added, it replaces the entry that holds its key, the entry stays and the
//! newcomer is closed, or the newcomer is refused (spec 4.2 step 10, 4.3 and 4.5; C#
//! `ConnectAsync`, `DoHandshakeAsync` and the stream handshake).
//!
//! Pure policy, in the style of reth's `PeersManager`: [`decide`] takes what is known of the
//! arrival and of the incumbent and returns what to do; it reads no clock, touches no
//! connection and holds no lock. [`crate::network::lifecycle::PeerLifecycle::admit`] gathers
//! the facts (including the one that needs the network, the incumbent's health check) and
//! applies the decision to the pool.

/// How the connection being admitted came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// We dialed it; our handshake on it was stamped at `sent_handshake_ns` (unix ns).
    Dialed { sent_handshake_ns: i128 },
    /// The remote's legacy `DoHandshake`, after our dial-back answered.
    Inbound,
    /// The remote's HAND_SHAKE on a `RequestByStream` call.
    InboundStream,
}

/// What is known of the pool entry that already holds the newcomer's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incumbent {
    /// When the remote stamped its handshake on the incumbent connection (unix ns).
    pub received_handshake_ns: i128,
    /// Unconfirmed past the connection timeout ([`crate::network::peer::Peer::is_invalid`]).
    pub invalid: bool,
    /// Whether it answered a health check, when one was made (see [`Admission::Probe`]).
    pub responsive: Option<bool>,
}

/// What to do with the newcomer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// No entry holds the key: add the newcomer within the pool's budgets.
    Add,
    /// The newcomer takes the incumbent's place; the incumbent is closed.
    Replace,
    /// The incumbent stays and the newcomer is closed. Only for our own dial that lost a
    /// cross-dial: the dial still succeeds, on the incumbent connection.
    KeepIncumbent,
    /// The newcomer is refused with `REPEATED_CONNECTION` and closed.
    RefuseRepeated,
    /// Ask again once the incumbent has been health-checked (`responsive` set).
    Probe,
}

/// Which connection a simultaneous cross-dial keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossDialWinner {
    /// The connection the remote opened to us (already in the pool).
    Existing,
    /// The connection we just dialed.
    Dialed,
}

/// The earliest-handshake-wins rule of a cross-dial (spec 4.2 step 10, C# `ConnectAsync`):
/// both sides keep the connection whose handshake is older. `existing_received_ns` stamps the
/// remote's handshake on its connection to us, `dialed_sent_ns` ours on the one we dialed.
/// Our dial wins only when our handshake is strictly older; on a tie the existing connection
/// stays. (With equal stamps each side keeps the other's dial and drops its own, so both
/// connections end and the next dial settles it; stamps are nanoseconds from two clocks, so a
/// tie is practically impossible.)
pub fn cross_dial_winner(existing_received_ns: i128, dialed_sent_ns: i128) -> CrossDialWinner {
    if existing_received_ns > dialed_sent_ns {
        CrossDialWinner::Dialed
    } else {
        CrossDialWinner::Existing
    }
}

/// The admission rule for every way a peer arrives.
///
/// * No incumbent: [`Admission::Add`].
/// * Our dial: the cross-dial rule picks the connection to keep.
/// * A legacy inbound handshake replaces only a stale incumbent: one that never confirmed
///   (the C# node allows this for invalid stream back-peers), or — beyond the C# node — one
///   that no longer answers a health check, such as the old connection of a node that
///   restarted. A live incumbent refuses it with `REPEATED_CONNECTION`, as the C# node does.
/// * A stream handshake always replaces the incumbent (C# quirk 9), once it is valid.
pub fn decide(arrival: Arrival, incumbent: Option<&Incumbent>) -> Admission {
    let Some(incumbent) = incumbent else {
        return Admission::Add;
    };
    match arrival {
        Arrival::Dialed { sent_handshake_ns } => {
            match cross_dial_winner(incumbent.received_handshake_ns, sent_handshake_ns) {
                CrossDialWinner::Dialed => Admission::Replace,
                CrossDialWinner::Existing => Admission::KeepIncumbent,
            }
        }
        Arrival::Inbound if incumbent.invalid => Admission::Replace,
        Arrival::Inbound => match incumbent.responsive {
            None => Admission::Probe,
            Some(false) => Admission::Replace,
            Some(true) => Admission::RefuseRepeated,
        },
        Arrival::InboundStream => Admission::Replace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incumbent(received: i128) -> Incumbent {
        Incumbent {
            received_handshake_ns: received,
            invalid: false,
            responsive: None,
        }
    }

    #[test]
    fn a_free_key_is_added_whatever_the_arrival() {
        for arrival in [
            Arrival::Dialed {
                sent_handshake_ns: 1,
            },
            Arrival::Inbound,
            Arrival::InboundStream,
        ] {
            assert_eq!(decide(arrival, None), Admission::Add);
        }
    }

    /// A stamps its handshake at `a`, B at `b`; A dials B and B dials A at once. Each side
    /// decides with its own view; the connection it keeps is named by who dialed it.
    fn kept(a: i128, b: i128) -> (&'static str, &'static str) {
        // On A: the incumbent is B's dial (its handshake `b`), ours is `a`.
        let on_a = match decide(
            Arrival::Dialed {
                sent_handshake_ns: a,
            },
            Some(&incumbent(b)),
        ) {
            Admission::Replace => "A->B",
            Admission::KeepIncumbent => "B->A",
            other => panic!("unexpected {other:?}"),
        };
        // On B: the incumbent is A's dial (`a`), its own is `b`.
        let on_b = match decide(
            Arrival::Dialed {
                sent_handshake_ns: b,
            },
            Some(&incumbent(a)),
        ) {
            Admission::Replace => "B->A",
            Admission::KeepIncumbent => "A->B",
            other => panic!("unexpected {other:?}"),
        };
        (on_a, on_b)
    }

    #[test]
    fn a_cross_dial_keeps_the_older_handshake_on_both_sides() {
        // A's handshake is older: both keep A's dial.
        assert_eq!(kept(100, 200), ("A->B", "A->B"));
        // B's handshake is older: both keep B's dial.
        assert_eq!(kept(300, 200), ("B->A", "B->A"));
    }

    #[test]
    fn a_cross_dial_tie_keeps_the_existing_connection() {
        assert_eq!(cross_dial_winner(5, 5), CrossDialWinner::Existing);
        // With equal stamps each side keeps the other's dial: they disagree (see the rule's
        // documentation).
        assert_eq!(kept(7, 7), ("B->A", "A->B"));
    }

    #[test]
    fn a_legacy_handshake_replaces_only_a_stale_incumbent() {
        let live = incumbent(0);
        assert_eq!(decide(Arrival::Inbound, Some(&live)), Admission::Probe);
        let answered = Incumbent {
            responsive: Some(true),
            ..live
        };
        assert_eq!(
            decide(Arrival::Inbound, Some(&answered)),
            Admission::RefuseRepeated
        );
        let silent = Incumbent {
            responsive: Some(false),
            ..live
        };
        assert_eq!(decide(Arrival::Inbound, Some(&silent)), Admission::Replace);
        // Never confirmed: replaced without asking it anything.
        let unconfirmed = Incumbent {
            invalid: true,
            ..live
        };
        assert_eq!(
            decide(Arrival::Inbound, Some(&unconfirmed)),
            Admission::Replace
        );
    }

    #[test]
    fn a_stream_handshake_always_replaces() {
        let answered = Incumbent {
            responsive: Some(true),
            ..incumbent(0)
        };
        assert_eq!(
            decide(Arrival::InboundStream, Some(&answered)),
            Admission::Replace
        );
    }
}
