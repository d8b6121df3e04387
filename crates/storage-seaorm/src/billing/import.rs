//! Bulk writes on [`Storage`] that seed the billing tables: the operator's import of a
//! supplier's houses, premises, accounts, meters, tariffs and history, the demo, and the
//! benchmarks. They are not ports: the cores never create suppliers or houses.
//!
//! Every method is **one write transaction** ([`Storage::begin_write`]): all of the rows or
//! none. Rows go in as multi-row `INSERT`s of at most [`MAX_PARAMS`] bound parameters each
//! (SQLite allows 32 766 per statement, PostgreSQL 65 535), so a million accounts take a few
//! hundred statements.
//!
//! - **Upserts keep the caller's ids**: `INSERT … ON CONFLICT (id) DO UPDATE SET` every other
//!   column. When one call names an id twice, the last row wins (PostgreSQL would otherwise
//!   refuse to update a row twice in one statement).
//! - **A row naming a missing parent** (supplier, house, premise, account, meter) violates a
//!   foreign key and comes back as [`RepoError::NotFound`], writing nothing.
//! - **A clash with a uniqueness rule** — an account number of the supplier used by another
//!   account id, a second accepted reading of a meter and period — is [`RepoError::Duplicate`],
//!   writing nothing.
//! - **Imported volume history never overwrites a billed period**: the upsert of an imported
//!   row only updates a row that is itself `imported` (`DO UPDATE … WHERE origin =
//!   'imported'`); if any row was left alone the call is `Duplicate` and rolls back.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use billing_core::ids::{AccountId, HouseId, ReadingId};
use billing_core::keyrate::{KeyRateHistory, PenaltyRules};
use billing_core::meter::Meter;
use billing_core::model::{Account, House, Premise, Supplier};
use billing_core::period::Period;
use billing_core::ports::{HousePeriodFacts, NewReading, RepoError};
use billing_core::service::ServiceKind;
use billing_core::tariff::TariffVersion;
use billing_core::volume::PastVolume;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IdenStatic, Iterable,
    PrimaryKeyToColumn, Value,
};

use crate::convert::billing::{day_text, period_code, to_db_id, to_db_nanos, zone_values_text};
use crate::convert::reading::{ACCEPTED, slot_tag, source_tag};
use crate::convert::{account, house, keyrate, meter, supplier, tariff, volume};
use crate::entity;
use crate::error::{repo, repo_write};
use crate::storage::{Backend, Storage};

use super::shapes::batches;

/// The most bound parameters one statement carries: below SQLite's limit of 32 766 (and far
/// below PostgreSQL's 65 535).
pub(crate) const MAX_PARAMS: usize = 30_000;

/// `ON CONFLICT (<primary key>) DO UPDATE SET` every other column of `E`.
fn upsert_on_key<E: EntityTrait>() -> OnConflict {
    let keys: Vec<E::Column> = E::PrimaryKey::iter().map(|k| k.into_column()).collect();
    let others: Vec<E::Column> = E::Column::iter()
        .filter(|c| !keys.iter().any(|k| k.as_str() == c.as_str()))
        .collect();
    OnConflict::columns(keys).update_columns(others).to_owned()
}

/// The items of `items` whose key does not come again later: the last row of each key, in the
/// order of those last rows.
fn last_of_each<T, K: Eq + Hash>(items: &[T], key: impl Fn(&T) -> K) -> Vec<&T> {
    let mut seen = HashSet::with_capacity(items.len());
    let mut out: Vec<&T> = items.iter().rev().filter(|i| seen.insert(key(i))).collect();
    out.reverse();
    out
}

