//! The operator's command line against stand-ins, in one test binary: the installed
//! binary's answers and exit codes, each command's effect (with the AWS calls it
//! makes recorded for the permissions test), and the doctor.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod cli;
mod commands;
mod doctor;
