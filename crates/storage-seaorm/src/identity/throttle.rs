//! [`ThrottleRepository`] on `throttle_keys` and `throttle_events`.

use identity_core::model::{Reservation, ThrottleKey};
use identity_core::policy::RateLimit;
use identity_core::ports::{PortError, ThrottleRepository};
use sea_orm::{
    ActiveValue, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use time::OffsetDateTime;

use crate::convert::throttle::key_columns;
use crate::convert::{Row, to_nanos};
use crate::entity::throttle_event::{ActiveModel, Column, Entity};
use crate::entity::throttle_key;
use crate::error::port;
use crate::storage::Storage;

impl Storage {
    /// Creates the key's row if it is missing and, on PostgreSQL, locks it until `tx` ends; on
    /// SQLite the write transaction already excludes every other writer. Every reservation
    /// and release of one key therefore runs one at a time.
    async fn lock_throttle_key(
        &self,
        tx: &DatabaseTransaction,
        scope: &str,
        subject: &str,
    ) -> Result<(), DbErr> {
        throttle_key::Entity::insert(throttle_key::ActiveModel {
            scope: ActiveValue::Set(scope.to_owned()),
            subject: ActiveValue::Set(subject.to_owned()),
        })
        .on_conflict_do_nothing()
        .exec_without_returning(tx)
        .await?;
        // `FOR UPDATE` on PostgreSQL; SQLite has no row locks and needs none here.
        let locked = throttle_key::Entity::find_by_id((scope.to_owned(), subject.to_owned()))
            .lock_exclusive()
            .one(tx)
            .await?;
        match locked {
            Some(_) => Ok(()),
            // Rows of throttle_keys are never deleted, so this cannot happen.
            None => Err(DbErr::Custom("throttle key row vanished".to_owned())),
        }
    }
}

fn of_key(scope: &str, subject: &str) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(Column::Scope.eq(scope))
        .add(Column::Subject.eq(subject))
}

#[async_trait::async_trait]
impl ThrottleRepository for Storage {
    async fn reserve(
        &self,
        key: &ThrottleKey,
        limit: &RateLimit,
        at: OffsetDateTime,
    ) -> Result<Reservation, PortError> {
        let (scope, subject) = key_columns(key);
        let now = to_nanos(at)?;
        let since = to_nanos(at - limit.lookback())?;
        let fail = |e| port("reserve a throttled attempt", e);
        let tx = self.begin_write().await.map_err(fail)?;
        self.lock_throttle_key(&tx, scope, subject)
            .await
            .map_err(fail)?;
        let stored: Vec<i64> = Entity::find()
            .select_only()
            .column(Column::At)
            .filter(of_key(scope, subject))
            .filter(Column::At.gt(since))
            .into_tuple()
            .all(&tx)
            .await
            .map_err(fail)?;
        let row = Row::new("throttle_events", format!("{scope}/{subject}"));
        let events = stored
            .into_iter()
            .map(|n| row.time("at", n))
            .collect::<Result<Vec<_>, _>>()?;
        match limit.check(&events, at) {
            Ok(()) => {
                Entity::insert(ActiveModel {
                    seq: ActiveValue::NotSet,
                    scope: ActiveValue::Set(scope.to_owned()),
                    subject: ActiveValue::Set(subject.to_owned()),
                    at: ActiveValue::Set(now),
                })
                .exec_without_returning(&tx)
                .await
                .map_err(fail)?;
                tx.commit().await.map_err(fail)?;
                Ok(Reservation::Granted)
            }
            Err(retry_after) => {
                tx.rollback().await.map_err(fail)?;
                Ok(Reservation::Refused { retry_after })
            }
        }
    }

    async fn release(&self, key: &ThrottleKey, at: OffsetDateTime) -> Result<(), PortError> {
        let (scope, subject) = key_columns(key);
        let now = to_nanos(at)?;
        let fail = |e| port("release a throttled attempt", e);
        let tx = self.begin_write().await.map_err(fail)?;
        self.lock_throttle_key(&tx, scope, subject)
            .await
            .map_err(fail)?;
        let one: Option<i64> = Entity::find()
            .select_only()
            .column(Column::Seq)
            .filter(of_key(scope, subject))
            .filter(Column::At.eq(now))
            .order_by_asc(Column::Seq)
            .limit(1)
            .into_tuple()
            .one(&tx)
            .await
            .map_err(fail)?;
        if let Some(seq) = one {
            Entity::delete_by_id(seq).exec(&tx).await.map_err(fail)?;
        }
        tx.commit().await.map_err(fail)
    }

    async fn clear(&self, key: &ThrottleKey) -> Result<(), PortError> {
        let (scope, subject) = key_columns(key);
        Entity::delete_many()
            .filter(of_key(scope, subject))
            .exec(self.db())
            .await
            .map_err(|e| port("clear a throttle key", e))?;
        Ok(())
    }
}
