//! The Rust face of the settings: every setting declared in
//! `core/src/config/settings.rs` reaches the running pipeline from the
//! builder, an out-of-range value is refused naming it, and the README's
//! configuration table is exactly what the declarations say
//! (`GENKIT_AZURE_BLESS_README=1`, what `make readme` sets, rewrites it).

use genkit_azure::face::{self, Face, Kind, Setting, SettingDefault, SettingValue, SETTINGS};
use genkit_azure::opentelemetry::{Key, KeyValue};
use genkit_azure::{AzureTelemetry, AzureTelemetryBuilder, Error};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Nothing listens on the discard port; no test here sends anything.
const UNREACHABLE: &str =
    "InstrumentationKey=00000000-0000-4000-8000-000000000016;IngestionEndpoint=http://127.0.0.1:9/";

fn builder() -> AzureTelemetryBuilder {
    AzureTelemetry::builder()
        .connection_string(UNREACHABLE)
        .disable_storage()
}

#[test]
fn every_number_and_duration_reaches_the_pipeline() {
    for s in SETTINGS.iter().filter(|s| s.is_tuned()) {
        let valid = face::example_valid(s).unwrap();
        let telemetry = builder()
            .set(Face::Rust, s.name, valid)
            .unwrap()
            .build()
            .unwrap_or_else(|e| panic!("{} = {valid:?}: {e}", s.name));
        assert_eq!(
            telemetry.resolved_config().get(s.name),
            Some(valid),
            "{}",
            s.name
        );
        telemetry.shutdown(Duration::ZERO).unwrap();
    }
}

#[test]
fn all_of_them_at_once_reach_the_pipeline() {
    let mut b = builder();
    for (s, value) in face::examples_together() {
        b = b.set(Face::Rust, s.name, value).unwrap();
    }
    let telemetry = b.build().unwrap();
    for (s, value) in face::examples_together() {
        assert_eq!(
            telemetry.resolved_config().get(s.name),
            Some(value),
            "{}",
            s.name
        );
    }
    telemetry.shutdown(Duration::ZERO).unwrap();
}

#[test]
fn an_out_of_range_value_is_refused_naming_the_setting() {
    for s in SETTINGS.iter().filter(|s| s.is_tuned()) {
        let invalid = face::example_invalid(s).unwrap();
        let err = builder()
            .set(Face::Rust, s.name, invalid)
            .and_then(|b| match b.build() {
                Err(Error::Config(e)) => Err::<(), _>(e),
                other => panic!("{} = {invalid:?} was not refused: {other:?}", s.name),
            })
            .unwrap_err();
        assert_eq!(err.field, s.name);
        assert!(
            err.reason.starts_with("must be between "),
            "{}: {err}",
            s.name
        );
    }
    // The typed methods are the same fields (one list makes both).
    let err = builder().thread_nice(20).build().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: thread_nice: must be between 0 and 19, got 20"
    );
    let err = builder()
        .retry_delays(Duration::from_secs(2), Duration::from_secs(1))
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: retry_base_delay: must be at most retry_max_delay (1 s), got 2 s"
    );
}

