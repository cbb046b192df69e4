//! `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` read by a real
//! builder from the process environment. One test in a binary of its own:
//! the environment is the whole process's, and no other test may see it.

use genkit_azure::{AzureTelemetry, Error};
use std::time::Duration;

/// Nothing listens on the discard port; nothing here is sent.
const UNREACHABLE: &str =
    "InstrumentationKey=00000000-0000-4000-8000-000000000016;IngestionEndpoint=http://127.0.0.1:9/";

fn build_with(
    sampler: &str,
    arg: Option<&str>,
    configure: impl FnOnce(genkit_azure::AzureTelemetryBuilder) -> genkit_azure::AzureTelemetryBuilder,
) -> Result<AzureTelemetry, Error> {
    std::env::set_var("OTEL_TRACES_SAMPLER", sampler);
    match arg {
        Some(a) => std::env::set_var("OTEL_TRACES_SAMPLER_ARG", a),
        None => std::env::remove_var("OTEL_TRACES_SAMPLER_ARG"),
    }
    let built = configure(
        AzureTelemetry::builder()
            .connection_string(UNREACHABLE)
            .disable_storage(),
    )
    .build();
    std::env::remove_var("OTEL_TRACES_SAMPLER");
    std::env::remove_var("OTEL_TRACES_SAMPLER_ARG");
    built
}

fn described(t: AzureTelemetry) -> String {
    let text = t.operations().sampler().describe();
    t.shutdown(Duration::ZERO).unwrap();
    text
}

#[test]
fn the_environment_samples_unless_the_code_does_and_bad_values_are_errors() {
    let t = build_with("microsoft.fixed_percentage", Some("0.25"), |b| b).unwrap();
    assert_eq!(t.resolved_config().sampling_ratio, 0.25);
    assert_eq!(described(t), "keeps 25% of traces");

    let t = build_with("microsoft.rate_limited", Some("3"), |b| b).unwrap();
    assert_eq!(described(t), "keeps about 3 traces/s");

    // The official distro's default argument.
    let t = build_with("microsoft.rate_limited", None, |b| b).unwrap();
    assert_eq!(described(t), "keeps about 5 traces/s");

    // Code wins, even over an argument that cannot be read.
    let t = build_with("microsoft.rate_limited", Some("lots"), |b| {
        b.sampling_ratio(0.5)
    })
    .unwrap();
    assert_eq!(described(t), "keeps 50% of traces");

    // The SDK's own samplers are the SDK's.
    let t = build_with("parentbased_traceidratio", Some("0.1"), |b| b).unwrap();
    assert_eq!(described(t), "keeps every trace");

    for (sampler, arg, wanted) in [
        (
            "microsoft.fixed_percentage",
            Some("half"),
            "invalid configuration: OTEL_TRACES_SAMPLER_ARG: is \"half\"; \
             OTEL_TRACES_SAMPLER=microsoft.fixed_percentage takes the share of traces kept, \
             a number from 0 to 1",
        ),
        (
            "microsoft.fixed_percentage",
            Some("2"),
            "invalid configuration: OTEL_TRACES_SAMPLER_ARG: is \"2\"; \
             OTEL_TRACES_SAMPLER=microsoft.fixed_percentage takes the share of traces kept, \
             a number from 0 to 1",
        ),
        (
            "microsoft.rate_limited",
            Some("-5"),
            "invalid configuration: OTEL_TRACES_SAMPLER_ARG: is \"-5\"; \
             OTEL_TRACES_SAMPLER=microsoft.rate_limited takes traces per second, a number \
             from 0 to 1000000 traces/s",
        ),
        (
            "microsoft.percentage",
            None,
            "invalid configuration: OTEL_TRACES_SAMPLER: is \"microsoft.percentage\", which \
             genkit-azure does not know; the Microsoft samplers are \
             microsoft.fixed_percentage and microsoft.rate_limited",
        ),
    ] {
        let err = build_with(sampler, arg, |b| b).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert_eq!(err.to_string(), wanted);
    }
}