/// Inserts `rows` into `E` inside `tx` in statements of at most [`MAX_PARAMS`] parameters,
/// with `on_conflict` if given; returns the number of rows inserted or updated.
async fn insert_chunks<E, A>(
    tx: &DatabaseTransaction,
    rows: Vec<A>,
    on_conflict: Option<&OnConflict>,
    operation: &str,
) -> Result<u64, RepoError>
where
    E: EntityTrait,
    A: ActiveModelTrait<Entity = E> + Send,
{
    let per_statement = (MAX_PARAMS / E::Column::iter().count().max(1)).max(1);
    let mut written = 0;
    for chunk in batches(rows, per_statement) {
        let mut insert = E::insert_many(chunk);
        if let Some(on_conflict) = on_conflict {
            insert = insert.on_conflict(on_conflict.clone());
        }
        written += insert
            .exec_without_returning(tx)
            .await
            .map_err(|e| repo_write(operation, e))?;
    }
    Ok(written)
}

impl Storage {
    /// Upserts `rows` of `E` by primary key in one write transaction.
    async fn upsert_all<E, A>(&self, rows: Vec<A>, operation: &str) -> Result<(), RepoError>
    where
        E: EntityTrait,
        A: ActiveModelTrait<Entity = E> + Send,
    {
        if rows.is_empty() {
            return Ok(());
        }
        let fail = |e| repo(operation, e);
        let tx = self.begin_write().await.map_err(fail)?;
        insert_chunks(&tx, rows, Some(&upsert_on_key::<E>()), operation).await?;
        tx.commit().await.map_err(fail)
    }

    /// Inserts or updates the supplier (by id). Its requisites, policies and minimum payment
    /// replace the stored ones.
    pub async fn upsert_supplier(&self, supplier: &Supplier) -> Result<(), RepoError> {
        self.upsert_all(vec![supplier::to_row(supplier)?], "upsert supplier")
            .await
    }

    /// Inserts or updates houses by id. `NotFound` (writing nothing) if a house names a
    /// supplier that does not exist.
    pub async fn upsert_houses(&self, houses: &[House]) -> Result<(), RepoError> {
        let rows = last_of_each(houses, |h| h.id)
            .into_iter()
            .map(house::to_row)
            .collect::<Result<Vec<_>, _>>()?;
        self.upsert_all(rows, "upsert houses").await
    }

    /// Inserts or updates premises by id. `NotFound` (writing nothing) if a premise names a
    /// house that does not exist.
    pub async fn upsert_premises(&self, premises: &[Premise]) -> Result<(), RepoError> {
        let rows = last_of_each(premises, |p| p.id)
            .into_iter()
            .map(house::premise_to_row)
            .collect::<Result<Vec<_>, _>>()?;
        self.upsert_all(rows, "upsert premises").await
    }

    /// Inserts or updates accounts by id. `Duplicate` (writing nothing) if an account's
    /// (supplier, number) belongs to another account id; `NotFound` if an account names a
    /// supplier or premise that does not exist.
    pub async fn upsert_accounts(&self, accounts: &[Account]) -> Result<(), RepoError> {
        let rows = last_of_each(accounts, |a| a.id)
            .into_iter()
            .map(account::to_row)
            .collect::<Result<Vec<_>, _>>()?;
        self.upsert_all(rows, "upsert accounts").await
    }

    /// Inserts or updates meters by id (a replacement is a new meter; the removed one keeps
    /// its id and gets its `removed_on`). `NotFound` (writing nothing) if a meter names an
    /// account that does not exist.
    pub async fn upsert_meters(&self, meters: &[Meter]) -> Result<(), RepoError> {
        let rows = last_of_each(meters, |m| m.id)
            .into_iter()
            .map(meter::to_row)
            .collect::<Result<Vec<_>, _>>()?;
        self.upsert_all(rows, "upsert meters").await
    }

    /// Inserts or updates tariff versions by id. `NotFound` (writing nothing) if a version
    /// names a supplier that does not exist.
    pub async fn upsert_tariffs(&self, tariffs: &[TariffVersion]) -> Result<(), RepoError> {
        let rows = last_of_each(tariffs, |t| t.id)
            .into_iter()
            .map(tariff::to_row)
            .collect::<Result<Vec<_>, _>>()?;
        self.upsert_all(rows, "upsert tariffs").await
    }

