//! Which signals a process exports, from the `disable_*` flags and Genkit's
//! dev mode: decided once at start, so every face turns the same thing off.

use super::Config;

/// The environment variable Genkit sets to `dev` in its developer UI.
pub(crate) const GENKIT_ENV: &str = "GENKIT_ENV";

/// The signals that leave the process. Spans still enter the pipeline with
/// traces off while Genkit's metrics or logs are derived from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exports {
    pub traces: bool,
    pub metrics: bool,
    pub logs: bool,
    /// Custom events, availability results and exceptions tracked by hand:
    /// off only in an unforced dev session.
    pub custom: bool,
}

impl Exports {
    pub(crate) fn of(config: &Config, env: impl Fn(&str) -> Option<String>) -> Self {
        let dev_off =
            !config.force_dev_export && env(GENKIT_ENV).is_some_and(|v| v.trim() == "dev");
        Exports {
            traces: !dev_off && !config.disable_traces,
            metrics: !dev_off && !config.disable_metrics,
            logs: !dev_off && !config.disable_logs,
            custom: !dev_off,
        }
    }

    /// Spans are taken in: to be exported, or for what is derived from them.
    pub fn spans_wanted(&self) -> bool {
        self.traces || self.metrics || self.logs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(dev: bool) -> impl Fn(&str) -> Option<String> {
        move |k| (dev && k == GENKIT_ENV).then(|| "dev".to_string())
    }

    #[test]
    fn each_flag_turns_its_signal_off() {
        let all = Exports::of(&Config::default(), env(false));
        assert!(all.traces && all.metrics && all.logs && all.custom);
        let config = Config {
            disable_traces: true,
            ..Config::default()
        };
        let e = Exports::of(&config, env(false));
        assert!(!e.traces && e.metrics && e.logs && e.spans_wanted());
    }

    #[test]
    fn dev_mode_exports_unless_told_not_to() {
        assert!(
            Exports::of(&Config::default(), env(true)).traces,
            "force_dev_export is on by default"
        );
        let config = Config {
            force_dev_export: false,
            ..Config::default()
        };
        let e = Exports::of(&config, env(true));
        assert!(!e.traces && !e.metrics && !e.logs && !e.custom && !e.spans_wanted());
        assert!(
            Exports::of(&config, env(false)).traces,
            "outside dev mode it is ignored"
        );
    }
}
