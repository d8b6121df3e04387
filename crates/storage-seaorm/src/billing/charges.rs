//! [`ChargeRepository`] on `charge_sets` (lines included), plus the one writer of charge sets
//! that the port and the supplier-wide billing run ([`crate::billing::run`]) share.
//!
//! How its MUSTs are kept, on both backends:
//!
//! - **One set per (account, period)** — the PRIMARY KEY of `charge_sets`; a second set,
//!   concurrent or not, fails the insert and the whole transaction is rolled back
//!   (`RepoError::Duplicate`).
//! - **All or nothing** — sets with their lines, volumes (`volume_history`, origin `billed`), ledger
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
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IdenStatic,
    Iterable, PaginatorTrait, QueryFilter, QueryOrder, Value,
};

use crate::convert::billing::{
    period_code, service_tag, to_db_id, volume_kind_tag, zone_values_text,
};
use crate::convert::{charge, ledger};
use crate::entity::{charge_set, ledger_record};
use crate::error::repo;
use crate::storage::Storage;

use super::shapes::{batches, one_of};

/// Bound parameters per statement: below SQLite's 32 766 and PostgreSQL's 65 535.
const MAX_PARAMS: usize = 30_000;

/// Rows per PostgreSQL `UNNEST` insert: keeps a statement's arrays far below the protocol's
/// 1 GiB message limit even for sets with long penalty histories.
const UNNEST_ROWS: usize = 10_000;

/// Inserts `rows` (each with `columns.len()` values) into `table`, in the order given; `suffix`
/// follows each statement (an `ON CONFLICT …`). On PostgreSQL one [`unnest_statement`] per
/// [`UNNEST_ROWS`] rows; on SQLite — and for a chunk PostgreSQL's arrays cannot carry —
/// multi-row INSERTs cut below the parameter limit into the few sizes of [`batches`].
pub(crate) async fn insert_values(
    storage: &Storage,
    tx: &DatabaseTransaction,
    table: &str,
    columns: &[&str],
    mut rows: Vec<Vec<Value>>,
    suffix: &str,
) -> Result<(), RepoError> {
    let execute = |sql: String, values: Vec<Value>| async move {
        tx.execute_raw(storage.statement(&sql, values))
            .await
            .map(|_| ())
            .map_err(|e| repo(&format!("insert into {table}"), e))
    };
    if storage.backend() == crate::storage::Backend::Sqlite {
        return insert_multi_row(table, columns, rows, suffix, true, execute).await;
    }
    while !rows.is_empty() {
        let rest = rows.split_off(rows.len().min(UNNEST_ROWS));
        match unnest_statement(table, columns, rows, suffix) {
            Ok((sql, values)) => execute(sql, values).await?,
            Err(chunk) => insert_multi_row(table, columns, chunk, suffix, false, execute).await?,
        }
        rows = rest;
    }
    Ok(())
}

/// Multi-row `INSERT … VALUES (…), (…)` of `rows`, cut below the parameter limit into the few
/// sizes of [`batches`], each statement run by `execute`.
async fn insert_multi_row<F, Fut>(
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Value>>,
    suffix: &str,
    sqlite: bool,
    execute: F,
) -> Result<(), RepoError>
where
    F: Fn(String, Vec<Value>) -> Fut,
    Fut: std::future::Future<Output = Result<(), RepoError>>,
{
    let per = (MAX_PARAMS / columns.len()).max(1);
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
        execute(sql, values).await?;
    }
    Ok(())
}

/// The element type of one column of a PostgreSQL `UNNEST` insert.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ArrayKind {
    BigInt,
    Int,
    Text,
    Numeric,
}

impl ArrayKind {
    /// The kind of `v` (NULL or not), if it is one [`unnest_statement`] binds as an array.
    fn of(v: &Value) -> Option<Self> {
        match v {
            Value::BigInt(_) => Some(Self::BigInt),
            Value::Int(_) => Some(Self::Int),
            Value::String(_) => Some(Self::Text),
            Value::Decimal(_) => Some(Self::Numeric),
            _ => None,
        }
    }

    fn sql_type(self) -> &'static str {
        match self {
            Self::BigInt => "int8",
            Self::Int => "int4",
            Self::Text => "text",
            Self::Numeric => "numeric",
        }
    }

    /// `values` (all of this kind) as one array — NULLs as the type's default — and, when some
    /// are NULL, the null mask (sea-query's arrays cannot hold NULL elements).
    fn gather(self, values: Vec<Value>) -> (Value, Option<Value>) {
        fn typed<T: Default>(
            values: Vec<Value>,
            take: impl Fn(Value) -> Option<T>,
        ) -> (Vec<T>, Vec<bool>) {
            let mut nulls = Vec::with_capacity(values.len());
            let out = values
                .into_iter()
                .map(|v| {
                    let v = take(v);
                    nulls.push(v.is_none());
                    v.unwrap_or_default()
                })
                .collect();
            (out, nulls)
        }
        macro_rules! typed_array {
            ($variant:ident) => {{
                let (v, n) = typed(values, |v| match v {
                    Value::$variant(x) => x,
                    _ => None,
                });
                (Value::from(v), n)
            }};
        }
        let (array, nulls) = match self {
            Self::BigInt => typed_array!(BigInt),
            Self::Int => typed_array!(Int),
            Self::Text => typed_array!(String),
            Self::Numeric => typed_array!(Decimal),
        };
        let mask = nulls.iter().any(|n| *n).then(|| Value::from(nulls));
        (array, mask)
    }
}

