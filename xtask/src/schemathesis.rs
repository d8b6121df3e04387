//! `cargo xtask schemathesis [--max-examples N] [--seed N]` (also a step of `cargo xtask ci`,
//! with the seed [`CI_SEED`]): fuzzes the running service against its own OpenAPI document
//! with Schemathesis. Without `--seed` every run draws new inputs (explore locally); the CI
//! gate replays one seed so that its verdict is the code's, not the draw's.
//!
//! 1. A virtualenv `target/st-venv` with [`SCHEMATHESIS`] from PyPI (reused while it holds
//!    that version).
//! 2. The `abonent` binary (debug build) on `127.0.0.1:0` against a fresh SQLite file under
//!    `target/schemathesis/`, with the demo supplier; the port, the demo ЛС with their
//!    payment-document codes and the demo operator are read from its start-up banner.
//! 3. A demo subscriber registers by ЛС and links the other demo ЛС by their codes; the demo
//!    operator mints an Admin API key. Schemathesis sends the subscriber's bearer token and
//!    the key with every request, and draws most account, meter and supplier ids and
//!    periods from the real ones (`schemathesis.toml` dictionaries), so that handlers answer
//!    with data rather than 404.
//! 4. `st run` with the checks [`CHECKS`], [`WORKERS`] workers, every operation except
//!    [`EXCLUDED`] (they would end the session or block the cabinet), time-boxed to
//!    [`TIME_BOX`].
//! 5. The NDJSON report is read back: the step fails on a non-zero exit of `st`, on any 5xx
//!    response, on any failed check, and when fewer than [`MIN_REQUESTS`] requests were sent.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::ci::{cargo_command, run_cmd, workspace_root};

/// The Schemathesis release the step installs (pinned: a new release may add checks).
pub const SCHEMATHESIS: &str = "schemathesis==4.32.5";
/// What every response is checked for.
pub const CHECKS: &str = "not_a_server_error,response_schema_conformance";
/// Test cases per operation and phase, by default (about 5 000 requests in all).
pub const DEFAULT_MAX_EXAMPLES: u32 = 50;
/// The seed of the CI gate.
pub const CI_SEED: u64 = 20_261_124;
/// The run fails below this many requests: a run that tested little proves little.
pub const MIN_REQUESTS: u64 = 1000;
/// Concurrent workers (the service uses SQLite here: a single writer).
pub const WORKERS: &str = "2";
/// The longest `st run` may take.
pub const TIME_BOX: Duration = Duration::from_secs(600);
/// Operations not fuzzed, by operation id, and why.
pub const EXCLUDED: &[(&str, &str)] = &[
    ("logout", "ends the session the run uses"),
    ("logoutEverywhere", "ends the session the run uses"),
    (
        "endSession",
        "may end the session the run uses (ids are listed)",
    ),
    ("changePassword", "ends the other sessions"),
    ("changeEmail", "changes a login of the cabinet"),
    ("blockCabinet", "blocks the cabinet the run uses"),
    (
        "unlinkAccount",
        "removes the ЛС the account-scoped operations need",
    ),
    ("operatorLogout", "ends an operator session"),
    (
        "operatorBlockCabinet",
        "may block the cabinet the run uses (ids are listed)",
    ),
    (
        "operatorRevokeApiKey",
        "may revoke the key the run uses (ids are listed)",
    ),
];

const PHONE: &str = "+79990000001";
const PASSWORD: &str = "Schemathesis-пароль-2026";

/// What a run sent and found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Figures {
    /// Requests sent.
    pub requests: u64,
    /// Responses with a 5xx status.
    pub server_errors: u64,
    /// Checks that failed (a 5xx counts here too).
    pub failed_checks: u64,
}

