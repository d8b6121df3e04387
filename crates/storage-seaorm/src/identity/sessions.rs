//! [`SessionRepository`] on `sessions`.

use identity_core::crypto::SecretDigest;
use identity_core::domain::{SessionId, SubscriberId};
use identity_core::model::SessionRecord;
use identity_core::ports::{PortError, SessionRepository};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::convert::session::{from_row, to_row};
use crate::convert::to_nanos;
use crate::entity::session::{ActiveModel, Column, Entity};
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

    async fn find_by_token(
        &self,
        digest: &SecretDigest,
    ) -> Result<Option<SessionRecord>, PortError> {
        let row = Entity::find()
            .filter(Column::TokenDigest.eq(digest.as_bytes().to_vec()))
            .one(self.db())
            .await
            .map_err(|e| port("find session by token", e))?;
        Ok(row.map(from_row).transpose()?)
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
