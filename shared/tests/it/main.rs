//! Every integration test of `shared` in one binary: one build and one link of what
//! they share instead of one per file, and one process whose test threads keep
//! both cores busy. Two stay binaries of their own: `reconcile_unconfigured.rs`
//! sets process environment variables, and `privacy.rs` reads every log line, which
//! needs a process where no other test's thread registers the log call sites first.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

mod alchemypay_store;
mod architecture;
mod ccpayment_db_down;
mod ccpayment_parse;
mod ccpayment_store;
mod ccpayment_v2_store;
mod citypay_store;
mod docs_links;
mod docs_reference;
mod drill_ccpayment;
mod drill_citypay;
mod events_out;
mod faults;
mod hostile;
mod late_reference;
mod layers;
mod load;
mod paging;
mod reconcile_ccpayment;
mod reconcile_ccpayment_v2;
mod reconcile_citypay;
mod sample_events;
mod secrets;
mod template_schema;
mod unresolved_api;
