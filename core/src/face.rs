//! Not API: what the C and Python faces (and their tests) reach inside core.
//!
//! Hidden from the docs and free to change with the faces. Everything else a
//! face uses is the documented crate root. What is here:
//! - the list of settings ([`SETTINGS`]) and the parts it is made of, so the
//!   faces convert and check settings from the one declaration, and their
//!   tests can walk it;
//! - interning of attribute keys, so keys the faces build are shared;
//! - where diagnostics go, for a face that routes them to its own logging;
//! - the one check of a log severity number;
//! - the one check that a host's bytes are text ([`utf8`]);
//! - the one parser of `APPLICATIONINSIGHTS_AUTHENTICATION_STRING`, for
//!   Python, which makes a managed identity credential from it.

pub use crate::auth::{parse_authentication_string, ManagedIdentity, AUTHENTICATION_STRING_ENV};
pub use crate::config::{
    setting, Face, Kind, Setting, SettingDefault, SettingType, SettingValue, SETTINGS,
};
pub use crate::diagnostics::{set_diagnostic_sink, DiagnosticSink};
pub use crate::ingest::intern::key as intern_key;
pub use crate::ingest::intern::{interned_key_id, interned_scope_id, KeyId, ScopeId};
pub use crate::text::utf8;

use crate::config::Config;
use crate::error::ConfigError;
use opentelemetry::logs::Severity;

/// The setting called `name` on `face` (`batch_delay_ms` in C).
pub fn setting_in(face: Face, name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name_in(face) == name)
}

/// A valid value other than the default: the low end of the range, or the
/// high end where the low end is the default or does not go with the other
/// settings' defaults (`retry_max_delay` below `retry_base_delay`). What the
/// faces' tests set every setting to.
pub fn example_valid(setting: &Setting) -> Option<SettingValue> {
    let (lo, hi) = setting.range?;
    [lo, hi]
        .into_iter()
        .filter(|v| Some(*v) != setting.default_value())
        .find(|v| {
            let mut config = Config::default();
            config.set(Face::Rust, setting.name, *v).is_ok() && config.validate().is_ok()
        })
}

/// A value just past the high end of the range: what the faces' tests
/// expect every face to refuse, naming the setting.
pub fn example_invalid(setting: &Setting) -> Option<SettingValue> {
    Some(match setting.range?.1 {
        SettingValue::Count(n) => SettingValue::Count(n + 1),
        SettingValue::Duration(d) => {
            SettingValue::Duration(d + std::time::Duration::from_millis(1))
        }
        SettingValue::Float(f) => SettingValue::Float(f + 1.0),
    })
}

/// Every number and duration setting with the value the faces' tests set
/// when they set all of them at once: its [`example_valid`], unless that
/// cannot go with the examples before it (`traces_per_second` with
/// `sampling_ratio`: one or the other), in which case its default.
pub fn examples_together() -> Vec<(&'static Setting, SettingValue)> {
    let mut config = Config::default();
    let mut out = Vec::new();
    for s in SETTINGS.iter().filter(|s| s.is_tuned()) {
        let default = s.default_value().expect("a tuned setting has a default");
        let example = example_valid(s).expect("a tuned setting has an example");
        let mut with = config.clone();
        let value = match with.set(Face::Rust, s.name, example) {
            Ok(()) if with.validate().is_ok() => {
                config = with;
                example
            }
            _ => default,
        };
        out.push((s, value));
    }
    out
}

/// An OpenTelemetry severity number (1-24) as a `Severity`. Every face
/// refuses other numbers the same way (a forgotten field is caught rather
/// than guessed); the error names `severity_number`.
pub fn severity(number: i64) -> Result<Severity, ConfigError> {
    i32::try_from(number)
        .ok()
        .and_then(crate::ingest::severity_from_number)
        .ok_or_else(|| {
            ConfigError::new(
                "severity_number",
                format!("is {number}; expected an OpenTelemetry severity number 1..24"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_face_finds_a_setting_by_its_own_name() {
        assert_eq!(
            setting_in(Face::C, "batch_delay_ms").map(|s| s.name),
            Some("batch_delay")
        );
        assert_eq!(
            setting_in(Face::Python, "batch_delay_s").map(|s| s.name),
            Some("batch_delay")
        );
        assert!(setting_in(Face::Python, "batch_delay_ms").is_none());
    }

    #[test]
    fn examples_are_valid_non_defaults_and_invalid_values() {
        for s in SETTINGS.iter().filter(|s| s.is_tuned()) {
            let valid = example_valid(s).unwrap();
            assert_ne!(Some(valid), s.default_value(), "{}", s.name);
            assert!(s.check(Face::Rust, valid).is_ok(), "{}", s.name);
            let invalid = example_invalid(s).unwrap();
            assert!(s.check(Face::Rust, invalid).is_err(), "{}", s.name);
        }
    }

    #[test]
    fn examples_together_are_valid_together_and_leave_out_only_conflicts() {
        let mut config = Config::default();
        let mut defaults = Vec::new();
        for (s, v) in examples_together() {
            config.set(Face::Rust, s.name, v).unwrap();
            if Some(v) != example_valid(s) {
                defaults.push(s.name);
            }
        }
        config.validate().unwrap();
        assert_eq!(defaults, ["traces_per_second"]);
    }

    #[test]
    fn severities_outside_1_to_24_are_refused_by_name() {
        assert_eq!(severity(9).unwrap(), Severity::Info);
        for bad in [0, 25, -1, i64::MAX] {
            let err = severity(bad).unwrap_err();
            assert_eq!(err.field, "severity_number");
            assert!(err.reason.starts_with(&format!("is {bad};")), "{err}");
        }
    }
}
