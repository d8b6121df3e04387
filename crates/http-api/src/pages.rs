//! The pages emailed links open (`/l/…`), outside the OpenAPI document: plain HTML with a
//! form, no script, so they work from any mail client's browser.
//!
//! - `GET /l/confirm-email?token=…` shows a button; its `POST /l/confirm-email` confirms the
//!   address. Opening the link alone changes nothing, so a mail scanner that follows links
//!   cannot use the token up.
//! - `GET /l/recover?token=…` asks for the new password twice; its `POST /l/recover` sets it
//!   (and unblocks a blocked cabinet).
//!
//! - `GET /l/payment-return` is where the payment gateway's page sends the payer back.
//!
//! The token is the only authority these forms carry (no session, no cookie), so a cross-site
//! form post gains nothing; every text is escaped.

use identity_core::UserMessage;
use identity_core::secret::Secret;
use poem::http::StatusCode;
use poem::web::{Data, Form, Html, Query};
use poem::{IntoResponse, Request, Response, Route, get, handler};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Client;

/// The longest token accepted (the core's tokens are 64 hex characters).
const TOKEN_MAX: usize = 256;

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

#[derive(Deserialize)]
struct ConfirmForm {
    token: String,
}

#[derive(Deserialize)]
struct RecoverForm {
    token: String,
    password: String,
    password_repeat: String,
}

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A plain page: `title` (escaped) as the heading, `body` as given (escape what it quotes).
pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    Html(format!(
        "<!doctype html><html lang=\"ru\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{t}</title>\
         <style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         input,button{{font-size:1rem;padding:.4rem;margin:.3rem 0;width:100%}}</style></head>\
         <body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    ))
    .with_status(status)
    .into_response()
}

fn token_ok(token: &str) -> bool {
    !token.is_empty() && token.len() <= TOKEN_MAX
}

fn bad_link() -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Ссылка неполная",
        "<p>В ссылке нет кода подтверждения. Скопируйте ссылку из письма целиком.</p>",
    )
}

#[handler]
fn confirm_email_page(Query(q): Query<TokenQuery>) -> Response {
    let Some(token) = q.token.filter(|t| token_ok(t)) else {
        return bad_link();
    };
    page(
        StatusCode::OK,
        "Подтверждение адреса почты",
        &format!(
            "<form method=\"post\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
             <button>Подтвердить адрес</button></form>",
            escape(&token)
        ),
    )
}

#[handler]
async fn confirm_email(
    state: Data<&AppState>,
    req: &Request,
    Form(form): Form<ConfirmForm>,
) -> Response {
    if !token_ok(&form.token) {
        return bad_link();
    }
    let client = Client::of(req);
    match state
        .identity
        .confirm_email(&Secret::new(form.token), &client.info)
        .await
    {
        Ok(()) => page(
            StatusCode::OK,
            "Адрес подтверждён",
            "<p>Теперь по этому адресу можно входить в личный кабинет.</p>",
        ),
        Err(e) => {
            if let identity_core::ConfirmEmailError::Unexpected(p) = &e {
                tracing::error!(error = %p, "email confirmation failed");
            }
            page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Адрес не подтверждён",
                &format!("<p>{}</p>", escape(e.user_message())),
            )
        }
    }
}

fn recover_form(token: &str, error: Option<&str>) -> String {
    format!(
        "{}<form method=\"post\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
         <label>Новый пароль<input type=\"password\" name=\"password\" \
         autocomplete=\"new-password\" required></label>\
         <label>Ещё раз<input type=\"password\" name=\"password_repeat\" \
         autocomplete=\"new-password\" required></label>\
         <button>Сохранить пароль</button></form>",
        error
            .map(|e| format!("<p><b>{}</b></p>", escape(e)))
            .unwrap_or_default(),
        escape(token)
    )
}

#[handler]
fn recover_page(Query(q): Query<TokenQuery>) -> Response {
    let Some(token) = q.token.filter(|t| token_ok(t)) else {
        return bad_link();
    };
    page(StatusCode::OK, "Новый пароль", &recover_form(&token, None))
}

#[handler]
async fn recover(state: Data<&AppState>, req: &Request, Form(form): Form<RecoverForm>) -> Response {
    if !token_ok(&form.token) {
        return bad_link();
    }
    let client = Client::of(req);
    let result = state
        .identity
        .complete_recovery_by_link(
            &Secret::new(form.token.clone()),
            &Secret::new(form.password),
            &Secret::new(form.password_repeat),
            &client.info,
        )
        .await;
    match result {
        Ok(()) => page(
            StatusCode::OK,
            "Пароль изменён",
            "<p>Войдите в личный кабинет с новым паролем. Все прежние сеансы завершены.</p>",
        ),
        // A refused password keeps the link usable: show the form again.
        Err(e @ identity_core::CompleteRecoveryError::Password(_)) => page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Новый пароль",
            &recover_form(&form.token, Some(e.user_message())),
        ),
        Err(e) => {
            if let identity_core::CompleteRecoveryError::Unexpected(p) = &e {
                tracing::error!(error = %p, "recovery by link failed");
            }
            page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Пароль не изменён",
                &format!("<p>{}</p>", escape(e.user_message())),
            )
        }
    }
}

/// The link pages, to nest under `/l`.
pub fn routes() -> Route {
    Route::new()
        .at(
            "/confirm-email",
            get(confirm_email_page).post(confirm_email),
        )
        .at("/recover", get(recover_page).post(recover))
        .at("/payment-return", get(payment_return))
}

/// Where the payment gateway's page sends the payer back: the payment is being credited.
#[handler]
fn payment_return() -> Response {
    page(
        StatusCode::OK,
        "Оплата принята в обработку",
        "<p>Платёжная система сообщит о результате в течение нескольких минут. \
         Статус платежа и чек — в разделе «Платежи» личного кабинета.</p>",
    )
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
