//! Journeys through the running service, over HTTP only.

mod accounts;
mod billing;
mod operator;
mod questions;
mod readings;
mod register_login;
mod settings_recovery;
mod smoke;