    /// Records (or replaces) the house's facts for `period`. `NotFound` if there is no such
    /// house.
    pub async fn put_house_facts(
        &self,
        house: HouseId,
        period: Period,
        facts: &HousePeriodFacts,
    ) -> Result<(), RepoError> {
        self.upsert_all(
            vec![house::facts_to_row(house, period, facts)?],
            "record house facts",
        )
        .await
    }

    /// Stores readings from a previous system or an automatic metering system as accepted, all
    /// or nothing, and returns their new ids in the order given.
    ///
    /// `Duplicate` (writing nothing) if one of them clashes with the one-accepted-reading rule
    /// (with a stored reading or with another of the batch); `NotFound` if one names a meter
    /// that does not exist; `Conflict` if one is a correction (`supersedes` is `Some`):
    /// corrections go through
    /// [`ReadingRepository::save`](billing_core::ports::ReadingRepository::save).
    pub async fn import_readings(
        &self,
        readings: &[NewReading],
    ) -> Result<Vec<ReadingId>, RepoError> {
        const COLUMNS: usize = 8;
        if readings.iter().any(|r| r.supersedes.is_some()) {
            return Err(RepoError::Conflict);
        }
        if readings.is_empty() {
            return Ok(Vec::new());
        }
        let mut keys = Vec::with_capacity(readings.len());
        let mut values = Vec::with_capacity(readings.len());
        for r in readings {
            let key = (
                to_db_id(r.meter.get())?,
                period_code(r.period),
                slot_tag(r.source),
            );
            keys.push(key);
            values.push([
                Value::from(key.0),
                key.1.into(),
                zone_values_text(&r.values).into(),
                day_text(r.taken_on).into(),
                to_db_nanos(r.submitted_at)?.into(),
                source_tag(r.source).into(),
                ACCEPTED.into(),
                key.2.into(),
            ]);
        }
        // SQLite looks a `$n` parameter up by name, one by one: thousands of them make the
        // statement's preparation quadratic. Its plain `?` parameters are numbered in order.
        let positional = self.backend() == Backend::Sqlite;
        let fail = |e| repo("import readings", e);
        let tx = self.begin_write().await.map_err(fail)?;
        let mut ids = HashMap::with_capacity(readings.len());
        for chunk in batches(values, MAX_PARAMS / COLUMNS) {
            let mut sql = String::from(
                "INSERT INTO readings (meter_id, period, register_values, taken_on, \
                 submitted_at, source, status, slot) VALUES ",
            );
            for row in 0..chunk.len() {
                sql.push_str(if row == 0 { "(" } else { ", (" });
                for column in 0..COLUMNS {
                    if column > 0 {
                        sql.push_str(", ");
                    }
                    if positional {
                        sql.push('?');
                    } else {
                        sql.push_str(&format!("${}", row * COLUMNS + column + 1));
                    }
                }
                sql.push(')');
            }
            sql.push_str(" RETURNING id, meter_id, period, slot");
            let inserted = tx
                .query_all_raw(self.statement(&sql, chunk.into_iter().flatten()))
                .await
                .map_err(|e| repo_write("import readings", e))?;
            for row in inserted {
                let get = |column: &str| -> Result<i64, RepoError> {
                    row.try_get_by::<i64, _>(column)
                        .map_err(|e| repo("import readings", e))
                };
                let slot: String = row
                    .try_get_by("slot")
                    .map_err(|e| repo("import readings", e))?;
                let period: i32 = row
                    .try_get_by("period")
                    .map_err(|e| repo("import readings", e))?;
                ids.insert((get("meter_id")?, period, slot), get("id")?);
            }
        }
        let ids = keys
            .into_iter()
            .map(|(meter, period, slot)| {
                let id = ids
                    .get(&(meter, period, slot.to_owned()))
                    .copied()
                    .ok_or_else(|| {
                        RepoError::Unavailable("import readings: an id was not returned".into())
                    })?;
                u64::try_from(id)
                    .map(ReadingId::new)
                    .map_err(|_| RepoError::Unavailable(format!("reading id {id}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit().await.map_err(fail)?;
        Ok(ids)
    }

    /// Stores volume history from a previous system (origin `imported`), all or nothing. A
    /// volume for an (account, service, period) that was imported before replaces it; one that
    /// was billed here is never replaced: `Duplicate`, writing nothing. `NotFound` if a volume
    /// names an account that does not exist. When the call names a key twice, the last wins.
    pub async fn import_volumes(
        &self,
        volumes: &[(AccountId, ServiceKind, PastVolume)],
    ) -> Result<(), RepoError> {
        let rows = last_of_each(volumes, |(a, s, v)| (*a, *s, v.period))
            .into_iter()
            .map(|(a, s, v)| volume::to_row(*a, *s, v, volume::IMPORTED))
            .collect::<Result<Vec<_>, _>>()?;
        if rows.is_empty() {
            return Ok(());
        }
        let expected = u64::try_from(rows.len()).unwrap_or(u64::MAX);
        let on_conflict = upsert_on_key::<entity::volume::Entity>()
            .action_and_where(
                Expr::col((entity::volume::Entity, entity::volume::Column::Origin))
                    .eq(volume::IMPORTED),
            )
            .to_owned();
        let fail = |e| repo("import volumes", e);
        let tx = self.begin_write().await.map_err(fail)?;
        let written = insert_chunks(&tx, rows, Some(&on_conflict), "import volumes").await?;
        if written != expected {
            // A billed volume was in the way; dropping `tx` rolls everything back.
            return Err(RepoError::Duplicate);
        }
        tx.commit().await.map_err(fail)
    }

    /// Replaces the stored key-rate history with `history`.
    pub async fn set_key_rates(&self, history: &KeyRateHistory) -> Result<(), RepoError> {
        let rows = history.steps().iter().map(keyrate::step_to_row).collect();
        let fail = |e| repo("set key rates", e);
        let tx = self.begin_write().await.map_err(fail)?;
        entity::key_rate_step::Entity::delete_many()
            .exec(&tx)
            .await
            .map_err(fail)?;
        insert_chunks(&tx, rows, None, "set key rates").await?;
        tx.commit().await.map_err(fail)
    }

    /// Replaces the stored penalty windows with those of `rules`.
    pub async fn set_penalty_rules(&self, rules: &PenaltyRules) -> Result<(), RepoError> {
        let rows = rules
            .windows()
            .iter()
            .map(keyrate::window_to_row)
            .collect::<Result<Vec<_>, _>>()?;
        let fail = |e| repo("set penalty rules", e);
        let tx = self.begin_write().await.map_err(fail)?;
        entity::penalty_window::Entity::delete_many()
            .exec(&tx)
            .await
            .map_err(fail)?;
        insert_chunks(&tx, rows, None, "set penalty rules").await?;
        tx.commit().await.map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_row_of_each_key_wins_in_order() {
        let rows = [(1, 'a'), (2, 'b'), (1, 'c'), (3, 'd'), (2, 'e')];
        let kept: Vec<_> = last_of_each(&rows, |r| r.0).into_iter().copied().collect();
        assert_eq!(kept, [(1, 'c'), (3, 'd'), (2, 'e')]);
    }

    #[test]
    fn upserts_update_every_column_but_the_key() {
        use sea_orm::DbBackend;
        let on_conflict = upsert_on_key::<entity::premise::Entity>();
        let statement = sea_orm::sea_query::Query::insert()
            .into_table(entity::premise::Entity)
            .columns([entity::premise::Column::Id])
            .values_panic([1.into()])
            .on_conflict(on_conflict)
            .to_owned();
        let text = DbBackend::Postgres.build(&statement).to_string();
        assert!(
            text.ends_with(
                r#"ON CONFLICT ("id") DO UPDATE SET "house_id" = "excluded"."house_id", "number" = "excluded"."number", "area" = "excluded"."area", "residential" = "excluded"."residential", "persons" = "excluded"."persons", "rooms" = "excluded"."rooms""#
            ),
            "{text}"
        );
    }
}
