//! The black-box test harness: [`TestService::start`] starts the real service (the same
//! `server::app::App` the `abonent` binary runs) on a free port against a fresh database, and
//! hands out an HTTP client. Tests talk to it only over HTTP.
//!
//! Backends: [`Backend::Sqlite`] uses a new file in a temporary directory per service;
//! PostgreSQL joins with the journeys of later slices.

use std::path::PathBuf;

use server::app::{App, RunningApp};
use server::config::Config;

/// Which database the service under test uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file.
    Sqlite,
}

/// A running service under test.
pub struct TestService {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A client with its own cookie jar.
    pub client: reqwest::Client,
    app: Option<RunningApp>,
    _dir: tempfile::TempDir,
    /// The database file.
    pub database: PathBuf,
}

impl TestService {
    /// Starts the service on a free port against a fresh database.
    pub async fn start(backend: Backend) -> TestService {
        let Backend::Sqlite = backend;
        let dir = tempfile::tempdir().expect("temporary directory");
        let database = dir.path().join("abonent.db");
        let config = Config {
            listen: "127.0.0.1:0".parse().expect("address"),
            database_url: format!("sqlite://{}", database.display()),
            ..Config::default()
        };
        let app = App::start(config).await.expect("the service starts");
        let base = format!("http://{}", app.addr);
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("HTTP client");
        TestService {
            base,
            client,
            app: Some(app),
            _dir: dir,
            database,
        }
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Stops the service gracefully (waits for requests in flight).
    pub async fn stop(mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await.expect("the service stops cleanly");
        }
    }
}

impl TestService {
    /// GET `path` with this service's client and parse the JSON body (any status).
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("a JSON body")
    }

    /// GET `path` with a bearer `token` and parse the JSON body (any status).
    pub async fn get_json_as(&self, path: &str, token: &str) -> serde_json::Value {
        reqwest::Client::new()
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("a JSON body")
    }

    /// A fresh captcha's answer as the API takes it (`"<id>:<answer>"`; the sandbox reveals it).
    pub async fn captcha_answer(&self) -> String {
        let c = self.get_json("/api/v1/captcha").await;
        format!(
            "{}:{}",
            c["id"].as_str().expect("captcha id"),
            c["sandbox_answer"].as_str().expect("sandbox answer")
        )
    }

    /// Every message the sandbox outbox holds for `to`, oldest first.
    pub async fn messages(&self, to: &str) -> Vec<serde_json::Value> {
        let list = reqwest::Client::new()
            .get(self.url("/sandbox/messages"))
            .query(&[("to", to), ("limit", "500")])
            .send()
            .await
            .expect("request")
            .json::<serde_json::Value>()
            .await
            .expect("a JSON body");
        list.as_array().cloned().unwrap_or_default()
    }

    /// The newest message for `to` (SMS and email are delivered before the request that sent
    /// them answers, so there is nothing to wait for).
    pub async fn last_message(&self, to: &str) -> serde_json::Value {
        self.messages(to)
            .await
            .pop()
            .unwrap_or_else(|| panic!("no message for {to}"))
    }

    /// Moves the service's clock forward by `seconds` (sandbox clock).
    pub async fn advance_clock(&self, seconds: i64) {
        let resp = reqwest::Client::new()
            .post(self.url("/sandbox/clock"))
            .json(&serde_json::json!({ "advance_seconds": seconds }))
            .send()
            .await
            .expect("request");
        assert!(
            resp.status().is_success(),
            "sandbox clock: {}",
            resp.status()
        );
    }

    /// Sets the service's clock to `day` of the current month (at the supplier, UTC+3) at
    /// noon — the demo's history ends with the previous month, so the current month is open
    /// whatever the real date.
    pub async fn set_clock_to_day(&self, day: u8) {
        let state = self.get_json("/sandbox/clock").await;
        let offset = state["offset_seconds"].as_i64().expect("offset");
        let now = time::OffsetDateTime::parse(
            state["now"].as_str().expect("now"),
            &time::format_description::well_known::Rfc3339,
        )
        .expect("an RFC 3339 time");
        let real = now - time::Duration::seconds(offset);
        let msk = time::UtcOffset::from_hms(3, 0, 0).expect("offset");
        let today = real.to_offset(msk).date();
        let target = time::PrimitiveDateTime::new(
            today.replace_day(day).expect("a day of the month"),
            time::Time::from_hms(12, 0, 0).expect("noon"),
        )
        .assume_offset(msk);
        let resp = reqwest::Client::new()
            .post(self.url("/sandbox/clock"))
            .json(&serde_json::json!({ "offset_seconds": (target - real).whole_seconds() }))
            .send()
            .await
            .expect("request");
        assert!(
            resp.status().is_success(),
            "sandbox clock: {}",
            resp.status()
        );
    }

    /// Asserts `resp` is a problem of `status` and `slug` with a Russian detail; returns it.
    pub async fn assert_problem(
        &self,
        resp: reqwest::Response,
        status: u16,
        slug: &str,
    ) -> serde_json::Value {
        assert_eq!(resp.status().as_u16(), status, "status of {}", resp.url());
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(ct.starts_with("application/problem+json"), "{ct}");
        let body: serde_json::Value = resp.json().await.expect("problem body");
        assert_eq!(body["type"], format!("/problems/{slug}"), "{body}");
        assert_eq!(body["status"], status, "{body}");
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_ascii()),
            "{body}"
        );
        body
    }
}
