//! [`VolumeHistoryRepository`] on `volume_history`: billed and imported volumes alike, oldest
//! first. At most one per period is the primary key (account, service, period).

use billing_core::ids::AccountId;
use billing_core::period::Period;
use billing_core::ports::{RepoError, VolumeHistoryRepository};
use billing_core::service::ServiceKind;
use billing_core::volume::PastVolume;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::convert::billing::{period_code, service_tag, to_db_id};
use crate::convert::volume as convert;
use crate::entity::volume;
use crate::error::repo;
use crate::storage::Storage;

#[async_trait::async_trait]
impl VolumeHistoryRepository for Storage {
    async fn volumes(
        &self,
        account: AccountId,
        service: ServiceKind,
        before: Period,
    ) -> Result<Vec<PastVolume>, RepoError> {
        let rows = volume::Entity::find()
            .filter(volume::Column::AccountId.eq(to_db_id(account.get())?))
            .filter(volume::Column::Service.eq(service_tag(service)))
            .filter(volume::Column::Period.lt(period_code(before)))
            .order_by_asc(volume::Column::Period)
            .all(self.db())
            .await
            .map_err(|e| repo("read volume history", e))?;
        Ok(rows
            .into_iter()
            .map(convert::from_row)
            .collect::<Result<_, _>>()?)
    }
}
