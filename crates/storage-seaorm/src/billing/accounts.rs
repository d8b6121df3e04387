//! [`AccountRepository`] on `accounts`. A printed number names at most one account of a
//! supplier: UNIQUE (`supplier_id`, `number`). A house's accounts are those of its premises,
//! in id order (the order of a house billing run), found through the (`premise_id`, `id`) and
//! (`house_id`, `id`) indexes.

use billing_core::ids::{AccountId, HouseId, SupplierId};
use billing_core::model::{Account, AccountNumber};
use billing_core::ports::{AccountRepository, RepoError};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::convert::account as convert;
use crate::convert::billing::to_db_id;
use crate::entity::{account, premise};
use crate::error::repo;
use crate::storage::Storage;

#[async_trait::async_trait]
impl AccountRepository for Storage {
    async fn account(&self, id: AccountId) -> Result<Option<Account>, RepoError> {
        let row = account::Entity::find_by_id(to_db_id(id.get())?)
            .one(self.db())
            .await
            .map_err(|e| repo("find account", e))?;
        Ok(row.map(convert::from_row).transpose()?)
    }

    async fn find_by_number(
        &self,
        supplier: SupplierId,
        number: &AccountNumber,
    ) -> Result<Option<Account>, RepoError> {
        let row = account::Entity::find()
            .filter(account::Column::SupplierId.eq(to_db_id(supplier.get())?))
            .filter(account::Column::Number.eq(number.as_str()))
            .one(self.db())
            .await
            .map_err(|e| repo("find account by number", e))?;
        Ok(row.map(convert::from_row).transpose()?)
    }

    async fn accounts_in_house(&self, house: HouseId) -> Result<Vec<Account>, RepoError> {
        let premises = Query::select()
            .column(premise::Column::Id)
            .from(premise::Entity)
            .and_where(premise::Column::HouseId.eq(to_db_id(house.get())?))
            .to_owned();
        let rows = account::Entity::find()
            .filter(account::Column::PremiseId.in_subquery(premises))
            .order_by_asc(account::Column::Id)
            .all(self.db())
            .await
            .map_err(|e| repo("list accounts of a house", e))?;
        Ok(rows
            .into_iter()
            .map(convert::from_row)
            .collect::<Result<_, _>>()?)
    }
}
