//! The schema, as sea-orm-migration migrations: one file per table (and one per later change
//! of a table), each with `up` and `down`,
//! applied in order by [`Migrator`] (through [`crate::Storage::migrate`]) and recorded in
//! `seaql_migrations`.
//!
//! Conventions shared by every table (the entities in `entity` mirror them): ids are
//! 32-character lowercase hex text; times are BIGINT nanoseconds since the Unix epoch, UTC,
//! which both backends store and compare exactly; digests are 32-byte BLOB/BYTEA; enums are
//! short lowercase text tags. Billing tables: ids are BIGINT, days `YYYY-MM-DD` text, periods
//! INTEGER `year * 100 + month`, money `NUMERIC(30, 2)` on PostgreSQL and exact decimal text on
//! SQLite (`exact`). Sandbox tables (`outbox_messages`, `captcha_challenges`,
//! `sandbox_payments`, `sandbox_refunds`, `webhook_deliveries`) serve the sandbox providers
//! only.
//!
//! Fiscal receipts (`fiscal_receipts`) follow the billing conventions, times as BIGINT
//! nanoseconds; the receipt itself is this adapter's JSON (`convert::receipt`). Autopay
//! settings (`autopay_settings`, keyed by (`account_id`, `payer`)) follow the billing
//! conventions, with a BIGINT `version` for compare-and-set writes.
//!
//! Tables by area: cabinets (`subscribers`, `linked_accounts`, `sessions`, `challenges`,
//! `throttle_keys`, `throttle_events`, `consents`, `security_events`); the back office and
//! questions (`questions`, `operators`, `operator_api_keys`, `operator_sessions`, identity
//! conventions); billing (`closed_periods`, `payments`, `refund_requests`, `ledger_journal`,
//! `suppliers`, `houses`, `premises`, `house_period_facts`, `accounts`, `account_codes`,
//! `meters`, `readings`, `tariff_versions`, `volume_history`, `recalculations`,
//! `key_rate_steps`, `penalty_windows`, `charge_sets` (its lines a JSON array since
//! migration 37, which dropped `charge_lines`; lz4-compressed on PostgreSQL since migration 38), `billing_runs`,
//! `billing_run_houses`, and `online_payments`, billing conventions with its start time as
//! BIGINT nanoseconds); sandbox (`outbox_messages`, `captcha_challenges`, and the sandbox gateway's
//! `sandbox_payments`, `sandbox_refunds`, `webhook_deliveries`: text ids the gateway issues,
//! exact money as in billing); the HTTP layer
//! (`idempotency_keys`, identity conventions, keyed by (`principal`, `key`)).
// `MigrationTrait` (through async-trait) declares `manager: &SchemaManager` with an elided
// lifetime; spelling it `<'_>` in the impls makes the lifetimes early-bound and no longer match.
#![allow(
    elided_lifetimes_in_paths,
    reason = "the impls must match MigrationTrait's elided SchemaManager lifetime"
)]

use sea_orm_migration::prelude::*;

mod m20261123_000001_create_subscribers;
mod m20261123_000002_create_linked_accounts;
mod m20261123_000003_create_sessions;
mod m20261123_000004_create_challenges;
mod m20261123_000005_create_throttle;
mod m20261123_000006_create_consents;
mod m20261123_000007_create_security_events;
mod m20261123_000008_create_closed_periods;
mod m20261123_000009_create_payments;
mod m20261123_000010_create_refund_requests;
mod m20261123_000011_create_ledger_journal;
mod m20261123_000012_create_suppliers;
mod m20261123_000013_create_houses;
mod m20261123_000014_create_premises;
mod m20261123_000015_create_house_period_facts;
mod m20261123_000016_create_accounts;
mod m20261123_000017_create_meters;
mod m20261123_000018_create_readings;
mod m20261123_000019_create_tariff_versions;
mod m20261123_000020_create_volume_history;
mod m20261123_000021_create_recalculations;
mod m20261123_000022_create_key_rates;
mod m20261123_000023_create_charge_sets;
mod m20261123_000024_create_billing_runs;
mod m20261201_000025_create_outbox;
mod m20261201_000026_create_captcha_challenges;
mod m20261201_000027_create_account_codes;
mod m20261208_000028_create_questions;
mod m20261208_000029_create_operators;
mod m20261208_000030_create_online_payments;
mod m20261208_000031_create_idempotency_keys;
mod m20261215_000032_create_sandbox_gateway;
mod m20261215_000033_create_webhook_deliveries;
mod m20261215_000034_create_fiscal_receipts;
mod m20261222_000035_create_autopay_settings;
mod m20261229_000036_renew_idempotency_claims;
mod m20270105_000037_lines_in_their_set;
mod m20270112_000038_lines_compressed_lz4;

