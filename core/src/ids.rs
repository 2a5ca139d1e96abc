//! Short random ids that people can type, and unique-prefix lookup like git's.
//!
//! Ids are 8 characters of lowercase base32 (40 random bits): two offline devices creating
//! items at the same time never collide in practice, and a person can type the first few
//! characters of one.

use rand::RngCore;

/// The alphabet of ids: lowercase RFC 4648 base32, without padding.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// How many characters an id has.
pub const ID_LEN: usize = 8;

/// Makes a new random id.
pub fn new_id() -> String {
    let mut bytes = [0u8; ID_LEN];
    rand::rng().fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b % 32)] as char)
        .collect()
}

/// The result of looking up a typed prefix among known ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrefixMatch {
    /// Exactly one id starts with the prefix.
    One(String),
    /// No id starts with the prefix.
    None,
    /// Several ids start with the prefix (listed, sorted).
    Many(Vec<String>),
}

/// Finds the id a typed prefix names. An exact match wins over longer ids sharing it.
pub fn resolve_prefix<'a>(prefix: &str, ids: impl IntoIterator<Item = &'a str>) -> PrefixMatch {
    let prefix = prefix.trim().to_ascii_lowercase();
    if prefix.is_empty() {
        return PrefixMatch::None;
    }
    let mut hits: Vec<String> = ids
        .into_iter()
        .filter(|id| id.starts_with(&prefix))
        .map(str::to_owned)
        .collect();
    hits.sort();
    hits.dedup();
    if hits.contains(&prefix) {
        return PrefixMatch::One(prefix);
    }
    match hits.len() {
        0 => PrefixMatch::None,
        1 => PrefixMatch::One(hits.remove(0)),
        _ => PrefixMatch::Many(hits),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_have_fixed_length_and_alphabet() {
        for _ in 0..100 {
            let id = new_id();
            assert_eq!(id.len(), ID_LEN);
            assert!(id.bytes().all(|b| ALPHABET.contains(&b)), "{id}");
        }
    }

    #[test]
    fn unique_prefix_resolves_and_ambiguous_lists_candidates() {
        let ids = ["abcd1234", "abce5678", "zzzz2222"];
        assert_eq!(
            resolve_prefix("abcd", ids),
            PrefixMatch::One("abcd1234".into())
        );
        assert_eq!(
            resolve_prefix("ABC", ids),
            PrefixMatch::Many(vec!["abcd1234".into(), "abce5678".into()])
        );
        assert_eq!(resolve_prefix("q", ids), PrefixMatch::None);
        assert_eq!(resolve_prefix("", ids), PrefixMatch::None);
    }
}