/// `cargo xtask schemathesis [--max-examples N]`.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut max_examples = DEFAULT_MAX_EXAMPLES;
    let mut seed = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--max-examples" => {
                max_examples = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--max-examples takes a positive number")?;
            }
            "--seed" => {
                seed = Some(
                    it.next()
                        .and_then(|n| n.parse().ok())
                        .ok_or("--seed takes a number")?,
                );
            }
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    let started = Instant::now();
    let figures = step(&workspace_root(), max_examples, seed)?;
    println!(
        "schemathesis: {} requests, {} failures, {:.0} s",
        figures.requests,
        figures.failed_checks,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The whole step: venv, build, service, log-ins, `st run` (with `seed` if given), verdict.
pub fn step(root: &Path, max_examples: u32, seed: Option<u64>) -> Result<Figures, String> {
    let st = ensure_schemathesis(root)?;
    run_cmd(cargo_command(root).args(["build", "--locked", "-p", "server", "--bin", "abonent"]))?;
    let target = target_dir(root);
    let dir = target.join("schemathesis");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(dir.join("report"))
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let service = Service::start(
        &target.join("debug").join("abonent"),
        &dir,
        &format!("sqlite://{}", dir.join("st.db").display()),
        &["--sandbox-webhook-delay-ms", "0"],
    )?;
    println!("service under test: {}", service.base);
    let session = prepare(&service).map_err(|e| {
        format!(
            "{e} (the service's log: {})",
            dir.join("abonent.log").display()
        )
    })?;
    let config = dir.join("schemathesis.toml");
    std::fs::write(&config, session.config_toml())
        .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
    let events = dir.join("report").join("events.ndjson");
    let mut cmd = Command::new(&st);
    cmd.current_dir(&dir)
        // Tokens reach `st` through the environment (the config file refers to them), not
        // through its command line.
        .env("ABONENT_ST_TOKEN", &session.token)
        .env("ABONENT_ST_API_KEY", &session.api_key)
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("{}/openapi.json", service.base))
        .args(["--checks", CHECKS, "--workers", WORKERS])
        .args(["--max-examples", &max_examples.to_string()])
        .args(["--request-timeout", "30", "--no-color"])
        .args(["--report", "junit,ndjson"])
        .arg("--report-junit-path")
        .arg(dir.join("report").join("junit.xml"))
        .arg("--report-ndjson-path")
        .arg(&events);
    for (id, _) in EXCLUDED {
        cmd.args(["--exclude-operation-id", id]);
    }
    if let Some(seed) = seed {
        cmd.args(["--seed", &seed.to_string()]);
    }
    println!(
        "st run: checks {CHECKS}, {max_examples} examples per operation, {WORKERS} workers, \
         seed {}, excluded: {}",
        seed.map_or_else(|| "random".to_owned(), |s| s.to_string()),
        EXCLUDED
            .iter()
            .map(|(id, why)| format!("{id} ({why})"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let status = run_time_boxed(&mut cmd, TIME_BOX)?;
    drop(service);
    let text = std::fs::read_to_string(&events)
        .map_err(|e| format!("cannot read the report {}: {e}", events.display()))?;
    let (figures, server_errors) = tally(&text);
    for line in &server_errors {
        println!("  5xx: {line}");
    }
    println!(
        "schemathesis: {} requests, {} server errors, {} failed checks (reports in {})",
        figures.requests,
        figures.server_errors,
        figures.failed_checks,
        dir.join("report").display()
    );
    let mut problems = Vec::new();
    if !status.success() {
        problems.push(format!(
            "st run exited with {status} (its failures are printed above)"
        ));
    }
    if figures.server_errors > 0 {
        problems.push(format!("{} responses were 5xx", figures.server_errors));
    }
    if figures.failed_checks > 0 {
        problems.push(format!("{} checks failed", figures.failed_checks));
    }
    if figures.requests < MIN_REQUESTS {
        problems.push(format!(
            "only {} requests were sent (at least {MIN_REQUESTS} are required)",
            figures.requests
        ));
    }
    if problems.is_empty() {
        Ok(figures)
    } else {
        Err(problems.join("; "))
    }
}

/// `target/st-venv/bin/st` with [`SCHEMATHESIS`], installing it if needed.
fn ensure_schemathesis(root: &Path) -> Result<PathBuf, String> {
    let venv = target_dir(root).join("st-venv");
    let st = venv.join("bin").join("st");
    let wanted = SCHEMATHESIS.rsplit('=').next().unwrap_or_default();
    let installed = Command::new(&st)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if let Some(version) = &installed
        && version.ends_with(wanted)
    {
        println!("{version} ({})", st.display());
        return Ok(st);
    }
    if !venv.join("bin").join("python").exists() {
        println!("creating the virtualenv {}", venv.display());
        let create = || run_cmd(Command::new("python3").arg("-m").arg("venv").arg(&venv));
        if let Err(first) = create() {
            // Debian ships `venv` separately; install it where we may (root, apt), then retry.
            println!("{first}; installing python3-venv with apt-get");
            let _ = std::fs::remove_dir_all(&venv);
            let installed = run_cmd(Command::new("apt-get").args([
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                "python3-venv",
            ]));
            create().map_err(|e| {
                format!(
                    "{e} (installing python3-venv: {installed:?}): Schemathesis needs Python 3 \
                     with venv (Debian/Ubuntu: `apt-get install python3 python3-venv`)"
                )
            })?;
        }
    }
    println!(
        "installing {SCHEMATHESIS} from PyPI into {}",
        venv.display()
    );
    run_cmd(
        Command::new(venv.join("bin").join("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg(SCHEMATHESIS),
    )
    .map_err(|e| format!("{e}: cannot install {SCHEMATHESIS} (is PyPI reachable?)"))?;
    Ok(st)
}

pub(crate) fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Runs `cmd` (output shown as it comes), killing it after `limit`.
fn run_time_boxed(cmd: &mut Command, limit: Duration) -> Result<std::process::ExitStatus, String> {
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("st run: {e}"))? {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            let _ignored = child.kill();
            let _ignored = child.wait();
            return Err(format!(
                "st run did not finish within {} s and was stopped",
                limit.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Counts the requests, 5xx responses and failed checks of an NDJSON report; lists the 5xx
/// requests (`METHOD uri -> status`).
fn tally(ndjson: &str) -> (Figures, Vec<String>) {
    let mut figures = Figures::default();
    let mut server_errors = Vec::new();
    for line in ndjson.lines() {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let recorder = &event["ScenarioFinished"]["recorder"];
        if let Some(interactions) = recorder["interactions"].as_object() {
            for i in interactions.values() {
                figures.requests += 1;
                let status = i["response"]["status_code"].as_u64().unwrap_or(0);
                if status >= 500 {
                    figures.server_errors += 1;
                    server_errors.push(format!(
                        "{} {} -> {status}",
                        i["request"]["method"].as_str().unwrap_or("?"),
                        i["request"]["uri"].as_str().unwrap_or("?")
                    ));
                }
            }
        }
        if let Some(checks) = recorder["checks"].as_object() {
            figures.failed_checks += checks
                .values()
                .filter_map(Value::as_array)
                .flatten()
                .filter(|c| c["status"] == "failure")
                .count() as u64;
        }
    }
    (figures, server_errors)
}

/// An `abonent` process (under test or under load); killed when dropped.
pub(crate) struct Service {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub(crate) base: String,
    addr: String,
    pub(crate) banner: Vec<String>,
    /// Where its standard error goes.
    log: PathBuf,
}

impl Service {
    /// Starts `binary` on a free port against `database_url` (its log in `dir/abonent.log`)
    /// with `args` more, waits for its banner and for `/ready`.
    pub(crate) fn start(
        binary: &Path,
        dir: &Path,
        database_url: &str,
        args: &[&str],
    ) -> Result<Service, String> {
        let log_path = dir.join("abonent.log");
        let log = std::fs::File::create(&log_path)
            .map_err(|e| format!("cannot create the service's log: {e}"))?;
        let mut child = Command::new(binary)
            .current_dir(dir)
            .arg("--database-url")
            .arg(database_url)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout of the service")?;
        let (tx, rx) = mpsc::channel();
        // Reads the banner, then keeps draining standard output.
        std::thread::spawn(move || {
            let mut banner = Vec::new();
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent {
                    let done = line.starts_with("Stop with");
                    banner.push(line);
                    if done {
                        let _ignored = tx.send(std::mem::take(&mut banner));
                        sent = true;
                    }
                }
            }
        });
        let mut service = Service {
            child,
            base: String::new(),
            addr: String::new(),
            banner: Vec::new(),
            log: log_path,
        };
        service.banner = rx.recv_timeout(Duration::from_secs(180)).map_err(|_| {
            format!(
                "the service printed no start-up banner within 180 s (log: {})",
                dir.join("abonent.log").display()
            )
        })?;
        service.base = service
            .banner
            .iter()
            .find_map(|l| l.trim().strip_prefix("OpenAPI"))
            .and_then(|rest| rest.trim().strip_suffix("/openapi.json"))
            .ok_or("no OpenAPI address in the banner")?
            .to_owned();
        service.addr = service
            .base
            .strip_prefix("http://")
            .ok_or("the service's address is not http://")?
            .to_owned();
        let deadline = Instant::now() + Duration::from_secs(60);
        while service.get("/ready").map(|r| r.0) != Ok(200) {
            if Instant::now() >= deadline {
                return Err("the service did not become ready within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Ok(service)
    }

    fn get(&self, path: &str) -> Result<(u16, Value), String> {
        self.request("GET", path, &[], None)
    }

    fn post(
        &self,
        path: &str,
        auth: &[(&str, &str)],
        body: &Value,
    ) -> Result<(u16, Value), String> {
        self.request("POST", path, auth, Some(body))
    }

    /// One HTTP/1.0 request (no chunked answers, the connection closes after it); the
    /// status and the JSON body (`null` if there is none).
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let payload = body.map(Value::to_string).unwrap_or_default();
        let mut head = format!("{method} {path} HTTP/1.0\r\nHost: {}\r\n", self.addr);
        for (name, value) in headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        if body.is_some() {
            let _ = write!(
                head,
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                payload.len()
            );
        }
        head.push_str("\r\n");
        let fail = |e: std::io::Error| format!("{method} {path}: {e}");
        let mut stream = TcpStream::connect(&self.addr).map_err(fail)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(fail)?;
        stream.write_all(head.as_bytes()).map_err(fail)?;
        stream.write_all(payload.as_bytes()).map_err(fail)?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).map_err(fail)?;
        let answer = String::from_utf8_lossy(&answer);
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{method} {path}: no HTTP status in {head:?}"))?;
        let json = serde_json::from_str(body).unwrap_or(Value::Null);
        Ok((status, json))
    }

    /// POST `path` expecting `status`; the JSON body.
    fn expect(
        &self,
        path: &str,
        auth: &[(&str, &str)],
        body: &Value,
        status: u16,
    ) -> Result<Value, String> {
        let (got, answer) = self.post(path, auth, body)?;
        if got == status {
            Ok(answer)
        } else {
            Err(format!("POST {path}: {got} (expected {status}): {answer}"))
        }
    }
}

impl Service {
    /// Stops the service as an operator would — SIGTERM: it finishes the requests it serves,
    /// logs what it did and closes its pool — and kills it if it has not exited within
    /// `grace`. Its log, for what it said while stopping.
    pub(crate) fn stop(mut self, grace: Duration) -> Result<String, String> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .map_err(|e| format!("cannot run kill: {e}"))?;
        if !status.success() {
            return Err(format!("kill -TERM {} failed: {status}", self.child.id()));
        }
        let deadline = Instant::now() + grace;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => break,
                Ok(Some(status)) => return Err(format!("the service stopped with {status}")),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Ok(None) => {
                    return Err(format!(
                        "the service did not stop within {} s of SIGTERM",
                        grace.as_secs()
                    ));
                }
                Err(e) => return Err(format!("waiting for the service: {e}")),
            }
        }
        std::fs::read_to_string(&self.log).map_err(|e| format!("{}: {e}", self.log.display()))
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ignored = self.child.kill();
        let _ignored = self.child.wait();
    }
}

/// A demo ЛС as the banner shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DemoAccount {
    pub(crate) number: String,
    pub(crate) holder: String,
    pub(crate) code: String,
}

/// What the banner says about the demo: supplier id, ЛС, operator login and password.
pub(crate) fn demo_of(
    banner: &[String],
) -> Result<(u64, Vec<DemoAccount>, String, String), String> {
    let supplier = banner
        .iter()
        .find_map(|l| l.strip_prefix("Demo supplier "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|id| id.parse().ok())
        .ok_or("no demo supplier in the banner (is the demo off?)")?;
    let accounts: Vec<DemoAccount> = banner
        .iter()
        .filter_map(|l| l.trim_start().strip_prefix("ЛС "))
        .filter_map(|rest| {
            let words: Vec<&str> = rest.split_whitespace().collect();
            let code_at = words.iter().position(|w| *w == "code")?;
            Some(DemoAccount {
                number: (*words.first()?).to_owned(),
                holder: words.get(1..code_at)?.join(" "),
                code: (*words.get(code_at + 1)?).to_owned(),
            })
        })
        .collect();
    if accounts.is_empty() {
        return Err("no demo ЛС in the banner".into());
    }
    let operator = banner
        .iter()
        .find(|l| l.starts_with("Demo operator"))
        .ok_or("no demo operator in the banner")?;
    let word_after = |key: &str| {
        operator
            .split_once(key)
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .map(str::to_owned)
    };
    let login = word_after(" login ").ok_or("no operator login in the banner")?;
    let password = word_after(" password ").ok_or("no operator password in the banner")?;
    Ok((supplier, accounts, login, password))
}

/// The credentials and the real ids of a prepared run.
#[derive(Debug, Default)]
struct Session {
    token: String,
    api_key: String,
    supplier: u64,
    accounts: Vec<u64>,
    meters: Vec<u64>,
    periods: Vec<String>,
}

impl Session {
    /// `schemathesis.toml`: the headers (from the environment) and the dictionaries of real
    /// ids, each drawn 70 % of the time.
    fn config_toml(&self) -> String {
        let list = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
        let periods = self
            .periods
            .iter()
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let mut out = String::from(
            "# Written by `cargo xtask schemathesis`.\n\
             headers = { Authorization = \"Bearer ${ABONENT_ST_TOKEN}\", X-Api-Key = \"${ABONENT_ST_API_KEY}\" }\n\n\
             [dictionaries]\n",
        );
        let _ = writeln!(out, "account = {{ values = [{}] }}", list(&self.accounts));
        let _ = writeln!(out, "meter = {{ values = [{}] }}", list(&self.meters));
        let _ = writeln!(out, "supplier = {{ values = [{}] }}", self.supplier);
        let _ = writeln!(out, "period = {{ values = [{periods}] }}");
        out.push_str("\n[parameters]\n");
        for (parameter, dictionary) in [
            ("path.account_id", "account"),
            ("path.meter_id", "meter"),
            ("path.supplier_id", "supplier"),
            ("path.period", "period"),
        ] {
            let _ = writeln!(
                out,
                "\"{parameter}\" = {{ dictionary = \"{dictionary}\", probability = 0.7 }}"
            );
        }
        out
    }
}

/// Registers a demo subscriber by the first demo ЛС, links the others by their codes, logs
/// in for a bearer token, mints an operator API key and collects real ids.
fn prepare(service: &Service) -> Result<Session, String> {
    let (supplier, accounts, login, password) = demo_of(&service.banner)?;
    let first = accounts.first().ok_or("no demo ЛС")?;
    let consent = service.get("/api/v1/consent-document")?.1;
    let captcha = service.get("/api/v1/captcha")?.1;
    let started = service.expect(
        "/api/v1/registrations/account",
        &[],
        &json!({
            "supplier_id": supplier,
            "account_number": first.number,
            "name": first.holder,
            "phone": PHONE,
            "captcha": format!(
                "{}:{}",
                captcha["id"].as_str().unwrap_or_default(),
                captcha["sandbox_answer"].as_str().unwrap_or_default()
            ),
            "consent_version": consent["version"],
        }),
        202,
    )?;
    let challenge = started["challenge_id"]
        .as_str()
        .ok_or("no challenge id")?
        .to_owned();
    let messages = service
        .get(&format!(
            "/sandbox/messages?to={}",
            PHONE.replace('+', "%2B")
        ))?
        .1;
    let sms = messages
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["body"].as_str())
        .ok_or("no SMS with the registration code")?;
    service.expect(
        &format!("/api/v1/registrations/{challenge}/complete"),
        &[],
        &json!({ "code": code_in(sms)?, "password": PASSWORD, "password_repeat": PASSWORD }),
        201,
    )?;
    let session = service.expect(
        "/api/v1/session",
        &[],
        &json!({ "login": PHONE, "password": PASSWORD, "token": true }),
        201,
    )?;
    let token = session["token"].as_str().ok_or("no token")?.to_owned();
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];
    for a in accounts.iter().skip(1) {
        service.expect(
            "/api/v1/accounts/link/payment-code",
            &auth,
            &json!({ "code": a.code }),
            201,
        )?;
    }
    let operator = service.expect(
        "/api/v1/operator/session",
        &[],
        &json!({ "login": login, "password": password }),
        201,
    )?;
    let operator_bearer = format!("Bearer {}", operator["token"].as_str().unwrap_or_default());
    let key = service.expect(
        "/api/v1/operator/api-keys",
        &[("Authorization", operator_bearer.as_str())],
        &json!({ "name": "schemathesis", "role": "admin" }),
        201,
    )?;
    let mut out = Session {
        token,
        api_key: key["key"].as_str().ok_or("no API key")?.to_owned(),
        supplier,
        ..Session::default()
    };
    let linked = service.request("GET", "/api/v1/accounts", &auth, None)?.1;
    out.accounts = linked
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["account_id"].as_u64())
        .collect();
    for account in out.accounts.clone() {
        let path = format!("/api/v1/accounts/{account}");
        let meters = service
            .request("GET", &format!("{path}/meters"), &auth, None)?
            .1;
        out.meters.extend(
            meters
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["meter_id"].as_u64()),
        );
        let statement = service
            .request("GET", &format!("{path}/statement"), &auth, None)?
            .1;
        out.periods.extend(
            statement["lines"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l["period"].as_str().map(str::to_owned)),
        );
    }
    out.periods.sort();
    out.periods.dedup();
    if out.accounts.len() != accounts.len() || out.meters.is_empty() || out.periods.is_empty() {
        return Err(format!(
            "the demo subscriber sees {} ЛС (expected {}), {} meters, {} periods",
            out.accounts.len(),
            accounts.len(),
            out.meters.len(),
            out.periods.len()
        ));
    }
    println!(
        "demo subscriber {PHONE}: ЛС {:?}, meters {:?}, periods {}…{}; operator {login}: Admin \
         API key",
        out.accounts,
        out.meters,
        out.periods.first().map_or("", String::as_str),
        out.periods.last().map_or("", String::as_str)
    );
    Ok(out)
}

/// The first run of at least four digits in `text` (the code of a sandbox SMS).
fn code_in(text: &str) -> Result<String, String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() >= 4)
        .map(str::to_owned)
        .ok_or_else(|| format!("no code in {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::{DemoAccount, Figures, code_in, demo_of, tally};

    #[test]
    fn reads_the_demo_from_the_banner() {
        let banner: Vec<String> = [
            "Abonent 0.1.0 is running.",
            "  OpenAPI       http://127.0.0.1:35345/openapi.json",
            "Demo supplier 1 «АО «Демо Энергосбыт»»: register by ЛС (holder's name) or link by \
             the payment-document code:",
            "  ЛС 7700100001  Иванов Иван Иванович       code Dm7kQ2xRp9  однотарифный счётчик",
            "  ЛС 7700200001  Смирнов Алексей Петрович   code Wc9pJ4eNs6  частный дом",
            "Demo operator (Admin): login admin password Демо-оператор-2026   (POST …)",
        ]
        .map(str::to_owned)
        .to_vec();
        let (supplier, accounts, login, password) = demo_of(&banner).unwrap();
        assert_eq!(supplier, 1);
        assert_eq!(
            accounts[1],
            DemoAccount {
                number: "7700200001".into(),
                holder: "Смирнов Алексей Петрович".into(),
                code: "Wc9pJ4eNs6".into(),
            }
        );
        assert_eq!(
            (login.as_str(), password.as_str()),
            ("admin", "Демо-оператор-2026")
        );
    }

    #[test]
    fn finds_the_code_of_an_sms() {
        assert_eq!(
            code_in("Код подтверждения регистрации: 052843. Действует 10 минут.").unwrap(),
            "052843"
        );
        assert!(code_in("Действует 10 минут.").is_err());
    }

    #[test]
    fn counts_requests_server_errors_and_failed_checks() {
        let scenario = serde_json::json!({"ScenarioFinished": {"recorder": {
            "interactions": {
                "a": {"request": {"method": "GET", "uri": "http://h/x"},
                      "response": {"status_code": 200}},
                "b": {"request": {"method": "POST", "uri": "http://h/y"},
                      "response": {"status_code": 503}}
            },
            "checks": {
                "a": [{"name": "not_a_server_error", "status": "success"}],
                "b": [{"name": "not_a_server_error", "status": "failure"},
                      {"name": "response_schema_conformance", "status": "success"}]
            }
        }}});
        // One event a line, as Schemathesis writes them.
        let report = format!(
            "{{\"Initialize\":{{\"seed\":1}}}}\n\
             {{\"ScenarioFinished\":{{\"recorder\":{{\"label\":\"x\"}}}}}}\n{scenario}\n"
        );
        let (figures, errors) = tally(&report);
        assert_eq!(
            figures,
            Figures {
                requests: 2,
                server_errors: 1,
                failed_checks: 1
            }
        );
        assert_eq!(errors, vec!["POST http://h/y -> 503".to_owned()]);
    }
}
