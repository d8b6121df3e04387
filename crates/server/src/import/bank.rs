//! A bank's payment registry: one payment per row (the bank's reference of the payment, the
//! ЛС number, the amount, the day paid), credited to the ЛС of the supplier.
//!
//! **Exactly once.** Each row becomes a payment with the gateway id
//! `bank:<registry>:<reference>`, posted and confirmed through the billing use cases
//! (`post_payment` + `confirm_payment`), which are idempotent by that id: importing the same
//! registry again credits nothing twice — those rows are counted as duplicates.
//!
//! **Atomic enough.** Every row is checked before any is posted: the ЛС exists, the amount is
//! acceptable to the supplier (its minimum payment, against the current debt), the reference
//! is not repeated in the file and is not already used by another payment. A file with a bad
//! row posts nothing. Posting is then one payment at a time (each payment is its own
//! transaction in the ledger): if the database fails half-way, the payments posted so far stay
//! credited, and importing the same file again completes the rest — a payment recorded but not
//! yet confirmed is confirmed, a credited one is skipped.
//!
//! The payment is credited on the day of the import (the ledger's date); the bank's day is
//! checked (not in the future) but not used.

use std::collections::HashMap;

use billing_core::BillingService;
use billing_core::ids::AccountId;
use billing_core::ledger::{PaymentSplit, PaymentState};
use billing_core::model::{AccountNumber, Supplier};
use billing_core::ports::{AccountRepository, GatewayPaymentId, LedgerRepository};
use billing_core::usecase::{ConfirmOutcome, PostPayment};
use billing_core::{Money, RepoError};
use storage_seaorm::Storage;
use time::Date;

use super::reference::money;
use super::table::{Columns, Errors, Lined, Row, date, text};
use super::{ImportError, Progress, cached, stored};

/// The registry format (`payer` and `purpose` are allowed and ignored).
pub const REGISTRY: Columns = Columns {
    required: &["ref", "account", "amount", "date"],
    optional: &["payer", "purpose"],
};

/// A registry's identifier: 1–40 of `A-Z a-z 0-9 . _ -`.
pub fn registry_id(text: &str) -> Result<String, String> {
    let ok = (1..=40).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "идентификатор реестра «{text}» — от 1 до 40 латинских букв, цифр и знаков . _ -"
        ))
    }
}

/// A payment as read from its row.
#[derive(Clone, Debug)]
pub struct PaymentRow {
    reference: String,
    number: AccountNumber,
    amount: Money,
}

/// Which row of the file took each reference.
pub type References = HashMap<String, u64>;

/// Reads a registry row; a reference repeated in the file and a day after `today` are
/// errors.
pub fn row(r: &mut Row<'_>, today: Date, references: &mut References) -> Option<PaymentRow> {
    let reference = r.required("ref", |t| {
        let t = text(64)(t)?;
        if t.chars().any(char::is_whitespace) {
            Err("ссылка на платёж не может содержать пробелы".to_owned())
        } else {
            Ok(t)
        }
    });
    let number = r.required("account", |t| {
        AccountNumber::parse(t).map_err(|_| "номер ЛС — от 1 до 20 цифр".to_owned())
    });
    let amount = r.required("amount", |t| {
        money(t).and_then(|m| {
            if m.is_positive() {
                Ok(m)
            } else {
                Err("сумма должна быть больше нуля".to_owned())
            }
        })
    });
    let day = r.required("date", date);
    if day.is_some_and(|d| d > today) {
        r.fail(Some("date"), "день платежа ещё не наступил");
    }
    let reference = reference?;
    if let Some(first) = references.insert(reference.clone(), r.line()) {
        r.fail(
            Some("ref"),
            format!("ссылка {reference} уже есть в строке {first}"),
        );
    }
    Some(PaymentRow {
        reference,
        number: number?,
        amount: amount?,
    })
}

/// What to do with a checked row.
#[derive(Debug)]
enum Step {
    /// Post and confirm a new payment.
    Post(PostPayment),
    /// Confirm a payment an interrupted import recorded.
    Confirm(GatewayPaymentId),
    /// Credited before.
    Done,
}

/// The registry's payments checked against the stored data, ready to post.
pub struct Plan {
    steps: Vec<Step>,
}

