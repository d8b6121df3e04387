//! [`ReadingContextRepository`]: a meter (or a reading and its meter) with the account, the
//! supplier and the supplier's last closed period, in **one** `SELECT` — `meters` LEFT JOIN
//! `accounts` (only the account asked about) LEFT JOIN `suppliers`, and the last closed period
//! as a scalar subquery. A reading submission asks this on every request; it replaces four
//! single-row reads (meter, account, supplier, closed periods) — five for a correction or a
//! cancellation, which read the reading too.
//!
//! The same `SELECT` brings what a reading is checked against ([`CheckBasis`]), so a
//! submission or a correction reads once before it writes: per period asked about, the
//! previous accepted reading — `LEFT JOIN readings p<i> ON p<i>.id = (SELECT id … ORDER BY
//! period DESC, taken_on DESC, id DESC LIMIT 1)`, the order of
//! [`ReadingRepository::last_accepted_before`](billing_core::ports::ReadingRepository::last_accepted_before)
//! — and, once, the account's volume history of the meter's service before the latest of the
//! periods as one JSON array (`json_agg` on PostgreSQL, `json_group_array` on SQLite), which
//! each basis takes the part of before its own period. For a reading's context the period is
//! the reading's own (a subquery of the reading by its id; see [`Bases`]).
//!
//! On PostgreSQL the reading contexts asked for together (concurrent corrections) are read by
//! one query ([`crate::coalesce`]): the same query `LEFT JOIN LATERAL` to `UNNEST` of the
//! readings and accounts asked about, the reading asked about a column of the input row
//! instead of a value — one row per pair, in order, all NULL for a reading that does not
//! exist.
//!
//! Each entity's columns are selected under a prefix (`m_`, `a_`, `s_`, `r_`, `p0_`, …) with
//! the same casts the entities read them with (`select_as`), and decoded by the entities' own
//! `FromQueryResult`; a joined side that is absent is all NULL and decodes as `None`, while a
//! present row that does not decode is an error, not a silent `None`.

use billing_core::ids::{AccountId, MeterId, ReadingId};
use billing_core::period::Period;
use billing_core::ports::{CheckBasis, MeterContext, ReadingContextRepository, RepoError};
use billing_core::reading::Reading;
use billing_core::volume::PastVolume;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType, Order, Query, SelectStatement};
use sea_orm::{ConnectionTrait, FromQueryResult, QueryResult};

use std::sync::Arc;

use crate::coalesce::{
    BatchFailed, Coalescer, Limits, Queue, for_each_input_row, together_or_alone,
};
use crate::convert::Row;
use crate::convert::billing::{period_code, to_db_id};
use crate::convert::reading::accepted_literal;
use crate::entity::{account, closed_period, meter, reading, supplier, volume};
use crate::error::repo;
use crate::joined::columns;
use crate::storage::{Backend, Storage};

const METER: &str = "m";
const ACCOUNT: &str = "a";
const SUPPLIER: &str = "s";
const READING: &str = "r";
const LAST_CLOSED: &str = "last_closed";
const VOLUMES: &str = "volumes";

/// Whose bases a query selects: the meter asked about, for the periods given (a submission);
/// or the meter of the reading asked about, for the reading's own period (a correction). The
/// meter and the periods are values or **uncorrelated** subqueries of the reading asked about,
/// so that PostgreSQL evaluates each once (an InitPlan) and finds the previous reading by its
/// primary key; a subquery naming the outer query's `m.id` in a join's `ON` would be evaluated
/// for every row of `readings` (measured: ~5 000 rows scanned per submission).
///
/// The reading asked about is an expression: a value, or in a batch ([`reading_contexts`])
/// the column of the batch's input row that the query is `LATERAL` to — one row, so the
/// subqueries are still evaluated once per reading asked about.
#[derive(Clone)]
enum Bases<'a> {
    Periods { meter: i64, periods: &'a [Period] },
    ReadingsOwn { reading: Expr },
}

