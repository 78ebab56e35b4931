//! The process-wide table of stream requests waiting for their reply (C#
//! `StreamTaskResourcePool`, spec 7.4 and 7.7): request id → expected message type and a
//! one-shot reply slot.
//!
//! Process-wide because request ids are: a reply is matched by its exact id, whichever peer it
//! came from. Bounded (ours; the C# table is not): at most [`MAX_PENDING_REQUESTS`] entries,
//! beyond which new requests are refused at once. Completing a request never blocks, so the
//! reader futures call [`RequestRegistry::complete`] on the completion-queue thread.

use crate::pb::peer_service::StreamMessage;
use crossbeam_channel::{bounded, Receiver, Sender};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::LazyLock;
use thiserror::Error;

/// Requests waiting for a reply over all peers at most. Each waiting request is a thread
/// blocked on it, so this is far above any real load (25 peers with a few requests each); it
/// only bounds memory should something go wrong.
pub const MAX_PENDING_REQUESTS: usize = 8192;

/// Why a request could not be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RegisterError {
    #[error("{MAX_PENDING_REQUESTS} requests are already waiting")]
    Full,
    #[error("a request with this id is already waiting")]
    Duplicate,
}

/// Why a reply was dropped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CompleteError {
    #[error("no request {0} is waiting (late or unknown reply)")]
    UnknownId(String),
    #[error("request {id} expects message type {expected}, the reply has {got}")]
    WrongType { id: String, expected: i32, got: i32 },
}

struct Pending {
    message_type: i32,
    slot: Sender<StreamMessage>,
}

/// See the module documentation.
pub struct RequestRegistry {
    pending: Mutex<HashMap<String, Pending>>,
    capacity: usize,
}

static GLOBAL: LazyLock<RequestRegistry> =
    LazyLock::new(|| RequestRegistry::with_capacity(MAX_PENDING_REQUESTS));

impl RequestRegistry {
    /// A registry of its own (tests); the node uses [`RequestRegistry::global`].
    pub fn with_capacity(capacity: usize) -> RequestRegistry {
        RequestRegistry {
            pending: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The registry every stream of this process shares.
    pub fn global() -> &'static RequestRegistry {
        &GLOBAL
    }

    /// Registers request `id` expecting a reply of `message_type`. The ticket receives the
    /// reply and unregisters the request when dropped.
    pub fn register(&self, id: &str, message_type: i32) -> Result<Ticket<'_>, RegisterError> {
        let (slot, reply) = bounded(1);
        let mut pending = self.pending.lock();
        if pending.contains_key(id) {
            return Err(RegisterError::Duplicate);
        }
        if pending.len() >= self.capacity {
            return Err(RegisterError::Full);
        }
        pending.insert(id.to_owned(), Pending { message_type, slot });
        Ok(Ticket {
            registry: self,
            id: id.to_owned(),
            reply,
        })
    }

    /// Hands `reply` to the request waiting for it. A reply with an unknown id or of another
    /// message type than the request's is refused (the caller logs and drops it); a wrong type
    /// leaves the request waiting. Never blocks.
    pub fn complete(&self, reply: StreamMessage) -> Result<(), CompleteError> {
        let mut pending = self.pending.lock();
        let got = reply.message_type.value();
        let Some(entry) = pending.get(&reply.request_id) else {
            return Err(CompleteError::UnknownId(reply.request_id));
        };
        if entry.message_type != got {
            return Err(CompleteError::WrongType {
                id: reply.request_id.clone(),
                expected: entry.message_type,
                got,
            });
        }
        if let Some(entry) = pending.remove(&reply.request_id) {
            // The slot holds one message and is used once: this cannot block. The waiter may
            // have given up already; then the reply is simply dropped.
            let _ = entry.slot.try_send(reply);
        }
        Ok(())
    }

    /// Requests waiting now.
    pub fn len(&self) -> usize {
        self.pending.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A registered request: receives its reply, and unregisters the request when dropped.
pub struct Ticket<'a> {
    registry: &'a RequestRegistry,
    id: String,
    reply: Receiver<StreamMessage>,
}

impl Ticket<'_> {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the reply arrives.
    pub fn reply(&self) -> &Receiver<StreamMessage> {
        &self.reply
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.registry.pending.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::peer_service::{MessageType, StreamType};
    use protobuf::EnumOrUnknown;
    use std::time::Duration;

    fn reply(id: &str, t: MessageType) -> StreamMessage {
        StreamMessage {
            stream_type: EnumOrUnknown::new(StreamType::REPLY),
            message_type: EnumOrUnknown::new(t),
            request_id: id.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_matching_reply_completes_the_request() {
        let r = RequestRegistry::with_capacity(4);
        let ticket = r.register("23", MessageType::PING as i32).unwrap();
        r.complete(reply("23", MessageType::PING)).unwrap();
        let got = ticket
            .reply()
            .recv_timeout(Duration::from_millis(100))
            .unwrap();
        assert_eq!(got.request_id, "23");
        assert!(r.is_empty(), "completed requests leave the table");
    }

    #[test]
    fn unknown_ids_and_wrong_types_are_refused() {
        let r = RequestRegistry::with_capacity(4);
        assert!(matches!(
            r.complete(reply("nobody", MessageType::PING)),
            Err(CompleteError::UnknownId(_))
        ));
        let ticket = r.register("1", MessageType::GET_NODES as i32).unwrap();
        assert!(matches!(
            r.complete(reply("1", MessageType::PING)),
            Err(CompleteError::WrongType { .. })
        ));
        // Still waiting for the right one.
        r.complete(reply("1", MessageType::GET_NODES)).unwrap();
        assert!(ticket.reply().try_recv().is_ok());
    }

    #[test]
    fn the_table_is_bounded_and_tickets_unregister_on_drop() {
        let r = RequestRegistry::with_capacity(2);
        let a = r.register("a", 1).unwrap();
        assert_eq!(
            r.register("a", 1).err(),
            Some(RegisterError::Duplicate),
            "ids are unique"
        );
        let _b = r.register("b", 1).unwrap();
        assert_eq!(r.register("c", 1).err(), Some(RegisterError::Full));
        drop(a);
        assert_eq!(r.len(), 1);
        assert!(r.register("c", 1).is_ok());
        assert!(matches!(
            r.complete(reply("a", MessageType::HAND_SHAKE)),
            Err(CompleteError::UnknownId(_))
        ));
    }
}
