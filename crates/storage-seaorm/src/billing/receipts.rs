//! [`ReceiptRepository`] on `fiscal_receipts` (and `payments`, read for the backfill).
//!
//! - **Exactly once per key** — `claim` is a plain INSERT, never preceded by a read; UNIQUE
//!   (`payment_id`, `kind`, `refund_request_id`) refuses a second claim of the same receipt, and
//!   the violation is `RepoError::Duplicate` with nothing written (mapped in [`crate::error`]).
//!   Of concurrent claims exactly one wins: on PostgreSQL the others wait for its commit and then
//!   violate the index; on SQLite the writers take turns. A claim naming a payment or account
//!   that does not exist violates a foreign key: `RepoError::NotFound`.
//! - **The first registration is kept** — `registered` is `UPDATE … WHERE id = $1 AND
//!   registered_at IS NULL`; when it matches nothing, a receipt that exists was registered
//!   already (`Ok`, unchanged), one that does not is `RepoError::NotFound`.
//! - **`pending`** — `registered_at IS NULL` in claim order (by id), through the partial index
//!   `fiscal_receipts_pending`; **`of_account`** — by (`account_id`, `id` DESC).
//! - **`credited_without_receipt`** — the `payments` in state `succeeded` or `refunded` created
//!   on or after `since` (`created_on`, the supplier's local day) with NOT EXISTS an `income`
//!   row in `fiscal_receipts`, oldest first by (`created_on`, `id`); the state predicate is
//!   spelled with literals so PostgreSQL can use the partial index `payments_credited`.

use billing_core::ids::{AccountId, PaymentId};
use billing_core::ledger::PaymentState;
use billing_core::ports::{GatewayPaymentId, RepoError};
use billing_core::receipt::{
    FiscalReceipt, FiscalRegistration, ReceiptId, ReceiptKey, ReceiptKind, ReceiptRepository,
    StoredReceipt,
};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect, Select};
use time::Date;

use crate::convert::Row;
use crate::convert::billing::{day_text, state_tag, to_db_id, to_db_nanos};
use crate::convert::receipt::{document_number, from_row, kind_tag, refund_column, to_row};
use crate::entity::fiscal_receipt::{self, Column, Entity};
use crate::entity::payment;
use crate::error::{repo, repo_write};
use crate::storage::Storage;

/// The condition on `payments` of a credited payment, with its tags as literals (the predicate
/// of the partial index `payments_credited`).
fn credited_state() -> String {
    format!(
        "state IN ('{}', '{}')",
        state_tag(PaymentState::Succeeded),
        state_tag(PaymentState::Refunded)
    )
}

impl Storage {
    /// The receipts `query` selects, read back.
    async fn receipts(
        &self,
        query: Select<Entity>,
        operation: &str,
    ) -> Result<Vec<StoredReceipt>, RepoError> {
        let rows = query.all(self.db()).await.map_err(|e| repo(operation, e))?;
        Ok(rows.into_iter().map(from_row).collect::<Result<_, _>>()?)
    }
}

#[async_trait::async_trait]
impl ReceiptRepository for Storage {
    async fn claim(&self, receipt: &FiscalReceipt) -> Result<ReceiptId, RepoError> {
        let id = Entity::insert(to_row(receipt)?)
            .exec(self.db())
            .await
            .map_err(|e| repo_write("claim fiscal receipt", e))?
            .last_insert_id;
        let id = u64::try_from(id)
            .map_err(|_| RepoError::Unavailable(format!("fiscal receipt id {id}")))?;
        Ok(ReceiptId::new(id))
    }

