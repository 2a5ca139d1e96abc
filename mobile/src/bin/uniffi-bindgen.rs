//! Generates the foreign-language bindings from the built library (library mode):
//! `cargo run -p duet-mobile --bin uniffi-bindgen -- generate --library LIB --language kotlin --out-dir DIR`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