impl Bases<'_> {
    /// A column of the reading asked about, as a subquery.
    fn of_reading(reading: &Expr, column: reading::Column) -> Expr {
        let q = Query::select()
            .column(column)
            .from(reading::Entity)
            .and_where(Expr::col(reading::Column::Id).eq(reading.clone()))
            .to_owned();
        Expr::SubQuery(None, Box::new(q.into()))
    }

    /// The meter's id.
    fn meter(&self) -> Expr {
        match self {
            Bases::Periods { meter, .. } => Expr::val(*meter),
            Bases::ReadingsOwn { reading } => Self::of_reading(reading, reading::Column::MeterId),
        }
    }

    /// The periods, as `period` codes.
    fn bounds(&self) -> Vec<Expr> {
        match self {
            Bases::Periods { periods, .. } => {
                periods.iter().map(|&p| Expr::val(period_code(p))).collect()
            }
            Bases::ReadingsOwn { reading } => {
                vec![Self::of_reading(reading, reading::Column::Period)]
            }
        }
    }

    /// The latest of the periods; `None` when there are none.
    fn latest(&self) -> Option<Expr> {
        match self {
            Bases::Periods { periods, .. } => {
                periods.iter().max().map(|&p| Expr::val(period_code(p)))
            }
            Bases::ReadingsOwn { reading } => {
                Some(Self::of_reading(reading, reading::Column::Period))
            }
        }
    }
}

const READ: &str = "read a reading's context";

/// The model selected under `alias`, `None` when the joined side is absent (all NULL).
fn optional<M: FromQueryResult>(row: &QueryResult, alias: &str) -> Result<Option<M>, RepoError> {
    crate::joined::optional(row, alias).map_err(|e| repo(READ, e))
}

