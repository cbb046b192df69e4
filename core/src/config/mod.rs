//! Configuration: the pipeline's settings, the connection string, and the
//! service resource (who is sending).

mod connection_string;
mod resource;
mod settings;

pub use connection_string::ConnectionString;
pub(crate) use connection_string::{is_loopback, Authorization, Endpoint};
pub(crate) use resource::build_resource;
pub use resource::{parse_resource_attributes, ResourceSettings};
pub use settings::{Config, CONNECTION_STRING_ENV};
