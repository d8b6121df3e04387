//! [`HouseRepository`] on `houses`, `premises` and `house_period_facts`. A period without a
//! facts row has the default facts (no house meter volume, zeros), as the port requires.

use billing_core::ids::{HouseId, PremiseId};
use billing_core::model::{House, Premise};
use billing_core::period::Period;
use billing_core::ports::{HousePeriodFacts, HouseRepository, RepoError};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::convert::billing::{period_code, to_db_id};
use crate::convert::house as convert;
use crate::entity::{house, house_period_fact, premise};
use crate::error::repo;
use crate::storage::Storage;

#[async_trait::async_trait]
impl HouseRepository for Storage {
    async fn house(&self, id: HouseId) -> Result<Option<House>, RepoError> {
        let row = house::Entity::find_by_id(to_db_id(id.get())?)
            .one(self.db())
            .await
            .map_err(|e| repo("find house", e))?;
        Ok(row.map(convert::from_row).transpose()?)
    }

    async fn premise(&self, id: PremiseId) -> Result<Option<Premise>, RepoError> {
        let row = premise::Entity::find_by_id(to_db_id(id.get())?)
            .one(self.db())
            .await
            .map_err(|e| repo("find premise", e))?;
        Ok(row.map(convert::premise_from_row).transpose()?)
    }

    async fn premises(&self, house: HouseId) -> Result<Vec<Premise>, RepoError> {
        let rows = premise::Entity::find()
            .filter(premise::Column::HouseId.eq(to_db_id(house.get())?))
            .order_by_asc(premise::Column::Id)
            .all(self.db())
            .await
            .map_err(|e| repo("list premises", e))?;
        Ok(rows
            .into_iter()
            .map(convert::premise_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn period_facts(
        &self,
        house: HouseId,
        period: Period,
    ) -> Result<HousePeriodFacts, RepoError> {
        let row =
            house_period_fact::Entity::find_by_id((to_db_id(house.get())?, period_code(period)))
                .one(self.db())
                .await
                .map_err(|e| repo("find house facts", e))?;
        Ok(row
            .map(convert::facts_from_row)
            .transpose()?
            .unwrap_or_default())
    }
}