/// PostgreSQL: one `INSERT … SELECT … FROM UNNEST($1::int8[], …)` for all of `rows` — one
/// array parameter per column (and a null mask per column that holds NULLs) — so the statement
/// has one shape whatever the number of rows, is planned in constant time and its values
/// travel in the binary array format. Rows are inserted in the order given (a `seq` default is
/// drawn in that order): numbered `WITH ORDINALITY` and inserted `ORDER BY` that number, which
/// costs no sort — the planner knows a function scan's ordinality is in order (no `Sort` node
/// in `EXPLAIN ANALYZE` on PostgreSQL 15). `Err(rows)`, untouched, when a column mixes value
/// types or holds one this does not bind.
fn unnest_statement(
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Value>>,
    suffix: &str,
) -> Result<(String, Vec<Value>), Vec<Vec<Value>>> {
    let width = columns.len();
    let kinds: Option<Vec<ArrayKind>> = (0..width)
        .map(|j| {
            let kind = ArrayKind::of(rows.first()?.get(j)?)?;
            rows.iter()
                .all(|r| r.len() == width && ArrayKind::of(&r[j]) == Some(kind))
                .then_some(kind)
        })
        .collect();
    let Some(kinds) = kinds else {
        return Err(rows);
    };
    let mut by_column: Vec<Vec<Value>> =
        (0..width).map(|_| Vec::with_capacity(rows.len())).collect();
    for row in rows {
        for (j, v) in row.into_iter().enumerate() {
            by_column[j].push(v);
        }
    }
    let (mut values, mut params, mut names, mut select) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (j, (kind, column)) in kinds.into_iter().zip(by_column).enumerate() {
        let (array, mask) = kind.gather(column);
        values.push(array);
        params.push(format!("${}::{}[]", values.len(), kind.sql_type()));
        names.push(format!("c{j}"));
        match mask {
            Some(mask) => {
                values.push(mask);
                params.push(format!("${}::bool[]", values.len()));
                names.push(format!("n{j}"));
                select.push(format!("CASE WHEN n{j} THEN NULL ELSE c{j} END"));
            }
            None => select.push(format!("c{j}")),
        }
    }
    let sql = format!(
        "INSERT INTO {table} ({}) SELECT {} FROM UNNEST({}) WITH ORDINALITY AS u({}, ord) \
         ORDER BY ord{suffix}",
        columns.join(", "),
        select.join(", "),
        params.join(", "),
        names.join(", "),
    );
    Ok((sql, values))
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
                h.lines.into(),
            ]);
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
                "lines",
            ],
            heads,
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
        // In journal order: `seq` is drawn in the order the rows are inserted.
        let journal: Vec<ledger_record::Column> = ledger_record::Column::iter()
            .filter(|c| !matches!(c, ledger_record::Column::Seq))
            .collect();
        let names: Vec<&str> = journal.iter().map(|c| c.as_str()).collect();
        // `ledger::to_row` sets every column but `seq`; one it left unset is a bug, not a NULL.
        let postings = postings
            .into_iter()
            .map(|row| {
                journal
                    .iter()
                    .map(|c| {
                        row.get(*c).into_value().ok_or_else(|| {
                            RepoError::Unavailable(format!(
                                "journal posting without its {} column",
                                c.as_str()
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        insert_values(self, tx, "ledger_journal", &names, postings, "").await?;
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
            for head in heads {
                out.push(charge::to_set(head)?);
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

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;

    #[test]
    fn unnest_binds_one_array_per_column_and_masks_nulls() {
        let rows = vec![
            vec![
                Value::BigInt(Some(1)),
                Value::String(Some("a".into())),
                Value::Decimal(Some(Decimal::new(150, 2))),
                Value::Int(Some(7)),
            ],
            vec![
                Value::BigInt(Some(2)),
                Value::String(None),
                Value::Decimal(Some(Decimal::new(-5, 0))),
                Value::Int(Some(8)),
            ],
        ];
        let (sql, values) =
            unnest_statement("t", &["a", "b", "c", "d"], rows, " ON CONFLICT DO NOTHING")
                .expect("one type per column");
        assert_eq!(
            sql,
            "INSERT INTO t (a, b, c, d) SELECT c0, CASE WHEN n1 THEN NULL ELSE c1 END, c2, c3 \
             FROM UNNEST($1::int8[], $2::text[], $3::bool[], $4::numeric[], $5::int4[]) \
             WITH ORDINALITY AS u(c0, c1, n1, c2, c3, ord) ORDER BY ord ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            values,
            vec![
                Value::from(vec![1_i64, 2]),
                Value::from(vec!["a".to_owned(), String::new()]),
                Value::from(vec![false, true]),
                Value::from(vec![Decimal::new(150, 2), Decimal::new(-5, 0)]),
                Value::from(vec![7_i32, 8]),
            ]
        );
    }

    #[test]
    fn unnest_gives_back_rows_it_cannot_bind() {
        // A column mixing types (a damaged amount written back as text), a type without an
        // array binding here, rows of different widths: the rows come back untouched.
        for rows in [
            vec![
                vec![Value::Decimal(Some(Decimal::ONE))],
                vec![Value::String(Some("1,0".into()))],
            ],
            vec![vec![Value::Bool(Some(true))]],
            vec![vec![Value::Int(Some(1))], vec![]],
        ] {
            assert_eq!(unnest_statement("t", &["a"], rows.clone(), ""), Err(rows));
        }
    }
}
