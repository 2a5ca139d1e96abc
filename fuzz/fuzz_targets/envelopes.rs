//! Any bytes as a relay envelope of a notebook: opening never panics, a tampered one never
//! opens, and an opened one's chain link is checked against its signature without panic.
#![no_main]

use duet_core::sync::relay::{open, seal, sender_id, Chain};
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = [9; 32];

fuzz_target!(|data: &[u8]| {
    if let Ok(opened) = open(&KEY, "nb", data) {
        let _ = opened.signed_by("00");
        let _ = opened.signed_by(&"ab".repeat(32));
    }
    // A real envelope with bytes of the input flipped into it never opens as it was.
    let device = duet_core::crypto::DeviceKey::from_bytes(&[3; 32]).expect("a key");
    let sender = sender_id(&KEY, &device.public_hex());
    let sealed = seal(&KEY, "nb", sender, Chain::default(), &[], &device);
    if let (Some(&at), Some(&flip)) = (data.first(), data.get(1)) {
        if flip != 0 {
            let mut bad = sealed.clone();
            let i = usize::from(at) % bad.len();
            bad[i] ^= flip;
            assert!(open(&KEY, "nb", &bad).is_err());
        }
    }
});
