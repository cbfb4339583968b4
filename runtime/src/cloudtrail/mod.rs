//! The CloudTrail side of the world: how log files are laid out in S3, how they
//! are read (streamed, gzip or plain JSON), and what one record means to us
//! (its principal, service, time, account) once secrets are redacted.

pub mod fields;
pub mod key;
pub mod logfile;
pub mod record;
pub mod redact;

pub use key::{LogKind, classify_key, decode_s3_event_key};
pub use logfile::{LogReadError, read_log_records};
pub use record::{Record, RecordError, service_name};
