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
        "genkit_azure_track_event",
        "genkit_azure_track_exception",
        "genkit_azure_track_availability",
        "genkit_azure_record_metric",
        "GENKIT_AZURE_METRIC_GAUGE",
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
        "GENKIT_AZURE_INVALID_STRUCT_SIZE",
        "#define GENKIT_AZURE_ABI_MAJOR 1",
        "genkit_azure_after_fork_child",
        "genkit_azure_set_diagnostic_callback",
        "genkit_azure_diagnostic_callback",
        "GENKIT_AZURE_FORKED_CHILD",
    ] {
        assert!(text.contains(name), "generated header lacks {name}");
    }
    // ABI 1: every function taking a caller's struct is declared by its _v1
    // symbol, to which the familiar name is mapped; the ABI 0 symbols of the
    // same names (ffi/src/v0.rs) are not declared.
    for name in [
        "genkit_azure_new",
        "genkit_azure_get_stats",
        "genkit_azure_export_span",
        "genkit_azure_emit_log",
        "genkit_azure_span_started",
        "genkit_azure_track_event",
        "genkit_azure_track_exception",
        "genkit_azure_track_availability",
    ] {
        let define = format!("#define {name} {name}_v1\n");
        assert!(text.contains(&define), "the header lacks `{define}`");
        assert!(
            text.contains(&format!(" {name}_v1(")),
            "{name}_v1 is not declared"
        );
        assert!(
            !text.contains(&format!(" {name}(")),
            "ABI 0's {name} is declared"
        );
    }
    for growable in [
        "genkit_azure_config",
        "genkit_azure_stats",
        "genkit_azure_span",
        "genkit_azure_log_record",
        "genkit_azure_span_start",
        "genkit_azure_custom_event",
        "genkit_azure_exception",
        "genkit_azure_availability",
    ] {
        let start = text
            .find(&format!("typedef struct {growable} {{"))
            .unwrap_or_else(|| panic!("no struct {growable}"));
        let body = &text[start..];
        let first_field = body
            .lines()
            .skip(1)
            .map(str::trim)
            .find(|l| l.ends_with(';'))
            .unwrap();
        assert_eq!(first_field, "size_t struct_size;", "{growable}");
    }
}

/// The fields of `typedef struct genkit_azure_config { ... }` in the
/// generated header: (C type, name, its doc comment on one line).
fn config_fields(header: &str) -> Vec<(String, String, String)> {
    let start = header
        .find("typedef struct genkit_azure_config {")
        .expect("the header declares genkit_azure_config");
    let body = &header[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find("} genkit_azure_config;").unwrap()];
    let mut fields = Vec::new();
    let mut doc = String::new();
    for line in body.lines().map(str::trim) {
        if line.starts_with("/**") || line.starts_with("*/") {
            continue;
        }
        if let Some(text) = line.strip_prefix('*') {
            doc.push(' ');
            doc.push_str(text.trim());
        } else if let Some(decl) = line.strip_suffix(';') {
            let (ty, name) = decl.rsplit_once(' ').expect("type name;");
            let name = name.trim_start_matches('*');
            fields.push((ty.trim().to_string(), name.to_string(), normalized(&doc)));
            doc.clear();
        }
    }
    fields
}

fn normalized(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every setting of core's list has its field in `genkit_azure_config`:
/// named by the list's rule (durations in `_ms`), of the type its range
/// needs, and documented with the list's own sentence (range and default
/// included), so the C docs cannot drift from core's declaration.
#[test]
fn config_struct_declares_every_setting_as_core_does() {
    use genkit_azure::face::{Face, Kind, SettingValue, SETTINGS};
    let header = String::from_utf8(generate()).expect("the header is UTF-8");
    let fields = config_fields(&header);
    let mut problems = Vec::new();
    for s in SETTINGS {
        let name = s.name_in(Face::C);
        let Some((ty, _, doc)) = fields.iter().find(|(_, n, _)| *n == name) else {
            problems.push(format!("no field `{name}`"));
            continue;
        };
        let wanted_type = match (s.kind, s.range) {
            (Kind::Text | Kind::Path, _) => "const char",
            (Kind::Flag | Kind::FlagOn, _) => "bool",
            (Kind::Attributes | Kind::TextMap, _) => "const struct genkit_azure_attribute",
            (Kind::Prices, _) => "const struct genkit_azure_model_price",
            (Kind::Names, _) => "const char *const",
            (Kind::Duration, _) => "uint32_t",
            (Kind::Float(_), _) => "double",
            (_, Some((_, SettingValue::Count(hi)))) if hi < u64::from(u32::MAX) => "uint32_t",
            _ => "uint64_t",
        };
        if ty != wanted_type {
            problems.push(format!("`{name}` is {ty}, wanted {wanted_type}"));
        }
        if let Some((_, SettingValue::Duration(hi))) = s.range {
            // u32::MAX is GENKIT_AZURE_ZERO.
            if hi.as_millis() >= u128::from(u32::MAX) {
                problems.push(format!(
                    "`{name}`: {hi:?} does not fit uint32_t milliseconds"
                ));
            }
        }
        let line = s.doc_line(Face::C);
        if !doc.contains(&line) {
            problems.push(format!(
                "`{name}`'s doc lacks the declared sentence\n    wanted: {line}\n    has:    {doc}"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "genkit_azure_config differs from core's settings (core/src/config/settings.rs):\n  {}",
        problems.join("\n  ")
    );
}

/// tests/c/abi/genkit_azure_v0.h is the header of ABI 0 as released
/// (include/genkit_azure.h at e81c375), which programs in the field were
/// built against: frozen, byte for byte (its length and FNV-1a hash).
#[test]
fn the_abi_0_header_stays_frozen() {
    let path = repo_root().join("tests/c/abi/genkit_azure_v0.h");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    assert_eq!(
        (bytes.len(), hash),
        (46_777, 0x3206_a19a_1f0d_657d),
        "{} changed: it is a frozen copy of ABI 0's header, never to be edited",
        path.display()
    );
}
