//! Contract of `ReceiptRepository`: a fiscal receipt claimed exactly once per (payment, kind,
//! refund) — also by eight claims at once — read back whole by key, per payment and per
//! account, its first registration kept, the pending ones listed oldest first, and the credited
//! payments without an income receipt found for the backfill.

use billing_core::ids::{AccountId, PaymentId, RefundRequestId};
use billing_core::ledger::PaymentState;
use billing_core::model::AccountNumber;
use billing_core::money::Money;
use billing_core::online::{OnlinePaymentRecord, OnlinePaymentRepository, ReceiptContact};
use billing_core::ports::{LedgerRepository, NewPayment, PaymentRecord, RepoError};
use billing_core::receipt::{
    FiscalReceipt, FiscalRegistration, ItemVat, PaymentMethodSign, PaymentSubject, ReceiptId,
    ReceiptItem, ReceiptKey, ReceiptKind, ReceiptRepository, StoredReceipt, TaxationSystem,
    VatTotal,
};
use billing_core::requisites::{Inn, OrgName};
use billing_core::service::ServiceKind;
use billing_core::vat::VatRate;
use storage_seaorm::Storage;
use time::{Date, Duration};

use crate::common::billing::*;
use crate::common::fixtures::at;
use crate::common::seed::{assert_corrupt, count_rows, damage, house_with_accounts};
use crate::concurrency::race;

contract!(
    receipts_round_trip_every_field,
    a_second_claim_of_a_key_is_a_duplicate_and_writes_nothing,
    eight_claims_of_one_key_at_once_store_one_receipt,
    the_first_registration_is_kept,
    pending_lists_the_unregistered_oldest_first,
    of_account_lists_the_accounts_receipts_newest_first,
    credited_without_receipt_finds_what_the_backfill_must_issue,
    a_damaged_receipt_is_reported,
);

/// The two seeded accounts of house 1.
const A: u64 = 1_000_001;
const B: u64 = 1_000_002;

/// House 1 with accounts [`A`] and [`B`].
async fn seeded(storage: &Storage) {
    house_with_accounts(storage, 1, 2).await;
}

/// A stored payment of `kopecks` to `account`, created on `on`, moved along `path` from
/// `Created`.
async fn payment(
    storage: &Storage,
    gateway_id: &str,
    account: u64,
    on: Date,
    path: &[PaymentState],
) -> PaymentRecord {
    let mut record = storage
        .record_payment(&NewPayment {
            created_on: on,
            ..new_payment(gateway_id, account, 100_000)
        })
        .await
        .unwrap();
    // Online payments have a started record; a bank payment (`bank…`) has none.
    if !gateway_id.starts_with("bank") {
        OnlinePaymentRepository::insert(
            storage,
            &OnlinePaymentRecord {
                gateway_id: gateway(gateway_id),
                order_ref: format!("order-{gateway_id}"),
                account: record.account,
                amount: record.amount,
                split: record.split.clone(),
                payer: "subscriber".to_owned(),
                contact: ReceiptContact {
                    email: Some("payer@example.ru".to_owned()),
                    phone: None,
                },
                confirmation_url: format!("https://pay.example/{gateway_id}"),
                created_at: at(0),
            },
        )
        .await
        .unwrap();
    }
    let mut from = PaymentState::Created;
    for to in path {
        if *to == PaymentState::Failed {
            storage
                .fail_payment(&gateway(gateway_id), from, "отклонён банком", on)
                .await
                .unwrap();
        } else {
            storage
                .transition_payment(&gateway(gateway_id), from, *to, on)
                .await
                .unwrap();
        }
        from = *to;
    }
    record.state = from;
    record
}

/// A credited payment of 1 000 ₽ to `account` on `D0`.
async fn credited(storage: &Storage, gateway_id: &str, account: u64) -> PaymentRecord {
    use PaymentState::{Pending, Succeeded};
    payment(storage, gateway_id, account, D0, &[Pending, Succeeded]).await
}

fn item(
    name: &str,
    service: Option<ServiceKind>,
    period: Option<(i32, u32)>,
    kopecks: i64,
    vat: ItemVat,
    method: PaymentMethodSign,
    subject: PaymentSubject,
) -> ReceiptItem {
    let amount = rub(kopecks);
    ReceiptItem {
        name: name.to_owned(),
        service,
        period: period.map(|(y, m)| crate::common::billing::period(y, m)),
        amount,
        vat,
        vat_amount: vat.of(amount),
        method,
        subject,
    }
}

