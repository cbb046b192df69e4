//! The committed header must be exactly what cbindgen makes of the sources.
//!
//! C users build against include/genkit_azure.h without running cbindgen, so
//! a stale header is a real bug (wrong struct layout = memory corruption).
//! This test regenerates it in memory and fails on any difference;
//! `GENKIT_AZURE_BLESS_HEADER=1` (what `make header` sets) writes it instead.

use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("ffi/ has a parent")
        .to_path_buf()
}

fn generate() -> Vec<u8> {
    let ffi = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(ffi.join("cbindgen.toml"))
        .unwrap_or_else(|e| panic!("reading ffi/cbindgen.toml: {e}"));
    // with_src follows `mod` declarations from lib.rs without running
    // `cargo metadata`, so the test works offline and whatever state the
    // rest of the workspace is in.
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(ffi.join("src/lib.rs"))
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen failed: {e}"));
    let mut out = Vec::new();
    bindings.write(&mut out);
    out
}

#[test]
fn committed_header_is_up_to_date() {
    let generated = generate();
    let path = repo_root().join("include/genkit_azure.h");
    if std::env::var("GENKIT_AZURE_BLESS_HEADER").as_deref() == Ok("1") {
        std::fs::write(&path, &generated)
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    if committed != generated {
        let first_diff = committed
            .split(|&b| b == b'\n')
            .zip(generated.split(|&b| b == b'\n'))
            .position(|(a, b)| a != b)
            .map_or_else(
                || "at the end".to_string(),
                |i| format!("at line {}", i + 1),
            );
        panic!(
            "{} is out of date with ffi/src (first difference {first_diff}). \
             Run `make header` (GENKIT_AZURE_BLESS_HEADER=1 cargo test -p genkit-azure-ffi \
             --test header) and commit the result.",
            path.display()
        );
    }
}

#[test]
fn header_declares_the_whole_api() {
    // Guards against an item silently vanishing from the header (e.g. a lost
    // #[no_mangle] or an enum cbindgen no longer reaches).
    let text = String::from_utf8(generate()).expect("the header is UTF-8");
    for name in [
        "genkit_azure_new",
        "genkit_azure_export_span",
        "genkit_azure_emit_log",
        "genkit_azure_flush",
        "genkit_azure_shutdown",
        "genkit_azure_get_stats",
        "typedef struct genkit_azure_stats {",
        "genkit_azure_free",
        "genkit_azure_last_error",
        "genkit_azure_version",
        "genkit_azure_status_name",
        "GENKIT_AZURE_INTERNAL",
        "GENKIT_AZURE_SPAN_KIND_CONSUMER",
        "GENKIT_AZURE_STATUS_CODE_ERROR",
        "GENKIT_AZURE_ATTRIBUTE_DOUBLE",
        "GENKIT_AZURE_NO_BATCH_DELAY",
        "typedef struct genkit_azure_handle genkit_azure_handle;",
    ] {
        assert!(text.contains(name), "generated header lacks {name}");
    }
}
