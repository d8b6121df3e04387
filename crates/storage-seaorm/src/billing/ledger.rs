//! [`LedgerRepository`] on `payments`, `refund_requests` and `ledger_journal`.

use billing_core::ids::{AccountId, PaymentId};
use billing_core::ledger::PaymentState;
use billing_core::money::Money;
use billing_core::ports::{
    GatewayPaymentId, LedgerFact, LedgerRecord, LedgerRepository, NewPayment, NewRefundRequest,
    PaymentRecord, RefundRequest, RefundRequestId, RepoError,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
};
use time::Date;

use crate::convert::Row;
use crate::convert::billing::{day_text, money, state_tag, to_db_id};
use crate::convert::{ledger, payment as convert_payment};
use crate::entity::{ledger_record, payment, refund_request};
use crate::error::repo;
use crate::storage::Storage;

/// Appends `record` to the journal of `account` inside `tx`.
pub(crate) async fn append(
    tx: &DatabaseTransaction,
    account: i64,
    record: &LedgerRecord,
) -> Result<(), RepoError> {
    ledger_record::Entity::insert(ledger::to_row(account, record)?)
        .exec_without_returning(tx)
        .await
        .map_err(|e| repo("append to the journal", e))
        .map(drop)
}

impl Storage {
    /// The compare-and-set behind `transition_payment` and `fail_payment`.
    async fn set_payment_state(
        &self,
        gateway_id: &GatewayPaymentId,
        from: PaymentState,
        to: PaymentState,
        reason: Option<&str>,
        on: Date,
    ) -> Result<(), RepoError> {
        let fail = |e| repo("transition payment", e);
        let tx = self.begin_write().await.map_err(fail)?;
        let done = tx
            .execute_raw(self.statement(
                "UPDATE payments SET state = $1, failure_reason = $2 \
                 WHERE gateway_id = $3 AND state = $4",
                [
                    state_tag(to).into(),
                    reason.map(str::to_owned).into(),
                    gateway_id.as_str().into(),
                    state_tag(from).into(),
                ],
            ))
            .await
            .map_err(fail)?;
        let row = payment::Entity::find()
            .filter(payment::Column::GatewayId.eq(gateway_id.as_str()))
            .one(&tx)
            .await
            .map_err(fail)?;
        let Some(row) = row else {
            return Err(RepoError::NotFound);
        };
        if done.rows_affected() == 0 {
            return Err(RepoError::Conflict);
        }
        let record = LedgerRecord {
            date: on,
            fact: LedgerFact::PaymentState {
                payment: PaymentId::new(
                    Row::new("payments", format!("id {}", row.id)).id("id", row.id)?,
                ),
                state: to,
            },
        };
        append(&tx, row.account_id, &record).await?;
        tx.commit().await.map_err(fail)
    }
}

