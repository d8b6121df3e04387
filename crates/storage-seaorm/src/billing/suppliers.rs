//! [`SupplierRepository`] on `suppliers`.

use billing_core::ids::SupplierId;
use billing_core::model::Supplier;
use billing_core::ports::{RepoError, SupplierRepository};
use sea_orm::EntityTrait;

use crate::convert::billing::to_db_id;
use crate::convert::supplier as convert;
use crate::entity::supplier;
use crate::error::repo;
use crate::storage::Storage;

#[async_trait::async_trait]
impl SupplierRepository for Storage {
    async fn supplier(&self, id: SupplierId) -> Result<Option<Supplier>, RepoError> {
        let row = supplier::Entity::find_by_id(to_db_id(id.get())?)
            .one(self.db())
            .await
            .map_err(|e| repo("find supplier", e))?;
        Ok(row.map(convert::from_row).transpose()?)
    }
}