/// A receipt of `items` for `p`: the sums per VAT treatment in [`ItemVat`] order.
fn receipt_of(
    p: &PaymentRecord,
    kind: ReceiptKind,
    refund: Option<u64>,
    items: Vec<ReceiptItem>,
) -> FiscalReceipt {
    let mut vats: Vec<ItemVat> = items.iter().map(|i| i.vat).collect();
    vats.sort();
    vats.dedup();
    let vat_totals = vats
        .into_iter()
        .map(|vat| {
            let of = items.iter().filter(|i| i.vat == vat);
            VatTotal {
                vat,
                amount: of.clone().map(|i| i.amount).sum(),
                vat_amount: of.map(|i| i.vat_amount).sum(),
            }
        })
        .collect();
    FiscalReceipt {
        kind,
        payment: p.id,
        refund: refund.map(RefundRequestId::new),
        account: p.account,
        account_number: AccountNumber::parse(&p.account.get().to_string()).unwrap(),
        seller_inn: Inn::parse("7707083893").unwrap(),
        seller_name: OrgName::parse("АО «Энергосбыт № 1»").unwrap(),
        taxation: TaxationSystem::General,
        total: items.iter().map(|i| i.amount).sum(),
        items,
        vat_totals,
        contact: ReceiptContact {
            email: Some("ivanov@example.ru".to_owned()),
            phone: None,
        },
        at: at(0),
    }
}

/// `kopecks` of February's electricity for `p`'s account at 22 %, paid in full.
fn electricity(p: &PaymentRecord, kopecks: i64) -> ReceiptItem {
    item(
        &format!("Электроснабжение, ЛС {}, за 02.2026", p.account.get()),
        Some(ServiceKind::Electricity),
        Some((2026, 2)),
        kopecks,
        ItemVat::Rate(VatRate::TWENTY_TWO),
        PaymentMethodSign::FullPayment,
        PaymentSubject::Service,
    )
}

/// The income receipt of `p`: 800 ₽ of February's electricity at 22 %, 50 ₽ of penalties
/// without VAT, 150 ₽ kept as an advance at 22/122.
fn income(p: &PaymentRecord) -> FiscalReceipt {
    let n = p.account.get();
    receipt_of(
        p,
        ReceiptKind::Income,
        None,
        vec![
            electricity(p, 80_000),
            item(
                &format!("Пени, ЛС {n}, за 02.2026"),
                Some(ServiceKind::Penalty),
                Some((2026, 2)),
                5_000,
                ItemVat::NotSubject,
                PaymentMethodSign::FullPayment,
                PaymentSubject::NonOperatingIncome,
            ),
            item(
                &format!("Коммунальные услуги, ЛС {n}, аванс"),
                None,
                None,
                15_000,
                ItemVat::Calculated(VatRate::TWENTY_TWO),
                PaymentMethodSign::Advance,
                PaymentSubject::Service,
            ),
        ],
    )
}

/// The return receipt of refund request `refund` of `p`: 200 ₽ of the electricity line.
fn refund_receipt(p: &PaymentRecord, refund: u64) -> FiscalReceipt {
    receipt_of(
        p,
        ReceiptKind::IncomeReturn,
        Some(refund),
        vec![electricity(p, 20_000)],
    )
}

fn registration(n: u64) -> FiscalRegistration {
    FiscalRegistration {
        fiscal_number: "9960440300000001".to_owned(),
        document_number: n,
        fiscal_sign: format!("31415926{n:02}"),
        registered_at: at(60) + Duration::nanoseconds(123_456_789),
    }
}

fn ids(receipts: &[StoredReceipt]) -> Vec<ReceiptId> {
    receipts.iter().map(|r| r.id).collect()
}

