//! # identity-core
//!
//! The pure identity domain of the Abonent subscriber cabinet: registration (by ЛС or by phone
//! and email), consents, login and sessions, password recovery, settings, linking ЛС, blocking
//! the cabinet (and an operator's lookup and unblock), the security log, and limits per client
//! address; subscribers' questions and operators' answers; back-office operators with their
//! roles, sessions and API keys.
//!
//! **Architecture invariant:** this crate does no IO. Storage, SMS, email, captcha, the clock,
//! randomness and password hashing enter through the traits in [`ports`]; a test
//! (`tests/no_io_dependencies.rs`) fails if an IO crate enters its dependency tree. The only
//! concrete adapter here is [`password::Argon2idHasher`], because hashing is CPU work.
//!
//! Entry points: [`IdentityService`] (the cabinet), [`QuestionService`] (questions and
//! answers) and [`OperatorService`] (operators, their sessions and API keys; its
//! [`OperatorPrincipal`] is the proof every operator operation takes), one method per use
//! case, each with its own error enum implementing [`UserMessage`]. Every security number
//! lives in [`SecurityPolicy`].
#![deny(missing_docs)]

pub mod crypto;
pub mod domain;
mod errors;
pub mod model;
pub mod password;
pub mod policy;
pub mod ports;
pub mod secret;

pub use errors::UserMessage;
pub use policy::SecurityPolicy;
pub use secret::Secret;
pub mod service;

pub use service::*;
