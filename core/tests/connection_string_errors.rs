//! No error `AzureTelemetry::builder().build()` returns for a broken
//! connection string holds the instrumentation key or any 8 characters of
//! it, whether the string was passed in or read from
//! APPLICATIONINSIGHTS_CONNECTION_STRING: the property the parser's unit test
//! checks, seen from the public API, through the error type every face shows.

#[path = "../src/config/connection_string/mutations.rs"]
mod mutations;

use genkit_azure::{AzureTelemetry, ConnectionString, CONNECTION_STRING_ENV};

// One test in this binary: it sets the process environment, which no other
// test may read at the same time.
#[test]
fn no_build_error_holds_the_key_from_the_argument_or_the_environment() {
    let secrets: Vec<(String, mutations::Secret)> = mutations::key_variants()
        .into_iter()
        .map(|k| (k.clone(), mutations::Secret::new(&k)))
        .collect();
    let mut checked = 0;
    for (input, key) in mutations::cases(2_000).iter().step_by(2) {
        // A string the parser accepts would start a pipeline; those are
        // the parser's test's business (no error, nothing to check).
        if ConnectionString::parse(input).is_ok() {
            continue;
        }
        let secret = &secrets.iter().find(|(k, _)| k == key).expect("a variant").1;
        let from_argument = AzureTelemetry::builder()
            .connection_string(input.as_str())
            .build();
        let mut results = vec![from_argument];
        // An environment variable cannot hold a NUL.
        if !input.contains('\0') {
            std::env::set_var(CONNECTION_STRING_ENV, input);
            results.push(AzureTelemetry::builder().build());
        }
        for result in results {
            let err = result.expect_err("a connection string the parser refused");
            secret.assert_hidden_in(&format!("{err} {err:?}"), input);
            checked += 1;
        }
    }
    std::env::remove_var(CONNECTION_STRING_ENV);
    assert!(checked > 20_000, "{checked}");
}
