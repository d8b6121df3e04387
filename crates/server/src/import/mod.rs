//! The operator's data import (issue 5, G11), shared by `POST /api/v1/operator/imports/{kind}`
//! and `abonent import`: suppliers, houses, premises, accounts (ЛС), meters, tariffs and
//! readings from CSV, and a bank's payment registry. The formats are in `docs/import.md`.
//!
//! **A file is applied whole or not at all.** The file is read as a stream of rows
//! ([`table`]): a header row names the columns, `;` separates them, the text is UTF-8. Every
//! row is parsed into the record the storage takes (billing-core's validating constructors:
//! requisites, ЛС numbers, register geometry, periods …), and what needs the database is
//! checked next (a reading's meter, a registry row's ЛС, a payment code's owner). Every bad
//! row is reported with its line, column and a Russian reason ([`LineError`], the first
//! [`MAX_ERRORS`]); only a file without one is applied, in **one** call of the storage's bulk
//! method for its kind — `upsert_houses`, `upsert_accounts`, `import_readings` … — each one
//! write transaction, so a file the database refuses (a missing parent, a clash with a stored
//! uniqueness rule: [`ImportError::Conflict`]) changes nothing either.
//!
//! Three kinds go beyond one transaction, and are safe to import again instead:
//! - suppliers are upserted one per transaction (a file rarely has more than one);
//! - accounts' payment-document codes are stored (as digests) after the accounts' transaction;
//!   a code already used by another ЛС is found while checking, so only a database failure in
//!   between can leave a code unset, and the same file imported again sets it;
//! - a bank registry ([`bank`]) posts payment by payment, each exactly once.

mod bank;
mod http;
mod readings;
mod reference;
mod table;
mod tariffs;

use std::io::Read;
use std::sync::Arc;

use billing_core::ids::SupplierId;
use billing_core::model::Supplier;
use billing_core::ports::{Clock, SupplierRepository};
use billing_core::{BillingService, RepoError};
use identity_core::ports::WriteError;
use storage_seaorm::Storage;

pub use table::{DELIMITER, LineError, MAX_ERRORS};

use reference::{AccountRow, SupplierRow};
use table::{Errors, Lined, read};

/// What a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Suppliers and their requisites.
    Suppliers,
    /// Houses of a supplier.
    Houses,
    /// Premises of houses.
    Premises,
    /// Personal accounts (ЛС) of a supplier, with optional payment-document codes.
    Accounts,
    /// Meters.
    Meters,
    /// Tariff versions of a supplier.
    Tariffs,
    /// Meter readings.
    Readings,
    /// A bank's payment registry.
    BankRegistry,
}

impl Kind {
    /// The name in URLs and on the command line.
    pub fn code(self) -> &'static str {
        match self {
            Kind::Suppliers => "suppliers",
            Kind::Houses => "houses",
            Kind::Premises => "premises",
            Kind::Accounts => "accounts",
            Kind::Meters => "meters",
            Kind::Tariffs => "tariffs",
            Kind::Readings => "readings",
            Kind::BankRegistry => "bank-registry",
        }
    }

    /// Whether the rows belong to a supplier named outside the file.
    pub fn needs_supplier(self) -> bool {
        matches!(
            self,
            Kind::Houses | Kind::Accounts | Kind::Tariffs | Kind::BankRegistry
        )
    }
}

/// What the file alone does not say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// The supplier of houses, accounts, tariffs and a bank registry.
    pub supplier: Option<u64>,
    /// The bank registry's identifier: with a row's reference, it names the payment.
    pub registry: Option<String>,
}

/// An applied file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    /// What it held.
    pub kind: Kind,
    /// Its rows.
    pub rows: u64,
    /// Rows applied now (bank registry: payments credited now).
    pub applied: u64,
    /// Bank registry: payments credited by an earlier import, not credited again.
    pub duplicates: Option<u64>,
}

/// Why a file was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Bad rows (the first [`MAX_ERRORS`]) and how many were found; nothing was applied.
    #[error("в файле ошибок: {total}")]
    Invalid {
        /// The kept errors, in line order.
        errors: Vec<LineError>,
        /// How many were found.
        total: u64,
    },
    /// A parameter is missing or wrong (Russian).
    #[error("{0}")]
    Options(String),
    /// The file contradicts the stored data (Russian); nothing was applied.
    #[error("{0}")]
    Conflict(String),
    /// The database failed (the text is for the log).
    #[error("storage: {0}")]
    Storage(String),
}

