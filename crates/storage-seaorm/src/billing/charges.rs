//! [`ChargeRepository`] on `charge_sets` and `charge_lines`, plus the one writer of charge sets
//! that the port and the supplier-wide billing run ([`crate::billing::run`]) share.
//!
//! How its MUSTs are kept, on both backends:
//!
//! - **One set per (account, period)** — the PRIMARY KEY of `charge_sets`; a second set,
//!   concurrent or not, fails the insert and the whole transaction is rolled back
//!   (`RepoError::Duplicate`).
//! - **All or nothing** — sets, lines, volumes (`volume_history`, origin `billed`), ledger
//!   postings (`ledger_journal`) and the recalculations they apply are written in one write
//!   transaction.
//! - **Never into a closed period** — the period check runs under the supplier's shared
//!   advisory lock on PostgreSQL (`close` takes it exclusively) and under the single write lock
//!   on SQLite, so a period cannot close between the check and the commit.
//! - **A recalculation is applied once** — `UPDATE recalculations SET applied_in = $period
//!   WHERE id = $id AND applied_in IS NULL`; zero rows is `RepoError::Conflict`.

use std::collections::BTreeSet;

use billing_core::ids::{AccountId, SupplierId};
use billing_core::period::Period;
use billing_core::ports::{ChargeRepository, ChargeSet, LedgerRecord, RepoError};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Value,
};

use crate::convert::billing::{
    period_code, service_tag, to_db_id, volume_kind_tag, zone_values_text,
};
use crate::convert::{charge, ledger};
use crate::entity::{charge_line, charge_set, ledger_record};
use crate::error::repo;
use crate::storage::Storage;

use super::shapes::{batches, one_of};

/// Bound parameters per statement: below SQLite's 32 766 and PostgreSQL's 65 535.
const MAX_PARAMS: usize = 30_000;

/// Inserts `rows` (each with `columns.len()` values) into `table` with multi-row INSERTs,
/// cut below the parameter limit into the few sizes of [`batches`]; `suffix` follows each statement (an `ON CONFLICT …`).
pub(crate) async fn insert_values(
    storage: &Storage,
    tx: &DatabaseTransaction,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Value>>,
    suffix: &str,
) -> Result<(), RepoError> {
    let per = (MAX_PARAMS / columns.len()).max(1);
    let sqlite = storage.backend() == crate::storage::Backend::Sqlite;
    let head = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    for chunk in batches(rows, per) {
        let mut sql = String::with_capacity(head.len() + chunk.len() * columns.len() * 6);
        sql.push_str(&head);
        let mut values = Vec::with_capacity(chunk.len() * columns.len());
        for (i, row) in chunk.into_iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for (j, v) in row.into_iter().enumerate() {
                if j > 0 {
                    sql.push_str(", ");
                }
                values.push(v);
                // SQLite resolves `$n` by name, which makes preparing a statement with thousands
                // of them quadratic; `?` is positional there.
                if sqlite {
                    sql.push('?');
                } else {
                    sql.push('$');
                    sql.push_str(&values.len().to_string());
                }
            }
            sql.push(')');
        }
        sql.push_str(suffix);
        tx.execute_raw(storage.statement(&sql, values))
            .await
            .map_err(|e| repo(&format!("insert into {table}"), e))?;
    }
    Ok(())
}

