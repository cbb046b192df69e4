//! `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`, as the official
//! Azure Monitor distro reads them: `microsoft.fixed_percentage` (the
//! argument is the ratio kept, 0 to 1) and `microsoft.rate_limited` (traces
//! per second). They set `sampling_ratio` / `traces_per_second` when the code
//! left both at their defaults; a value set in code wins.
//!
//! A value we cannot read is an error naming the variable, never a silent
//! fallback: a sampler that quietly keeps everything (or nothing) is found
//! out only on the bill or in an empty portal. Other sampler names
//! (`always_on`, `parentbased_traceidratio`, ...) belong to the
//! OpenTelemetry SDK that reads them, and are left to it.

use super::setting::{Face, SettingValue};
use super::settings::{setting, Config};
use crate::error::ConfigError;

pub(crate) const SAMPLER_ENV: &str = "OTEL_TRACES_SAMPLER";
pub(crate) const SAMPLER_ARG_ENV: &str = "OTEL_TRACES_SAMPLER_ARG";

const FIXED: &str = "microsoft.fixed_percentage";
const RATE_LIMITED: &str = "microsoft.rate_limited";

/// The official distro's argument when none is given: keep everything, or
/// 5 traces a second.
const FIXED_DEFAULT: f64 = 1.0;
const RATE_LIMITED_DEFAULT: f64 = 5.0;

/// Applies the environment's sampler to `config` unless the code set one.
pub(crate) fn apply_sampler_env(
    config: &mut Config,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let defaults = Config::default();
    if config.sampling_ratio != defaults.sampling_ratio
        || config.traces_per_second != defaults.traces_per_second
    {
        return Ok(());
    }
    let Some(sampler) = env(SAMPLER_ENV) else {
        return Ok(());
    };
    let name = sampler.trim().to_ascii_lowercase();
    let arg = env(SAMPLER_ARG_ENV).filter(|a| !a.trim().is_empty());
    match name.as_str() {
        FIXED => {
            config.sampling_ratio =
                argument(arg.as_deref(), FIXED_DEFAULT, "sampling_ratio", FIXED)?;
        }
        RATE_LIMITED => {
            let rate = argument(
                arg.as_deref(),
                RATE_LIMITED_DEFAULT,
                "traces_per_second",
                RATE_LIMITED,
            )?;
            // 0 is "no limit" for `traces_per_second`; asked of a rate
            // limiter it can only be a mistake (keeping none is a ratio of 0).
            if rate == 0.0 {
                return Err(ConfigError::new(
                    SAMPLER_ARG_ENV,
                    format!(
                        "is 0; {SAMPLER_ENV}={RATE_LIMITED} needs more than 0 traces per second \
                         (to keep no trace, use {FIXED} with 0)"
                    ),
                ));
            }
            config.traces_per_second = rate;
        }
        other if other.starts_with("microsoft.") => {
            return Err(ConfigError::new(
                SAMPLER_ENV,
                format!(
                    "is {sampler:?}, which genkit-azure does not know; the Microsoft samplers \
                     are {FIXED} and {RATE_LIMITED}"
                ),
            ));
        }
        _ => {}
    }
    Ok(())
}

