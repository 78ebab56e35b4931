//! Layer 3, OS-level work (aelf.OS): handlers for chain and network events and the scheduler
//! thread (health checks, reconnection, discovery).
//!
//! Nothing here yet: the broadcast and scheduler issues fill it. It talks to the lower layers
//! only through their public traits.