impl Storage {
    /// Writes `sets` inside `tx`: the one implementation of
    /// [`ChargeRepository::save_charge_sets`]'s contract (see the module doc). The caller
    /// commits.
    pub(crate) async fn write_charge_sets(
        &self,
        tx: &DatabaseTransaction,
        sets: &[ChargeSet],
    ) -> Result<(), RepoError> {
        if sets.is_empty() {
            return Ok(());
        }
        let suppliers: BTreeSet<SupplierId> = sets.iter().map(|s| s.supplier).collect();
        for supplier in suppliers {
            let id = to_db_id(supplier.get())?;
            self.lock_rows(tx, "SELECT pg_advisory_xact_lock_shared($1)", [id.into()])
                .await
                .map_err(|e| repo("lock supplier periods", e))?;
            let closed = tx
                .query_one_raw(self.statement(
                    "SELECT MAX(period) AS p FROM closed_periods WHERE supplier_id = $1",
                    [id.into()],
                ))
                .await
                .map_err(|e| repo("read closed periods", e))?
                .and_then(|r| r.try_get::<Option<i32>>("", "p").ok().flatten());
            if let Some(closed) = closed
                && sets
                    .iter()
                    .any(|s| s.supplier == supplier && period_code(s.period) <= closed)
            {
                return Err(RepoError::Conflict);
            }
        }
        let mut heads = Vec::with_capacity(sets.len());
        let mut lines = Vec::with_capacity(sets.len() * 3);
        let mut volumes = Vec::with_capacity(sets.len());
        let mut postings = Vec::with_capacity(sets.len() * 3);
        for set in sets {
            let h = charge::set_row(set)?;
            let account = h.account_id;
            heads.push(vec![
                h.account_id.into(),
                h.period.into(),
                h.supplier_id.into(),
                h.posted_on.into(),
                h.due_date.into(),
                h.total.into(),
                h.volumes.into(),
                h.recalculations.into(),
            ]);
            for l in charge::line_rows(set)? {
                lines.push(vec![
                    l.account_id.into(),
                    l.period.into(),
                    l.seq.into(),
                    l.service.into(),
                    l.amount.into(),
                    l.line.into(),
                ]);
            }
            for (service, v) in set.past_volumes() {
                volumes.push(vec![
                    account.into(),
                    service_tag(service).into(),
                    period_code(v.period).into(),
                    volume_kind_tag(v.kind).into(),
                    zone_values_text(&v.values).into(),
                    "billed".into(),
                ]);
            }
            for record in set.postings() {
                postings.push(ledger::to_row(account, &record)?);
            }
        }
        insert_values(
            self,
            tx,
            "charge_sets",
            &[
                "account_id",
                "period",
                "supplier_id",
                "posted_on",
                "due_date",
                "total",
                "volumes",
                "recalculations",
            ],
            heads,
            "",
        )
        .await?;
        insert_values(
            self,
            tx,
            "charge_lines",
            &["account_id", "period", "seq", "service", "amount", "line"],
            lines,
            "",
        )
        .await?;
        insert_values(
            self,
            tx,
            "volume_history",
            &[
                "account_id",
                "service",
                "period",
                "kind",
                "register_values",
                "origin",
            ],
            volumes,
            " ON CONFLICT (account_id, service, period) DO UPDATE SET kind = excluded.kind, \
             register_values = excluded.register_values, origin = excluded.origin",
        )
        .await?;
        // 13 columns a row; insert_many keeps journal order (ascending `seq`).
        for chunk in batches(postings, MAX_PARAMS / 13) {
            ledger_record::Entity::insert_many(chunk)
                .exec_without_returning(tx)
                .await
                .map_err(|e| repo("append charges to the journal", e))?;
        }
        for set in sets {
            let period = period_code(set.period);
            for r in &set.recalculations {
                let done = tx
                    .execute_raw(self.statement(
                        "UPDATE recalculations SET applied_in = $1 \
                         WHERE id = $2 AND applied_in IS NULL",
                        [period.into(), to_db_id(r.id.get())?.into()],
                    ))
                    .await
                    .map_err(|e| repo("apply recalculation", e))?;
                if done.rows_affected() != 1 {
                    return Err(RepoError::Conflict);
                }
            }
        }
        Ok(())
    }

