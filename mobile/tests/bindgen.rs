//! The bindings an app builds on come out of the built library: `uniffi-bindgen` in library
//! mode generates Kotlin, Swift and Python from `libduet_mobile`, and each language names
//! the phone's entry point, `DuetApp`.
//!
//! This test is also what makes `cargo test --workspace` build the `uniffi-bindgen` binary
//! that `mobile/run-binding-tests.sh` then uses for the Python test against a real relay.

use std::path::PathBuf;
use std::process::Command;

/// The shared library cargo built beside the binary (`target/<profile>/`, or `deps/` below it).
fn library() -> PathBuf {
    let bindgen = PathBuf::from(env!("CARGO_BIN_EXE_uniffi-bindgen"));
    let dir = bindgen.parent().map(PathBuf::from).unwrap_or_default();
    let name = format!(
        "{}duet_mobile{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    // Cargo copies the library up from `deps/` when it builds it; either place will do.
    let lib = [dir.join(&name), dir.join("deps").join(&name)]
        .into_iter()
        .find(|p| p.exists());
    lib.unwrap_or_else(|| panic!("{name} was not built in {}", dir.display()))
}

fn generated_text(dir: &std::path::Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).expect("read the output").flatten() {
        let path = entry.path();
        if path.is_dir() {
            generated_text(&path, out);
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            out.push_str(&text);
        }
    }
}

#[test]
fn kotlin_swift_and_python_bindings_are_generated_from_the_library() {
    let lib = library();
    for language in ["kotlin", "swift", "python"] {
        let out = tempfile::tempdir().expect("tempdir");
        let run = Command::new(env!("CARGO_BIN_EXE_uniffi-bindgen"))
            .args(["generate", "--library"])
            .arg(&lib)
            .args(["--language", language, "--out-dir"])
            .arg(out.path())
            .output()
            .expect("uniffi-bindgen runs");
        assert!(
            run.status.success(),
            "{language}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let mut text = String::new();
        generated_text(out.path(), &mut text);
        assert!(
            text.contains("DuetApp"),
            "{language}: the bindings name no DuetApp"
        );
    }
}
