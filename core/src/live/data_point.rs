//! The MonitoringDataPoint every request carries: who is sending (the
//! identity fields a ping sends alone) and, on a post, the interval's
//! metrics, documents and configuration errors. JSON field names are
//! PascalCase; the body is not compressed.

use super::client::{PingHeaders, INVARIANT_VERSION};
use crate::envelopes::{host_name, Json, ResourceTags};
use crate::ingest::unix_nanos;
use opentelemetry_sdk::Resource;
use serde_json::{json, Map, Value};
use std::time::SystemTime;

/// Who is sending, decided once at start.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    fields: Map<String, Value>,
    pub headers: PingHeaders,
}

impl Identity {
    /// From the resource as the envelopes say it: the role
    /// (`service.namespace.service.name`), the instance (`k8s.pod.name`,
    /// else `service.instance.id`, else the host name) and the SDK version.
    /// `is_web_app`: `WEBSITE_SITE_NAME` is set (App Service).
    pub fn new(resource: &Resource, is_web_app: bool) -> Self {
        let tags = ResourceTags::new(resource);
        let machine = host_name().unwrap_or_default();
        let instance = tags
            .get("ai.cloud.roleInstance")
            .map_or_else(|| machine.clone(), str::to_string);
        let role = tags.get("ai.cloud.role").unwrap_or_default().to_string();
        let version = tags
            .get("ai.internal.sdkVersion")
            .unwrap_or_default()
            .to_string();
        // One stream per pipeline (one per process, as an app has one): the
        // service tells senders apart by it.
        let stream_id = format!("{:032x}", fastrand::u128(..));
        let mut fields = Map::new();
        fields.insert("Version".into(), json!(version));
        fields.insert("InvariantVersion".into(), json!(INVARIANT_VERSION));
        fields.insert("Instance".into(), json!(instance));
        fields.insert("RoleName".into(), json!(role));
        fields.insert("MachineName".into(), json!(machine));
        fields.insert("StreamId".into(), json!(stream_id));
        fields.insert("IsWebApp".into(), json!(is_web_app));
        fields.insert("PerformanceCollectionSupported".into(), json!(true));
        Self {
            headers: PingHeaders {
                machine_name: machine,
                instance_name: instance,
                stream_id,
                role_name: role,
            },
            fields,
        }
    }

    /// A ping's body: the identity fields.
    pub fn ping_body(&self) -> Vec<u8> {
        serde_json::to_vec(&self.fields).expect("JSON values serialise")
    }

    /// A post's body: one data point, in an array.
    pub fn post_body(
        &self,
        time: SystemTime,
        metrics: &[(&str, f64)],
        documents: Vec<Value>,
        errors: Vec<Value>,
    ) -> Vec<u8> {
        let mut point = self.fields.clone();
        point.insert("Timestamp".into(), json!(rfc3339(time)));
        let metrics: Vec<Value> = metrics
            .iter()
            .map(|(name, value)| {
                // A value with no JSON form (an overflowed sum) says 0.
                let value = if value.is_finite() { *value } else { 0.0 };
                json!({"Name": name, "Value": value, "Weight": 1})
            })
            .collect();
        point.insert("Metrics".into(), Value::Array(metrics));
        point.insert("Documents".into(), Value::Array(documents));
        if !errors.is_empty() {
            point.insert("CollectionConfigurationErrors".into(), Value::Array(errors));
        }
        serde_json::to_vec(&[Value::Object(point)]).expect("JSON values serialise")
    }
}

/// `2026-11-24T10:00:00.123456Z`, as envelope times are written.
fn rfc3339(time: SystemTime) -> String {
    let mut j = Json::default();
    j.time(unix_nanos(time));
    let quoted = String::from_utf8(j.buf).expect("ASCII");
    quoted.trim_matches('"').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::KeyValue;
    use std::time::{Duration, UNIX_EPOCH};

    fn identity() -> Identity {
        let resource = Resource::builder_empty()
            .with_attributes([
                KeyValue::new("service.name", "menu"),
                KeyValue::new("service.namespace", "shop"),
                KeyValue::new("k8s.pod.name", "menu-7f9c"),
                KeyValue::new("service.instance.id", "i-1"),
            ])
            .build();
        Identity::new(&resource, false)
    }

    #[test]
    fn a_ping_says_who_is_sending() {
        let id = identity();
        let body: Value = serde_json::from_slice(&id.ping_body()).unwrap();
        assert_eq!(body["RoleName"], "shop.menu");
        assert_eq!(
            body["Instance"], "menu-7f9c",
            "the pod wins over the instance id"
        );
        assert_eq!(body["InvariantVersion"], 5);
        assert_eq!(body["IsWebApp"], false);
        assert_eq!(body["PerformanceCollectionSupported"], true);
        assert!(body["Version"]
            .as_str()
            .unwrap()
            .starts_with("genkit-azure:rust:"));
        let stream = body["StreamId"].as_str().unwrap();
        assert_eq!(stream.len(), 32);
        assert!(stream
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(id.headers.stream_id, stream);
        assert_eq!(id.headers.role_name, "shop.menu");
        assert!(body.get("Metrics").is_none(), "identity fields only");
    }

    #[test]
    fn a_post_is_an_array_of_one_data_point() {
        let id = identity();
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let body = id.post_body(
            t,
            &[("a", 1.5), ("b", f64::NAN)],
            vec![json!({"x": 1})],
            vec![],
        );
        let body: Value = serde_json::from_slice(&body).unwrap();
        let point = &body.as_array().unwrap()[0];
        assert_eq!(body.as_array().unwrap().len(), 1);
        assert_eq!(point["Timestamp"], "2023-11-14T22:13:20.123000Z");
        assert_eq!(
            point["Metrics"][0],
            json!({"Name": "a", "Value": 1.5, "Weight": 1})
        );
        assert_eq!(point["Metrics"][1]["Value"], 0.0);
        assert_eq!(point["Documents"][0]["x"], 1);
        assert_eq!(point["RoleName"], "shop.menu");
        assert!(point.get("CollectionConfigurationErrors").is_none());
    }
}