/// The sampler's argument, read and checked against the setting it sets.
fn argument(
    arg: Option<&str>,
    default: f64,
    setting_name: &str,
    sampler: &str,
) -> Result<f64, ConfigError> {
    let Some(text) = arg else {
        return Ok(default);
    };
    let s = setting(setting_name).expect("declared");
    let what = match setting_name {
        "sampling_ratio" => "the share of traces kept",
        _ => "traces per second",
    };
    let refused = || {
        ConfigError::new(
            SAMPLER_ARG_ENV,
            format!(
                "is {text:?}; {SAMPLER_ENV}={sampler} takes {what}, a number from {}",
                s.range_text(Face::Rust)
            ),
        )
    };
    let value: f64 = text.trim().parse().map_err(|_| refused())?;
    s.check(Face::Rust, SettingValue::Float(value))
        .map_err(|_| refused())?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(vars: &[(&str, &str)], config: Config) -> Result<Config, String> {
        let env = |k: &str| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        };
        let mut config = config;
        apply_sampler_env(&mut config, &env).map_err(|e| e.to_string())?;
        Ok(config)
    }

    fn from_env(vars: &[(&str, &str)]) -> Result<(f64, f64), String> {
        applied(vars, Config::default()).map(|c| (c.sampling_ratio, c.traces_per_second))
    }

    #[test]
    fn the_microsoft_samplers_set_the_settings() {
        assert_eq!(
            from_env(&[(SAMPLER_ENV, FIXED), (SAMPLER_ARG_ENV, "0.25")]),
            Ok((0.25, 0.0))
        );
        assert_eq!(
            from_env(&[
                (SAMPLER_ENV, " Microsoft.Rate_Limited "),
                (SAMPLER_ARG_ENV, "2.5")
            ]),
            Ok((1.0, 2.5))
        );
        // Without an argument, the official distro's defaults.
        assert_eq!(from_env(&[(SAMPLER_ENV, FIXED)]), Ok((1.0, 0.0)));
        assert_eq!(
            from_env(&[(SAMPLER_ENV, RATE_LIMITED), (SAMPLER_ARG_ENV, "")]),
            Ok((1.0, 5.0))
        );
        // The SDK's own samplers, and nothing at all, change nothing.
        assert_eq!(
            from_env(&[(SAMPLER_ENV, "parentbased_always_on")]),
            Ok((1.0, 0.0))
        );
        assert_eq!(from_env(&[]), Ok((1.0, 0.0)));
    }

    #[test]
    fn a_value_set_in_code_wins() {
        let vars = [(SAMPLER_ENV, RATE_LIMITED), (SAMPLER_ARG_ENV, "nonsense")];
        let config = Config {
            sampling_ratio: 0.5,
            ..Config::default()
        };
        let c = applied(&vars, config).unwrap();
        assert_eq!((c.sampling_ratio, c.traces_per_second), (0.5, 0.0));
    }

    #[test]
    fn what_cannot_be_read_is_an_error_naming_the_variable() {
        let err = |vars: &[(&str, &str)]| from_env(vars).unwrap_err();
        assert_eq!(
            err(&[(SAMPLER_ENV, FIXED), (SAMPLER_ARG_ENV, "25%")]),
            "OTEL_TRACES_SAMPLER_ARG: is \"25%\"; OTEL_TRACES_SAMPLER=microsoft.fixed_percentage \
             takes the share of traces kept, a number from 0 to 1"
        );
        assert!(err(&[(SAMPLER_ENV, FIXED), (SAMPLER_ARG_ENV, "1.5")])
            .starts_with("OTEL_TRACES_SAMPLER_ARG: is \"1.5\";"));
        assert!(err(&[(SAMPLER_ENV, FIXED), (SAMPLER_ARG_ENV, "NaN")])
            .starts_with("OTEL_TRACES_SAMPLER_ARG: is \"NaN\";"));
        assert_eq!(
            err(&[(SAMPLER_ENV, RATE_LIMITED), (SAMPLER_ARG_ENV, "-1")]),
            "OTEL_TRACES_SAMPLER_ARG: is \"-1\"; OTEL_TRACES_SAMPLER=microsoft.rate_limited \
             takes traces per second, a number from 0 to 1000000 traces/s"
        );
        assert!(err(&[(SAMPLER_ENV, RATE_LIMITED), (SAMPLER_ARG_ENV, "0")])
            .starts_with("OTEL_TRACES_SAMPLER_ARG: is 0;"));
        assert_eq!(
            err(&[(SAMPLER_ENV, "microsoft.fixed")]),
            "OTEL_TRACES_SAMPLER: is \"microsoft.fixed\", which genkit-azure does not know; \
             the Microsoft samplers are microsoft.fixed_percentage and microsoft.rate_limited"
        );
    }
}
