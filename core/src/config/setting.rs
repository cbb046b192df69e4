//! What a setting is made of (name, kind and unit, default, allowed range,
//! one-line doc, environment variable) and how each face names it, states
//! its range and says a value is out of it.
//!
//! The settings themselves are declared once, in `settings.rs`; the faces
//! read that list (see `crate::face`) instead of restating it, so a setting
//! has one range and one error text everywhere.

use crate::error::ConfigError;
use std::borrow::Cow;
use std::fmt::Display;
use std::time::Duration;

/// The face a setting is named and explained for. Names follow one rule:
/// the same snake_case word everywhere, with the unit in the name where the
/// face's type does not carry it (durations: `Duration` in Rust, `<name>_ms`
/// integer milliseconds in C, `<name>_s` float seconds in Python).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    Rust,
    C,
    Python,
}

impl Face {
    pub const ALL: [Face; 3] = [Face::Rust, Face::C, Face::Python];
}

/// What kind of value a setting holds; decides its type and unit on each face.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A whole number of something; the unit word (`"items"`), or `""`.
    Count(&'static str),
    /// A size in bytes (the name ends in `_bytes` on every face).
    Bytes,
    /// A length of time.
    Duration,
    /// A fraction or a rate; the unit word (`"traces/s"`), or `""`. A
    /// `double` in C, a `float` in Python.
    Float(&'static str),
    /// Text; unset leaves it to the environment or the default.
    Text,
    /// A directory.
    Path,
    /// Off unless set, on every face.
    Flag,
    /// On unless turned off. C phrases it as the turning off, so that a
    /// zeroed config struct keeps it on: `enable_<x>` is `disable_<x>`
    /// there (as the other `disable_*` fields), any other name `no_<name>`.
    FlagOn,
    /// Key/value pairs.
    Attributes,
    /// Text by key (a Rust map of strings, a C list of string attributes
    /// with a count, a Python `Mapping[str, str]`).
    TextMap,
    /// A list of names (a Rust `Vec<String>`, a C array of strings with a
    /// count, a Python `Sequence[str]`).
    Names,
    /// Prices by model: USD per million input and output tokens (a Rust
    /// map, a C list of `genkit_azure_model_price` with a count, a Python
    /// `Mapping[str, tuple[float, float]]`).
    Prices,
}

/// A number or duration setting's value, whatever the face. Values of one
/// kind compare; a `Float` is never NaN once checked (see [`Setting::check`]).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub enum SettingValue {
    Count(u64),
    Duration(Duration),
    Float(f64),
}

impl SettingValue {
    pub fn is_zero(self) -> bool {
        match self {
            SettingValue::Count(n) => n == 0,
            SettingValue::Duration(d) => d.is_zero(),
            SettingValue::Float(f) => f == 0.0,
        }
    }
}

/// A `Config` field's type, as a [`SettingValue`] and back.
pub trait SettingType: Sized + Copy {
    fn to_value(self) -> SettingValue;
    /// `None` when the value does not fit the type (or is of another kind).
    fn from_value(value: SettingValue) -> Option<Self>;
}

macro_rules! count_types {
    ($($t:ty),*) => {$(
        impl SettingType for $t {
            fn to_value(self) -> SettingValue {
                // Every count type is at most 64 bits wide.
                SettingValue::Count(self as u64)
            }
            fn from_value(value: SettingValue) -> Option<Self> {
                match value {
                    SettingValue::Count(n) => <$t>::try_from(n).ok(),
                    SettingValue::Duration(_) | SettingValue::Float(_) => None,
                }
            }
        }
    )*};
}
count_types!(u8, u32, u64, usize);

impl SettingType for Duration {
    fn to_value(self) -> SettingValue {
        SettingValue::Duration(self)
    }
    fn from_value(value: SettingValue) -> Option<Self> {
        match value {
            SettingValue::Duration(d) => Some(d),
            SettingValue::Count(_) | SettingValue::Float(_) => None,
        }
    }
}

