//! The service resource: who is sending (`ai.cloud.role`, `ai.application.ver`, ...).
//!
//! Precedence for the service name, as in the OpenTelemetry SDKs: a value set
//! in code, then `OTEL_SERVICE_NAME`, then `service.name` in
//! `OTEL_RESOURCE_ATTRIBUTES`, then the default.

use crate::error::ConfigError;
use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;

pub const DEFAULT_SERVICE_NAME: &str = "genkit-app";

/// Parses `OTEL_RESOURCE_ATTRIBUTES` (`k=v,k2=v2`, values percent-encoded).
pub fn parse_resource_attributes(input: &str) -> Result<Vec<KeyValue>, ConfigError> {
    let mut out = Vec::new();
    for (i, pair) in input.split(',').enumerate() {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair.split_once('=').ok_or_else(|| {
            ConfigError::new(
                "OTEL_RESOURCE_ATTRIBUTES",
                format!("entry {} is not of the form key=value", i + 1),
            )
        })?;
        let k = k.trim();
        if k.is_empty() {
            return Err(ConfigError::new(
                "OTEL_RESOURCE_ATTRIBUTES",
                format!("entry {} has an empty key", i + 1),
            ));
        }
        out.push(KeyValue::new(k.to_string(), percent_decode(v.trim())));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // Work on bytes: slicing the &str here could split a multi-byte character.
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// What the user set in code; `None` means "not set", so the environment decides.
#[derive(Debug, Clone, Default)]
pub struct ResourceSettings {
    pub service_name: Option<String>,
    pub service_version: Option<String>,
    pub service_namespace: Option<String>,
    /// `deployment.environment.name` (`prod`, `staging`, ...).
    pub deployment_environment: Option<String>,
    pub attributes: Vec<KeyValue>,
}

/// Builds the resource from code settings and the given environment lookup.
pub fn build_resource(
    settings: &ResourceSettings,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Resource, ConfigError> {
    let mut attrs: Vec<KeyValue> = match env("OTEL_RESOURCE_ATTRIBUTES") {
        Some(s) => parse_resource_attributes(&s)?,
        None => Vec::new(),
    };
    // Later entries win in the resource builder, so push in rising precedence.
    attrs.extend(settings.attributes.iter().cloned());
    let from_attrs = attrs
        .iter()
        .rev()
        .find(|kv| kv.key.as_str() == "service.name")
        .map(|kv| kv.value.as_str().into_owned());
    let service_name = settings
        .service_name
        .clone()
        .or_else(|| env("OTEL_SERVICE_NAME").filter(|s| !s.trim().is_empty()))
        .or(from_attrs)
        .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_string());
    attrs.retain(|kv| kv.key.as_str() != "service.name");
    attrs.push(KeyValue::new("service.name", service_name));
    if let Some(v) = &settings.service_version {
        attrs.push(KeyValue::new("service.version", v.clone()));
    }
    if let Some(ns) = &settings.service_namespace {
        attrs.push(KeyValue::new("service.namespace", ns.clone()));
    }
    if let Some(env) = &settings.deployment_environment {
        attrs.push(KeyValue::new("deployment.environment.name", env.clone()));
    }
    Ok(Resource::builder_empty().with_attributes(attrs).build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::Key;

    fn get(r: &Resource, k: &'static str) -> Option<String> {
        r.get(&Key::from_static_str(k))
            .map(|v| v.as_str().into_owned())
    }

    #[test]
    fn code_beats_env_beats_attributes_beats_default() {
        let env_all = |k: &str| match k {
            "OTEL_SERVICE_NAME" => Some("from-env".to_string()),
            "OTEL_RESOURCE_ATTRIBUTES" => {
                Some("service.name=from-attrs,deployment.environment=prod%20eu".to_string())
            }
            _ => None,
        };
        let code = ResourceSettings {
            service_name: Some("from-code".into()),
            service_version: Some("1.2.3".into()),
            ..Default::default()
        };
        let r = build_resource(&code, env_all).unwrap();
        assert_eq!(get(&r, "service.name").as_deref(), Some("from-code"));
        assert_eq!(get(&r, "service.version").as_deref(), Some("1.2.3"));
        assert_eq!(
            get(&r, "deployment.environment").as_deref(),
            Some("prod eu")
        );

        let r = build_resource(&ResourceSettings::default(), env_all).unwrap();
        assert_eq!(get(&r, "service.name").as_deref(), Some("from-env"));

        let attrs_only = |k: &str| {
            (k == "OTEL_RESOURCE_ATTRIBUTES").then(|| "service.name=from-attrs".to_string())
        };
        let r = build_resource(&ResourceSettings::default(), attrs_only).unwrap();
        assert_eq!(get(&r, "service.name").as_deref(), Some("from-attrs"));

        let r = build_resource(&ResourceSettings::default(), |_| None).unwrap();
        assert_eq!(
            get(&r, "service.name").as_deref(),
            Some(DEFAULT_SERVICE_NAME)
        );
    }

    #[test]
    fn malformed_resource_attributes_say_which_entry() {
        let err = parse_resource_attributes("a=1,oops,b=2").unwrap_err();
        assert_eq!(err.field, "OTEL_RESOURCE_ATTRIBUTES");
        assert!(err.reason.contains("entry 2"), "{err}");
    }

    #[test]
    fn percent_decoding_survives_multibyte_text() {
        let kv = parse_resource_attributes("team=caf%C3%A9,odd=%é%,x=%4").unwrap();
        assert_eq!(kv[0].value.as_str(), "café");
        assert_eq!(kv[1].value.as_str(), "%é%");
        assert_eq!(kv[2].value.as_str(), "%4");
    }
}