/// Adds the meter's, account's and supplier's columns and the last closed period to `q`, and
/// the joins of `accounts` (only `owner`) and `suppliers`; `q` already has the meter as `m`.
fn select_context(q: &mut SelectStatement, owner: Expr) {
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

/// The alias of the previous reading for the `i`-th period.
fn previous_alias(i: usize) -> String {
    format!("p{i}")
}

/// Adds, for each period of `bases`, the previous accepted reading of the meter under
/// `p<i>_`, and the account's (`a`) volume history of the meter's (`m`) service before the
/// latest period as the JSON array [`VOLUMES`] (`[[period, kind, register_values, origin],
/// …]`).
fn select_bases(q: &mut SelectStatement, backend: Backend, bases: &Bases<'_>) {
    let (m, a) = (Alias::new(METER), Alias::new(ACCOUNT));
    for (i, bound) in bases.bounds().into_iter().enumerate() {
        let alias = previous_alias(i);
        let p = Alias::new(&alias);
        let last = Query::select()
            .column(reading::Column::Id)
            .from(reading::Entity)
            .and_where(Expr::col(reading::Column::MeterId).eq(bases.meter()))
            .and_where(Expr::col(reading::Column::Status).eq(accepted_literal()))
            .and_where(Expr::col(reading::Column::Period).lt(bound))
            .order_by(reading::Column::Period, Order::Desc)
            .order_by(reading::Column::TakenOn, Order::Desc)
            .order_by(reading::Column::Id, Order::Desc)
            .limit(1)
            .to_owned();
        columns::<reading::Entity>(q, &alias);
        q.join_as(
            JoinType::LeftJoin,
            reading::Entity,
            p.clone(),
            Expr::col((p, reading::Column::Id)).eq(Expr::SubQuery(None, Box::new(last.into()))),
        );
    }
    let Some(latest) = bases.latest() else {
        return;
    };
    let v = Alias::new("v");
    // The columns in the order `bases_of` decodes them, written out: a custom expression's
    // placeholders are `$N` for sea-query's PostgreSQL builder but `?` for its SQLite one
    // (which would pass a `$1` through, as the statement's first bound value).
    let entry = r#""v"."period", "v"."kind", "v"."register_values", "v"."origin""#;
    let aggregated = match backend {
        Backend::Postgres => Expr::cust(format!("json_agg(json_build_array({entry}))::text")),
        Backend::Sqlite => Expr::cust(format!("json_group_array(json_array({entry}))")),
    };
    let history = Query::select()
        .expr(aggregated)
        .from_as(volume::Entity, v.clone())
        .and_where(
            Expr::col((v.clone(), volume::Column::AccountId)).equals((a, account::Column::Id)),
        )
        .and_where(
            Expr::col((v.clone(), volume::Column::Service)).equals((m, meter::Column::Service)),
        )
        .and_where(Expr::col((v, volume::Column::Period)).lt(latest))
        .to_owned();
    q.expr_as(
        Expr::SubQuery(None, Box::new(history.into())),
        Alias::new(VOLUMES),
    );
}

/// The bases of `periods` in `row` (selected by [`select_bases`] with as many bounds), for an
/// account's meter; empty without an account.
fn bases_of(
    row: &QueryResult,
    context: &MeterContext,
    periods: &[Period],
) -> Result<Vec<CheckBasis>, RepoError> {
    let Some(account) = &context.account else {
        return Ok(Vec::new());
    };
    if periods.is_empty() {
        // `select_bases` selected no history column for no periods.
        return Ok(Vec::new());
    }
    let text: Option<String> = row.try_get("", VOLUMES).map_err(|e| repo(READ, e))?;
    let at = Row::new("volume_history", format!("account {}", account.id));
    let entries: Vec<(i32, String, String, String)> = match text {
        Some(text) => serde_json::from_str(&text).map_err(|e| {
            RepoError::from(at.bad("volumes", format!("not the JSON selected: {e}")))
        })?,
        None => Vec::new(),
    };
    let service = crate::convert::billing::service_tag(context.meter.service);
    let mut history = entries
        .into_iter()
        .map(|(period, kind, register_values, origin)| {
            crate::convert::volume::from_row(volume::Model {
                account_id: to_db_id(account.id.get())?,
                service: service.to_owned(),
                period,
                kind,
                register_values,
                origin,
            })
            .map_err(RepoError::from)
        })
        .collect::<Result<Vec<PastVolume>, RepoError>>()?;
    history.sort_by_key(|v| v.period);
    periods
        .iter()
        .enumerate()
        .map(|(i, &period)| {
            let previous = optional::<reading::Model>(row, &previous_alias(i))?
                .map(crate::convert::reading::from_row)
                .transpose()?;
            let volumes = history
                .iter()
                .filter(|v| v.period < period)
                .copied()
                .collect();
            Ok(CheckBasis {
                period,
                previous,
                volumes,
            })
        })
        .collect()
}

/// The context in `row`; `None` when the meter side is absent. Its `checks` are empty (the
/// caller adds them with [`bases_of`]).
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
        checks: Vec::new(),
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
        periods: &[Period],
    ) -> Result<Option<MeterContext>, RepoError> {
        let m = Alias::new(METER);
        let mut q = Query::select();
        q.from_as(meter::Entity, m.clone());
        select_context(&mut q, Expr::val(to_db_id(account.get())?));
        let meter = to_db_id(meter.get())?;
        select_bases(&mut q, self.backend(), &Bases::Periods { meter, periods });
        q.and_where(Expr::col((m, meter::Column::Id)).eq(meter));
        let Some(row) = self.one_row(&q).await? else {
            return Ok(None);
        };
        let Some(mut context) = context_of(&row)? else {
            return Ok(None);
        };
        context.checks = bases_of(&row, &context, periods)?;
        Ok(Some(context))
    }

    async fn reading_context(
        &self,
        id: ReadingId,
        account: AccountId,
    ) -> Result<Option<(Reading, MeterContext)>, RepoError> {
        if self.backend() == Backend::Postgres {
            return self
                .reading_contexts()
                .call((id, account))
                .await
                .unwrap_or_else(|| {
                    Err(RepoError::Unavailable(
                        "the batch of reading contexts was lost".to_owned(),
                    ))
                });
        }
        reading_context_alone(self, id, account).await
    }
}

/// The query of a reading's context: the reading `reading` (with its meter `m`) as `r`, the
/// context of [`select_context`] for `owner`, and the bases of the reading's own period.
fn reading_context_query(backend: Backend, reading: Expr, owner: Expr) -> SelectStatement {
    let (r, m) = (Alias::new(READING), Alias::new(METER));
    let mut q = Query::select();
    q.from_as(reading::Entity, r.clone()).join_as(
        JoinType::LeftJoin,
        meter::Entity,
        m.clone(),
        Expr::col((m, meter::Column::Id)).equals((r.clone(), reading::Column::MeterId)),
    );
    columns::<reading::Entity>(&mut q, READING);
    select_context(&mut q, owner);
    select_bases(
        &mut q,
        backend,
        &Bases::ReadingsOwn {
            reading: reading.clone(),
        },
    );
    q.and_where(Expr::col((r, reading::Column::Id)).eq(reading));
    q
}

