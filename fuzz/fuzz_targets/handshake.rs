//! Handshake validation on arbitrary handshakes: never a panic, and every rejection names
//! itself and maps to a handshake error code or a malformed call.
#![no_main]

use aelf_net::chain::{Chain, EmbeddedChain};
use aelf_net::config::Config;
use aelf_net::crypto::NodeKey;
use aelf_net::network::handshake::{Authorization, HandshakeProvider};
use aelf_net::pb::network_types::Handshake;
use aelf_net::types::SystemClock;
use libfuzzer_sys::fuzz_target;
use protobuf::Message;
use std::sync::{Arc, OnceLock};

fn provider() -> &'static HandshakeProvider {
    static PROVIDER: OnceLock<HandshakeProvider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("aelf-net-fuzz-{}", std::process::id()));
        let chain = EmbeddedChain::open(&dir, Config::default().chain_settings()).expect("a chain");
        HandshakeProvider::new(
            NodeKey::generate(),
            Arc::new(chain) as Arc<dyn Chain>,
            6800,
            "1.9.0.0".into(),
            Arc::new(SystemClock),
            Authorization::Any,
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(handshake) = Handshake::parse_from_bytes(data) else {
        return;
    };
    let result = provider().validate(&handshake);
    if let Err(rejection) = &result {
        // Every rejection names itself and maps to a code or a malformed call.
        let _ = rejection.to_string();
        let _ = rejection.handshake_error();
    }
});
