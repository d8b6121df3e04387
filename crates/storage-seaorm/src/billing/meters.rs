//! [`MeterRepository`] on `meters`: removed and failed meters stay, so an account's meters are
//! every meter ever installed on it, in id order.

use billing_core::ids::{AccountId, MeterId};
use billing_core::meter::Meter;
use billing_core::ports::{MeterRepository, RepoError};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::convert::billing::to_db_id;
use crate::convert::meter as convert;
use crate::entity::meter;
use crate::error::repo;
use crate::storage::Storage;

#[async_trait::async_trait]
impl MeterRepository for Storage {
    async fn meter(&self, id: MeterId) -> Result<Option<Meter>, RepoError> {
        let row = meter::Entity::find_by_id(to_db_id(id.get())?)
            .one(self.db())
            .await
            .map_err(|e| repo("find meter", e))?;
        Ok(row.map(convert::from_row).transpose()?)
    }

    async fn meters_of_account(&self, account: AccountId) -> Result<Vec<Meter>, RepoError> {
        let rows = meter::Entity::find()
            .filter(meter::Column::AccountId.eq(to_db_id(account.get())?))
            .order_by_asc(meter::Column::Id)
            .all(self.db())
            .await
            .map_err(|e| repo("list meters of an account", e))?;
        Ok(rows
            .into_iter()
            .map(convert::from_row)
            .collect::<Result<_, _>>()?)
    }
}