/// Told how an import advances (the command line draws a progress bar).
pub trait Progress: Send + Sync {
    /// `bytes` of the file read, `rows` rows among them.
    fn reading(&self, bytes: u64, rows: u64) {
        let _ = (bytes, rows);
    }
    /// The file is valid; `rows` rows are being applied.
    fn applying(&self, rows: u64) {
        let _ = rows;
    }
    /// `done` of the rows applied.
    fn applied(&self, done: u64) {
        let _ = done;
    }
}

/// No progress reports.
pub struct Silent;

impl Progress for Silent {}

/// A storage error as an import error: a missing parent or a uniqueness clash is a conflict
/// of the file with the stored data.
pub(crate) fn stored(e: RepoError) -> ImportError {
    match e {
        RepoError::NotFound => ImportError::Conflict(
            "Файл ссылается на запись, которой нет (поставщик, дом, помещение, лицевой счёт или \
             прибор учёта). Ничего не загружено."
                .into(),
        ),
        RepoError::Duplicate => ImportError::Conflict(
            "Файл противоречит загруженным данным: номер ЛС принадлежит другому счёту или \
             показание прибора за этот период уже принято. Ничего не загружено."
                .into(),
        ),
        RepoError::Conflict => ImportError::Conflict(
            "Данные изменились во время загрузки. Ничего не загружено; повторите загрузку.".into(),
        ),
        other => ImportError::Storage(other.to_string()),
    }
}

/// What to import, with what the file needs checked.
#[derive(Clone, Debug)]
enum Job {
    Suppliers,
    Houses(SupplierId),
    Premises,
    Accounts(SupplierId),
    Meters,
    Tariffs(SupplierId),
    Readings,
    Bank(Box<Supplier>, String),
}

/// A file's rows as read.
enum Parsed {
    Suppliers(Vec<Lined<SupplierRow>>),
    Houses(Vec<Lined<billing_core::model::House>>),
    Premises(Vec<Lined<billing_core::model::Premise>>),
    Accounts(Vec<Lined<AccountRow>>),
    Meters(Vec<Lined<billing_core::meter::Meter>>),
    Tariffs(Vec<Lined<billing_core::tariff::TariffVersion>>),
    Readings(Vec<Lined<readings::ReadingRow>>),
    Bank(Vec<Lined<bank::PaymentRow>>, Box<Supplier>, String),
}

/// Reads `input` as the file of `job`.
fn parse(
    job: Job,
    input: impl Read,
    today: time::Date,
    progress: &dyn Progress,
) -> (Parsed, Errors) {
    let mut errors = Errors::default();
    let e = &mut errors;
    let parsed = match job {
        Job::Suppliers => Parsed::Suppliers(read(
            input,
            &reference::SUPPLIERS,
            progress,
            e,
            reference::supplier,
        )),
        Job::Houses(s) => Parsed::Houses(read(input, &reference::HOUSES, progress, e, |r| {
            reference::house(r, s)
        })),
        Job::Premises => Parsed::Premises(read(
            input,
            &reference::PREMISES,
            progress,
            e,
            reference::premise,
        )),
        Job::Accounts(s) => {
            let mut claims = reference::AccountClaims::default();
            Parsed::Accounts(read(input, &reference::ACCOUNTS, progress, e, |r| {
                reference::account(r, s, &mut claims)
            }))
        }
        Job::Meters => Parsed::Meters(read(
            input,
            &reference::METERS,
            progress,
            e,
            reference::meter,
        )),
        Job::Tariffs(s) => Parsed::Tariffs(read(input, &tariffs::TARIFFS, progress, e, |r| {
            tariffs::tariff(r, s)
        })),
        Job::Readings => {
            let mut slots = readings::Slots::new();
            Parsed::Readings(read(input, &readings::READINGS, progress, e, |r| {
                readings::row(r, today, &mut slots)
            }))
        }
        Job::Bank(supplier, registry) => {
            let mut references = bank::References::new();
            let rows = read(input, &bank::REGISTRY, progress, e, |r| {
                bank::row(r, today, &mut references)
            });
            Parsed::Bank(rows, supplier, registry)
        }
    };
    (parsed, errors)
}

