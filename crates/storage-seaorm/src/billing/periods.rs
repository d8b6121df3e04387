//! [`PeriodRepository`] on `closed_periods`.

use billing_core::ids::SupplierId;
use billing_core::period::Period;
use billing_core::ports::{PeriodRepository, RepoError};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::convert::Row;
use crate::convert::billing::{period_code, to_db_id};
use crate::entity::closed_period::{ActiveModel, Column, Entity};
use crate::error::repo;
use crate::storage::Storage;

async fn latest(db: &impl ConnectionTrait, supplier: i64) -> Result<Option<Period>, RepoError> {
    let row = Entity::find()
        .filter(Column::SupplierId.eq(supplier))
        .order_by_desc(Column::Period)
        .one(db)
        .await
        .map_err(|e| repo("read closed periods", e))?;
    row.map(|m| {
        Row::new("closed_periods", format!("supplier {}", m.supplier_id)).period("period", m.period)
    })
    .transpose()
    .map_err(RepoError::from)
}

#[async_trait::async_trait]
impl PeriodRepository for Storage {
    async fn last_closed(&self, supplier: SupplierId) -> Result<Option<Period>, RepoError> {
        latest(self.db(), to_db_id(supplier.get())?).await
    }

    async fn close(&self, supplier: SupplierId, period: Period) -> Result<(), RepoError> {
        let id = to_db_id(supplier.get())?;
        let fail = |e| repo("close period", e);
        let tx = self.begin_write().await.map_err(fail)?;
        self.lock_rows(&tx, "SELECT pg_advisory_xact_lock($1)", [id.into()])
            .await
            .map_err(fail)?;
        let closed = Entity::find_by_id((id, period_code(period)))
            .one(&tx)
            .await
            .map_err(fail)?;
        if closed.is_some() {
            return Err(RepoError::Duplicate);
        }
        match latest(&tx, id).await? {
            Some(last) if last != period.prev() => return Err(RepoError::Conflict),
            _ => {}
        }
        Entity::insert(ActiveModel {
            supplier_id: sea_orm::ActiveValue::Set(id),
            period: sea_orm::ActiveValue::Set(period_code(period)),
        })
        .exec_without_returning(&tx)
        .await
        .map_err(fail)?;
        tx.commit().await.map_err(fail)
    }
}