    async fn registered(
        &self,
        id: ReceiptId,
        registration: &FiscalRegistration,
    ) -> Result<(), RepoError> {
        let id = to_db_id(id.get())?;
        let fail = |e| repo("store fiscal registration", e);
        let done = Entity::update_many()
            .col_expr(
                Column::FiscalNumber,
                Expr::value(registration.fiscal_number.clone()),
            )
            .col_expr(
                Column::DocumentNumber,
                Expr::value(document_number(registration)?),
            )
            .col_expr(
                Column::FiscalSign,
                Expr::value(registration.fiscal_sign.clone()),
            )
            .col_expr(
                Column::RegisteredAt,
                Expr::value(to_db_nanos(registration.registered_at)?),
            )
            .filter(Column::Id.eq(id))
            .filter(Column::RegisteredAt.is_null())
            .exec(self.db())
            .await
            .map_err(fail)?;
        if done.rows_affected == 1 {
            return Ok(());
        }
        let exists = Entity::find_by_id(id)
            .select_only()
            .column(Column::Id)
            .into_tuple::<i64>()
            .one(self.db())
            .await
            .map_err(fail)?
            .is_some();
        if exists {
            Ok(())
        } else {
            Err(RepoError::NotFound)
        }
    }

    async fn by_key(&self, key: ReceiptKey) -> Result<Option<StoredReceipt>, RepoError> {
        let Some(refund) = refund_column(key.refund)? else {
            return Ok(None);
        };
        let query = Entity::find()
            .filter(Column::PaymentId.eq(to_db_id(key.payment.get())?))
            .filter(Column::Kind.eq(kind_tag(key.kind)))
            .filter(Column::RefundRequestId.eq(refund));
        Ok(self
            .receipts(query, "find fiscal receipt by key")
            .await?
            .pop())
    }

    async fn of_payment(&self, payment: PaymentId) -> Result<Vec<StoredReceipt>, RepoError> {
        let query = Entity::find()
            .filter(Column::PaymentId.eq(to_db_id(payment.get())?))
            .order_by_asc(Column::Id);
        self.receipts(query, "list fiscal receipts of a payment")
            .await
    }

    async fn pending(&self, limit: u32) -> Result<Vec<StoredReceipt>, RepoError> {
        let query = Entity::find()
            .filter(Column::RegisteredAt.is_null())
            .order_by_asc(Column::Id)
            .limit(u64::from(limit));
        self.receipts(query, "list pending fiscal receipts").await
    }

    async fn of_account(
        &self,
        account: AccountId,
        limit: u32,
    ) -> Result<Vec<StoredReceipt>, RepoError> {
        let query = Entity::find()
            .filter(Column::AccountId.eq(to_db_id(account.get())?))
            .order_by_desc(Column::Id)
            .limit(u64::from(limit));
        self.receipts(query, "list fiscal receipts of an account")
            .await
    }

    async fn credited_without_receipt(
        &self,
        since: Date,
        limit: u32,
    ) -> Result<Vec<GatewayPaymentId>, RepoError> {
        let income_receipt = Query::select()
            .expr(Expr::val(1))
            .from(fiscal_receipt::Entity)
            .and_where(
                Expr::col((fiscal_receipt::Entity, Column::PaymentId))
                    .equals((payment::Entity, payment::Column::Id)),
            )
            .and_where(
                Expr::col((fiscal_receipt::Entity, Column::Kind)).eq(kind_tag(ReceiptKind::Income)),
            )
            .to_owned();
        // Only payments the service took online: a bank or cashier payment is receipted by the
        // payment agent that took it (54-ФЗ), not by the supplier.
        let online = Query::select()
            .expr(Expr::val(1))
            .from(crate::entity::online_payment::Entity)
            .and_where(
                Expr::col((
                    crate::entity::online_payment::Entity,
                    crate::entity::online_payment::Column::GatewayId,
                ))
                .equals((payment::Entity, payment::Column::GatewayId)),
            )
            .to_owned();
        let ids: Vec<String> = payment::Entity::find()
            .select_only()
            .column(payment::Column::GatewayId)
            .filter(Expr::cust(credited_state()))
            .filter(Expr::exists(online))
            .filter(payment::Column::CreatedOn.gte(day_text(since)))
            .filter(Expr::not_exists(income_receipt))
            .order_by_asc(payment::Column::CreatedOn)
            .order_by_asc(payment::Column::Id)
            .limit(u64::from(limit))
            .into_tuple()
            .all(self.db())
            .await
            .map_err(|e| repo("list credited payments without a receipt", e))?;
        let row = Row::new("payments", "credited without a receipt");
        Ok(ids
            .iter()
            .map(|id| row.parse("gateway_id", GatewayPaymentId::parse(id)))
            .collect::<Result<_, _>>()?)
    }
}
