//! The operator's command line, as a library: the commands and the doctor, so the
//! tests drive them against stand-ins exactly as the binary does.

pub mod clients;
pub mod commands;
pub mod deployment;
pub mod doctor;
pub mod error;
pub mod permissions;
pub mod sigv4;

pub use clients::Clients;
pub use deployment::Deployment;
pub use error::{aws_error, OpsError};
