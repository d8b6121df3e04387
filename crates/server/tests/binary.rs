//! The `abonent` binary: prints where to look, answers `/health`, applies migrations with
//! `migrate`, prints the spec with `openapi`, creates operators with `operator create`,
//! imports CSV files with `import` (exit code 1 and the bad lines for a bad file), and exits 0
//! after SIGTERM, its log written as plain text when it goes to a file.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

fn abonent() -> Command {
    Command::new(env!("CARGO_BIN_EXE_abonent"))
}

fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serves_then_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("a.db").display());
    let mut child = abonent()
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &db])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("abonent.log")).unwrap())
        .spawn()
        .expect("abonent starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addr = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.trim().strip_prefix("health") {
            let url = rest.split_whitespace().next().unwrap();
            let host = url
                .trim_start_matches("http://")
                .trim_end_matches("/health");
            addr = Some(host.to_owned());
        }
        if line.starts_with("Stop with") {
            break;
        }
    }
    let addr = addr.expect("the banner names the health address");
    let resp = get(&addr, "/health");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "graceful shutdown exits 0: {exit}");
    // The log went to a file, not a terminal: plain text, no colour escape codes.
    let log = std::fs::read_to_string(dir.path().join("abonent.log")).unwrap();
    assert!(log.contains(" INFO ") && log.contains("stopped"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a log file: {log:?}"
    );
}

#[test]
fn migrate_and_openapi_commands() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("m.db").display());
    let out = abonent()
        .args(["migrate", "--database-url", &db])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("m.db").exists());
    let out = abonent().arg("openapi").output().unwrap();
    assert!(out.status.success());
    let spec = String::from_utf8(out.stdout).unwrap();
    assert!(spec.contains("\"openapi\""), "{spec}");
}

#[test]
fn a_bad_setting_exits_2_with_its_name() {
    let out = abonent()
        .args(["--database-url", "mysql://nope", "migrate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("database_url"));
}

#[test]
fn operator_create_reads_the_password_from_stdin_and_refuses_a_taken_login() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("o.db").display());
    let create = |password: &str| {
        let mut child = abonent()
            .args([
                "operator",
                "create",
                "--login",
                "kassir.1",
                "--name",
                "Петрова Ольга",
                "--role",
                "support",
                "--database-url",
                &db,
            ])
            .env_remove("ABONENT_OPERATOR_PASSWORD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let out = create("Касса-номер-1-2026");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("operator kassir.1 created"), "{said}");
    assert!(
        !said.contains("Касса-номер"),
        "the password is not echoed: {said}"
    );
    let again = create("Касса-номер-1-2026");
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("login taken"), "{err}");
    // A weak password is refused with the rule, in Russian.
    let dir2 = tempfile::tempdir().unwrap();
    let db2 = format!("sqlite://{}", dir2.path().join("w.db").display());
    let out = abonent()
        .args([
            "operator",
            "create",
            "--login",
            "admin",
            "--name",
            "Иванов Иван",
            "--role",
            "admin",
            "--database-url",
            &db2,
        ])
        .env("ABONENT_OPERATOR_PASSWORD", "123")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
}

#[test]
fn import_applies_a_good_file_and_prints_the_lines_of_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("i.db").display());
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let suppliers = file(
        "suppliers.csv",
        "id;name;inn;kpp;personal_acc;bank_name;bic;corresp_acc;address;emergency_phones\n\
         1;АО «Тест»;7707083893;770701001;40702810200000000001;ПАО Сбербанк;044525225;\
         30101810400000000225;г. Тула, ул. Советская, д. 1;Аварийная: 04\n",
    );
    let bad = file(
        "houses-bad.csv",
        "id;address;total_area\n1;г. Тула, ул. Мира, д. 1;100\n2;;100\n",
    );
    let good = file(
        "houses.csv",
        "id;address;total_area\n1;г. Тула, ул. Мира, д. 1;100\n",
    );
    let import = |args: &[&str]| {
        abonent()
            .arg("import")
            .args(args)
            .args(["--database-url", &db])
            .output()
            .unwrap()
    };
    let out = import(&["suppliers", &suppliers]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("suppliers: 1 rows, 1 applied"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = import(&["houses", &bad, "--supplier", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("houses-bad.csv:3, address: не заполнено"),
        "{err}"
    );
    assert!(err.contains("not imported, 1 bad rows"), "{err}");
    let out = import(&["houses", &good, "--supplier", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("houses: 1 rows, 1 applied"));
}
