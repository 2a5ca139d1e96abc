#!/usr/bin/env bash
# Builds the mobile library, generates its Python, Kotlin and Swift bindings in library
# mode, and runs the tests that play the phone against a real duet-relay: the Python one
# (pytest), and the Kotlin one (JUnit 5 through Maven, the generated Kotlin compiled against
# the real library as an Android app would use it; needs a JDK 17 and Maven).
set -euo pipefail
cd "$(dirname "$0")/.."

# The same build as the workspace's tests (`tests/run`; `mobile/tests/bindgen.rs` makes it build
# `uniffi-bindgen`): after them this is a no-op, where
# `cargo build -p duet-mobile` alone would resolve other features and compile ~50 crates again.
cargo test --workspace --locked --no-run --quiet
# The test build leaves the library in deps/; a `cargo build` copy beside it may be older.
lib=target/debug/deps/libduet_mobile.so
[ target/debug/libduet_mobile.so -nt "$lib" ] && lib=target/debug/libduet_mobile.so
out=$(mktemp -d)
for lang in python kotlin swift; do
  target/debug/uniffi-bindgen generate --library "$lib" --language "$lang" --out-dir "$out/$lang"
  test -n "$(ls -A "$out/$lang")" || { echo "no $lang bindings generated" >&2; exit 1; }
done
cp "$lib" "$out/python/"
DUET_BINDINGS="$out/python" DUET_RELAY="$PWD/target/debug/duet-relay" \
  python3 -m pytest -q mobile/tests/test_phone.py

kotlin=mobile/kotlin/target/generated-sources/uniffi
rm -rf "$kotlin" && mkdir -p "$kotlin" && cp -r "$out/kotlin/." "$kotlin/"
debug="$PWD/$(dirname "$lib")"
(cd mobile/kotlin && mvn -B -q -Dstyle.color=never test -Dduet.lib.dir="$debug" -Dduet.bin.dir="$PWD/../../target/debug")
passed=$(grep -ho 'testsuite [^>]*tests="[0-9]*"' mobile/kotlin/target/surefire-reports/*.xml \
  | grep -o 'tests="[0-9]*"' | awk -F'"' '{ n += $2 } END { print n }')
echo "Kotlin: $passed JUnit tests passed; Swift: $(ls "$out/swift" | wc -l) files generated in $out/swift"
