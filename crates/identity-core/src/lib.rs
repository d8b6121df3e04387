//! # identity-core
//!
//! The pure identity domain of the Abonent subscriber cabinet (in progress).
#![deny(missing_docs)]