/// The value of `key` in `cache`, loaded by `load` the first time.
async fn cached<K, V>(
    cache: &mut std::collections::HashMap<K, V>,
    key: &K,
    load: impl AsyncFnOnce() -> Result<V, ImportError>,
) -> Result<V, ImportError>
where
    K: std::hash::Hash + Eq + Clone,
    V: Clone,
{
    if let Some(v) = cache.get(key) {
        return Ok(v.clone());
    }
    let v = load().await?;
    cache.insert(key.clone(), v.clone());
    Ok(v)
}

/// `Invalid` unless `errors` is empty.
fn valid(errors: Errors) -> Result<(), ImportError> {
    if errors.is_empty() {
        return Ok(());
    }
    let (errors, total) = errors.into_sorted();
    Err(ImportError::Invalid { errors, total })
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Applies the items of a file, if it had no bad row, with one call of `write` (one
/// transaction); returns how many there were.
async fn write_all<T>(
    items: Vec<T>,
    errors: Errors,
    progress: &dyn Progress,
    write: impl AsyncFnOnce(&[T]) -> Result<(), RepoError>,
) -> Result<usize, ImportError> {
    valid(errors)?;
    progress.applying(count(items.len()));
    write(&items).await.map_err(stored)?;
    Ok(items.len())
}

/// The items of `rows`, without their lines.
fn items<T>(rows: Vec<Lined<T>>) -> Vec<T> {
    rows.into_iter().map(|r| r.item).collect()
}

/// Imports files into one database.
pub struct Importer {
    storage: Storage,
    billing: BillingService,
    clock: Arc<dyn Clock>,
}

impl Importer {
    /// An importer writing to `storage`; `clock` dates what is stored (readings' arrival,
    /// codes' issue, payments).
    pub fn new(storage: Storage, clock: Arc<dyn Clock>) -> Importer {
        Importer {
            billing: BillingService::new(storage.billing_ports(Arc::clone(&clock))),
            storage,
            clock,
        }
    }

    /// Reads, checks and (if every row is good) applies `input` as a file of `kind`.
    pub async fn run<R: Read + Send + 'static>(
        &self,
        kind: Kind,
        input: R,
        options: Options,
        progress: Arc<dyn Progress>,
    ) -> Result<Report, ImportError> {
        let job = self.job(kind, options).await?;
        let today = self.clock.today();
        let reader = Arc::clone(&progress);
        let (parsed, errors) =
            tokio::task::spawn_blocking(move || parse(job, input, today, reader.as_ref()))
                .await
                .map_err(|e| ImportError::Storage(format!("the CSV reader stopped: {e}")))?;
        self.apply(kind, parsed, errors, progress.as_ref()).await
    }

    /// The job of `kind`: the supplier looked up when the kind needs one.
    async fn job(&self, kind: Kind, options: Options) -> Result<Job, ImportError> {
        let missing = || {
            ImportError::Options(format!(
                "Для загрузки «{}» укажите поставщика (supplier).",
                kind.code()
            ))
        };
        let supplier = match options.supplier.filter(|_| kind.needs_supplier()) {
            Some(id) => {
                let id = SupplierId::new(id);
                let found = match i64::try_from(id.get()) {
                    Ok(_) => self.storage.supplier(id).await.map_err(stored)?,
                    Err(_) => None,
                };
                Some(found.ok_or_else(|| ImportError::Options(format!("Поставщика {id} нет.")))?)
            }
            None => None,
        };
        Ok(match (kind, supplier) {
            (Kind::Suppliers, _) => Job::Suppliers,
            (Kind::Premises, _) => Job::Premises,
            (Kind::Meters, _) => Job::Meters,
            (Kind::Readings, _) => Job::Readings,
            (Kind::Houses, Some(s)) => Job::Houses(s.id),
            (Kind::Accounts, Some(s)) => Job::Accounts(s.id),
            (Kind::Tariffs, Some(s)) => Job::Tariffs(s.id),
            (Kind::BankRegistry, Some(s)) => {
                let registry = options.registry.ok_or_else(|| {
                    ImportError::Options(
                        "Для загрузки реестра укажите его идентификатор (registry).".into(),
                    )
                })?;
                let registry = bank::registry_id(&registry).map_err(ImportError::Options)?;
                Job::Bank(Box::new(s), registry)
            }
            (_, None) => return Err(missing()),
        })
    }

    async fn apply(
        &self,
        kind: Kind,
        parsed: Parsed,
        mut errors: Errors,
        progress: &dyn Progress,
    ) -> Result<Report, ImportError> {
        let report = |rows: usize| Report {
            kind,
            rows: count(rows),
            applied: count(rows),
            duplicates: None,
        };
        let s = &self.storage;
        match parsed {
            Parsed::Suppliers(rows) => {
                valid(errors)?;
                progress.applying(count(rows.len()));
                let n = rows.len();
                for (i, row) in items(rows).into_iter().enumerate() {
                    let stored_one = s.supplier(row.id).await.map_err(stored)?;
                    s.upsert_supplier(&supplier_of(row, stored_one))
                        .await
                        .map_err(stored)?;
                    progress.applied(count(i + 1));
                }
                Ok(report(n))
            }
            Parsed::Houses(rows) => write_all(items(rows), errors, progress, async |h| {
                s.upsert_houses(h).await
            })
            .await
            .map(report),
            Parsed::Premises(rows) => write_all(items(rows), errors, progress, async |p| {
                s.upsert_premises(p).await
            })
            .await
            .map(report),
            Parsed::Accounts(rows) => self.accounts(rows, errors, progress).await.map(report),
            Parsed::Meters(rows) => write_all(items(rows), errors, progress, async |m| {
                s.upsert_meters(m).await
            })
            .await
            .map(report),
            Parsed::Tariffs(rows) => write_all(items(rows), errors, progress, async |t| {
                s.upsert_tariffs(t).await
            })
            .await
            .map(report),
            Parsed::Readings(rows) => {
                let new = readings::resolve(s, rows, self.clock.now(), &mut errors).await?;
                write_all(new, errors, progress, async |r| {
                    s.import_readings(r).await.map(drop)
                })
                .await
                .map(report)
            }
            Parsed::Bank(rows, supplier, registry) => {
                let n = rows.len();
                let plan =
                    bank::check(s, &self.billing, &supplier, &registry, rows, &mut errors).await?;
                valid(errors)?;
                progress.applying(count(n));
                let (credited, before) = bank::post(&self.billing, plan, progress).await?;
                Ok(Report {
                    kind,
                    rows: count(n),
                    applied: credited,
                    duplicates: Some(before),
                })
            }
        }
    }

    /// Accounts: codes checked against the stored ones, the accounts upserted in one
    /// transaction, then the codes stored. Returns the number of accounts.
    async fn accounts(
        &self,
        rows: Vec<Lined<AccountRow>>,
        mut errors: Errors,
        progress: &dyn Progress,
    ) -> Result<usize, ImportError> {
        let s = &self.storage;
        let mut codes = Vec::new();
        for row in &rows {
            let Some(code) = &row.item.payment_code else {
                continue;
            };
            if errors.is_full() {
                break;
            }
            let digest = crate::payment_codes::digest(code.expose());
            match s.account_by_payment_code(&digest).await {
                Ok(Some(owner)) if owner != row.item.account.id => errors.push(
                    row.line,
                    Some("payment_code"),
                    format!("этот код уже выдан ЛС с id {owner}"),
                ),
                Ok(_) => codes.push((row.line, row.item.account.id, digest)),
                Err(e) => return Err(ImportError::Storage(e.to_string())),
            }
        }
        valid(errors)?;
        let accounts: Vec<_> = rows.into_iter().map(|r| r.item.account).collect();
        progress.applying(count(accounts.len()));
        s.upsert_accounts(&accounts).await.map_err(stored)?;
        let now = self.clock.now();
        for (line, account, digest) in codes {
            match s.set_payment_code(account, &digest, now).await {
                Ok(()) => {}
                Err(WriteError::Duplicate) => {
                    return Err(ImportError::Conflict(format!(
                        "Счета загружены, но код строки {line} тем временем выдан другому ЛС. \
                         Исправьте код и загрузите файл снова."
                    )));
                }
                Err(e) => return Err(ImportError::Storage(format!("{e:?}"))),
            }
        }
        Ok(accounts.len())
    }
}

/// The supplier a row describes: its requisites, with the stored supplier's policies (the
/// defaults for a new one) and minimum payment unless the row gives one.
fn supplier_of(row: SupplierRow, stored: Option<Supplier>) -> Supplier {
    let (policy, penalty, minimum) = match stored {
        Some(s) => (s.policy, s.penalty, s.minimum_payment),
        None => (
            Default::default(),
            Default::default(),
            billing_core::Money::ZERO,
        ),
    };
    Supplier {
        id: row.id,
        requisites: row.requisites,
        policy,
        penalty,
        minimum_payment: row.minimum_payment.unwrap_or(minimum),
    }
}

#[cfg(test)]
mod tests;
