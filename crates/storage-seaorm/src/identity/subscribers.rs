//! [`SubscriberRepository`] on `subscribers`.

use identity_core::domain::{LoginHandle, SubscriberId};
use identity_core::model::Subscriber;
use identity_core::ports::{PortError, SubscriberRepository, WriteError};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter};

use crate::convert::subscriber::{from_row, to_row};
use crate::entity::subscriber::{ActiveModel, Column, Entity};
use crate::error::{port, write};
use crate::storage::Storage;

#[async_trait::async_trait]
impl SubscriberRepository for Storage {
    async fn insert(&self, subscriber: &Subscriber) -> Result<(), WriteError> {
        let row: ActiveModel = to_row(subscriber)?.into();
        Entity::insert(row)
            .exec_without_returning(self.db())
            .await
            .map_err(|e| write("insert subscriber", e))?;
        Ok(())
    }

    async fn update(&self, subscriber: &Subscriber) -> Result<(), WriteError> {
        let row = to_row(subscriber)?;
        let (id, expected) = (row.id.clone(), row.version);
        let mut values = ActiveModel::from(row).reset_all();
        values.not_set(Column::Id);
        values.not_set(Column::Version);
        let done = Entity::update_many()
            .set(values)
            .col_expr(Column::Version, Expr::col(Column::Version).add(1))
            .filter(Column::Id.eq(id))
            .filter(Column::Version.eq(expected))
            .exec(self.db())
            .await
            .map_err(|e| write("update subscriber", e))?;
        if done.rows_affected == 1 {
            Ok(())
        } else {
            Err(WriteError::Conflict)
        }
    }

    async fn get(&self, id: SubscriberId) -> Result<Option<Subscriber>, PortError> {
        let row = Entity::find_by_id(id.to_string())
            .one(self.db())
            .await
            .map_err(|e| port("get subscriber", e))?;
        Ok(row.map(from_row).transpose()?)
    }

    async fn find_by_handle(&self, handle: &LoginHandle) -> Result<Option<Subscriber>, PortError> {
        let filter = match handle {
            LoginHandle::Account(number) => Column::AccountNumber.eq(number.as_str()),
            LoginHandle::Email(email) => Column::Email.eq(email.as_str()),
            LoginHandle::Phone(phone) => Column::Phone.eq(phone.as_str()),
        };
        let row = Entity::find()
            .filter(filter)
            .one(self.db())
            .await
            .map_err(|e| port("find subscriber by handle", e))?;
        Ok(row.map(from_row).transpose()?)
    }
}
