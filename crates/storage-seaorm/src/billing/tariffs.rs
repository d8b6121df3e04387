//! [`TariffRepository`] on `tariff_versions`: a supplier's versions ordered by the first day in
//! force, then by id (so versions of different services starting on one day keep a stable
//! order).

use billing_core::ids::SupplierId;
use billing_core::ports::{RepoError, TariffRepository};
use billing_core::tariff::TariffVersion;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::convert::billing::to_db_id;
use crate::convert::tariff as convert;
use crate::entity::tariff_version;
use crate::error::repo;
use crate::storage::Storage;

#[async_trait::async_trait]
impl TariffRepository for Storage {
    async fn versions(&self, supplier: SupplierId) -> Result<Vec<TariffVersion>, RepoError> {
        let rows = tariff_version::Entity::find()
            .filter(tariff_version::Column::SupplierId.eq(to_db_id(supplier.get())?))
            .order_by_asc(tariff_version::Column::ValidFrom)
            .order_by_asc(tariff_version::Column::Id)
            .all(self.db())
            .await
            .map_err(|e| repo("list tariff versions", e))?;
        Ok(rows
            .into_iter()
            .map(convert::from_row)
            .collect::<Result<_, _>>()?)
    }
}
