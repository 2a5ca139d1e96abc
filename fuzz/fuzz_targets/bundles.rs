//! Any bytes as a bundle file: decoding never panics and never allocates past the bundle
//! limit.
#![no_main]

use duet_core::bundle::Bundle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Bundle::decode(data);
});