/// Checks every row: the ЛС of `supplier`, the gateway id not used by another payment, the
/// amount acceptable. Stops looking up when `errors` is full.
pub async fn check(
    storage: &Storage,
    billing: &BillingService,
    supplier: &Supplier,
    registry: &str,
    rows: Vec<Lined<PaymentRow>>,
    errors: &mut Errors,
) -> Result<Plan, ImportError> {
    let mut accounts: HashMap<AccountNumber, Option<AccountId>> = HashMap::new();
    let mut steps = Vec::with_capacity(rows.len());
    for Lined { line, item } in rows {
        if errors.is_full() {
            break;
        }
        let account = cached(&mut accounts, &item.number, async || {
            let found = storage.find_by_number(supplier.id, &item.number).await;
            Ok(found.map_err(stored)?.map(|a| a.id))
        })
        .await?;
        let Some(account) = account else {
            errors.push(
                line,
                Some("account"),
                format!("ЛС {} у поставщика {} нет", item.number, supplier.id),
            );
            continue;
        };
        let Ok(gateway_id) =
            GatewayPaymentId::parse(&format!("bank:{registry}:{}", item.reference))
        else {
            errors.push(
                line,
                Some("ref"),
                "ссылка не подходит для идентификатора платежа",
            );
            continue;
        };
        match storage
            .payment_by_gateway_id(&gateway_id)
            .await
            .map_err(stored)?
        {
            Some(p) if p.account != account || p.amount != item.amount => errors.push(
                line,
                Some("ref"),
                format!(
                    "по ссылке {} реестра {registry} уже зачислен другой платёж ({} ₽)",
                    item.reference, p.amount
                ),
            ),
            Some(p) => match p.state {
                PaymentState::Succeeded => steps.push(Step::Done),
                PaymentState::Created | PaymentState::Pending => {
                    steps.push(Step::Confirm(gateway_id));
                }
                PaymentState::Failed | PaymentState::Refunded => errors.push(
                    line,
                    Some("ref"),
                    "платёж по этой ссылке отклонён или возвращён; его нельзя зачислить снова",
                ),
            },
            None => {
                let debt = billing
                    .balance(account)
                    .await
                    .map_err(|e| ImportError::Storage(format!("balance of {account}: {e}")))?
                    .balance
                    .positive_part();
                match supplier.check_payment_amount(item.amount, debt) {
                    Ok(()) => steps.push(Step::Post(PostPayment {
                        account,
                        gateway_id,
                        amount: item.amount,
                        split: PaymentSplit::Default,
                    })),
                    Err(e) => errors.push(line, Some("amount"), e.user_message()),
                }
            }
        }
    }
    Ok(Plan { steps })
}

/// Why posting stopped: the rows credited so far stay credited.
fn interrupted(done: usize, total: usize, why: &str) -> ImportError {
    ImportError::Conflict(format!(
        "Загрузка реестра прервана на платеже {} из {total}: {why} Зачисленные платежи \
         остаются зачисленными; загрузите тот же файл снова — повторно ничего не зачислится.",
        done + 1
    ))
}

/// Posts and confirms the planned payments; returns (credited now, credited before).
pub async fn post(
    billing: &BillingService,
    plan: Plan,
    progress: &dyn Progress,
) -> Result<(u64, u64), ImportError> {
    let total = plan.steps.len();
    let (mut credited, mut before) = (0, 0);
    for (i, step) in plan.steps.into_iter().enumerate() {
        let gateway_id = match step {
            Step::Done => {
                before += 1;
                continue;
            }
            Step::Confirm(g) => g,
            Step::Post(cmd) => {
                let g = cmd.gateway_id.clone();
                match billing.post_payment(cmd).await {
                    Ok(_) => g,
                    Err(billing_core::usecase::PostPaymentError::Repo(e)) => {
                        return Err(repo_interrupted(i, total, e));
                    }
                    Err(e) => return Err(interrupted(i, total, &e.user_message())),
                }
            }
        };
        match billing.confirm_payment(&gateway_id).await {
            Ok(c) if c.outcome == ConfirmOutcome::Credited => credited += 1,
            Ok(_) => before += 1,
            Err(billing_core::usecase::ConfirmPaymentError::Repo(e)) => {
                return Err(repo_interrupted(i, total, e));
            }
            Err(e) => return Err(interrupted(i, total, &e.user_message())),
        }
        progress.applied(u64::try_from(i + 1).unwrap_or(u64::MAX));
    }
    Ok((credited, before))
}

fn repo_interrupted(done: usize, total: usize, e: RepoError) -> ImportError {
    match stored(e) {
        ImportError::Storage(text) => ImportError::Storage(format!(
            "the registry stopped at payment {} of {total} (a rerun completes it): {text}",
            done + 1
        )),
        _ => interrupted(done, total, "данные изменились во время загрузки."),
    }
}
