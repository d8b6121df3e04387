//! [`OnlinePaymentRepository`] on `online_payments` (and `payments`, read for `unsettled`).
//!
//! - **One record per `order_ref` and per gateway id** — the primary key `gateway_id` and
//!   UNIQUE `order_ref`; a violation of either is `RepoError::Duplicate` with nothing written
//!   (mapped in [`crate::error`]), never a prior read.
//! - **`unsettled`** — the records started before `older_than` whose ledger payment (the
//!   `payments` row with the same gateway id) is `created` or `pending`, oldest first by
//!   (`created_at`, `gateway_id`). A record whose ledger payment does not exist (a start that
//!   crashed between recording and posting it) is not listed: there is nothing to reconcile
//!   until the start is resumed, and listing it would let such records fill every page. The
//!   state predicate is spelled with literals so PostgreSQL can use the partial index
//!   `payments_unsettled`, which holds only the payments not yet final.

use billing_core::ledger::PaymentState;
use billing_core::online::{OnlinePaymentRecord, OnlinePaymentRepository};
use billing_core::ports::{GatewayPaymentId, RepoError};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use time::OffsetDateTime;

use crate::convert::billing::{state_tag, to_db_nanos};
use crate::convert::online_payment::{from_row, to_row};
use crate::entity::online_payment::{ActiveModel, Column, Entity};
use crate::entity::payment;
use crate::error::repo;
use crate::storage::Storage;

/// The condition on `payments` of a payment not yet final, with its tags as literals (the
/// predicate of the partial index `payments_unsettled`).
fn unsettled_state() -> String {
    format!(
        "state IN ('{}', '{}')",
        state_tag(PaymentState::Created),
        state_tag(PaymentState::Pending)
    )
}

#[async_trait::async_trait]
impl OnlinePaymentRepository for Storage {
    async fn insert(&self, record: &OnlinePaymentRecord) -> Result<(), RepoError> {
        let row: ActiveModel = to_row(record)?.into();
        Entity::insert(row)
            .exec_without_returning(self.db())
            .await
            .map_err(|e| repo("insert online payment", e))?;
        Ok(())
    }

    async fn by_order_ref(
        &self,
        order_ref: &str,
    ) -> Result<Option<OnlinePaymentRecord>, RepoError> {
        let row = Entity::find()
            .filter(Column::OrderRef.eq(order_ref))
            .one(self.db())
            .await
            .map_err(|e| repo("find online payment by order_ref", e))?;
        Ok(row.map(from_row).transpose()?)
    }

    async fn by_gateway_id(
        &self,
        id: &GatewayPaymentId,
    ) -> Result<Option<OnlinePaymentRecord>, RepoError> {
        let row = Entity::find_by_id(id.as_str().to_owned())
            .one(self.db())
            .await
            .map_err(|e| repo("find online payment by gateway id", e))?;
        Ok(row.map(from_row).transpose()?)
    }

    async fn unsettled(
        &self,
        older_than: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OnlinePaymentRecord>, RepoError> {
        let not_final = Query::select()
            .column(payment::Column::GatewayId)
            .from(payment::Entity)
            .and_where(Expr::cust(unsettled_state()))
            .to_owned();
        let rows = Entity::find()
            .filter(Column::CreatedAt.lt(to_db_nanos(older_than)?))
            .filter(Column::GatewayId.in_subquery(not_final))
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::GatewayId)
            .limit(u64::from(limit))
            .all(self.db())
            .await
            .map_err(|e| repo("list unsettled online payments", e))?;
        Ok(rows.into_iter().map(from_row).collect::<Result<_, _>>()?)
    }
}
