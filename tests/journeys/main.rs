//! Journeys through the running service, over HTTP only.

mod accounts;
mod register_login;
mod settings_recovery;
mod smoke;
