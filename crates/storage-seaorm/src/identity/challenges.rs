//! [`ChallengeRepository`] on `challenges`.

use identity_core::crypto::SecretDigest;
use identity_core::domain::ChallengeId;
use identity_core::model::{AttemptOutcome, Challenge};
use identity_core::ports::{ChallengeRepository, PortError};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};
use time::OffsetDateTime;

use crate::convert::challenge::{from_row, to_row};
use crate::convert::to_nanos;
use crate::entity::challenge::{ActiveModel, Column, Entity};
use crate::error::port;
use crate::storage::Storage;

/// The compare-and-set condition of `consume`: unused, same digest, not expired, under the
/// attempt limit.
fn consumable(id: ChallengeId, digest: &SecretDigest, at: i64, max_attempts: u32) -> Condition {
    Condition::all()
        .add(Column::Id.eq(id.to_string()))
        .add(Column::ConsumedAt.is_null())
        .add(Column::Digest.eq(digest.as_bytes().to_vec()))
        .add(Column::ExpiresAt.gt(at))
        .add(Column::FailedAttempts.lt(i64::from(max_attempts)))
}

#[async_trait::async_trait]
impl ChallengeRepository for Storage {
    async fn insert(&self, challenge: &Challenge) -> Result<(), PortError> {
        let row: ActiveModel = to_row(challenge)?.into();
        Entity::insert(row)
            .exec_without_returning(self.db())
            .await
            .map_err(|e| port("insert challenge", e))?;
        Ok(())
    }

    async fn get(&self, id: ChallengeId) -> Result<Option<Challenge>, PortError> {
        let row = Entity::find_by_id(id.to_string())
            .one(self.db())
            .await
            .map_err(|e| port("get challenge", e))?;
        Ok(row.map(from_row).transpose()?)
    }

    async fn find_by_digest(&self, digest: &SecretDigest) -> Result<Option<Challenge>, PortError> {
        let row = Entity::find()
            .filter(Column::Digest.eq(digest.as_bytes().to_vec()))
            .one(self.db())
            .await
            .map_err(|e| port("find challenge by digest", e))?;
        Ok(row.map(from_row).transpose()?)
    }

    async fn attempt(
        &self,
        id: ChallengeId,
        presented: &SecretDigest,
        at: OffsetDateTime,
        max_attempts: u32,
    ) -> Result<AttemptOutcome, PortError> {
        let now = to_nanos(at)?;
        let fail = |e| port("attempt a challenge", e);
        let tx = self.begin_write().await.map_err(fail)?;
        // The row lock (PostgreSQL) or the write lock (SQLite) makes the check, the
        // comparison and the count one step.
        let row = Entity::find_by_id(id.to_string())
            .lock_exclusive()
            .one(&tx)
            .await
            .map_err(fail)?;
        let Some(row) = row else {
            tx.rollback().await.map_err(fail)?;
            return Ok(AttemptOutcome::Missing);
        };
        let refused = if row.consumed_at.is_some() {
            Some(AttemptOutcome::Used)
        } else if now >= row.expires_at {
            Some(AttemptOutcome::Expired)
        } else if row.failed_attempts >= i64::from(max_attempts) {
            Some(AttemptOutcome::Exhausted)
        } else {
            None
        };
        if let Some(outcome) = refused {
            tx.rollback().await.map_err(fail)?;
            return Ok(outcome);
        }
        let challenge = from_row(row)?;
        if challenge.digest.ct_eq(presented) {
            tx.rollback().await.map_err(fail)?;
            return Ok(AttemptOutcome::Matched(Box::new(challenge)));
        }
        Entity::update_many()
            .col_expr(
                Column::FailedAttempts,
                Expr::col(Column::FailedAttempts).add(1),
            )
            .filter(Column::Id.eq(id.to_string()))
            .exec(&tx)
            .await
            .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        Ok(AttemptOutcome::Wrong {
            failed_attempts: challenge.failed_attempts.saturating_add(1),
        })
    }

    async fn consume(
        &self,
        id: ChallengeId,
        digest: &SecretDigest,
        at: OffsetDateTime,
        max_attempts: u32,
    ) -> Result<bool, PortError> {
        let now = to_nanos(at)?;
        let done = Entity::update_many()
            .col_expr(Column::ConsumedAt, Expr::value(now))
            .filter(consumable(id, digest, now, max_attempts))
            .exec(self.db())
            .await
            .map_err(|e| port("consume a challenge", e))?;
        Ok(done.rows_affected == 1)
    }

    async fn consume_recovery(
        &self,
        id: ChallengeId,
        digest: &SecretDigest,
        at: OffsetDateTime,
        max_attempts: u32,
    ) -> Result<bool, PortError> {
        let now = to_nanos(at)?;
        let fail = |e| port("consume a recovery challenge", e);
        let tx = self.begin_write().await.map_err(fail)?;
        // `recovers` never changes after insert, so it can be read before the locks.
        let recovers: Option<Option<String>> = Entity::find_by_id(id.to_string())
            .select_only()
            .column(Column::Recovers)
            .into_tuple()
            .one(&tx)
            .await
            .map_err(fail)?;
        let Some(recovers) = recovers else {
            tx.rollback().await.map_err(fail)?;
            return Ok(false);
        };
        if let Some(cabinet) = &recovers {
            self.lock_rows(
                &tx,
                "SELECT id FROM challenges WHERE recovers = $1 ORDER BY id FOR UPDATE",
                [cabinet.clone().into()],
            )
            .await
            .map_err(fail)?;
        }
        let done = Entity::update_many()
            .col_expr(Column::ConsumedAt, Expr::value(now))
            .filter(consumable(id, digest, now, max_attempts))
            .exec(&tx)
            .await
            .map_err(fail)?;
        if done.rows_affected != 1 {
            tx.rollback().await.map_err(fail)?;
            return Ok(false);
        }
        if let Some(cabinet) = recovers {
            Entity::update_many()
                .col_expr(Column::ConsumedAt, Expr::value(now))
                .filter(Column::Recovers.eq(cabinet))
                .filter(Column::ConsumedAt.is_null())
                .exec(&tx)
                .await
                .map_err(fail)?;
        }
        tx.commit().await.map_err(fail)?;
        Ok(true)
    }

    async fn reissue(
        &self,
        id: ChallengeId,
        digest: &SecretDigest,
        issued_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, PortError> {
        let done = Entity::update_many()
            .col_expr(Column::Digest, Expr::value(digest.as_bytes().to_vec()))
            .col_expr(Column::IssuedAt, Expr::value(to_nanos(issued_at)?))
            .col_expr(Column::ExpiresAt, Expr::value(to_nanos(expires_at)?))
            .col_expr(Column::FailedAttempts, Expr::value(0i64))
            .filter(Column::Id.eq(id.to_string()))
            .filter(Column::ConsumedAt.is_null())
            .exec(self.db())
            .await
            .map_err(|e| port("reissue a challenge", e))?;
        Ok(done.rows_affected == 1)
    }
}
