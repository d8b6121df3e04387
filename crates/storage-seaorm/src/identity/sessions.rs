//! [`SessionRepository`] on `sessions`.

use identity_core::crypto::SecretDigest;
use identity_core::domain::{SessionId, SubscriberId};
use identity_core::model::{SessionRecord, Subscriber};
use identity_core::ports::{PortError, SessionRepository};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect};

use crate::convert::session::{from_row, to_row};
use crate::convert::to_nanos;
use crate::entity::session::{ActiveModel, Column, Entity};
use crate::entity::subscriber;
use crate::error::port;
use crate::storage::Storage;

#[async_trait::async_trait]
impl SessionRepository for Storage {
    async fn insert(&self, session: &SessionRecord) -> Result<(), PortError> {
        let row: ActiveModel = to_row(session)?.into();
        Entity::insert(row)
            .exec_without_returning(self.db())
            .await
            .map_err(|e| port("insert session", e))?;
        Ok(())
    }

    async fn find_with_subscriber(
        &self,
        digest: &SecretDigest,
    ) -> Result<Option<(SessionRecord, Option<Subscriber>)>, PortError> {
        // One read: the session LEFT JOIN its cabinet.
        let owner = Entity::belongs_to(subscriber::Entity)
            .from(Column::SubscriberId)
            .to(subscriber::Column::Id)
            .into();
        let row = Entity::find()
            .join(JoinType::LeftJoin, owner)
            .filter(Column::TokenDigest.eq(digest.as_bytes().to_vec()))
            .select_also(subscriber::Entity)
            // `Option<Model>` tells an absent cabinet (all NULL) from one that does not decode
            // (an error), where `select_also`'s own decoding would turn both into `None`.
            .into_model::<crate::entity::session::Model, Option<subscriber::Model>>()
            .one(self.db())
            .await
            .map_err(|e| port("find session by token", e))?;
        let Some((session, cabinet)) = row else {
            return Ok(None);
        };
        let cabinet = cabinet
            .flatten()
            .map(crate::convert::subscriber::from_row)
            .transpose()?;
        Ok(Some((from_row(session)?, cabinet)))
    }

    async fn touch(&self, id: SessionId, at: time::OffsetDateTime) -> Result<(), PortError> {
        Entity::update_many()
            .col_expr(Column::LastSeenAt, Expr::value(to_nanos(at)?))
            .filter(Column::Id.eq(id.to_string()))
            .exec(self.db())
            .await
            .map_err(|e| port("touch session", e))?;
        Ok(())
    }

    async fn revoke(
        &self,
        subscriber: SubscriberId,
        id: SessionId,
        at: time::OffsetDateTime,
    ) -> Result<bool, PortError> {
        let done = Entity::update_many()
            .col_expr(Column::RevokedAt, Expr::value(to_nanos(at)?))
            .filter(Column::Id.eq(id.to_string()))
            .filter(Column::SubscriberId.eq(subscriber.to_string()))
            .filter(Column::RevokedAt.is_null())
            .exec(self.db())
            .await
            .map_err(|e| port("revoke session", e))?;
        Ok(done.rows_affected > 0)
    }

    async fn revoke_all(
        &self,
        subscriber: SubscriberId,
        keep: Option<SessionId>,
        at: time::OffsetDateTime,
    ) -> Result<u32, PortError> {
        let mut update = Entity::update_many()
            .col_expr(Column::RevokedAt, Expr::value(to_nanos(at)?))
            .filter(Column::SubscriberId.eq(subscriber.to_string()))
            .filter(Column::RevokedAt.is_null());
        if let Some(keep) = keep {
            update = update.filter(Column::Id.ne(keep.to_string()));
        }
        let done = update
            .exec(self.db())
            .await
            .map_err(|e| port("revoke every session", e))?;
        u32::try_from(done.rows_affected)
            .map_err(|_| PortError::new("revoked more sessions than a u32 counts"))
    }

    async fn list(&self, subscriber: SubscriberId) -> Result<Vec<SessionRecord>, PortError> {
        let rows = Entity::find()
            .filter(Column::SubscriberId.eq(subscriber.to_string()))
            .filter(Column::RevokedAt.is_null())
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .all(self.db())
            .await
            .map_err(|e| port("list sessions", e))?;
        Ok(rows.into_iter().map(from_row).collect::<Result<_, _>>()?)
    }
}