#[test]
fn every_identity_setting_has_its_builder_method() {
    // The identity settings' methods are written by hand: this list must
    // name every one of them.
    let covered = [
        "connection_string",
        "service_name",
        "service_version",
        "service_namespace",
        "deployment_environment",
        "resource_attributes",
        "storage_directory",
        "disable_offline_storage",
        "log_input_and_output",
        "enable_trace_based_sampling_for_logs",
        "force_dev_export",
        "disable_traces",
        "disable_metrics",
        "disable_logs",
        "enable_live_metrics",
        "enable_agent_reparenting",
        "agent_ids",
        "model_prices",
        "agent_flows",
    ];
    let declared: Vec<&str> = SETTINGS
        .iter()
        .filter(|s| !s.is_tuned())
        .map(|s| s.name)
        .collect();
    assert_eq!(declared, covered);

    let dir = tempfile::tempdir().unwrap();
    let telemetry = AzureTelemetry::builder()
        .connection_string(UNREACHABLE)
        .service_name("svc")
        .service_version("2.0")
        .service_namespace("ns")
        .deployment_environment("staging")
        .resource_attributes([KeyValue::new("team", "ai")])
        .storage_directory(dir.path())
        .build()
        .unwrap();
    let config = telemetry.resolved_config();
    assert_eq!(config.connection_string.as_deref(), Some(UNREACHABLE));
    assert_eq!(config.storage_directory.as_deref(), Some(dir.path()));
    assert!(config.storage_enabled);
    let get = |k: &'static str| {
        telemetry
            .resource()
            .get(&Key::from_static_str(k))
            .map(|v| v.to_string())
    };
    assert_eq!(get("service.name").as_deref(), Some("svc"));
    assert_eq!(get("service.version").as_deref(), Some("2.0"));
    assert_eq!(get("service.namespace").as_deref(), Some("ns"));
    assert_eq!(get("deployment.environment.name").as_deref(), Some("staging"));
    assert_eq!(get("team").as_deref(), Some("ai"));
    telemetry.shutdown(Duration::ZERO).unwrap();

    let telemetry = builder().disable_offline_storage(true).build().unwrap();
    assert!(!telemetry.resolved_config().storage_enabled);
    telemetry.shutdown(Duration::ZERO).unwrap();

    let telemetry = builder()
        .log_input_and_output(true)
        .force_dev_export(false)
        .disable_traces(true)
        .disable_metrics(true)
        .disable_logs(true)
        .build()
        .unwrap();
    let config = telemetry.resolved_config();
    assert!(config.log_input_and_output && !config.force_dev_export);
    assert!(config.disable_traces && config.disable_metrics && config.disable_logs);
    let exports = telemetry.exports();
    assert!(!exports.traces && !exports.metrics && !exports.logs);
    telemetry.shutdown(Duration::ZERO).unwrap();

    let telemetry = builder().build().unwrap();
    assert!(telemetry.resolved_config().enable_live_metrics);
    telemetry.shutdown(Duration::ZERO).unwrap();
    let telemetry = builder().enable_live_metrics(false).build().unwrap();
    assert!(!telemetry.resolved_config().enable_live_metrics);
    telemetry.shutdown(Duration::ZERO).unwrap();
    let telemetry = builder().build().unwrap();
    assert!(telemetry.resolved_config().enable_agent_reparenting);
    telemetry.shutdown(Duration::ZERO).unwrap();
    let telemetry = builder().enable_agent_reparenting(false).build().unwrap();
    assert!(!telemetry.resolved_config().enable_agent_reparenting);
    telemetry.shutdown(Duration::ZERO).unwrap();
    let telemetry = builder()
        .agent_ids([("weatherAgent", "asst_123")])
        .build()
        .unwrap();
    let ids = &telemetry.resolved_config().agent_ids;
    assert_eq!(ids.get("weatherAgent").map(String::as_str), Some("asst_123"));
    telemetry.shutdown(Duration::ZERO).unwrap();
    let telemetry = builder()
        .model_prices([("fake/agent-model", 0.3, 2.5)])
        .build()
        .unwrap();
    let prices = &telemetry.resolved_config().model_prices;
    assert_eq!(prices.get("fake/agent-model"), Some(&(0.3, 2.5)));
    telemetry.shutdown(Duration::ZERO).unwrap();
    let telemetry = builder().agent_flows(["support_flow"]).build().unwrap();
    assert_eq!(telemetry.resolved_config().agent_flows, ["support_flow"]);
    telemetry.shutdown(Duration::ZERO).unwrap();
}

// ---- The README's configuration table ----------------------------------

const BEGIN: &str =
    "<!-- settings: generated from core/src/config/settings.rs by `make readme`; do not edit -->";
