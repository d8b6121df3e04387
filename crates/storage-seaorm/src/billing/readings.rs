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
            return correct_in_one_statement(self, old, new).await;
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