async fn receipts_round_trip_every_field(storage: Storage) {
    seeded(&storage).await;
    let p = credited(&storage, "pay-1", A).await;
    let first = FiscalReceipt {
        contact: ReceiptContact {
            email: Some("ivanov@example.ru".to_owned()),
            phone: Some("+79161234567".to_owned()),
        },
        at: at(0) + Duration::nanoseconds(987_654_321),
        ..income(&p)
    };
    // A refund request written in the ledger, and its return receipt: another taxation system,
    // a phone only, a 20 % rate with a prepayment sign.
    let request = storage
        .record_refund_request(&refund_request(p.id, "pay-1", A, 20_000, "17/03"))
        .await
        .unwrap();
    let mut back = refund_receipt(&p, request.id.get());
    back.taxation = TaxationSystem::SimplifiedIncome;
    back.contact = ReceiptContact {
        email: None,
        phone: Some("+79161234567".to_owned()),
    };
    back.items[0].vat = ItemVat::Calculated(VatRate::TWENTY);
    back.items[0].vat_amount = back.items[0].vat.of(back.items[0].amount);
    back.items[0].method = PaymentMethodSign::Prepayment;
    back.vat_totals[0].vat = back.items[0].vat;
    back.vat_totals[0].vat_amount = back.items[0].vat_amount;
    back.at = at(3_600);

    let income_id = storage.claim(&first).await.unwrap();
    let return_id = storage.claim(&back).await.unwrap();
    assert!(return_id > income_id);
    let stored_income = StoredReceipt {
        id: income_id,
        receipt: first.clone(),
        registration: None,
    };
    let stored_return = StoredReceipt {
        id: return_id,
        receipt: back.clone(),
        registration: None,
    };
    assert_eq!(
        storage.by_key(ReceiptKey::income(p.id)).await,
        Ok(Some(stored_income.clone()))
    );
    assert_eq!(
        storage
            .by_key(ReceiptKey::income_return(p.id, request.id))
            .await,
        Ok(Some(stored_return.clone()))
    );
    assert_eq!(
        storage.of_payment(p.id).await,
        Ok(vec![stored_income, stored_return])
    );
    // Other keys find nothing.
    let other = RefundRequestId::new(request.id.get() + 1);
    for key in [
        ReceiptKey::income(PaymentId::new(p.id.get() + 1)),
        ReceiptKey::income_return(p.id, other),
        ReceiptKey::income_return(p.id, RefundRequestId::new(0)),
        ReceiptKey {
            payment: p.id,
            kind: ReceiptKind::IncomeReturn,
            refund: None,
        },
    ] {
        assert_eq!(storage.by_key(key).await, Ok(None), "{key:?}");
    }
    assert_eq!(
        storage.of_payment(PaymentId::new(p.id.get() + 1)).await,
        Ok(vec![])
    );
    // Every field, and an exact amount far from the usual.
    let big = credited(&storage, "pay-2", B).await;
    let mut huge = income(&big);
    huge.items.truncate(1);
    huge.items[0].amount = Money::from_kopecks(123_456_789_012_345);
    huge.items[0].vat_amount = huge.items[0].vat.of(huge.items[0].amount);
    huge.total = huge.items[0].amount;
    huge.vat_totals = vec![VatTotal {
        vat: huge.items[0].vat,
        amount: huge.total,
        vat_amount: huge.items[0].vat_amount,
    }];
    huge.contact = ReceiptContact::default();
    let id = storage.claim(&huge).await.unwrap();
    let got = storage.by_key(ReceiptKey::income(big.id)).await.unwrap();
    assert_eq!(got.map(|s| (s.id, s.receipt)), Some((id, huge)));
}

async fn a_second_claim_of_a_key_is_a_duplicate_and_writes_nothing(storage: Storage) {
    seeded(&storage).await;
    let p = credited(&storage, "pay-1", A).await;
    let first = income(&p);
    let id = storage.claim(&first).await.unwrap();
    // The same key with another content (a rebuild at another time) is refused by the UNIQUE.
    let again = FiscalReceipt {
        at: at(10),
        total: rub(1),
        ..first.clone()
    };
    assert_eq!(storage.claim(&again).await, Err(RepoError::Duplicate));
    assert_eq!(storage.claim(&first).await, Err(RepoError::Duplicate));
    assert_eq!(count_rows(&storage, "fiscal_receipts").await, 1);
    assert_eq!(
        storage.by_key(first.key()).await,
        Ok(Some(StoredReceipt {
            id,
            receipt: first,
            registration: None,
        }))
    );
    // Return receipts are once per refund request.
    let r1 = storage.claim(&refund_receipt(&p, 1)).await.unwrap();
    let r2 = storage.claim(&refund_receipt(&p, 2)).await.unwrap();
    assert_ne!(r1, r2);
    assert_eq!(
        storage.claim(&refund_receipt(&p, 2)).await,
        Err(RepoError::Duplicate)
    );
    assert_eq!(count_rows(&storage, "fiscal_receipts").await, 3);
    // The same refund id on another payment is another key.
    let q = credited(&storage, "pay-2", A).await;
    storage.claim(&refund_receipt(&q, 2)).await.unwrap();
    // A receipt of a payment or an account that does not exist is refused.
    let ghost = FiscalReceipt {
        payment: PaymentId::new(999),
        ..income(&p)
    };
    assert_eq!(storage.claim(&ghost).await, Err(RepoError::NotFound));
    let stranger = FiscalReceipt {
        account: AccountId::new(999),
        ..income(&q)
    };
    assert_eq!(storage.claim(&stranger).await, Err(RepoError::NotFound));
    assert_eq!(count_rows(&storage, "fiscal_receipts").await, 4);
}