const END: &str = "<!-- end of settings -->";

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn bytes(n: u64) -> String {
    for (unit, size) in [
        ("TiB", 1u64 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ] {
        if n >= size && n % size == 0 {
            return format!("{} {unit}", thousands(n / size));
        }
    }
    format!("{} bytes", thousands(n))
}

/// `1,000,000`, `0.25`.
fn float(f: f64) -> String {
    if f.fract() == 0.0 && (0.0..1e15).contains(&f) {
        thousands(f as u64)
    } else {
        f.to_string()
    }
}

/// A value as a reader wants it: `65,536 items`, `1 MiB`, `500 ms`.
fn readable(s: &Setting, value: SettingValue) -> String {
    match (s.kind, value) {
        (Kind::Bytes, SettingValue::Count(n)) => bytes(n),
        (Kind::Count(""), SettingValue::Count(n)) => thousands(n),
        (Kind::Count(unit), SettingValue::Count(n)) => format!("{} {unit}", thousands(n)),
        (_, SettingValue::Count(n)) => thousands(n),
        (Kind::Float(""), SettingValue::Float(f)) => float(f),
        (Kind::Float(unit), SettingValue::Float(f)) => format!("{} {unit}", float(f)),
        (_, SettingValue::Float(f)) => float(f),
        // Rust's face writes durations in their largest exact unit.
        (_, SettingValue::Duration(_)) => s.format(Face::Rust, value),
    }
}

fn table() -> String {
    let mut out = String::new();
    out.push_str(BEGIN);
    out.push('\n');
    out.push_str("| setting | default | allowed | environment | what it does |\n");
    out.push_str("|---|---|---|---|---|\n");
    for s in SETTINGS {
        let mut name = format!("`{}`", s.name);
        if s.kind == Kind::Duration {
            name.push_str(&format!(
                " (C `{}`, Python `{}`)",
                s.name_in(Face::C),
                s.name_in(Face::Python)
            ));
        } else if s.kind == Kind::FlagOn {
            name.push_str(&format!(" (C `{}`: true turns it off)", s.name_in(Face::C)));
        }
        let default = match s.default {
            SettingDefault::Value(v) => readable(s, v),
            SettingDefault::Described(text) => text.to_string(),
        };
        // "1 to 32,768 items": a count's unit is said once.
        let allowed = s
            .range
            .map(|(lo, hi)| match (s.kind, lo) {
                (Kind::Count(_), SettingValue::Count(n)) => {
                    format!("{} to {}", thousands(n), readable(s, hi))
                }
                (Kind::Float(_), SettingValue::Float(f)) => {
                    format!("{} to {}", float(f), readable(s, hi))
                }
                _ => format!("{} to {}", readable(s, lo), readable(s, hi)),
            })
            .unwrap_or_default();
        let env = s.env.map(|e| format!("`{e}`")).unwrap_or_default();
        out.push_str(&format!(
            "| {name} | {default} | {allowed} | {env} | {} |\n",
            s.summary()
        ));
    }
    out.push_str(END);
    out
}

fn readme_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("core/ has a parent")
        .join("README.md")
}

#[test]
fn readme_table_is_what_the_declarations_say() {
    let path = readme_path();
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let (Some(begin), Some(end)) = (readme.find(BEGIN), readme.find(END)) else {
        panic!("README.md lacks the markers {BEGIN} ... {END}");
    };
    let current = &readme[begin..end + END.len()];
    let wanted = table();
    if std::env::var("GENKIT_AZURE_BLESS_README").as_deref() == Ok("1") {
        let updated = readme.replacen(current, &wanted, 1);
        std::fs::write(&path, updated).expect("writing README.md");
        return;
    }
    assert!(
        current == wanted,
        "README.md's configuration table is out of date with core/src/config/settings.rs. \
         Run `make readme` and commit the result.\n--- README\n{current}\n--- declared\n{wanted}"
    );
}