mod exact;

/// Every migration of the storage schema, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_subscribers::Migration),
            Box::new(m20261123_000002_create_linked_accounts::Migration),
            Box::new(m20261123_000003_create_sessions::Migration),
            Box::new(m20261123_000004_create_challenges::Migration),
            Box::new(m20261123_000005_create_throttle::Migration),
            Box::new(m20261123_000006_create_consents::Migration),
            Box::new(m20261123_000007_create_security_events::Migration),
            Box::new(m20261123_000008_create_closed_periods::Migration),
            Box::new(m20261123_000009_create_payments::Migration),
            Box::new(m20261123_000010_create_refund_requests::Migration),
            Box::new(m20261123_000011_create_ledger_journal::Migration),
            Box::new(m20261123_000012_create_suppliers::Migration),
            Box::new(m20261123_000013_create_houses::Migration),
            Box::new(m20261123_000014_create_premises::Migration),
            Box::new(m20261123_000015_create_house_period_facts::Migration),
            Box::new(m20261123_000016_create_accounts::Migration),
            Box::new(m20261123_000017_create_meters::Migration),
            Box::new(m20261123_000018_create_readings::Migration),
            Box::new(m20261123_000019_create_tariff_versions::Migration),
            Box::new(m20261123_000020_create_volume_history::Migration),
            Box::new(m20261123_000021_create_recalculations::Migration),
            Box::new(m20261123_000022_create_key_rates::Migration),
            Box::new(m20261123_000023_create_charge_sets::Migration),
            Box::new(m20261123_000024_create_billing_runs::Migration),
            Box::new(m20261201_000025_create_outbox::Migration),
            Box::new(m20261201_000026_create_captcha_challenges::Migration),
            Box::new(m20261201_000027_create_account_codes::Migration),
            Box::new(m20261208_000028_create_questions::Migration),
            Box::new(m20261208_000029_create_operators::Migration),
            Box::new(m20261208_000030_create_online_payments::Migration),
            Box::new(m20261208_000031_create_idempotency_keys::Migration),
            Box::new(m20261215_000032_create_sandbox_gateway::Migration),
            Box::new(m20261215_000033_create_webhook_deliveries::Migration),
            Box::new(m20261215_000034_create_fiscal_receipts::Migration),
            Box::new(m20261222_000035_create_autopay_settings::Migration),
            Box::new(m20261229_000036_renew_idempotency_claims::Migration),
            Box::new(m20270105_000037_lines_in_their_set::Migration),
            Box::new(m20270112_000038_lines_compressed_lz4::Migration),
        ]
    }
}

/// The `subscribers` table and the columns other tables reference.
#[derive(DeriveIden)]
pub(crate) enum Subscribers {
    Table,
    Id,
}

/// A foreign key from `table.subscriber_id` to `subscribers.id`, rows deleted with their cabinet.
pub(crate) fn references_subscriber(
    name: &str,
    table: impl IntoIden,
    column: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(Subscribers::Table, Subscribers::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .on_update(ForeignKeyAction::Restrict)
        .to_owned()
}