impl SettingType for f64 {
    fn to_value(self) -> SettingValue {
        SettingValue::Float(self)
    }
    fn from_value(value: SettingValue) -> Option<Self> {
        match value {
            SettingValue::Float(f) => Some(f),
            SettingValue::Count(_) | SettingValue::Duration(_) => None,
        }
    }
}

/// A setting's default: a value, or (for text and the like) what happens
/// when it is not set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SettingDefault {
    Value(SettingValue),
    Described(&'static str),
}

/// One setting, as declared in `settings.rs`.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The snake_case name: the `Config` field, the builder method and, with
    /// the unit rule of [`Face`], the C field and the Python keyword.
    pub name: &'static str,
    pub kind: Kind,
    /// The first line of its doc comment, a sentence of its own.
    pub doc: &'static str,
    /// The environment variable it reads when not set in code.
    pub env: Option<&'static str>,
    pub default: SettingDefault,
    /// Inclusive; `None` for settings that are not numbers or durations.
    pub range: Option<(SettingValue, SettingValue)>,
}

impl Setting {
    /// Numbers and durations: a generated `Config` field and builder method,
    /// a range, and one conversion on each face.
    pub fn is_tuned(&self) -> bool {
        self.range.is_some()
    }

    /// The one-line doc, without the doc comment's leading space.
    pub fn summary(&self) -> &'static str {
        self.doc.trim()
    }

    /// The name on `face`: `batch_delay`, `batch_delay_ms`, `batch_delay_s`.
    pub fn name_in(&self, face: Face) -> Cow<'static, str> {
        match (self.kind, face) {
            (Kind::Duration, Face::C) => Cow::Owned(format!("{}_ms", self.name)),
            (Kind::Duration, Face::Python) => Cow::Owned(format!("{}_s", self.name)),
            (Kind::FlagOn, Face::C) => Cow::Owned(match self.name.strip_prefix("enable_") {
                Some(what) => format!("disable_{what}"),
                None => format!("no_{}", self.name),
            }),
            _ => Cow::Borrowed(self.name),
        }
    }

    /// How an error on `face` names the setting (C names the struct too).
    pub fn error_field(&self, face: Face) -> String {
        match face {
            Face::C => format!("config.{}", self.name_in(face)),
            Face::Rust | Face::Python => self.name_in(face).into_owned(),
        }
    }

    /// The unit after a number on `face` (empty when the name or the
    /// formatted value already says it).
    fn unit(&self, face: Face) -> &'static str {
        match (self.kind, face) {
            (Kind::Count(unit) | Kind::Float(unit), _) => unit,
            (Kind::Bytes, _) => "bytes",
            (Kind::Duration, Face::C) => "ms",
            (Kind::Duration, Face::Python) => "s",
            _ => "",
        }
    }

    /// `value` in `face`'s unit, without the unit: `1000` (C), `1` (Python),
    /// `1 s` (Rust, whose durations say their unit).
    pub fn format(&self, face: Face, value: SettingValue) -> String {
        match (value, face) {
            (SettingValue::Count(n), _) => n.to_string(),
            (SettingValue::Duration(d), Face::Rust) => human_duration(d),
            (SettingValue::Duration(d), Face::C) => d.as_millis().to_string(),
            (SettingValue::Duration(d), Face::Python) => d.as_secs_f64().to_string(),
            // Python writes a float as `1.0` (what the user's value reads
            // as there); Rust and C as `1`.
            (SettingValue::Float(f), Face::Python) => format!("{f:?}"),
            (SettingValue::Float(f), Face::Rust | Face::C) => f.to_string(),
        }
    }

    /// `value` with its unit on `face`: `1000 ms`, `65536 items`, `1 s`.
    pub fn format_with_unit(&self, face: Face, value: SettingValue) -> String {
        let text = self.format(face, value);
        match self.unit(face) {
            "" => text,
            unit => format!("{text} {unit}"),
        }
    }

    /// `1 to 32768 items`, `0 to 3600000 ms`; empty without a range.
    pub fn range_text(&self, face: Face) -> String {
        let Some((lo, hi)) = self.range else {
            return String::new();
        };
        format!(
            "{} to {}",
            self.format(face, lo),
            self.format_with_unit(face, hi)
        )
    }

    /// The error every face gives for a value outside the range; `got` is
    /// the value as the caller wrote it.
    pub fn out_of_range(&self, face: Face, got: impl Display) -> ConfigError {
        let between = match self.range {
            Some((lo, hi)) => format!(
                "between {} and {}",
                self.format(face, lo),
                self.format_with_unit(face, hi)
            ),
            None => "in range".into(),
        };
        ConfigError::new(
            self.error_field(face),
            format!("must be {between}, got {got}"),
        )
    }

    /// Checks `value` against the range (NaN is in no range).
    pub fn check(&self, face: Face, value: SettingValue) -> Result<(), ConfigError> {
        match self.range {
            Some((lo, hi)) if !(lo <= value && value <= hi) => {
                Err(self.out_of_range(face, self.format(face, value)))
            }
            _ => Ok(()),
        }
    }

    /// True when 0 is allowed (C then needs `GENKIT_AZURE_ZERO` to say it,
    /// since a 0 field means "default").
    pub fn allows_zero(&self) -> bool {
        self.range.is_some_and(|(lo, _)| lo.is_zero())
    }

    /// The default as a value, for numbers and durations.
    pub fn default_value(&self) -> Option<SettingValue> {
        match self.default {
            SettingDefault::Value(v) => Some(v),
            SettingDefault::Described(_) => None,
        }
    }

    /// The sentence that documents the setting on `face`: the C field's doc
    /// comment and the Python docstring's line must hold it word for word
    /// (checked by the faces' tests), so docs, ranges and defaults cannot
    /// drift from this declaration.
    pub fn doc_line(&self, face: Face) -> String {
        let summary = self.summary();
        let (Some((lo, hi)), Some(default)) = (self.range, self.default_value()) else {
            return match face {
                Face::Python => format!("{}: {summary}", self.name_in(face)),
                Face::Rust | Face::C => summary.to_string(),
            };
        };
        let range = format!(
            "{} to {}",
            self.format(face, lo),
            self.format_with_unit(face, hi)
        );
        let default = self.format_with_unit(face, default);
        match face {
            // Where 0 is the default, 0 says it already.
            Face::C if self.allows_zero() && !default_value_is_zero(self) => format!(
                "{summary} {range}; 0 = default ({default}); GENKIT_AZURE_ZERO = {}.",
                self.format_with_unit(face, lo)
            ),
            Face::C => format!("{summary} {range}; 0 = default ({default})."),
            Face::Python => format!(
                "{}: {summary} {range}, default {default}.",
                self.name_in(face)
            ),
            Face::Rust => format!("{summary} {range}, default {default}."),
        }
    }
}

