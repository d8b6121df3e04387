//! [`ReadingRepository`] on `readings`. How each MUST is kept, on both backends:
//!
//! - **One accepted reading per (meter, period)** — the partial unique index
//!   `readings_one_accepted` on (`meter_id`, `period`, `slot`) `WHERE status = 'accepted'`,
//!   where the slot separates the final and initial readings of a replacement from the
//!   ordinary one. The check and the write are one INSERT, so a concurrent second reading is
//!   refused by the database (PostgreSQL makes the loser wait for the winner's commit) and comes
//!   back as `Duplicate` with nothing stored.
//! - **A correction is a compare-and-set** — `UPDATE readings SET status = 'superseded' WHERE
//!   id = $old AND status = 'accepted'` and the INSERT of the correction, atomically: on
//!   PostgreSQL as one statement (the INSERT takes its one row from the UPDATE's in a `WITH`,
//!   [`correct_in_one_statement`]), on SQLite in one write transaction
//!   ([`Storage::begin_write`]); zero rows updated is `Conflict` (`NotFound` when there is no
//!   such reading). On PostgreSQL a racing UPDATE waits for the winner's row lock, re-checks
//!   `status` and matches nothing; on SQLite `BEGIN IMMEDIATE` makes them take turns.
//! - **Concurrent corrections share a statement** (PostgreSQL) — corrections that arrive while
//!   others are being written queue ([`crate::coalesce`]) and the next free slot writes them
//!   all as one statement, the same compare-and-set for each ([`correct_in_a_batch`]); one
//!   commit and one round trip for the lot. A batch the database refuses as a whole (or that
//!   corrects one reading twice) is served again one correction at a time, so each gets the
//!   answer it would have had alone; one whose outcome is unknown (a broken connection)
//!   answers every caller "unavailable" and is never written twice.
//! - **Cancellation is a compare-and-set** — one conditional UPDATE to `cancelled`.
//!
//! [`RecalculationRepository::record`](billing_core::ports::RecalculationRepository::record)
//! stores its reading through [`save_in`] inside its own transaction.

use billing_core::ids::{MeterId, ReadingId};
use billing_core::period::Period;
use billing_core::ports::{NewReading, ReadingRepository, RepoError};
use billing_core::reading::Reading;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
};

use std::sync::Arc;

use crate::coalesce::{
    BatchFailed, Coalescer, Limits, Queue, fetch_planned_each_time, together_or_alone,
};
use crate::convert::billing::{period_code, to_db_id};
use crate::convert::reading::{self as convert, ACCEPTED, CANCELLED, SUPERSEDED};
use crate::entity::reading;
use crate::error::{repo, repo_write};
use crate::storage::{Backend, Storage};

/// Inserts `new` as an accepted reading and returns it with its id.
async fn insert(db: &impl ConnectionTrait, new: &NewReading) -> Result<Reading, RepoError> {
    let id = reading::Entity::insert(convert::to_row(new)?)
        .exec(db)
        .await
        .map_err(|e| repo_write("store reading", e))?
        .last_insert_id;
    let id = u64::try_from(id).map_err(|_| RepoError::Unavailable(format!("reading id {id}")))?;
    Ok(convert::stored(ReadingId::new(id), new))
}

/// Whether reading `id` exists (to tell `NotFound` from `Conflict` after a lost
/// compare-and-set; readings are never deleted).
async fn exists(db: &impl ConnectionTrait, id: i64) -> Result<bool, RepoError> {
    Ok(reading::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(|e| repo("find reading", e))?
        .is_some())
}

/// Moves reading `id` from `accepted` to `to`: `Conflict` if it is no longer accepted,
/// `NotFound` if it does not exist.
async fn leave_accepted(
    storage: &Storage,
    db: &impl ConnectionTrait,
    id: ReadingId,
    to: &str,
) -> Result<(), RepoError> {
    let id = to_db_id(id.get())?;
    let moved = db
        .execute_raw(storage.statement(
            "UPDATE readings SET status = $1 WHERE id = $2 AND status = $3",
            [to.into(), id.into(), ACCEPTED.into()],
        ))
        .await
        .map_err(|e| repo("change reading status", e))?;
    if moved.rows_affected() == 1 {
        Ok(())
    } else if exists(db, id).await? {
        Err(RepoError::Conflict)
    } else {
        Err(RepoError::NotFound)
    }
}

