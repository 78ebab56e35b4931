//! `AuthChecker`: server-side authentication of unary and broadcast calls (C#
//! `AuthInterceptor`, spec 3.2), run by grpcio before a handler sees the call.
//!
//! Owns the rule and the list of methods exempt from it; it reads the pool and must not change
//! it. Stream requests are authenticated per message by [`crate::grpc::stream::dispatch`].

use crate::grpc::error::unauthenticated;
use crate::grpc::metadata::{caller_pubkey, caller_session};
use crate::network::peer_pool::PeerPool;
use grpcio::{CheckResult, RpcContext, ServerChecker};
use std::sync::Arc;

/// RPCs the C# AuthInterceptor lets through without a session (spec 3.2).
pub const UNAUTHENTICATED_METHODS: [&[u8]; 3] = [
    b"/PeerService/Ping",
    b"/PeerService/DoHandshake",
    b"/PeerService/RequestByStream",
];
/// Server-side authentication (C# `AuthInterceptor`, spec 3.2): except for Ping, DoHandshake
/// and RequestByStream, the `public-key` header must name a pool peer and `session-id-bin`
/// must equal the session id we gave it; otherwise the call ends with CANCELLED.
#[derive(Clone)]
pub struct AuthChecker {
    pool: Arc<PeerPool>,
}

impl AuthChecker {
    pub fn new(pool: Arc<PeerPool>) -> AuthChecker {
        AuthChecker { pool }
    }
}

impl ServerChecker for AuthChecker {
    fn check(&mut self, ctx: &RpcContext) -> CheckResult {
        if UNAUTHENTICATED_METHODS.contains(&ctx.method()) {
            return CheckResult::Continue;
        }
        let headers = ctx.request_headers();
        let Some(peer) = caller_pubkey(headers).and_then(|key| self.pool.get(&key)) else {
            return CheckResult::Abort(unauthenticated("unknown peer"));
        };
        let ours = peer.inbound_session_id();
        if ours.is_empty() || caller_session(headers) != Some(ours) {
            return CheckResult::Abort(unauthenticated("wrong session"));
        }
        CheckResult::Continue
    }

    fn box_clone(&self) -> Box<dyn ServerChecker> {
        Box::new(self.clone())
    }
}
