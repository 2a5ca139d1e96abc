//! Raw deflate for the views kept in the store, with one codec state per thread.
//!
//! Setting up an inflate state (a 32 KiB window, zeroed) costs more than inflating a kept
//! meeting view, and a history view inflates one per meeting: reusing the state made that
//! per-meeting cost the work itself.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::cell::RefCell;

thread_local! {
    static INFLATE: RefCell<Decompress> = RefCell::new(Decompress::new(false));
    static DEFLATE: RefCell<Compress> = RefCell::new(Compress::new(Compression::fast(), false));
}

/// Room to grow an output buffer by when it fills.
const STEP: usize = 16 * 1024;

/// Inflates `packed`, refusing anything that would grow past `limit` bytes or that ends
/// early: `None` for either, as for any damage.
pub fn inflate(packed: &[u8], limit: usize) -> Option<Vec<u8>> {
    INFLATE.with(|state| {
        let mut d = state.borrow_mut();
        d.reset(false);
        let mut out =
            Vec::with_capacity(packed.len().saturating_mul(4).max(STEP).min(limit.max(1)));
        loop {
            let (read, wrote) = (d.total_in(), d.total_out());
            let at = usize::try_from(read).ok()?;
            let status = d
                .decompress_vec(packed.get(at..)?, &mut out, FlushDecompress::Finish)
                .ok()?;
            if status == Status::StreamEnd {
                return Some(out);
            }
            if out.len() == out.capacity() {
                if out.len() >= limit {
                    return None;
                }
                out.reserve(STEP.min(limit - out.len()));
            } else if d.total_in() == read && d.total_out() == wrote {
                return None;
            }
        }
    })
}

/// Deflates `plain` (fast level) after `prefix`.
pub fn deflate(prefix: &[u8], plain: &[u8]) -> Option<Vec<u8>> {
    DEFLATE.with(|state| {
        let mut c = state.borrow_mut();
        c.reset();
        let mut out = Vec::with_capacity(prefix.len() + plain.len() / 2 + STEP);
        out.extend_from_slice(prefix);
        loop {
            let (read, wrote) = (c.total_in(), c.total_out());
            let at = usize::try_from(read).ok()?;
            let status = c
                .compress_vec(plain.get(at..)?, &mut out, FlushCompress::Finish)
                .ok()?;
            if status == Status::StreamEnd {
                return Some(out);
            }
            if out.len() == out.capacity() {
                out.reserve(STEP);
            } else if c.total_in() == read && c.total_out() == wrote {
                return None;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_deflated_inflates_back_again_and_again() {
        for size in [0usize, 1, 100, 70_000, 300_000] {
            let plain: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            let packed = deflate(b"head", &plain).expect("deflate");
            assert_eq!(&packed[..4], b"head");
            assert_eq!(inflate(&packed[4..], 1 << 20).as_deref(), Some(&plain[..]));
        }
    }

    #[test]
    fn damage_and_bombs_give_nothing() {
        let plain = vec![0u8; 200_000];
        let packed = deflate(b"", &plain).expect("deflate");
        assert_eq!(inflate(&packed, 100_000), None, "over the limit");
        assert_eq!(
            inflate(&packed[..packed.len() / 2], 1 << 20),
            None,
            "cut short"
        );
        assert_eq!(inflate(b"\xff\xff\xff\xff", 1 << 20), None, "not deflate");
        // The state is reset between calls: a good one still works after the bad ones.
        assert_eq!(inflate(&packed, 1 << 20).map(|p| p.len()), Some(200_000));
    }
}
