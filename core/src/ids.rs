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

/// The longest id prefix a person may type (ids are [`ID_LEN`] characters; older homes and
/// built-in questions have their own, all shorter than this).
pub const MAX_PREFIX_LEN: usize = 64;

/// A typed id prefix, checked before any command runs: letters and digits only, at most
/// [`MAX_PREFIX_LEN`], lowercased (ids are lowercase).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdPrefix(String);

impl TryFrom<String> for IdPrefix {
    type Error = IdPrefixError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<IdPrefix> for String {
    fn from(prefix: IdPrefix) -> String {
        prefix.0
    }
}

/// Why a typed id prefix is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdPrefixError {
    /// Nothing was typed.
    #[error("an id is empty: type the first few characters of one")]
    Empty,
    /// Longer than any id.
    #[error("an id is at most {MAX_PREFIX_LEN} characters")]
    TooLong,
    /// A character ids never have.
    #[error("ids are letters and digits only, not {0:?}")]
    BadCharacter(char),
}

impl IdPrefix {
    /// The prefix as typed, lowercased.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for IdPrefix {
    type Err = IdPrefixError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Err(IdPrefixError::Empty);
        }
        if text.len() > MAX_PREFIX_LEN {
            return Err(IdPrefixError::TooLong);
        }
        if let Some(c) = text.chars().find(|c| !c.is_ascii_alphanumeric()) {
            return Err(IdPrefixError::BadCharacter(c));
        }
        Ok(IdPrefix(text.to_ascii_lowercase()))
    }
}

impl std::fmt::Display for IdPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
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
    #[test]
    fn typed_prefixes_are_checked_and_lowercased() {
        use super::{IdPrefix, IdPrefixError};
        assert_eq!(
            " K3F ".parse::<IdPrefix>().map(|p| p.to_string()),
            Ok("k3f".into())
        );
        assert_eq!("".parse::<IdPrefix>(), Err(IdPrefixError::Empty));
        assert_eq!(
            "k3f!".parse::<IdPrefix>(),
            Err(IdPrefixError::BadCharacter('!'))
        );
        assert_eq!(
            "a".repeat(65).parse::<IdPrefix>(),
            Err(IdPrefixError::TooLong)
        );
    }

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
