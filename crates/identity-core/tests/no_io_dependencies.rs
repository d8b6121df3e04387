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
];

#[test]
fn the_normal_dependency_tree_has_no_io_crates() {
    // Cargo sets CARGO when it compiles the test; fall back to the one on PATH.
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let output = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "identity-core",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let crates: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(
        crates.contains(&"identity-core"),
        "unexpected cargo tree output:\n{stdout}"
    );
    assert!(
        crates.contains(&"argon2"),
        "the tree should list real dependencies:\n{stdout}"
    );
    let found: Vec<&&str> = FORBIDDEN
        .iter()
        .filter(|name| crates.contains(name))
        .collect();
    assert!(
        found.is_empty(),
        "IO crates in identity-core's dependency tree: {found:?}\n{stdout}"
    );
}
