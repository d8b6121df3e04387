//! Architecture invariant: identity-core's normal dependency tree holds no IO crate (no async
//! runtime, database, HTTP, mail or socket crate). Dev-dependencies (tokio for tests) are
//! not part of the normal tree.

use std::process::Command;

const FORBIDDEN: &[&str] = &[
    "tokio",
    "async-std",
    "smol",
    "sea-orm",
    "sea-query",
    "sqlx",
    "diesel",
    "rusqlite",
    "postgres",
    "tokio-postgres",
    "poem",
    "poem-openapi",
    "reqwest",
    "hyper",
    "axum",
    "actix-web",
    "tonic",
    "lettre",
    "mio",
    "socket2",
    "getrandom",
    "rand",
    "rand_core",
    "async-io",
    "futures-io",
    "tokio-util",
    "native-tls",
    "openssl",
    "rustls",
    "ureq",
    "curl",
    "redis",
];

/// The crate names `cargo tree` lists for identity-core's normal dependencies with the extra
/// `args`. Fails loudly (never passes vacuously) if cargo cannot produce the tree or its output
/// is not what it should look like.
fn normal_dependency_tree(args: &[&str]) -> Vec<String> {
    // Cargo sets CARGO for the test process it runs; fall back to the compile-time value,
    // then to the one on PATH.
    let cargo = std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(Into::into))
        .unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .args([
            "tree",
            "-p",
            "identity-core",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        // `cargo test` has already fetched every dependency, so the tree needs no network.
        .args(["--offline", "--locked"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cargo:?} tree: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "`cargo tree {args:?}` failed ({}), so the dependency rule is unchecked; run \
         `cargo fetch` if the registry cache is empty.\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let crates: Vec<String> = stdout
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    for expected in ["identity-core", "argon2", "sha2"] {
        assert!(
            crates.iter().any(|c| c == expected),
            "`cargo tree {args:?}` output does not list {expected}; unexpected format?\n{stdout}"
        );
    }
    crates
}

fn io_crates_in(crates: &[String]) -> Vec<&'static str> {
    FORBIDDEN
        .iter()
        .copied()
        .filter(|name| crates.iter().any(|c| c == name))
        .collect()
}

#[test]
fn the_normal_dependency_tree_has_no_io_crates() {
    for features in [&[][..], &["--features", "mocks"][..]] {
        let crates = normal_dependency_tree(features);
        let found = io_crates_in(&crates);
        assert!(
            found.is_empty(),
            "IO crates in identity-core's dependency tree with {features:?}: {found:?}\n{crates:?}"
        );
    }
}

#[test]
fn the_check_would_notice_an_io_crate() {
    // The detector itself: a tree that lists tokio is caught.
    let tree = [
        "identity-core".to_owned(),
        "tokio".to_owned(),
        "argon2".to_owned(),
    ];
    assert_eq!(io_crates_in(&tree), ["tokio"]);
}