    /// Appends history from a previous system to the accounts' ledger journals — charges,
    /// payments, adjustments posted before this system took over — in one transaction, in the
    /// order given (each account's records must be in the order they were applied).
    /// `RepoError::NotFound` if an account does not exist.
    pub async fn import_journal(
        &self,
        records: &[(AccountId, LedgerRecord)],
    ) -> Result<(), RepoError> {
        let fail = |e| repo("import journal", e);
        let tx = self.begin_write().await.map_err(fail)?;
        let mut ids: Vec<i64> = records
            .iter()
            .map(|(a, _)| to_db_id(a.get()))
            .collect::<Result<_, _>>()?;
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(MAX_PARAMS) {
            let found = crate::entity::account::Entity::find()
                .filter(one_of(
                    self.backend(),
                    crate::entity::account::Column::Id,
                    chunk,
                ))
                .count(&tx)
                .await
                .map_err(fail)?;
            if usize::try_from(found).ok() != Some(chunk.len()) {
                return Err(RepoError::NotFound);
            }
        }
        let mut rows = Vec::with_capacity(records.len());
        for (account, record) in records {
            rows.push(ledger::to_row(to_db_id(account.get())?, record)?);
        }
        for chunk in batches(rows, MAX_PARAMS / 13) {
            ledger_record::Entity::insert_many(chunk)
                .exec_without_returning(&tx)
                .await
                .map_err(fail)?;
        }
        tx.commit().await.map_err(fail)
    }

    /// Reads the sets of `accounts` for `period` (those that exist), ordered by account.
    pub(crate) async fn charge_sets_of(
        &self,
        db: &impl ConnectionTrait,
        accounts: &[i64],
        period: Period,
    ) -> Result<Vec<ChargeSet>, RepoError> {
        let code = period_code(period);
        let fail = |e| repo("read charge sets", e);
        let mut out = Vec::new();
        for chunk in accounts.chunks(MAX_PARAMS / 2) {
            let heads = charge_set::Entity::find()
                .filter(charge_set::Column::Period.eq(code))
                .filter(one_of(self.backend(), charge_set::Column::AccountId, chunk))
                .order_by_asc(charge_set::Column::AccountId)
                .all(db)
                .await
                .map_err(fail)?;
            if heads.is_empty() {
                continue;
            }
            let billed: Vec<i64> = heads.iter().map(|h| h.account_id).collect();
            let mut lines = charge_line::Entity::find()
                .filter(charge_line::Column::Period.eq(code))
                .filter(one_of(
                    self.backend(),
                    charge_line::Column::AccountId,
                    &billed,
                ))
                .order_by_asc(charge_line::Column::AccountId)
                .order_by_asc(charge_line::Column::Seq)
                .all(db)
                .await
                .map_err(fail)?
                .into_iter()
                .peekable();
            for head in heads {
                let mut own = Vec::new();
                while let Some(l) = lines.next_if(|l| l.account_id == head.account_id) {
                    own.push(l);
                }
                out.push(charge::to_set(head, own)?);
            }
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl ChargeRepository for Storage {
    async fn charge_set(
        &self,
        account: AccountId,
        period: Period,
    ) -> Result<Option<ChargeSet>, RepoError> {
        let id = to_db_id(account.get())?;
        Ok(self
            .charge_sets_of(self.db(), &[id], period)
            .await?
            .into_iter()
            .next())
    }

    async fn save_charge_sets(&self, sets: &[ChargeSet]) -> Result<(), RepoError> {
        if sets.is_empty() {
            return Ok(());
        }
        let fail = |e| repo("save charge sets", e);
        let tx = self.begin_write().await.map_err(fail)?;
        // On error the transaction is dropped, which rolls it back.
        self.write_charge_sets(&tx, sets).await?;
        tx.commit().await.map_err(fail)
    }

    async fn count_unbilled(&self, supplier: SupplierId, period: Period) -> Result<u64, RepoError> {
        let row = self
            .db()
            .query_one_raw(self.statement(
                "SELECT COUNT(*) AS n FROM accounts a WHERE a.supplier_id = $1 AND NOT EXISTS \
                 (SELECT 1 FROM charge_sets c WHERE c.account_id = a.id AND c.period = $2)",
                [to_db_id(supplier.get())?.into(), period_code(period).into()],
            ))
            .await
            .map_err(|e| repo("count unbilled accounts", e))?;
        let n: i64 = row
            .map(|r| r.try_get("", "n"))
            .transpose()
            .map_err(|e| repo("count unbilled accounts", e))?
            .unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
