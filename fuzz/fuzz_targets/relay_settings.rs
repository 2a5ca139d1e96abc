//! Any text as the relay's settings, TOML and JSON: reading never panics.
#![no_main]

use duet_relay::config::RelayConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = RelayConfig::parse(text, false);
    let _ = RelayConfig::parse(text, true);
});
