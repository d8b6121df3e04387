//! `cargo xtask ci`: the whole CI gate, step by step, failing on the first broken step.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// IO crates that the pure cores must never depend on, directly or transitively.
pub const IO_CRATES: &[&str] = &[
    "tokio",
    "mio",
    "socket2",
    "sea-orm",
    "sea-query",
    "sqlx",
    "rusqlite",
    "libsqlite3-sys",
    "postgres",
    "tokio-postgres",
    "poem",
    "poem-openapi",
    "hyper",
    "reqwest",
    "lettre",
    "ureq",
    "async-std",
    "smol",
    "getrandom",
    "rand",
];

/// The crates that must stay pure.
pub const PURE_CRATES: &[&str] = &["billing-core", "identity-core"];

pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("unknown argument '{a}'"));
    }
    let root = workspace_root();
    step("format", || {
        cargo(&root, &["fmt", "--all", "--", "--check"])
    })?;
    step("clippy", || {
        cargo(
            &root,
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                "--",
                "-D",
                "warnings",
            ],
        )
    })?;
    step("purity of the core crates", || purity(&root))?;
    step(
        "PostgreSQL for the storage contract tests and the journeys",
        ensure_postgres,
    )?;
    let mut counts = (0_u64, 0_u64);
    step("tests", || run_tests(&root, &mut counts))?;
    step(
        "schemathesis (OpenAPI fuzzing of the running service)",
        || {
            crate::schemathesis::step(
                &root,
                crate::schemathesis::DEFAULT_MAX_EXAMPLES,
                Some(crate::schemathesis::CI_SEED),
            )
            .map(drop)
        },
    )?;
    step("rustdoc of the core crates", || {
        run_cmd(
            cargo_command(&root)
                .env("RUSTDOCFLAGS", "-D warnings")
                .args([
                    "doc",
                    "--no-deps",
                    "--locked",
                    "-p",
                    "billing-core",
                    "-p",
                    "identity-core",
                ]),
        )
    })?;
    step("cargo-deny (licenses, bans, sources)", || {
        ensure_cargo_deny(&root)?;
        cargo(
            &root,
            &["deny", "--locked", "check", "licenses", "bans", "sources"],
        )
    })?;
    println!("xtask ci: all steps passed");
    // The closing line CI readers look for, summed over every test binary and doc-test run.
    println!("tests: {} passed, {} failed", counts.0, counts.1);
    Ok(())
}

