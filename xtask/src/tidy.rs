//! Project conventions checked by ordinary tests, so that `cargo test` keeps them honest.

use std::fs;
use std::path::{Path, PathBuf};

use crate::ci::{PURE_CRATES, io_crates_in, normal_dependencies, purity, workspace_root};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn all_sources() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut files = Vec::new();
    for dir in ["crates", "xtask", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    files
}

#[test]
fn core_crates_have_no_io_dependencies() {
    purity(&workspace_root()).unwrap();
}

#[test]
fn purity_check_would_catch_an_io_crate() {
    // The check is only meaningful if it sees the dependency graph at all.
    let mut deps = normal_dependencies(&workspace_root(), "billing-core").unwrap();
    assert!(
        deps.iter().any(|d| d == "rust_decimal"),
        "cargo tree output not understood: {deps:?}"
    );
    assert!(io_crates_in(&deps).is_empty());
    // The same list with IO crates slipped in is caught.
    deps.push("tokio".into());
    deps.push("sea-orm".into());
    assert_eq!(io_crates_in(&deps), vec!["tokio", "sea-orm"]);
    // The dev graph has tokio (async tests); the check looks at the normal graph only.
    let dev = std::process::Command::new(crate::ci::cargo_bin())
        .current_dir(workspace_root())
        .args([
            "tree",
            "--locked",
            "-p",
            "billing-core",
            "-e",
            "dev",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&dev.stdout).contains("tokio"),
        "billing-core's tests use tokio, so the dev graph has it"
    );
    assert!(PURE_CRATES.contains(&"billing-core") && PURE_CRATES.contains(&"identity-core"));
}

#[test]
fn every_source_file_starts_with_a_module_doc() {
    let missing: Vec<_> = all_sources()
        .into_iter()
        .filter(|p| {
            let text = fs::read_to_string(p).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! module doc: {missing:?}"
    );
}

#[test]
fn no_ignored_tests_or_stubs() {
    let needles = [
        concat!("#[", "ignore"),
        concat!("todo", "!("),
        concat!("unimplemented", "!("),
    ];
    let mut hits = Vec::new();
    for p in all_sources() {
        let text = fs::read_to_string(&p).unwrap_or_default();
        for n in needles {
            if text.contains(n) {
                hits.push(format!("{}: {n}", p.display()));
            }
        }
    }
    assert!(hits.is_empty(), "silenced tests or stubs: {hits:?}");
}

#[test]
fn no_floats_in_billing_core() {
    let root = workspace_root().join("crates/billing-core/src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut hits = Vec::new();
    for p in files {
        for (i, line) in fs::read_to_string(&p)
            .unwrap_or_default()
            .lines()
            .enumerate()
        {
            let code = line.split("//").next().unwrap_or("");
            if code
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .any(|w| w == "f32" || w == "f64")
            {
                hits.push(format!("{}:{}", p.display(), i + 1));
            }
        }
    }
    assert!(hits.is_empty(), "floating point in billing-core: {hits:?}");
}

#[test]
fn core_crates_forbid_clock_and_randomness_in_clippy_config() {
    for krate in PURE_CRATES {
        let cfg = fs::read_to_string(
            workspace_root()
                .join("crates")
                .join(krate)
                .join("clippy.toml"),
        )
        .unwrap();
        for needle in [
            "std::time::SystemTime::now",
            "time::OffsetDateTime::now_utc",
            "std::time::Instant::now",
        ] {
            assert!(
                cfg.contains(needle),
                "{krate}/clippy.toml does not forbid {needle}"
            );
        }
    }
}
