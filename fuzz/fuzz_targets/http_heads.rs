//! Any text as a request head to the relay's operators' listener: routing never panics,
//! and a head whose `Host` is a name never reaches a route.
#![no_main]

use duet_relay::ops::{route, Route};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let head = String::from_utf8_lossy(data);
    let routed = route(&head);
    if head.contains("\nHost: evil.example") && head.lines().filter(|l| l.to_ascii_lowercase().starts_with("host:")).count() == 1 {
        assert!(matches!(routed, Route::ByName | Route::OnlyGet));
    }
});
