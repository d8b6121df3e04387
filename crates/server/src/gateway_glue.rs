//! The sandbox payment gateway's storage and transport, over the service's own components:
//!
//! - [`StoreGlue`] implements the sandbox gateway's [`GatewayStore`] over storage's
//!   `sandbox_payment_*` / `webhook_*` methods (the two crates' record types mirror each other
//!   field for field; the conversions below are the only place they meet);
//! - [`HttpTransport`] delivers webhooks over real HTTP with `reqwest` (5 s timeout), so the
//!   notifications reach `/webhooks/payments` exactly as an acquirer's would.

use std::time::Duration;

use async_trait::async_trait;
use fake_providers::gateway::{
    GatewayStore, NewWebhookDelivery, RefundAdded, SandboxPaymentRecord, SandboxRefundRecord,
    WebhookAttempt, WebhookAttemptOutcome, WebhookDeliveryRecord,
};
use fake_providers::store::StoreError;
use fake_providers::webhooks::WebhookTransport;
use identity_core::ports::{PortError, WriteError};
use storage_seaorm as st;
use time::OffsetDateTime;

use crate::glue::StoreGlue;

fn unavailable(e: PortError) -> StoreError {
    StoreError::Unavailable(e.message().to_owned())
}

fn write_error(e: WriteError) -> StoreError {
    match e {
        WriteError::Duplicate => StoreError::Duplicate,
        WriteError::Conflict => StoreError::Unavailable("concurrent write".to_owned()),
        WriteError::Port(e) => unavailable(e),
    }
}

fn payment_out(p: &SandboxPaymentRecord) -> st::SandboxPaymentRecord {
    st::SandboxPaymentRecord {
        id: p.id.clone(),
        order_ref: p.order_ref.clone(),
        account_number: p.account_number.clone(),
        amount: p.amount,
        description: p.description.clone(),
        return_url: p.return_url.clone(),
        contact_email: p.contact_email.clone(),
        contact_phone: p.contact_phone.clone(),
        status: p.status.clone(),
        failure_reason: p.failure_reason.clone(),
        card_last4: p.card_last4.clone(),
        card_brand: p.card_brand.clone(),
        code_attempts: p.code_attempts,
        refunded: p.refunded,
        created_at: p.created_at,
        updated_at: p.updated_at,
        version: p.version,
    }
}

fn payment_in(p: st::SandboxPaymentRecord) -> SandboxPaymentRecord {
    SandboxPaymentRecord {
        id: p.id,
        order_ref: p.order_ref,
        account_number: p.account_number,
        amount: p.amount,
        description: p.description,
        return_url: p.return_url,
        contact_email: p.contact_email,
        contact_phone: p.contact_phone,
        status: p.status,
        failure_reason: p.failure_reason,
        card_last4: p.card_last4,
        card_brand: p.card_brand,
        code_attempts: p.code_attempts,
        refunded: p.refunded,
        created_at: p.created_at,
        updated_at: p.updated_at,
        version: p.version,
    }
}

fn refund_out(r: &SandboxRefundRecord) -> st::SandboxRefundRecord {
    st::SandboxRefundRecord {
        id: r.id.clone(),
        payment_id: r.payment_id.clone(),
        refund_ref: r.refund_ref.clone(),
        amount: r.amount,
        created_at: r.created_at,
    }
}

fn refund_in(r: st::SandboxRefundRecord) -> SandboxRefundRecord {
    SandboxRefundRecord {
        id: r.id,
        payment_id: r.payment_id,
        refund_ref: r.refund_ref,
        amount: r.amount,
        created_at: r.created_at,
    }
}

fn delivery_out(d: &NewWebhookDelivery) -> st::NewWebhookDelivery {
    st::NewWebhookDelivery {
        event_id: d.event_id.clone(),
        payment_id: d.payment_id.clone(),
        event_type: d.event_type.clone(),
        payload: d.payload.clone(),
        due_at: d.due_at,
        created_at: d.created_at,
    }
}

fn deliveries_out(events: &[NewWebhookDelivery]) -> Vec<st::NewWebhookDelivery> {
    events.iter().map(delivery_out).collect()
}

fn delivery_in(d: st::WebhookDeliveryRecord) -> WebhookDeliveryRecord {
    WebhookDeliveryRecord {
        id: d.id,
        event_id: d.event_id,
        payment_id: d.payment_id,
        event_type: d.event_type,
        payload: d.payload,
        attempts: d.attempts,
        next_attempt_at: d.next_attempt_at,
        delivered_at: d.delivered_at,
        failed_at: d.failed_at,
        last_status: d.last_status,
        last_error: d.last_error,
        created_at: d.created_at,
    }
}