fn default_value_is_zero(s: &Setting) -> bool {
    s.default_value().is_some_and(SettingValue::is_zero)
}

/// `0 s`, `500 ms`, `10 s`, `48 h`: the largest unit that is exact.
pub fn human_duration(d: Duration) -> String {
    let (secs, nanos) = (d.as_secs(), d.subsec_nanos());
    match (secs, nanos) {
        (0, 0) => "0 s".into(),
        (s, 0) if s % 3600 == 0 => format!("{} h", s / 3600),
        (s, 0) => format!("{s} s"),
        (_, n) if n % 1_000_000 == 0 => format!("{} ms", d.as_millis()),
        _ => format!("{d:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DELAY: Setting = Setting {
        name: "batch_delay",
        kind: Kind::Duration,
        doc: " How long a batch waits.",
        env: None,
        default: SettingDefault::Value(SettingValue::Duration(Duration::from_secs(1))),
        range: Some((
            SettingValue::Duration(Duration::ZERO),
            SettingValue::Duration(Duration::from_secs(3600)),
        )),
    };

    #[test]
    fn each_face_names_a_duration_with_its_unit() {
        assert_eq!(DELAY.name_in(Face::Rust), "batch_delay");
        assert_eq!(DELAY.name_in(Face::C), "batch_delay_ms");
        assert_eq!(DELAY.name_in(Face::Python), "batch_delay_s");
        assert_eq!(DELAY.error_field(Face::C), "config.batch_delay_ms");
    }

    #[test]
    fn one_error_text_in_each_face_unit() {
        let late = SettingValue::Duration(Duration::from_millis(3_600_500));
        let said = |face| DELAY.check(face, late).unwrap_err().to_string();
        assert_eq!(
            said(Face::Rust),
            "batch_delay: must be between 0 s and 1 h, got 3600500 ms"
        );
        assert_eq!(
            said(Face::C),
            "config.batch_delay_ms: must be between 0 and 3600000 ms, got 3600500"
        );
        assert_eq!(
            said(Face::Python),
            "batch_delay_s: must be between 0 and 3600 s, got 3600.5"
        );
        assert!(DELAY
            .check(Face::C, SettingValue::Duration(Duration::ZERO))
            .is_ok());
    }

    #[test]
    fn doc_lines_state_range_and_default_per_face() {
        assert_eq!(
            DELAY.doc_line(Face::C),
            "How long a batch waits. 0 to 3600000 ms; 0 = default (1000 ms); GENKIT_AZURE_ZERO = 0 ms."
        );
        assert_eq!(
            DELAY.doc_line(Face::Python),
            "batch_delay_s: How long a batch waits. 0 to 3600 s, default 1 s."
        );
    }

    #[test]
    fn durations_read_in_their_largest_exact_unit() {
        assert_eq!(human_duration(Duration::ZERO), "0 s");
        assert_eq!(human_duration(Duration::from_millis(500)), "500 ms");
        assert_eq!(human_duration(Duration::from_secs(90)), "90 s");
        assert_eq!(human_duration(Duration::from_secs(48 * 3600)), "48 h");
    }

    const RATIO: Setting = Setting {
        name: "sampling_ratio",
        kind: Kind::Float(""),
        doc: " The share of traces kept.",
        env: None,
        default: SettingDefault::Value(SettingValue::Float(1.0)),
        range: Some((SettingValue::Float(0.0), SettingValue::Float(1.0))),
    };

    #[test]
    fn a_float_is_said_in_each_faces_words_and_nan_is_out_of_range() {
        let said = |face, v| {
            RATIO
                .check(face, SettingValue::Float(v))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            said(Face::Python, 1.5),
            "sampling_ratio: must be between 0.0 and 1.0, got 1.5"
        );
        assert_eq!(
            said(Face::C, 2.0),
            "config.sampling_ratio: must be between 0 and 1, got 2"
        );
        assert_eq!(
            said(Face::Rust, f64::NAN),
            "sampling_ratio: must be between 0 and 1, got NaN"
        );
        assert!(RATIO.check(Face::Rust, SettingValue::Float(0.0)).is_ok());
        assert_eq!(
            RATIO.doc_line(Face::C),
            "The share of traces kept. 0 to 1; 0 = default (1); GENKIT_AZURE_ZERO = 0."
        );
        assert_eq!(f64::from_value(SettingValue::Float(0.25)), Some(0.25));
        assert_eq!(f64::from_value(SettingValue::Count(1)), None);
    }

    #[test]
    fn values_convert_only_where_they_fit() {
        assert_eq!(u8::from_value(SettingValue::Count(19)), Some(19));
        assert_eq!(u8::from_value(SettingValue::Count(300)), None);
        assert_eq!(
            Duration::from_value(SettingValue::Count(1)),
            None,
            "a count is not a duration"
        );
    }
}