#[async_trait::async_trait]
impl LedgerRepository for Storage {
    async fn journal(&self, account: AccountId) -> Result<Vec<LedgerRecord>, RepoError> {
        let rows = ledger_record::Entity::find()
            .filter(ledger_record::Column::AccountId.eq(to_db_id(account.get())?))
            .order_by_asc(ledger_record::Column::Seq)
            .all(self.db())
            .await
            .map_err(|e| repo("read the journal", e))?;
        Ok(rows
            .into_iter()
            .map(ledger::from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn record_payment(&self, new: &NewPayment) -> Result<PaymentRecord, RepoError> {
        let row = convert_payment::to_row(new)?;
        let account = to_db_id(new.account.get())?;
        let fail = |e| repo("record payment", e);
        let tx = self.begin_write().await.map_err(fail)?;
        let id = payment::Entity::insert(row)
            .exec(&tx)
            .await
            .map_err(fail)?
            .last_insert_id;
        let id = PaymentId::new(
            u64::try_from(id).map_err(|_| RepoError::Unavailable(format!("payment id {id}")))?,
        );
        let record = LedgerRecord {
            date: new.created_on,
            fact: LedgerFact::PaymentCreated {
                payment: id,
                amount: new.amount,
                split: new.split.clone(),
            },
        };
        append(&tx, account, &record).await?;
        tx.commit().await.map_err(fail)?;
        Ok(PaymentRecord {
            id,
            gateway_id: new.gateway_id.clone(),
            account: new.account,
            amount: new.amount,
            split: new.split.clone(),
            created_on: new.created_on,
            state: PaymentState::Created,
            refunded: Money::ZERO,
            failure_reason: None,
        })
    }

    async fn payment_by_gateway_id(
        &self,
        gateway_id: &GatewayPaymentId,
    ) -> Result<Option<PaymentRecord>, RepoError> {
        let row = payment::Entity::find()
            .filter(payment::Column::GatewayId.eq(gateway_id.as_str()))
            .one(self.db())
            .await
            .map_err(|e| repo("find payment", e))?;
        Ok(row.map(convert_payment::from_row).transpose()?)
    }

    async fn payments(&self, account: AccountId) -> Result<Vec<PaymentRecord>, RepoError> {
        let rows = payment::Entity::find()
            .filter(payment::Column::AccountId.eq(to_db_id(account.get())?))
            .order_by_asc(payment::Column::Id)
            .all(self.db())
            .await
            .map_err(|e| repo("list payments", e))?;
        Ok(rows
            .into_iter()
            .map(convert_payment::from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn transition_payment(
        &self,
        gateway_id: &GatewayPaymentId,
        from: PaymentState,
        to: PaymentState,
        on: Date,
    ) -> Result<(), RepoError> {
        self.set_payment_state(gateway_id, from, to, None, on).await
    }

    async fn fail_payment(
        &self,
        gateway_id: &GatewayPaymentId,
        from: PaymentState,
        reason: &str,
        on: Date,
    ) -> Result<(), RepoError> {
        self.set_payment_state(gateway_id, from, PaymentState::Failed, Some(reason), on)
            .await
    }

    async fn record_refund_request(
        &self,
        request: &NewRefundRequest,
    ) -> Result<RefundRequest, RepoError> {
        let row = convert_payment::refund_to_row(request)?;
        let id = refund_request::Entity::insert(row)
            .exec(self.db())
            .await
            .map_err(|e| repo("record refund request", e))?
            .last_insert_id;
        let id = u64::try_from(id)
            .map_err(|_| RepoError::Unavailable(format!("refund request id {id}")))?;
        Ok(RefundRequest {
            id: RefundRequestId::new(id),
            payment: request.payment,
            gateway_id: request.gateway_id.clone(),
            account: request.account,
            amount: request.amount,
            number: request.number.clone(),
            received_on: request.received_on,
            due_by: request.due_by,
            status: billing_core::ports::RefundStatus::Requested,
        })
    }

    async fn refund_request(
        &self,
        id: RefundRequestId,
    ) -> Result<Option<RefundRequest>, RepoError> {
        let row = refund_request::Entity::find_by_id(to_db_id(id.get())?)
            .one(self.db())
            .await
            .map_err(|e| repo("find refund request", e))?;
        Ok(row.map(convert_payment::refund_from_row).transpose()?)
    }

    async fn refund_request_by_number(
        &self,
        payment: PaymentId,
        number: &str,
    ) -> Result<Option<RefundRequest>, RepoError> {
        let row = refund_request::Entity::find()
            .filter(refund_request::Column::PaymentId.eq(to_db_id(payment.get())?))
            .filter(refund_request::Column::Number.eq(number))
            .one(self.db())
            .await
            .map_err(|e| repo("find refund request", e))?;
        Ok(row.map(convert_payment::refund_from_row).transpose()?)
    }

    async fn complete_refund(
        &self,
        id: RefundRequestId,
        refunded_before: Money,
        on: Date,
    ) -> Result<(), RepoError> {
        let request_id = to_db_id(id.get())?;
        let fail = |e| repo("complete refund", e);
        let tx = self.begin_write().await.map_err(fail)?;
        self.lock_rows(
            &tx,
            "SELECT id FROM refund_requests WHERE id = $1 FOR UPDATE",
            [request_id.into()],
        )
        .await
        .map_err(fail)?;
        let request = refund_request::Entity::find_by_id(request_id)
            .one(&tx)
            .await
            .map_err(fail)?
            .ok_or(RepoError::NotFound)?;
        let request = convert_payment::refund_from_row(request)?;
        if request.status != billing_core::ports::RefundStatus::Requested {
            return Err(RepoError::Conflict);
        }
        let payment_id = to_db_id(request.payment.get())?;
        self.lock_rows(
            &tx,
            "SELECT id FROM payments WHERE id = $1 FOR UPDATE",
            [payment_id.into()],
        )
        .await
        .map_err(fail)?;
        let paid = payment::Entity::find_by_id(payment_id)
            .one(&tx)
            .await
            .map_err(fail)?
            .ok_or(RepoError::NotFound)?;
        let paid = convert_payment::from_row(paid)?;
        let refunded = refunded_before
            .checked_add(request.amount)
            .ok_or(RepoError::Conflict)?;
        if paid.refunded != refunded_before || refunded > paid.amount {
            return Err(RepoError::Conflict);
        }
        let state = if refunded == paid.amount {
            PaymentState::Refunded
        } else {
            paid.state
        };
        let moved = tx
            .execute_raw(self.statement(
                "UPDATE payments SET refunded = $1, state = $2 WHERE id = $3 AND refunded = $4",
                [
                    money(refunded).into(),
                    state_tag(state).into(),
                    payment_id.into(),
                    money(refunded_before).into(),
                ],
            ))
            .await
            .map_err(fail)?;
        let decided = tx
            .execute_raw(self.statement(
                "UPDATE refund_requests SET status = $1, decided_on = $2 \
                 WHERE id = $3 AND status = $4",
                [
                    convert_payment::REFUNDED.into(),
                    day_text(on).into(),
                    request_id.into(),
                    convert_payment::REQUESTED.into(),
                ],
            ))
            .await
            .map_err(fail)?;
        if moved.rows_affected() != 1 || decided.rows_affected() != 1 {
            return Err(RepoError::Conflict);
        }
        let record = LedgerRecord {
            date: on,
            fact: LedgerFact::Refund {
                payment: request.payment,
                amount: request.amount,
            },
        };
        append(&tx, to_db_id(paid.account.get())?, &record).await?;
        tx.commit().await.map_err(fail)
    }

    async fn reject_refund(
        &self,
        id: RefundRequestId,
        reason: &str,
        on: Date,
    ) -> Result<(), RepoError> {
        let request_id = to_db_id(id.get())?;
        let fail = |e| repo("reject refund", e);
        let done = self
            .db()
            .execute_raw(self.statement(
                "UPDATE refund_requests SET status = $1, decided_on = $2, rejection_reason = $3 \
                 WHERE id = $4 AND status = $5",
                [
                    convert_payment::REJECTED.into(),
                    day_text(on).into(),
                    reason.into(),
                    request_id.into(),
                    convert_payment::REQUESTED.into(),
                ],
            ))
            .await
            .map_err(fail)?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        let exists = refund_request::Entity::find_by_id(request_id)
            .one(self.db())
            .await
            .map_err(fail)?
            .is_some();
        Err(if exists {
            RepoError::Conflict
        } else {
            RepoError::NotFound
        })
    }
}
