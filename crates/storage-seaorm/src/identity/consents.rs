//! [`ConsentRepository`] on `consents`.

use identity_core::domain::{ConsentId, SubscriberId};
use identity_core::model::Consent;
use identity_core::ports::{ConsentRepository, PortError};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use time::OffsetDateTime;

use crate::convert::consent::{from_row, to_row};
use crate::convert::to_nanos;
use crate::entity::consent::{Column, Entity};
use crate::error::port;
use crate::storage::Storage;

#[async_trait::async_trait]
impl ConsentRepository for Storage {
    async fn insert(&self, consent: &Consent) -> Result<(), PortError> {
        Entity::insert(to_row(consent)?)
            .exec_without_returning(self.db())
            .await
            .map_err(|e| port("insert consent", e))?;
        Ok(())
    }

    async fn list(&self, subscriber: SubscriberId) -> Result<Vec<Consent>, PortError> {
        let rows = Entity::find()
            .filter(Column::SubscriberId.eq(subscriber.to_string()))
            .order_by_asc(Column::Seq)
            .all(self.db())
            .await
            .map_err(|e| port("list consents", e))?;
        Ok(rows.into_iter().map(from_row).collect::<Result<_, _>>()?)
    }

    async fn withdraw(
        &self,
        subscriber: SubscriberId,
        id: ConsentId,
        at: OffsetDateTime,
    ) -> Result<bool, PortError> {
        let done = Entity::update_many()
            .col_expr(Column::WithdrawnAt, Expr::value(to_nanos(at)?))
            .filter(Column::Id.eq(id.to_string()))
            .filter(Column::SubscriberId.eq(subscriber.to_string()))
            .filter(Column::WithdrawnAt.is_null())
            .exec(self.db())
            .await
            .map_err(|e| port("withdraw consent", e))?;
        Ok(done.rows_affected > 0)
    }
}
