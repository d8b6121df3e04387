//! SeaORM entities: the identity tables as the database sees them.
//!
//! These are rows, not domain records: ids are 32-character lowercase hex, times are `i64`
//! nanoseconds since the Unix epoch (UTC, exact on both backends), digests are 32-byte blobs and
//! enums are short lowercase tags. [`crate::convert`] turns them into `identity_core::model`
//! records and back; the schema they map is created by [`crate::migration`].

pub mod challenge;
pub mod consent;
pub mod linked_account;
pub mod security_event;
pub mod session;
pub mod subscriber;
pub mod throttle_event;
pub mod throttle_key;