async fn eight_claims_of_one_key_at_once_store_one_receipt(storage: Storage) {
    seeded(&storage).await;
    let p = credited(&storage, "pay-1", A).await;
    let results = race(&storage, |i| {
        let storage = storage.clone();
        // Each task built the receipt at its own instant: only the key is shared.
        let receipt = FiscalReceipt {
            at: at(i64::try_from(i).unwrap()),
            ..income(&p)
        };
        async move { (storage.claim(&receipt).await, receipt) }
    })
    .await;
    let outcomes: Vec<_> = results.iter().map(|(r, _)| r).collect();
    let won: Vec<_> = results
        .iter()
        .filter_map(|(r, receipt)| r.as_ref().ok().map(|id| (*id, receipt.clone())))
        .collect();
    assert_eq!(won.len(), 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|r| r.is_ok() || **r == Err(RepoError::Duplicate)),
        "{outcomes:?}"
    );
    assert_eq!(count_rows(&storage, "fiscal_receipts").await, 1);
    let (id, receipt) = won.into_iter().next().unwrap();
    assert_eq!(
        storage.by_key(ReceiptKey::income(p.id)).await,
        Ok(Some(StoredReceipt {
            id,
            receipt,
            registration: None,
        }))
    );
}

async fn the_first_registration_is_kept(storage: Storage) {
    seeded(&storage).await;
    let p = credited(&storage, "pay-1", A).await;
    let id = storage.claim(&income(&p)).await.unwrap();
    let other = storage.claim(&refund_receipt(&p, 1)).await.unwrap();
    storage.registered(id, &registration(7)).await.unwrap();
    // Again, with another registration: Ok, and the first one stays.
    storage.registered(id, &registration(8)).await.unwrap();
    storage.registered(id, &registration(7)).await.unwrap();
    let stored = storage.by_key(ReceiptKey::income(p.id)).await.unwrap();
    assert_eq!(stored.and_then(|s| s.registration), Some(registration(7)));
    // The other receipt is untouched.
    let pending = storage.of_payment(p.id).await.unwrap();
    assert_eq!(ids(&pending), [id, other]);
    assert_eq!(pending[1].registration, None);
    // A document number as large as a BIGINT holds.
    let large = FiscalRegistration {
        document_number: u64::try_from(i64::MAX).unwrap(),
        ..registration(0)
    };
    storage.registered(other, &large).await.unwrap();
    assert_eq!(
        storage.of_payment(p.id).await.unwrap()[1].registration,
        Some(large)
    );
    assert_eq!(
        storage
            .registered(ReceiptId::new(other.get() + 1), &registration(9))
            .await,
        Err(RepoError::NotFound)
    );
}

async fn pending_lists_the_unregistered_oldest_first(storage: Storage) {
    seeded(&storage).await;
    let mut claimed = Vec::new();
    for n in 0..4 {
        let p = credited(
            &storage,
            &format!("pay-{n}"),
            if n % 2 == 0 { A } else { B },
        )
        .await;
        // Later claims carry earlier times: claim order is what counts.
        let receipt = FiscalReceipt {
            at: at(100 - n),
            ..income(&p)
        };
        claimed.push(storage.claim(&receipt).await.unwrap());
    }
    storage
        .registered(claimed[1], &registration(1))
        .await
        .unwrap();
    let pending = storage.pending(10).await.unwrap();
    assert_eq!(ids(&pending), [claimed[0], claimed[2], claimed[3]]);
    assert!(pending.iter().all(|s| s.registration.is_none()));
    assert_eq!(pending[0].receipt.at, at(100));
    assert_eq!(
        ids(&storage.pending(2).await.unwrap()),
        [claimed[0], claimed[2]]
    );
    assert!(storage.pending(0).await.unwrap().is_empty());
    storage
        .registered(claimed[0], &registration(2))
        .await
        .unwrap();
    assert_eq!(
        ids(&storage.pending(10).await.unwrap()),
        [claimed[2], claimed[3]]
    );
    for id in &claimed[2..] {
        storage.registered(*id, &registration(3)).await.unwrap();
    }
    assert!(storage.pending(10).await.unwrap().is_empty());
}