fn step(name: &str, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    println!("\n==> {name}");
    let t = Instant::now();
    let r = f();
    match &r {
        Ok(()) => println!("==> {name}: ok ({:.1} s)", t.elapsed().as_secs_f64()),
        Err(e) => println!("==> {name}: FAILED: {e}"),
    }
    r.map_err(|e| format!("step '{name}' failed: {e}"))
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

pub fn cargo_bin() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// `cargo` in `root`, without the variables `cargo run` gave this process
/// (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, …): build scripts that watch them (ring's does) would
/// otherwise rerun, and everything above them rebuild, whenever a build inside xtask follows
/// one outside it or the other way round.
pub fn cargo_command(root: &Path) -> Command {
    let mut cmd = Command::new(cargo_bin());
    cmd.current_dir(root);
    for (key, _) in std::env::vars_os() {
        if let Some(key) = key.to_str()
            && [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_BIN_",
                "CARGO_CRATE_",
                "CARGO_PRIMARY_",
            ]
            .iter()
            .any(|prefix| key.starts_with(prefix))
        {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn cargo(root: &Path, args: &[&str]) -> Result<(), String> {
    run_cmd(cargo_command(root).args(args))
}

/// Runs `cmd`, failing unless it succeeds.
pub fn run_cmd(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} exited with {status}"))
    }
}

fn ensure_cargo_deny(root: &Path) -> Result<(), String> {
    let present = Command::new(cargo_bin())
        .current_dir(root)
        .args(["deny", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if present {
        return Ok(());
    }
    println!("cargo-deny is not installed; installing it from crates.io (takes a few minutes)");
    cargo(root, &["install", "cargo-deny", "--locked"])
}

/// Lists the normal (non-dev, non-build) dependencies of `package`, transitively.
pub fn normal_dependencies(root: &Path, package: &str) -> Result<Vec<String>, String> {
    let out = Command::new(cargo_bin())
        .current_dir(root)
        .args([
            "tree",
            "--locked",
            "-p",
            package,
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--all-features",
        ])
        .output()
        .map_err(|e| format!("cannot run cargo tree: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo tree failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// The IO crates among `deps`.
pub fn io_crates_in(deps: &[String]) -> Vec<&'static str> {
    IO_CRATES
        .iter()
        .copied()
        .filter(|bad| deps.iter().any(|d| d == bad))
        .collect()
}

/// Fails if a pure crate reaches an IO crate.
pub fn purity(root: &Path) -> Result<(), String> {
    let mut problems = Vec::new();
    for krate in PURE_CRATES {
        let deps = normal_dependencies(root, krate)?;
        for bad in io_crates_in(&deps) {
            problems.push(format!("{krate} depends on the IO crate {bad}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Where the storage-seaorm contract tests expect PostgreSQL, and how to start it.
const POSTGRES_ADDR: &str = "127.0.0.1:5432";
const START_POSTGRES: &str =
    "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start";

/// Makes sure PostgreSQL accepts connections at [`POSTGRES_ADDR`] before the tests (storage
/// contract tests, journeys) run,
/// starting the local cluster if it is down; fails loudly if it still is not reachable.
fn ensure_postgres() -> Result<(), String> {
    let listening = || {
        POSTGRES_ADDR.parse().is_ok_and(|addr| {
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).is_ok()
        })
    };
    if listening() {
        println!("PostgreSQL listens at {POSTGRES_ADDR}");
        return Ok(());
    }
    println!("PostgreSQL is down; starting it: {START_POSTGRES}");
    let started = Command::new("sh").args(["-c", START_POSTGRES]).status();
    // The cluster may take a moment to accept connections after pg_ctlcluster returns.
    for _ in 0..40 {
        if listening() {
            println!("PostgreSQL listens at {POSTGRES_ADDR}");
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    Err(format!(
        "PostgreSQL is NOT reachable at {POSTGRES_ADDR} (start command: {started:?}); the \
         storage contract tests need it: run `{START_POSTGRES}` and check its log"
    ))
}

/// Runs every test of the workspace, echoing cargo's output and summing its `test result` lines
/// into `counts` (passed, failed).
fn run_tests(root: &Path, counts: &mut (u64, u64)) -> Result<(), String> {
    use std::io::{BufRead, BufReader};
    let mut child = cargo_command(root)
        .args(["test", "--workspace", "--locked"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start cargo test: {e}"))?;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("{line}");
            if let Some((passed, failed)) = parse_test_result(&line) {
                counts.0 += passed;
                counts.1 += failed;
            }
        }
    }
    let status = child.wait().map_err(|e| format!("cargo test: {e}"))?;
    if !status.success() {
        return Err(format!("cargo test exited with {status}"));
    }
    if counts.0 == 0 {
        return Err("cargo test ran no test".into());
    }
    Ok(())
}

/// `test result: ok. 173 passed; 0 failed; …` → (173, 0).
fn parse_test_result(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let number_before = |word: &str| -> Option<u64> {
        let idx = rest.find(word)?;
        rest[..idx]
            .trim_end()
            .rsplit(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    Some((number_before(" passed")?, number_before(" failed")?))
}

#[cfg(test)]
mod tests {
    use super::parse_test_result;

    #[test]
    fn reads_cargo_test_summaries() {
        assert_eq!(
            parse_test_result(
                "test result: ok. 173 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.15s"
            ),
            Some((173, 0))
        );
        assert_eq!(
            parse_test_result("test result: FAILED. 5 passed; 2 failed; 0 ignored"),
            Some((5, 2))
        );
        assert_eq!(parse_test_result("running 3 tests"), None);
    }
}