fn attempt_out(a: &WebhookAttempt) -> st::WebhookAttempt {
    st::WebhookAttempt {
        at: a.at,
        status: a.status,
        error: a.error.clone(),
        outcome: match a.outcome {
            WebhookAttemptOutcome::Delivered => st::WebhookAttemptOutcome::Delivered,
            WebhookAttemptOutcome::RetryAt(t) => st::WebhookAttemptOutcome::RetryAt(t),
            WebhookAttemptOutcome::GaveUp => st::WebhookAttemptOutcome::GaveUp,
        },
    }
}

#[async_trait]
impl GatewayStore for StoreGlue {
    async fn insert_payment(&self, p: &SandboxPaymentRecord) -> Result<(), StoreError> {
        self.0
            .sandbox_payment_insert(&payment_out(p))
            .await
            .map_err(write_error)
    }

    async fn payment(&self, id: &str) -> Result<Option<SandboxPaymentRecord>, StoreError> {
        Ok(self
            .0
            .sandbox_payment(id)
            .await
            .map_err(unavailable)?
            .map(payment_in))
    }

    async fn payment_by_order_ref(
        &self,
        order_ref: &str,
    ) -> Result<Option<SandboxPaymentRecord>, StoreError> {
        Ok(self
            .0
            .sandbox_payment_by_order_ref(order_ref)
            .await
            .map_err(unavailable)?
            .map(payment_in))
    }

    async fn update_payment(
        &self,
        p: &SandboxPaymentRecord,
        events: &[NewWebhookDelivery],
    ) -> Result<bool, StoreError> {
        self.0
            .sandbox_payment_update(&payment_out(p), &deliveries_out(events))
            .await
            .map_err(unavailable)
    }

    async fn add_refund(
        &self,
        r: &SandboxRefundRecord,
        p: &SandboxPaymentRecord,
        events: &[NewWebhookDelivery],
    ) -> Result<RefundAdded, StoreError> {
        Ok(
            match self
                .0
                .sandbox_refund_add(&refund_out(r), &payment_out(p), &deliveries_out(events))
                .await
                .map_err(unavailable)?
            {
                st::RefundAdded::Added => RefundAdded::Added,
                st::RefundAdded::DuplicateRef(r) => RefundAdded::DuplicateRef(refund_in(r)),
                st::RefundAdded::VersionConflict => RefundAdded::VersionConflict,
            },
        )
    }

    async fn refunds(&self, payment_id: &str) -> Result<Vec<SandboxRefundRecord>, StoreError> {
        Ok(self
            .0
            .sandbox_refunds(payment_id)
            .await
            .map_err(unavailable)?
            .into_iter()
            .map(refund_in)
            .collect())
    }

    async fn enqueue_webhook(&self, d: &NewWebhookDelivery) -> Result<u64, StoreError> {
        self.0
            .webhook_enqueue(&delivery_out(d))
            .await
            .map_err(write_error)
    }

    async fn claim_due_webhooks(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<WebhookDeliveryRecord>, StoreError> {
        Ok(self
            .0
            .webhook_claim_due(now, lease_until, limit)
            .await
            .map_err(unavailable)?
            .into_iter()
            .map(delivery_in)
            .collect())
    }

    async fn record_webhook_attempt(
        &self,
        id: u64,
        attempt: &WebhookAttempt,
    ) -> Result<bool, StoreError> {
        self.0
            .webhook_record_attempt(id, &attempt_out(attempt))
            .await
            .map_err(unavailable)
    }

    async fn webhook_deliveries(
        &self,
        payment_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<WebhookDeliveryRecord>, StoreError> {
        Ok(self
            .0
            .webhook_deliveries(payment_id, limit)
            .await
            .map_err(unavailable)?
            .into_iter()
            .map(delivery_in)
            .collect())
    }

    async fn redeliver_webhook(&self, id: u64, at: OffsetDateTime) -> Result<bool, StoreError> {
        self.0.webhook_redeliver(id, at).await.map_err(unavailable)
    }

    async fn purge_webhooks(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.0.webhook_purge(before).await.map_err(unavailable)
    }
}

/// Delivers webhooks over HTTP.
#[derive(Clone, Debug)]
pub struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    /// A client with a 5-second timeout and no redirects (a webhook endpoint answers, it does
    /// not redirect).
    pub fn new() -> Result<HttpTransport, reqwest::Error> {
        Ok(HttpTransport {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        })
    }
}

#[async_trait]
impl WebhookTransport for HttpTransport {
    async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<u16, String> {
        let mut request = self.client.post(url).body(body.to_vec());
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        request
            .send()
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| e.to_string())
    }
}