async fn of_account_lists_the_accounts_receipts_newest_first(storage: Storage) {
    seeded(&storage).await;
    let pa = credited(&storage, "pay-a", A).await;
    let pb = credited(&storage, "pay-b", B).await;
    let pa2 = credited(&storage, "pay-a2", A).await;
    let a1 = storage.claim(&income(&pa)).await.unwrap();
    let b1 = storage.claim(&income(&pb)).await.unwrap();
    let a2 = storage.claim(&refund_receipt(&pa, 1)).await.unwrap();
    let a3 = storage.claim(&income(&pa2)).await.unwrap();
    storage.registered(a2, &registration(1)).await.unwrap();
    let of_a = storage.of_account(account_id(A), 10).await.unwrap();
    assert_eq!(ids(&of_a), [a3, a2, a1]);
    assert!(of_a.iter().all(|s| s.receipt.account == account_id(A)));
    assert_eq!(of_a[1].registration, Some(registration(1)));
    assert_eq!(
        ids(&storage.of_account(account_id(A), 2).await.unwrap()),
        [a3, a2]
    );
    assert_eq!(
        ids(&storage.of_account(account_id(B), 10).await.unwrap()),
        [b1]
    );
    assert!(
        storage
            .of_account(account_id(A), 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        storage
            .of_account(account_id(999), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn credited_without_receipt_finds_what_the_backfill_must_issue(storage: Storage) {
    use PaymentState::{Failed, Pending, Refunded, Succeeded};
    seeded(&storage).await;
    // (gateway id, account, created on, path from `Created`).
    let cases: [(&str, u64, Date, &[PaymentState]); 10] = [
        ("old", A, day(-1), &[Pending, Succeeded]),
        ("created", A, day(0), &[]),
        ("pending", A, day(0), &[Pending]),
        ("failed", A, day(0), &[Pending, Failed]),
        ("late", B, day(2), &[Pending, Succeeded]),
        ("succeeded", A, day(1), &[Pending, Succeeded]),
        ("refunded", B, day(0), &[Succeeded, Refunded]),
        ("with-income", A, day(0), &[Pending, Succeeded]),
        ("only-return", A, day(1), &[Succeeded, Refunded]),
        // Credited, but taken by a bank: its receipt is the bank's.
        ("bank-1", A, day(0), &[Pending, Succeeded]),
    ];
    let mut payments = Vec::new();
    for (id, account, on, path) in cases {
        payments.push(payment(&storage, id, account, on, path).await);
    }
    storage.claim(&income(&payments[7])).await.unwrap();
    // A return receipt is not the income receipt: the payment still needs one.
    storage
        .claim(&refund_receipt(&payments[8], 1))
        .await
        .unwrap();
    let listed = |ids: Vec<_>| {
        ids.into_iter()
            .map(|g: billing_core::ports::GatewayPaymentId| g.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    // Oldest first: by day, then in creation order.
    assert_eq!(
        listed(storage.credited_without_receipt(D0, 100).await.unwrap()),
        ["refunded", "succeeded", "only-return", "late"]
    );
    assert_eq!(
        listed(
            storage
                .credited_without_receipt(day(-1), 100)
                .await
                .unwrap()
        ),
        ["old", "refunded", "succeeded", "only-return", "late"]
    );
    assert_eq!(
        listed(storage.credited_without_receipt(D0, 2).await.unwrap()),
        ["refunded", "succeeded"]
    );
    assert_eq!(
        listed(storage.credited_without_receipt(day(1), 100).await.unwrap()),
        ["succeeded", "only-return", "late"]
    );
    assert!(
        storage
            .credited_without_receipt(day(3), 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        storage
            .credited_without_receipt(D0, 0)
            .await
            .unwrap()
            .is_empty()
    );
    // Claiming the income receipts empties the list.
    for p in &payments {
        if matches!(p.state, Succeeded | Refunded) && p.gateway_id.as_str() != "with-income" {
            storage.claim(&income(p)).await.unwrap();
        }
    }
    assert!(
        storage
            .credited_without_receipt(day(-1), 100)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_damaged_receipt_is_reported(storage: Storage) {
    seeded(&storage).await;
    let p = credited(&storage, "pay-1", A).await;
    storage.claim(&income(&p)).await.unwrap();
    // The amount "800.00" becomes unreadable, not silently wrong.
    damage(
        &storage,
        "UPDATE fiscal_receipts SET document = REPLACE(document, '\"800.00\"', '\"8.00.0\"')",
    )
    .await;
    let key = ReceiptKey::income(p.id);
    assert_corrupt(
        storage.by_key(key).await,
        "fiscal_receipts",
        "document.items.amount",
    );
    assert_corrupt(storage.pending(10).await, "fiscal_receipts", "document");
    damage(
        &storage,
        "UPDATE fiscal_receipts SET document = REPLACE(document, '\"8.00.0\"', '\"800.00\"'), \
         registered_at = 5",
    )
    .await;
    assert_corrupt(
        storage.of_payment(p.id).await,
        "fiscal_receipts",
        "registered_at",
    );
}
