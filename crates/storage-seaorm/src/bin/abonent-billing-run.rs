//! `abonent-billing-run`: runs (or resumes) the supplier-wide billing run of one period against
//! a database, printing progress — the operator's tool until the `abonent` binary has its own
//! command, and the process the crash tests kill.
//!
//! ```text
//! abonent-billing-run --database-url sqlite://abonent.db --supplier 1 --period 2026-10 \
//!     --today 2026-11-01 [--chunk-houses 20] [--workers 2]
//! ```
//!
//! Prints `progress <done> <failed> <total> <sets written>` after every chunk and
//! `finished <done> <failed> <total>` at the end; exits 1 with the reason on stderr if the
//! run cannot start or stops.

use std::io::Write;
use std::sync::Arc;

use billing_core::ids::SupplierId;
use billing_core::period::Period;
use storage_seaorm::{RunOptions, RunProgress, Storage};
use time::Date;
use time::macros::format_description;

struct Args {
    url: String,
    supplier: SupplierId,
    period: Period,
    today: Date,
    options: RunOptions,
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut url, mut supplier, mut period, mut today) = (None, None, None, None);
    let mut options = RunOptions::default();
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--database-url" => url = Some(value()?),
            "--supplier" => {
                let v = value()?;
                let n: u64 = v.parse().map_err(|_| format!("bad supplier id '{v}'"))?;
                supplier = Some(SupplierId::new(n));
            }
            "--period" => {
                let v = value()?;
                period = Some(
                    v.parse::<Period>()
                        .map_err(|e| format!("bad period '{v}': {e}"))?,
                );
            }
            "--today" => {
                let v = value()?;
                today = Some(
                    Date::parse(&v, format_description!("[year]-[month]-[day]"))
                        .map_err(|e| format!("bad day '{v}': {e}"))?,
                );
            }
            "--chunk-houses" => {
                let v = value()?;
                options.houses_per_chunk = v.parse().map_err(|_| format!("bad number '{v}'"))?;
            }
            "--workers" => {
                let v = value()?;
                options.workers = v.parse().map_err(|_| format!("bad number '{v}'"))?;
            }
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    Ok(Args {
        url: url.ok_or("--database-url is required")?,
        supplier: supplier.ok_or("--supplier is required")?,
        period: period.ok_or("--period is required")?,
        today: today.ok_or("--today is required")?,
        options,
    })
}

async fn run(args: Args) -> Result<(), String> {
    let storage = Storage::connect(&args.url)
        .await
        .map_err(|e| e.to_string())?;
    storage.migrate().await.map_err(|e| e.to_string())?;
    let progress = Arc::new(|p: RunProgress| {
        let mut out = std::io::stdout().lock();
        let _ignored = writeln!(
            out,
            "progress {} {} {} {}",
            p.houses_done, p.houses_failed, p.houses_total, p.sets_written
        );
        let _ignored = out.flush();
    });
    let report = storage
        .run_supplier_billing(
            args.supplier,
            args.period,
            args.today,
            args.options,
            progress,
        )
        .await
        .map_err(|e| e.to_string())?;
    for (house, why) in &report.failed {
        eprintln!("house {house} failed: {why}");
    }
    let p = report.progress;
    println!(
        "finished {} {} {}",
        p.houses_done, p.houses_failed, p.houses_total
    );
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match parse(std::env::args().skip(1)) {
        Ok(args) => match run(args).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("abonent-billing-run: {e}");
                std::process::ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("abonent-billing-run: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