/// [`ReadingRepository::save`] inside the caller's write transaction: supersedes
/// `new.supersedes` (compare-and-set) if it names a reading, then stores `new` as accepted.
pub(crate) async fn save_in(
    storage: &Storage,
    tx: &DatabaseTransaction,
    new: &NewReading,
) -> Result<Reading, RepoError> {
    if let Some(old) = new.supersedes {
        leave_accepted(storage, tx, old, SUPERSEDED).await?;
    }
    insert(tx, new).await
}

/// PostgreSQL: a correction as **one** statement — the compare-and-set of `old` and the
/// INSERT of `new` in a data-modifying `WITH`, the INSERT taking its one row from the UPDATE's
/// (so nothing is inserted when `old` is no longer accepted). One round trip and one commit
/// instead of four round trips (`BEGIN`, `UPDATE`, `INSERT`, `COMMIT`): a correction is what
/// a subscriber's cabinet sends most. Atomic as one statement; a racing correction's UPDATE
/// waits for this one's row lock, re-checks `status` and matches nothing, as in
/// [`save_in`]. The new accepted row does not collide with `old` in the partial unique index:
/// `old`'s version there is the one this statement updated.
async fn correct_in_one_statement(
    storage: &Storage,
    old: ReadingId,
    new: &NewReading,
) -> Result<Reading, RepoError> {
    const SQL: &str = "WITH old AS (\
        UPDATE readings SET status = $1 WHERE id = $2 AND status = $3 RETURNING id) \
        INSERT INTO readings (meter_id, period, register_values, taken_on, submitted_at, \
        source, status, slot, supersedes) \
        SELECT $4::bigint, $5::integer, $6::text, $7::text, $8::bigint, $9::text, $3::text, \
        $10::text, old.id FROM old RETURNING id";
    let row = convert::to_row(new)?;
    let old_id = to_db_id(old.get())?;
    let values = [
        Some(SUPERSEDED.into()),
        Some(old_id.into()),
        Some(ACCEPTED.into()),
        row.meter_id.into_value(),
        row.period.into_value(),
        row.register_values.into_value(),
        row.taken_on.into_value(),
        row.submitted_at.into_value(),
        row.source.into_value(),
        row.slot.into_value(),
    ];
    let Some(values) = values.into_iter().collect::<Option<Vec<_>>>() else {
        return Err(RepoError::Unavailable(
            "a correction's row lacks a column".to_owned(),
        ));
    };
    let fail = |e| repo_write("correct reading", e);
    let inserted = storage
        .db()
        .query_one_raw(storage.statement(SQL, values))
        .await
        .map_err(fail)?;
    let Some(inserted) = inserted else {
        return Err(if exists(storage.db(), old_id).await? {
            RepoError::Conflict
        } else {
            RepoError::NotFound
        });
    };
    let id: i64 = inserted.try_get("", "id").map_err(fail)?;
    let id = u64::try_from(id).map_err(|_| RepoError::Unavailable(format!("reading id {id}")))?;
    Ok(convert::stored(ReadingId::new(id), new))
}

/// PostgreSQL: the queue of corrections served in batches ([`crate::coalesce`]): a lone
/// correction is [`correct_in_one_statement`]; corrections that queue while others are in
/// flight are [`correct_in_a_batch`] — one statement and one commit for all of them.
pub(crate) type Corrections = Queue<(ReadingId, NewReading), Result<Reading, RepoError>>;

/// Corrections per batch at most, and batches in flight at most (each holds one pooled
/// connection for one statement).
const CORRECTION_LIMITS: Limits = Limits {
    batch: 32,
    in_flight: 3,
};

impl Storage {
    /// The corrections' queue, started on first use on the caller's runtime. Its batches run
    /// on a storage of their own over the same pool (which never starts a queue of its own),
    /// so the queue does not keep itself alive.
    fn corrections(&self) -> Arc<Coalescer<(ReadingId, NewReading), Result<Reading, RepoError>>> {
        self.corrections.get(CORRECTION_LIMITS, || {
            let storage = Storage::over(self.db().clone(), self.backend());
            move |batch| {
                let storage = storage.clone();
                async move { correct_all(&storage, batch).await }
            }
        })
    }
}

