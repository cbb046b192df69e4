//! Configuration: every setting declared once (`settings.rs`, from the
//! parts in `setting.rs`), the connection string, and the service resource
//! (who is sending).

mod connection_string;
mod exports;
mod resource;
mod sampling_env;
mod setting;
mod settings;

pub use connection_string::ConnectionString;
pub(crate) use connection_string::{is_loopback, Authorization, Endpoint};
pub use exports::Exports;
pub(crate) use resource::build_resource;
pub(crate) use sampling_env::apply_sampler_env;
pub use resource::ResourceSettings;
pub use setting::{Face, Kind, Setting, SettingDefault, SettingType, SettingValue};
pub(crate) use settings::for_each_setting;
#[cfg(test)]
pub(crate) use settings::DEFAULT_GZIP_LEVEL;
pub use settings::{setting, Config, CONNECTION_STRING_ENV, SETTINGS};
