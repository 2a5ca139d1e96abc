//! End-to-end tests of Duet live in `tests/`.
