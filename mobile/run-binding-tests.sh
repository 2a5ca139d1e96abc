#!/usr/bin/env bash
# Builds the mobile library, generates its Python, Kotlin and Swift bindings in library
# mode, and runs the Python test that plays the phone against a real duet-relay.
set -euo pipefail
cd "$(dirname "$0")/.."

# The same build as the workspace's tests (`tests/run`; `mobile/tests/bindgen.rs` makes it build
# `uniffi-bindgen`): after them this is a no-op, where
# `cargo build -p duet-mobile` alone would resolve other features and compile ~50 crates again.
cargo test --workspace --locked --no-run --quiet
lib=target/debug/libduet_mobile.so
[ -e "$lib" ] || lib=target/debug/deps/libduet_mobile.so
out=$(mktemp -d)
for lang in python kotlin swift; do
  target/debug/uniffi-bindgen generate --library "$lib" --language "$lang" --out-dir "$out/$lang"
  test -n "$(ls -A "$out/$lang")" || { echo "no $lang bindings generated" >&2; exit 1; }
done
cp "$lib" "$out/python/"
DUET_BINDINGS="$out/python" DUET_RELAY="$PWD/target/debug/duet-relay" \
  python3 -m pytest -q mobile/tests/test_phone.py
echo "bindings: $(ls "$out/kotlin"/*/*/* "$out/swift" 2>/dev/null | wc -l) Kotlin/Swift files generated in $out"
