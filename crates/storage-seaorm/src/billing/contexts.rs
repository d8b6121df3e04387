//! [`ReadingContextRepository`]: a meter (or a reading and its meter) with the account, the
//! supplier and the supplier's last closed period, in **one** `SELECT` — `meters` LEFT JOIN
//! `accounts` (only the account asked about) LEFT JOIN `suppliers`, and the last closed period
//! as a scalar subquery. A reading submission asks this on every request; it replaces four
//! single-row reads (meter, account, supplier, closed periods) — five for a correction or a
//! cancellation, which read the reading too.
//!
//! Each entity's columns are selected under a prefix (`m_`, `a_`, `s_`, `r_`) with the same
//! casts the entities read them with (`select_as`), and decoded by the entities' own
//! `FromQueryResult`; a joined side that is absent is all NULL and decodes as `None`, while a
//! present row that does not decode is an error, not a silent `None`.

use billing_core::ids::{AccountId, MeterId, ReadingId};
use billing_core::ports::{MeterContext, ReadingContextRepository, RepoError};
use billing_core::reading::Reading;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType, Order, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, IdenStatic, Iterable, QueryResult,
    TryGetError,
};

use crate::convert::Row;
use crate::convert::billing::to_db_id;
use crate::entity::{account, closed_period, meter, reading, supplier};
use crate::error::repo;
use crate::storage::Storage;

const METER: &str = "m";
const ACCOUNT: &str = "a";
const SUPPLIER: &str = "s";
const READING: &str = "r";
const LAST_CLOSED: &str = "last_closed";

/// Selects every column of `E` from the table aliased `alias` as `<alias>_<column>`.
fn columns<E: EntityTrait>(q: &mut SelectStatement, alias: &str) {
    for c in E::Column::iter() {
        let expr = c.select_as(Expr::col((Alias::new(alias), c)));
        q.expr_as(expr, Alias::new(format!("{alias}_{}", c.as_str())));
    }
}

const READ: &str = "read a reading's context";

/// The model selected under `alias`, `None` when the joined side is absent (all NULL).
fn optional<M: FromQueryResult>(row: &QueryResult, alias: &str) -> Result<Option<M>, RepoError> {
    match M::from_query_result_nullable(row, &format!("{alias}_")) {
        Ok(m) => Ok(Some(m)),
        Err(TryGetError::Null(_)) => Ok(None),
        Err(TryGetError::DbErr(e)) => Err(repo(READ, e)),
    }
}

/// Adds the meter's, account's and supplier's columns and the last closed period to `q`, and
/// the joins of `accounts` (only `owner`) and `suppliers`; `q` already has the meter as `m`.
fn select_context(q: &mut SelectStatement, owner: i64) {
    let (m, a, s) = (Alias::new(METER), Alias::new(ACCOUNT), Alias::new(SUPPLIER));
    columns::<meter::Entity>(q, METER);
    columns::<account::Entity>(q, ACCOUNT);
    columns::<supplier::Entity>(q, SUPPLIER);
    let last_closed = Query::select()
        .column(closed_period::Column::Period)
        .from(closed_period::Entity)
        .and_where(
            Expr::col((closed_period::Entity, closed_period::Column::SupplierId))
                .equals((s.clone(), supplier::Column::Id)),
        )
        .order_by(closed_period::Column::Period, Order::Desc)
        .limit(1)
        .to_owned();
    q.expr_as(
        Expr::SubQuery(None, Box::new(last_closed.into())),
        Alias::new(LAST_CLOSED),
    );
    q.join_as(
        JoinType::LeftJoin,
        account::Entity,
        a.clone(),
        Expr::col((a.clone(), account::Column::Id))
            .equals((m, meter::Column::AccountId))
            .and(Expr::col((a.clone(), account::Column::Id)).eq(owner)),
    );
    q.join_as(
        JoinType::LeftJoin,
        supplier::Entity,
        s.clone(),
        Expr::col((s, supplier::Column::Id)).equals((a, account::Column::SupplierId)),
    );
}

/// The context in `row`; `None` when the meter side is absent.
fn context_of(row: &QueryResult) -> Result<Option<MeterContext>, RepoError> {
    let Some(m) = optional::<meter::Model>(row, METER)? else {
        return Ok(None);
    };
    let meter = crate::convert::meter::from_row(m)?;
    let account = optional::<account::Model>(row, ACCOUNT)?
        .map(crate::convert::account::from_row)
        .transpose()?;
    let supplier = optional::<supplier::Model>(row, SUPPLIER)?
        .map(crate::convert::supplier::from_row)
        .transpose()?;
    let last_closed = match &supplier {
        Some(s) => {
            let code: Option<i32> = row.try_get("", LAST_CLOSED).map_err(|e| repo(READ, e))?;
            code.map(|code| {
                Row::new("closed_periods", format!("supplier {}", s.id)).period("period", code)
            })
            .transpose()?
        }
        None => None,
    };
    Ok(Some(MeterContext {
        meter,
        account,
        supplier,
        last_closed,
    }))
}

impl Storage {
    /// The one row `q` selects, if any.
    async fn one_row(&self, q: &SelectStatement) -> Result<Option<QueryResult>, RepoError> {
        self.db().query_one(q).await.map_err(|e| repo(READ, e))
    }
}

#[async_trait::async_trait]
impl ReadingContextRepository for Storage {
    async fn meter_context(
        &self,
        meter: MeterId,
        account: AccountId,
    ) -> Result<Option<MeterContext>, RepoError> {
        let m = Alias::new(METER);
        let mut q = Query::select();
        q.from_as(meter::Entity, m.clone());
        select_context(&mut q, to_db_id(account.get())?);
        q.and_where(Expr::col((m, meter::Column::Id)).eq(to_db_id(meter.get())?));
        match self.one_row(&q).await? {
            Some(row) => context_of(&row),
            None => Ok(None),
        }
    }

    async fn reading_context(
        &self,
        id: ReadingId,
        account: AccountId,
    ) -> Result<Option<(Reading, MeterContext)>, RepoError> {
        let (r, m) = (Alias::new(READING), Alias::new(METER));
        let mut q = Query::select();
        q.from_as(reading::Entity, r.clone()).join_as(
            JoinType::LeftJoin,
            meter::Entity,
            m.clone(),
            Expr::col((m, meter::Column::Id)).equals((r.clone(), reading::Column::MeterId)),
        );
        columns::<reading::Entity>(&mut q, READING);
        select_context(&mut q, to_db_id(account.get())?);
        q.and_where(Expr::col((r, reading::Column::Id)).eq(to_db_id(id.get())?));
        let Some(row) = self.one_row(&q).await? else {
            return Ok(None);
        };
        let Some(stored) = optional::<reading::Model>(&row, READING)? else {
            return Ok(None);
        };
        let reading = crate::convert::reading::from_row(stored)?;
        let context = context_of(&row)?.ok_or(RepoError::NotFound)?;
        Ok(Some((reading, context)))
    }
}
