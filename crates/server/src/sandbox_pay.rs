//! The sandbox payment gateway's own pages (only with the sandbox providers), as an acquirer
//! hosts them: the service never sees the card.
//!
//! - `GET /sandbox/pay/{id}` — the payment page: amount, ЛС, the card form (or the
//!   confirmation-code form, or the outcome), and the test cards;
//! - `POST /sandbox/pay/{id}` (form `number`, `expiry` `MM/YY`, `cvc`) — pays; on a final
//!   outcome answers `303 See Other` to the cabinet's return page, on a code step back to the
//!   payment page, on a form error the page again with the reason (422);
//! - `POST /sandbox/pay/{id}/confirm` (form `code`) — the confirmation-code step (3-DS);
//! - `GET /sandbox/webhooks?payment_id=` — the gateway's notification deliveries as JSON
//!   (attempts, last status, delivered or given up), newest first;
//! - `POST /sandbox/webhooks/{id}/redeliver` — delivers one again (as a gateway's dashboard
//!   allows).

use std::fmt::Write as _;
use std::sync::Arc;

use fake_providers::gateway::{GatewayStore, WebhookDeliveryRecord};
use fake_providers::{CardError, CardForm, CardOutcome, CheckoutView, SandboxGateway, TEST_CARDS};
use http_api::pages::{escape, page};
use poem::http::StatusCode;
use poem::web::{Data, Form, Json, Path, Query, Redirect};
use poem::{EndpointExt, IntoResponse, Response, Route, get, handler, post};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Most deliveries one request lists.
const MAX_DELIVERIES: u32 = 200;

/// The longest payment id looked up (the sandbox's are 28 characters).
const MAX_ID: usize = 64;

#[derive(Deserialize)]
struct CardFormBody {
    number: String,
    expiry: String,
    cvc: String,
}

#[derive(Deserialize)]
struct CodeFormBody {
    code: String,
}

fn rub(view: &CheckoutView) -> String {
    format!("{} ₽", view.amount.to_string().replace('.', ","))
}

fn test_cards_html() -> String {
    let mut html = String::from("<details><summary>Тестовые карты</summary><table>");
    for card in TEST_CARDS {
        let _ = write!(
            html,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            escape(&card.grouped()),
            escape(card.brand),
            escape(card.description)
        );
    }
    html.push_str(
        "</table><p>Срок действия — любой в будущем, CVC — любые три цифры.</p></details>",
    );
    html
}

fn checkout_page(view: &CheckoutView, error: Option<&str>, status: StatusCode) -> Response {
    let mut body = format!(
        "<p><b>{}</b></p><p>{} · ЛС {}</p>",
        escape(&rub(view)),
        escape(&view.description),
        escape(&view.account_number)
    );
    if let Some(error) = error {
        let _ = write!(
            body,
            "<p role=\"alert\" style=\"color:#b00\">{}</p>",
            escape(error)
        );
    }
    let id = escape(&view.payment_id);
    if view.status.is_final() {
        let outcome = match &view.failure_reason {
            Some(reason) => format!("Платёж не прошёл: {}.", escape(reason)),
            None => "Платёж выполнен.".to_owned(),
        };
        let _ = write!(
            body,
            "<p>{outcome}</p><p><a href=\"{}\">Вернуться в личный кабинет</a></p>",
            escape(&view.return_url)
        );
    } else if view.code_awaited {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/sandbox/pay/{id}/confirm\">\
             <label>Код подтверждения из SMS <input name=\"code\" inputmode=\"numeric\" \
             autocomplete=\"one-time-code\" maxlength=\"6\" required></label>\
             <button>Подтвердить</button></form><p><small>Осталось попыток: {}. В песочнице \
             код — 123456.</small></p>",
            view.code_attempts_left
        );
    } else {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/sandbox/pay/{id}\">\
             <label>Номер карты <input name=\"number\" inputmode=\"numeric\" \
             autocomplete=\"cc-number\" maxlength=\"23\" required></label>\
             <label>Срок действия (ММ/ГГ) <input name=\"expiry\" autocomplete=\"cc-exp\" \
             maxlength=\"5\" placeholder=\"12/30\" required></label>\
             <label>CVC <input name=\"cvc\" inputmode=\"numeric\" autocomplete=\"cc-csc\" \
             maxlength=\"3\" required></label><button>Оплатить {}</button></form>{}",
            escape(&rub(view)),
            test_cards_html()
        );
    }
    page(status, "Песочница: оплата картой", &body)
}

fn not_found() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Платёж не найден",
        "<p>Ссылка на оплату неверна или устарела. Начните оплату в личном кабинете заново.</p>",
    )
}

fn unavailable(context: &str, error: &dyn std::fmt::Display) -> Response {
    tracing::error!(%error, context, "sandbox gateway failed");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Платёжная система недоступна",
        "<p>Повторите попытку через несколько минут.</p>",
    )
}

fn id_ok(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID
}

