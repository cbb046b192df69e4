//! Fuzz target: the connection-string parser (`ConnectionString::parse`) on
//! arbitrary text. It must never panic, an error must name what is wrong
//! without any part of the instrumentation key in it, and a string it accepts
//! must keep the key out of `Debug` and parse again to the same value from
//! its parts.
#![no_main]

use genkit_azure::ConnectionString;
use libfuzzer_sys::fuzz_target;

// The parser's own test support: the key the seeds hold, and the check that
// a message holds no 8-character window of it.
#[path = "../../core/src/config/connection_string/mutations.rs"]
#[allow(dead_code)]
mod mutations;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let secret = mutations::Secret::new(mutations::KEY);
    // Windows of the key that the input holds outside the key's own value
    // can be quoted legitimately (a host name made of it): only a string in
    // which the key appears as `InstrumentationKey`'s value alone is checked.
    let checked = secret
        .leaked_in(&input.replacen(mutations::KEY, "", 1))
        .is_none();
    match ConnectionString::parse(input) {
        Err(e) => {
            let message = e.to_string();
            assert!(!message.is_empty());
            if checked {
                secret.assert_hidden_in(&message, input);
            }
        }
        Ok(cs) => {
            let debug = format!("{cs:?}");
            if checked {
                secret.assert_hidden_in(&debug, input);
            }
            assert!(!cs.instrumentation_key().is_empty());
            // What it accepted, written back as a plain string, means the same.
            let mut again = format!(
                "InstrumentationKey={};IngestionEndpoint={};LiveEndpoint={}",
                cs.instrumentation_key(),
                cs.ingestion_endpoint.as_str(),
                cs.live_endpoint.as_str()
            );
            if let Some(aud) = &cs.aad_audience {
                again.push_str(&format!(";AADAudience={aud}"));
            }
            if let Ok(reparsed) = ConnectionString::parse(&again) {
                assert_eq!(reparsed.instrumentation_key(), cs.instrumentation_key());
                assert_eq!(reparsed.ingestion_endpoint, cs.ingestion_endpoint);
                assert_eq!(reparsed.live_endpoint, cs.live_endpoint);
            }
        }
    }
});
