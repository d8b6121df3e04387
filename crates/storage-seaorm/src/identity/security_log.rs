//! [`SecurityLog`] on `security_events`.

use identity_core::domain::SubscriberId;
use identity_core::model::SecurityEvent;
use identity_core::ports::{PortError, SecurityLog};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::convert::security_event::{from_row, to_row};
use crate::entity::security_event::{Column, Entity};
use crate::error::port;
use crate::storage::Storage;

#[async_trait::async_trait]
impl SecurityLog for Storage {
    async fn append(&self, event: &SecurityEvent) -> Result<(), PortError> {
        Entity::insert(to_row(event)?)
            .exec_without_returning(self.db())
            .await
            .map_err(|e| port("append security event", e))?;
        Ok(())
    }

    async fn list(
        &self,
        subscriber: SubscriberId,
        limit: u32,
    ) -> Result<Vec<SecurityEvent>, PortError> {
        let rows = Entity::find()
            .filter(Column::SubscriberId.eq(subscriber.to_string()))
            .order_by_desc(Column::Seq)
            .limit(u64::from(limit))
            .all(self.db())
            .await
            .map_err(|e| port("list security events", e))?;
        Ok(rows.into_iter().map(from_row).collect::<Result<_, _>>()?)
    }
}