/// Serves one batch of corrections: alone as [`correct_in_one_statement`]; together as
/// [`correct_in_a_batch`]; each again alone when the database refuses that statement (two
/// corrections of one reading, a reading another statement just stored, a deadlock), so
/// every correction gets the answer it would have had by itself; all "unavailable" when the
/// statement's outcome is unknown (a broken connection), never written twice.
async fn correct_all(
    storage: &Storage,
    batch: Vec<(ReadingId, NewReading)>,
) -> (Vec<Result<Reading, RepoError>>, bool) {
    together_or_alone(
        &batch,
        correct_in_a_batch(storage, &batch),
        |e| Err(RepoError::Unavailable(format!("correct readings: {e}"))),
        |(old, new)| correct_in_one_statement(storage, *old, new),
    )
    .await
}

/// PostgreSQL: `batch` as **one** statement — [`correct_in_one_statement`] for many: the
/// compare-and-set of every old reading and the INSERT of every correction whose old reading
/// it moved, its rows from `UNNEST` of one array per column. The input is sorted by old id,
/// so the nested loop PostgreSQL plans for a batch locks old readings in id order and two
/// batches wait for each other; a deadlock it still detects is a refusal, and the batch is
/// served one correction at a time. Two corrections of one reading are refused before the
/// statement (alone, the second finds the first's work and gets `Conflict`). A correction
/// whose old reading was no longer accepted gets `Conflict` (`NotFound` when there is no such
/// reading); `Err` when the statement failed as a whole: refused, with nothing stored, or
/// with its outcome unknown. Planned for each batch ([`fetch_planned_each_time`]).
async fn correct_in_a_batch(
    storage: &Storage,
    batch: &[(ReadingId, NewReading)],
) -> Result<Vec<Result<Reading, RepoError>>, BatchFailed> {
    const SQL: &str = "WITH input AS (\
        SELECT * FROM UNNEST($3::int8[], $4::int8[], $5::int4[], $6::text[], $7::text[], \
        $8::int8[], $9::text[], $10::text[]) \
        AS u(old, meter_id, period, register_values, taken_on, submitted_at, source, slot) \
        ORDER BY old), \
        old AS (UPDATE readings r SET status = $1 FROM input \
        WHERE r.id = input.old AND r.status = $2 RETURNING r.id) \
        INSERT INTO readings (meter_id, period, register_values, taken_on, submitted_at, \
        source, status, slot, supersedes) \
        SELECT i.meter_id, i.period, i.register_values, i.taken_on, i.submitted_at, i.source, \
        $2::text, i.slot, old.id FROM input i JOIN old ON old.id = i.old \
        RETURNING id, supersedes";
    let n = batch.len();
    let mut distinct = std::collections::HashSet::with_capacity(n);
    if !batch.iter().all(|(old, _)| distinct.insert(*old)) {
        return Err(BatchFailed::Refused);
    }
    let (mut olds, mut meters, mut periods, mut values, mut days, mut at, mut sources, mut slots) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (old, new) in batch {
        // A value that cannot be stored fails its correction alone (served again by itself).
        let (Ok(old), Ok(meter), Ok(submitted)) = (
            to_db_id(old.get()),
            to_db_id(new.meter.get()),
            crate::convert::billing::to_db_nanos(new.submitted_at),
        ) else {
            return Err(BatchFailed::Refused);
        };
        olds.push(old);
        meters.push(meter);
        periods.push(period_code(new.period));
        values.push(crate::convert::billing::zone_values_text(&new.values));
        days.push(crate::convert::billing::day_text(new.taken_on));
        at.push(submitted);
        sources.push(convert::source_tag(new.source).to_owned());
        slots.push(convert::slot_tag(new.source).to_owned());
    }
    let rows = fetch_planned_each_time(
        storage.db(),
        sea_orm::sqlx::query(SQL)
            .bind(SUPERSEDED)
            .bind(ACCEPTED)
            .bind(olds.clone())
            .bind(meters)
            .bind(periods)
            .bind(values)
            .bind(days)
            .bind(at)
            .bind(sources)
            .bind(slots),
    )
    .await?;
    // Committed: from here on an error is one correction's answer, never the batch's (the
    // batch must not be run again).
    let mut stored: std::collections::HashMap<i64, i64> =
        std::collections::HashMap::with_capacity(rows.len());
    for row in rows {
        use sea_orm::sqlx::Row as _;
        let pair = row
            .try_get::<i64, _>("supersedes")
            .and_then(|old| Ok((old, row.try_get::<i64, _>("id")?)));
        match pair {
            Ok((old, id)) => stored.insert(old, id),
            Err(e) => {
                let e = RepoError::Unavailable(format!("correct readings: {e}"));
                return Ok(vec![Err(e); n]);
            }
        };
    }
    let mut done = Vec::with_capacity(n);
    for ((_, new), old) in batch.iter().zip(olds) {
        done.push(match stored.get(&old) {
            Some(id) => u64::try_from(*id)
                .map(|id| convert::stored(ReadingId::new(id), new))
                .map_err(|_| RepoError::Unavailable(format!("reading id {id}"))),
            None => match exists(storage.db(), old).await {
                Ok(true) => Err(RepoError::Conflict),
                Ok(false) => Err(RepoError::NotFound),
                Err(e) => Err(e),
            },
        });
    }
    Ok(done)
}

