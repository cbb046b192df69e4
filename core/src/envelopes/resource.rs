//! What the resource (who is sending) says in envelopes: tags on every
//! envelope, serialised once at start, and the `_OTELRESOURCE_` metric that
//! carries its attributes, sent once at start and then periodically, as the
//! official distro does, instead of copying them into every envelope's
//! properties (bytes, CPU, and room under the customDimensions cap).

use super::json::Json;
use super::tags::{limit, tag};
use super::writer::MAX_PROPERTY_KEY;
use super::writer::MAX_PROPERTY_VALUE;
use opentelemetry_sdk::Resource;

/// The resource's part of every envelope, written once.
#[derive(Debug, Clone)]
pub(crate) struct ResourceTags {
    /// `(key, value)` of each tag, for envelopes that replace one.
    tags: Vec<(&'static str, String)>,
    /// The same tags as JSON members, `"k":"v","k":"v"`.
    json: Vec<u8>,
    /// The resource's attributes as JSON members, for `_OTELRESOURCE_`.
    properties: Vec<u8>,
}

/// The language the library is driven from, for `ai.internal.sdkVersion`.
pub(crate) const SDK_LANGUAGE: &str = "telemetry.sdk.language";

impl ResourceTags {
    pub fn new(resource: &Resource) -> Self {
        let get = |k: &str| {
            resource
                .iter()
                .find(|(key, _)| key.as_str() == k)
                .map(|(_, v)| v.as_str().into_owned())
        };
        let mut tags: Vec<(&'static str, String)> = Vec::new();
        let mut set =
            |key: &'static str, value: String| match tags.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => tags.push((key, value)),
            };
        // `ai.*` resource attributes name tags directly.
        for (k, v) in resource.iter() {
            if let Some((key, _)) = tag(k.as_str()) {
                set(key, v.as_str().into_owned());
            }
        }
        if let Some(name) = get("service.name") {
            let k8s = [
                "k8s.deployment.name",
                "k8s.replicaset.name",
                "k8s.statefulset.name",
                "k8s.job.name",
                "k8s.cronjob.name",
                "k8s.daemonset.name",
            ];
            let role = match (
                name.starts_with("unknown_service:"),
                k8s.iter().find_map(|k| get(k)),
            ) {
                (true, Some(k8s_name)) => k8s_name,
                _ => match get("service.namespace") {
                    Some(ns) => format!("{ns}.{name}"),
                    None => name,
                },
            };
            set("ai.cloud.role", role);
        }
        // Without an instance id, the host name, as the official distro does:
        // the portal groups servers by it.
        if let Some(instance) = get("k8s.pod.name")
            .or_else(|| get("service.instance.id"))
            .or_else(host_name)
        {
            set("ai.cloud.roleInstance", instance.clone());
            set("ai.internal.nodeName", instance);
        }
        if let Some(v) = get("device.id") {
            set("ai.device.id", v);
        }
        if let Some(v) = get("device.model.name") {
            set("ai.device.model", v);
        }
        if let Some(v) = get("service.version") {
            set("ai.application.ver", v);
        }
        let language = get(SDK_LANGUAGE).unwrap_or_else(|| "rust".into());
        set(
            "ai.internal.sdkVersion",
            format!("genkit-azure:{language}:{}", crate::VERSION),
        );
        let mut j = Json::default();
        for (i, (k, v)) in tags.iter().enumerate() {
            if i > 0 {
                j.byte(b',');
            }
            j.field_str(k, v, limit(k));
        }
        let json = std::mem::take(&mut j.buf);
        for (i, (k, v)) in resource.iter().enumerate() {
            if i > 0 {
                j.byte(b',');
            }
            j.str(k.as_str(), MAX_PROPERTY_KEY);
            j.byte(b':');
            j.str(&v.as_str(), MAX_PROPERTY_VALUE);
        }
        Self {
            tags,
            json,
            properties: j.buf,
        }
    }

    /// Writes the resource's tags as JSON members, leaving out any key for
    /// which `replaced` is true (the envelope writes its own value).
    pub fn write(&self, out: &mut Json, replaced: impl Fn(&str) -> bool) -> bool {
        if !self.tags.iter().any(|(k, _)| replaced(k)) {
            out.buf.extend_from_slice(&self.json);
            return !self.json.is_empty();
        }
        let mut wrote = false;
        for (k, v) in self.tags.iter().filter(|(k, _)| !replaced(k)) {
            if wrote {
                out.byte(b',');
            }
            out.field_str(k, v, limit(k));
            wrote = true;
        }
        wrote
    }

    /// The resource's attributes as JSON members (for `_OTELRESOURCE_`).
    pub fn properties(&self) -> &[u8] {
        &self.properties
    }

    /// The value of tag `key` (`ai.cloud.role`, ...), if the resource gives one.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// This machine's host name, if it has a readable one.
pub(crate) fn host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).into_owned();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::KeyValue;

    #[test]
    fn tags_come_from_the_resource_and_long_values_are_cut_at_characters() {
        let r = Resource::builder_empty()
            .with_attributes([
                KeyValue::new("service.name", "漢".repeat(100)),
                KeyValue::new("service.namespace", "ns"),
                KeyValue::new("service.version", "1.2.3"),
                KeyValue::new("service.instance.id", "i-1"),
                KeyValue::new(SDK_LANGUAGE, "python"),
            ])
            .build();
        let t = ResourceTags::new(&r);
        assert_eq!(t.get("ai.application.ver"), Some("1.2.3"));
        assert_eq!(t.get("ai.cloud.roleInstance"), Some("i-1"));
        assert_eq!(
            t.get("ai.internal.sdkVersion"),
            Some(format!("genkit-azure:python:{}", crate::VERSION).as_str())
        );
        let mut j = Json::default();
        j.byte(b'{');
        t.write(&mut j, |_| false);
        j.byte(b'}');
        let v: serde_json::Value = serde_json::from_slice(&j.buf).unwrap();
        let role = v["ai.cloud.role"].as_str().unwrap();
        // Cut at a character boundary to the tag's 256 bytes.
        assert!(role.starts_with("ns.漢") && role.len() == 255, "{role}");
        // A replaced tag is left out.
        let mut j = Json::default();
        j.byte(b'{');
        t.write(&mut j, |k| k == "ai.application.ver");
        j.byte(b'}');
        let v: serde_json::Value = serde_json::from_slice(&j.buf).unwrap();
        assert!(v.get("ai.application.ver").is_none());
        assert!(v.get("ai.cloud.roleInstance").is_some());
    }
}
