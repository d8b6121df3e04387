//! [`RecalculationRepository`] on `recalculations` (and `readings`). `record` is one write
//! transaction: the reading's compare-and-set and insert exactly as
//! [`ReadingRepository::save`](billing_core::ports::ReadingRepository::save) does them
//! ([`super::readings::save_in`]), then the pending correction naming the new reading — so a
//! correction that loses the race to its reading stores nothing at all. Pending means
//! `applied_in IS NULL`; the charge set that bills a correction sets `applied_in` with a
//! conditional UPDATE in its own transaction.

use billing_core::ids::AccountId;
use billing_core::period::Period;
use billing_core::ports::{
    NewRecalculation, PendingRecalculation, RecalculationId, RecalculationRepository, RepoError,
};
use billing_core::reading::Reading;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::readings::save_in;
use crate::convert::billing::{period_code, to_db_id};
use crate::convert::recalculation as convert;
use crate::entity::recalculation;
use crate::error::{repo, repo_write};
use crate::storage::Storage;

#[async_trait::async_trait]
impl RecalculationRepository for Storage {
    async fn record(
        &self,
        new: &NewRecalculation,
    ) -> Result<(PendingRecalculation, Reading), RepoError> {
        let fail = |e| repo("record recalculation", e);
        let tx = self.begin_write().await.map_err(fail)?;
        let reading = save_in(self, &tx, &new.reading).await?;
        let id = recalculation::Entity::insert(convert::to_row(new, reading.id)?)
            .exec(&tx)
            .await
            .map_err(|e| repo_write("record recalculation", e))?
            .last_insert_id;
        let id = u64::try_from(id)
            .map_err(|_| RepoError::Unavailable(format!("recalculation id {id}")))?;
        tx.commit().await.map_err(fail)?;
        Ok((
            convert::stored(RecalculationId::new(id), new, reading.id),
            reading,
        ))
    }

    async fn pending(
        &self,
        account: AccountId,
        period: Period,
    ) -> Result<Vec<PendingRecalculation>, RepoError> {
        let rows = recalculation::Entity::find()
            .filter(recalculation::Column::AccountId.eq(to_db_id(account.get())?))
            .filter(recalculation::Column::AppliedIn.is_null())
            .filter(recalculation::Column::BilledFrom.lte(period_code(period)))
            .order_by_asc(recalculation::Column::Id)
            .all(self.db())
            .await
            .map_err(|e| repo("list pending recalculations", e))?;
        Ok(rows
            .into_iter()
            .map(convert::from_row)
            .collect::<Result<_, _>>()?)
    }
}