/// The reading and its context in `row` (selected by [`reading_context_query`]); `None` when
/// there is no such reading.
fn reading_context_of(row: &QueryResult) -> Result<Option<(Reading, MeterContext)>, RepoError> {
    let Some(stored) = optional::<reading::Model>(row, READING)? else {
        return Ok(None);
    };
    let reading = crate::convert::reading::from_row(stored)?;
    let mut context = context_of(row)?.ok_or(RepoError::NotFound)?;
    context.checks = bases_of(row, &context, &[reading.period])?;
    Ok(Some((reading, context)))
}

/// [`ReadingContextRepository::reading_context`] as one query of its own.
async fn reading_context_alone(
    storage: &Storage,
    id: ReadingId,
    account: AccountId,
) -> Result<Option<(Reading, MeterContext)>, RepoError> {
    let q = reading_context_query(
        storage.backend(),
        Expr::val(to_db_id(id.get())?),
        Expr::val(to_db_id(account.get())?),
    );
    match storage.one_row(&q).await? {
        Some(row) => reading_context_of(&row),
        None => Ok(None),
    }
}

/// PostgreSQL: what one [`ReadingContextRepository::reading_context`] answers, for each of
/// `asked`.
type ContextAnswer = Result<Option<(Reading, MeterContext)>, RepoError>;

/// PostgreSQL: the queue of reading-context reads served in batches ([`crate::coalesce`]): a
/// lone read is [`reading_context_alone`]; reads that queue while others are in flight are
/// [`reading_contexts`] — one query for all of them.
pub(crate) type ReadingContexts = Queue<(ReadingId, AccountId), ContextAnswer>;

/// Reads per batch at most, and batches in flight at most (each holds one pooled connection
/// for one query).
const CONTEXT_LIMITS: Limits = Limits {
    batch: 32,
    in_flight: 3,
};

impl Storage {
    /// The reading contexts' queue, started on first use (see `Storage::corrections`).
    fn reading_contexts(&self) -> Arc<Coalescer<(ReadingId, AccountId), ContextAnswer>> {
        self.reading_contexts.get(CONTEXT_LIMITS, || {
            let storage = Storage::over(self.db().clone(), self.backend());
            move |batch| {
                let storage = storage.clone();
                async move { read_all(&storage, batch).await }
            }
        })
    }
}

/// Serves one batch of reading-context reads: alone as [`reading_context_alone`]; together
/// as [`reading_contexts`]; each again alone when that query fails as a whole.
async fn read_all(
    storage: &Storage,
    batch: Vec<(ReadingId, AccountId)>,
) -> (Vec<ContextAnswer>, bool) {
    // A read changes nothing: whatever failed, each is read again alone.
    let together = async {
        reading_contexts(storage, &batch)
            .await
            .map_err(|_| BatchFailed::Refused)
    };
    together_or_alone(
        &batch,
        together,
        |e| Err(RepoError::Unavailable(format!("{READ}: {e}"))),
        |(id, account)| reading_context_alone(storage, *id, *account),
    )
    .await
}

/// PostgreSQL: the contexts of every reading of `asked` in **one** query — the query of
/// [`reading_context_query`] `LEFT JOIN LATERAL` to `UNNEST` of the readings and accounts
/// asked about, one row per pair in their order (all NULL for a reading that does not exist).
/// `Err` when the query failed as a whole; a row that does not decode is its pair's error.
async fn reading_contexts(
    storage: &Storage,
    asked: &[(ReadingId, AccountId)],
) -> Result<Vec<ContextAnswer>, RepoError> {
    let g = Alias::new("g");
    let q = reading_context_query(
        Backend::Postgres,
        Expr::col((g.clone(), Alias::new("reading"))),
        Expr::col((g, Alias::new("owner"))),
    );
    let (mut readings, mut owners) = (
        Vec::with_capacity(asked.len()),
        Vec::with_capacity(asked.len()),
    );
    for (id, account) in asked {
        readings.push(to_db_id(id.get())?);
        owners.push(to_db_id(account.get())?);
    }
    let input = [
        ("reading", "int8", readings.into()),
        ("owner", "int8", owners.into()),
    ];
    let rows = for_each_input_row(storage, &q, input, asked.len())
        .await
        .map_err(|e| RepoError::Unavailable(format!("{READ}: {e}")))?;
    Ok(rows.iter().map(reading_context_of).collect())
}
