//! Crash safety of the supplier-wide billing run: the `abonent-billing-run` process is killed
//! with SIGKILL at pseudo-random points — during start-up, between chunks, in the middle of a
//! chunk's transaction — at least ten times, then run to the end; the database must then hold
//! exactly the charges of an uninterrupted run, compared set by set and line by line, with
//! every account's journal posted once.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use billing_core::ports::LedgerRepository;
use storage_seaorm::{RunOptions, Storage};

use crate::common::run::*;
use crate::common::seed::{count_lines, count_rows};

const HOUSES: u64 = 120;
const ACCOUNTS: usize = 3;
const KILLS: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_survives_sigkill_at_ten_points() {
    let path = std::env::temp_dir().join(format!("abonent_crash_{}.db", std::process::id()));
    let url = format!("sqlite://{}", path.display());
    crash_and_compare(&url).await;
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.clone().into_os_string();
        p.push(suffix);
        let _ignored = std::fs::remove_file(p);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_survives_sigkill_at_ten_points() {
    crate::common::on_postgres_url(|url| async move { crash_and_compare(&url).await }).await;
}

/// A deterministic generator of kill points (xorshift), so a failure can be replayed.
struct Points(u64);

impl Points {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn spawn(url: &str) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_abonent-billing-run"))
        .args([
            "--database-url",
            url,
            "--supplier",
            "1",
            "--period",
            &billed().to_string(),
            "--today",
            "2025-04-01",
            "--chunk-houses",
            "1",
            "--workers",
            "2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start abonent-billing-run");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

async fn crash_and_compare(url: &str) {
    let storage = Storage::connect(url).await.unwrap();
    storage.migrate().await.unwrap();
    seed_billable(&storage, HOUSES, ACCOUNTS).await;
    let reference = scratch().await;
    seed_billable(&reference, HOUSES, ACCOUNTS).await;
    run(&reference, RunOptions::default()).await.unwrap();

    let mut points = Points(0x5EED_C0FF_EE15_2026);
    let (mut kills, mut attempts) = (0, 0);
    let mut partial = std::collections::BTreeSet::new();
    while kills < KILLS {
        attempts += 1;
        assert!(
            attempts < 60,
            "the run kept finishing before it could be killed"
        );
        let (mut child, lines) = spawn(url);
        let started = Instant::now();
        // Even points: a time after the start (start-up, claiming, the first chunks). Odd
        // points: right after a chunk committed, plus 0–3 ms (the next chunk's transaction).
        if kills % 2 == 0 {
            std::thread::sleep(Duration::from_millis(5 + points.below(40)));
        } else {
            let wanted = 1 + points.below(2);
            let mut seen = 0;
            while seen < wanted {
                match lines.recv_timeout(Duration::from_secs(60)) {
                    Ok(l) if l.starts_with("progress") => seen += 1,
                    Ok(_) => break,
                    Err(_) => break,
                }
            }
            std::thread::sleep(Duration::from_micros(points.below(3_000)));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            let status = child.wait().unwrap();
            assert!(!status.success());
            kills += 1;
            let done = storage
                .billing_run_progress(billing_core::ids::SupplierId::new(1), billed())
                .await
                .unwrap()
                .map_or(0, |p| p.houses_done);
            eprintln!(
                "crash test: kill {kills} after {:?}, {done} of {HOUSES} houses billed",
                started.elapsed()
            );
            partial.insert(done);
        } else {
            // It finished before the kill point: the assertion below reports too few kills.
            let status = child.wait().unwrap();
            assert!(status.success(), "the run failed on its own: {status}");
            break;
        }
    }
    assert!(
        kills >= KILLS,
        "only {kills} kills landed before the run finished"
    );

    let (mut child, lines) = spawn(url);
    let status = child.wait().unwrap();
    assert!(status.success(), "the final run failed: {status}");
    let last: Vec<String> = lines.try_iter().collect();
    assert_eq!(
        last.last().map(String::as_str),
        Some(format!("finished {HOUSES} 0 {HOUSES}").as_str()),
        "{last:?}"
    );

    let accounts = all_accounts(HOUSES, ACCOUNTS);
    let got = sets_of(&storage, &accounts).await;
    let want = sets_of(&reference, &accounts).await;
    for ((g, w), a) in got.iter().zip(&want).zip(&accounts) {
        let (g, w) = (
            g.as_ref()
                .unwrap_or_else(|| panic!("account {a} not billed")),
            w.as_ref().unwrap(),
        );
        assert_eq!(g.lines.len(), w.lines.len(), "account {a}");
        for (gl, wl) in g.lines.iter().zip(&w.lines) {
            assert_eq!(gl, wl, "account {a}");
        }
        assert_eq!(g, w);
        assert_eq!(
            storage.journal(*a).await.unwrap(),
            reference.journal(*a).await.unwrap(),
            "journal of account {a}"
        );
    }
    assert_eq!(count_lines(&storage).await, count_lines(&reference).await);
    for table in ["charge_sets", "ledger_journal", "volume_history"] {
        assert_eq!(
            count_rows(&storage, table).await,
            count_rows(&reference, table).await,
            "{table}"
        );
    }
    storage.close().await.unwrap();
}