#[handler]
async fn pay_page(gateway: Data<&Arc<SandboxGateway>>, Path(id): Path<String>) -> Response {
    if !id_ok(&id) {
        return not_found();
    }
    match gateway.checkout(&id).await {
        Ok(Some(view)) => checkout_page(&view, None, StatusCode::OK),
        Ok(None) => not_found(),
        Err(e) => unavailable("read a sandbox payment", &e),
    }
}

/// The answer to a card or code submission.
async fn after_submit(
    gateway: &SandboxGateway,
    id: &str,
    result: Result<CardOutcome, CardError>,
) -> Response {
    match result {
        Ok(CardOutcome::Succeeded { return_url } | CardOutcome::Failed { return_url, .. }) => {
            Redirect::see_other(return_url).into_response()
        }
        Ok(CardOutcome::CodeRequired { .. }) => {
            Redirect::see_other(format!("/sandbox/pay/{id}")).into_response()
        }
        Err(CardError::NotFound) => not_found(),
        Err(CardError::Unavailable(e)) => unavailable("pay a sandbox payment", &e),
        Err(e) => match gateway.checkout(id).await {
            Ok(Some(view)) => checkout_page(
                &view,
                Some(&e.user_message()),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            Ok(None) => not_found(),
            Err(e) => unavailable("read a sandbox payment", &e),
        },
    }
}

#[handler]
async fn pay(
    gateway: Data<&Arc<SandboxGateway>>,
    Path(id): Path<String>,
    Form(form): Form<CardFormBody>,
) -> Response {
    if !id_ok(&id) {
        return not_found();
    }
    let card = CardForm {
        number: form.number,
        expiry: form.expiry,
        cvc: form.cvc,
    };
    let result = gateway.submit_card(&id, &card).await;
    after_submit(&gateway, &id, result).await
}

#[handler]
async fn confirm(
    gateway: Data<&Arc<SandboxGateway>>,
    Path(id): Path<String>,
    Form(form): Form<CodeFormBody>,
) -> Response {
    if !id_ok(&id) {
        return not_found();
    }
    let result = gateway.confirm_code(&id, form.code.trim()).await;
    after_submit(&gateway, &id, result).await
}

/// A notification delivery as the sandbox dashboard shows it.
#[derive(Serialize)]
struct DeliveryDto {
    id: u64,
    event_id: String,
    event_type: String,
    payment_id: String,
    attempts: u32,
    #[serde(with = "time::serde::rfc3339")]
    next_attempt_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    delivered_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    failed_at: Option<OffsetDateTime>,
    last_status: Option<u16>,
    last_error: Option<String>,
    payload: serde_json::Value,
}

fn delivery_dto(d: WebhookDeliveryRecord) -> DeliveryDto {
    DeliveryDto {
        payload: serde_json::from_str(&d.payload).unwrap_or(serde_json::Value::Null),
        id: d.id,
        event_id: d.event_id,
        event_type: d.event_type,
        payment_id: d.payment_id,
        attempts: d.attempts,
        next_attempt_at: d.next_attempt_at,
        delivered_at: d.delivered_at,
        failed_at: d.failed_at,
        last_status: d.last_status,
        last_error: d.last_error,
    }
}

#[derive(Deserialize)]
struct DeliveriesQuery {
    payment_id: Option<String>,
    limit: Option<u32>,
}

#[handler]
async fn deliveries(
    store: Data<&Arc<dyn GatewayStore>>,
    Query(q): Query<DeliveriesQuery>,
) -> poem::Result<Json<Vec<DeliveryDto>>> {
    let limit = q.limit.unwrap_or(50).clamp(1, MAX_DELIVERIES);
    let payment = q.payment_id.as_deref().filter(|p| id_ok(p));
    let list = store
        .webhook_deliveries(payment, limit)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "sandbox webhook deliveries read failed");
            poem::Error::from_status(StatusCode::SERVICE_UNAVAILABLE)
        })?;
    Ok(Json(list.into_iter().map(delivery_dto).collect()))
}

#[handler]
async fn redeliver(
    store: Data<&Arc<dyn GatewayStore>>,
    clock: Data<&Arc<fake_providers::AdjustableClock>>,
    Path(id): Path<u64>,
) -> poem::Result<StatusCode> {
    let found = store
        .redeliver_webhook(id, clock.now())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "sandbox webhook redeliver failed");
            poem::Error::from_status(StatusCode::SERVICE_UNAVAILABLE)
        })?;
    Ok(if found {
        StatusCode::ACCEPTED
    } else {
        StatusCode::NOT_FOUND
    })
}

/// The sandbox gateway's routes, to nest under `/sandbox`.
pub fn routes(
    gateway: Arc<SandboxGateway>,
    store: Arc<dyn GatewayStore>,
    clock: Arc<fake_providers::AdjustableClock>,
) -> Route {
    Route::new()
        .at(
            "/pay/:id",
            get(pay_page).post(pay).data(Arc::clone(&gateway)),
        )
        .at("/pay/:id/confirm", post(confirm).data(gateway))
        .at("/webhooks", get(deliveries).data(Arc::clone(&store)))
        .at(
            "/webhooks/:id/redeliver",
            post(redeliver).data(store).data(clock),
        )
}