fn readings(rows: Vec<reading::Model>) -> Result<Vec<Reading>, RepoError> {
    Ok(rows
        .into_iter()
        .map(convert::from_row)
        .collect::<Result<_, _>>()?)
}

#[async_trait::async_trait]
impl ReadingRepository for Storage {
    async fn reading(&self, id: ReadingId) -> Result<Option<Reading>, RepoError> {
        let row = reading::Entity::find_by_id(to_db_id(id.get())?)
            .one(self.db())
            .await
            .map_err(|e| repo("find reading", e))?;
        Ok(row.map(convert::from_row).transpose()?)
    }

    async fn save(&self, new: &NewReading) -> Result<Reading, RepoError> {
        let Some(old) = new.supersedes else {
            // One statement: the partial unique index is the whole check.
            return insert(self.db(), new).await;
        };
        if self.backend() == Backend::Postgres {
            return self
                .corrections()
                .call((old, new.clone()))
                .await
                .unwrap_or_else(|| {
                    Err(RepoError::Unavailable(
                        "the batch of corrections was lost".to_owned(),
                    ))
                });
        }
        let fail = |e| repo("correct reading", e);
        let tx = self.begin_write().await.map_err(fail)?;
        let stored = save_in(self, &tx, new).await?;
        tx.commit().await.map_err(fail)?;
        Ok(stored)
    }

    async fn cancel(&self, id: ReadingId) -> Result<(), RepoError> {
        leave_accepted(self, self.db(), id, CANCELLED).await
    }

    async fn history(&self, meter: MeterId) -> Result<Vec<Reading>, RepoError> {
        let rows = reading::Entity::find()
            .filter(reading::Column::MeterId.eq(to_db_id(meter.get())?))
            .order_by_asc(reading::Column::TakenOn)
            .order_by_asc(reading::Column::Id)
            .all(self.db())
            .await
            .map_err(|e| repo("read reading history", e))?;
        readings(rows)
    }

    async fn last_accepted_before(
        &self,
        meter: MeterId,
        period: Period,
    ) -> Result<Option<Reading>, RepoError> {
        let row = reading::Entity::find()
            .filter(reading::Column::MeterId.eq(to_db_id(meter.get())?))
            .filter(Expr::col(reading::Column::Status).eq(convert::accepted_literal()))
            .filter(reading::Column::Period.lt(period_code(period)))
            .order_by_desc(reading::Column::Period)
            .order_by_desc(reading::Column::TakenOn)
            .order_by_desc(reading::Column::Id)
            .one(self.db())
            .await
            .map_err(|e| repo("find the last accepted reading", e))?;
        Ok(row.map(convert::from_row).transpose()?)
    }
}
