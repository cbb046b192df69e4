//! Envelope tags (`ai.*` context keys) and their length limits, and the tags
//! of one envelope, collected so that a later value for a key replaces an
//! earlier one (the JSON object never repeats a key).

use std::borrow::Cow;

/// Every context tag key the service knows, with its maximum length in bytes.
const TAGS: &[(&str, usize)] = &[
    ("ai.application.ver", 1024),
    ("ai.device.id", 1024),
    ("ai.device.locale", 64),
    ("ai.device.model", 256),
    ("ai.device.oemName", 256),
    ("ai.device.osVersion", 256),
    ("ai.device.type", 64),
    ("ai.location.ip", 46),
    ("ai.location.country", 256),
    ("ai.location.province", 256),
    ("ai.location.city", 256),
    ("ai.operation.id", 128),
    ("ai.operation.name", 1024),
    ("ai.operation.parentId", 128),
    ("ai.operation.syntheticSource", 1024),
    ("ai.operation.correlationVector", 64),
    ("ai.session.id", 64),
    ("ai.session.isFirst", 5),
    ("ai.user.accountId", 1024),
    ("ai.user.id", 128),
    ("ai.user.authUserId", 1024),
    ("ai.user.userAgent", 1024),
    ("ai.cloud.role", 256),
    ("ai.cloud.roleInstance", 256),
    ("ai.internal.sdkVersion", 64),
    ("ai.internal.agentVersion", 64),
    ("ai.internal.nodeName", 256),
];

pub(crate) const OPERATION_ID: &str = "ai.operation.id";
pub(crate) const OPERATION_PARENT_ID: &str = "ai.operation.parentId";
pub(crate) const OPERATION_NAME: &str = "ai.operation.name";
pub(crate) const USER_AUTH_USER_ID: &str = "ai.user.authUserId";
pub(crate) const LOCATION_IP: &str = "ai.location.ip";
pub(crate) const USER_AGENT: &str = "ai.user.userAgent";
pub(crate) const SESSION_ID: &str = "ai.session.id";

/// The static name and limit of a context tag key; `None` for anything else
/// (an `ai.*` attribute that names no tag stays a property).
pub(crate) fn tag(key: &str) -> Option<(&'static str, usize)> {
    if !key.starts_with("ai.") {
        return None;
    }
    TAGS.iter().find(|(k, _)| *k == key).copied()
}

/// The limit of a tag written by the library itself.
pub(crate) fn limit(key: &'static str) -> usize {
    TAGS.iter()
        .find(|(k, _)| *k == key)
        .map_or(256, |(_, max)| *max)
}

/// A tag's value: text, or an id written as lowercase hex.
#[derive(Debug, Clone)]
pub(crate) enum TagValue<'a> {
    Text(Cow<'a, str>),
    Hex(&'a [u8]),
}

impl<'a> From<Cow<'a, str>> for TagValue<'a> {
    fn from(t: Cow<'a, str>) -> Self {
        TagValue::Text(t)
    }
}

/// The tags one envelope adds to the resource's. Reused across envelopes.
#[derive(Debug, Default)]
pub(crate) struct ItemTags<'a> {
    entries: Vec<(&'static str, TagValue<'a>)>,
}

impl<'a> ItemTags<'a> {
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Sets `key`, replacing an earlier value.
    pub fn set(&mut self, key: &'static str, value: impl Into<TagValue<'a>>) {
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| *k == key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &TagValue<'a>)> {
        self.entries.iter().map(|(k, v)| (*k, v))
    }
}
