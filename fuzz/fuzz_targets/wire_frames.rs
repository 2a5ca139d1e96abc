//! Any bytes as a frame body of the peer protocol and of the relay protocol: decoding
//! never panics, and what decodes encodes back to a frame that decodes to the same.
#![no_main]

use duet_protocol::wire::{decode, encode, Message, RelayReply, RelayRequest};
use libfuzzer_sys::fuzz_target;

fn round_trip<T>(data: &[u8])
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    if let Ok(message) = decode::<T>(data) {
        if let Ok(frame) = encode(&message) {
            let again: T = decode(&frame[4..]).expect("an encoded frame decodes");
            assert_eq!(again, message);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<Message>(data);
    round_trip::<RelayRequest>(data);
    round_trip::<RelayReply>(data);
});
