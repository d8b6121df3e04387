//! [`SandboxFiscal`]: `billing_core::receipt::FiscalRegistrar` behaving like the sandbox of a
//! cloud cash register and its fiscal data operator (ОФД). It "registers" a 54-ФЗ receipt —
//! answers the fiscal drive's number (ФН), the fiscal document's number (ФД) and its fiscal
//! sign (ФП) — and "sends" the electronic receipt to the payer (54-ФЗ ст. 1.2 п. 2) by putting
//! it in the sandbox outbox ([`SandboxStore`]), kind [`KIND_RECEIPT`], correlation = the
//! receipt's external id ([`ReceiptKey::external_id`]).
//!
//! # Registration: a pure function of the receipt
//!
//! Nothing is stored to answer a retry: the registration is computed from the receipt and the
//! [`FiscalSettings`], so registering the same receipt again — in the same process, after a
//! restart, from another instance — gives the same numbers:
//!
//! - **ФН**: [`FiscalSettings::fiscal_number`] ([`SANDBOX_FISCAL_NUMBER`] by default);
//! - **ФД**: derived from the receipt's key, `2 × payment id` for an income receipt and
//!   `2 × refund request id + 1` for a return receipt. Payment and refund request ids are
//!   unique, so no two documents share a ФД (a hash of the external id could collide); a
//!   return receipt without a refund request cannot be numbered and is declined;
//! - **ФП**: ten digits (the first four bytes of the MAC as a big-endian number, zero-padded)
//!   of HMAC-SHA256 under [`FiscalSettings::sign_key`] over the document's fiscal data: the
//!   external id, ФН, ФД, the time, the kind, the total, the seller's ИНН, the taxation system
//!   and every item (name, amount, VAT, method sign, subject) — not the contact, which says
//!   where the receipt goes, not what it is;
//! - **registered at**: the receipt's own time ([`FiscalReceipt::at`]), which is also the time
//!   printed on it and in its QR code.
//!
//! # Idempotence of the message
//!
//! The receipt is sent once per external id. Each [`SandboxFiscal`] keeps the registrations it
//! made in memory (one small entry per receipt for the life of the process: a sandbox's
//! volume), and checks and sends under one lock, so a retry racing the first attempt
//! in this process waits for it and answers its registration without sending. A key it does
//! not remember (a restart, another instance) is looked up in the outbox first: every message
//! to the recipient is read (cursor pages of 100), and one of kind
//! [`KIND_RECEIPT`] whose correlation is the external id means it was sent already. The
//! outbox forgets after its purge (a day): a retry a day later sends the receipt again, which
//! a sandbox can live with. Two *instances* racing on one key could both send; the core's
//! claim ([`billing_core::receipt::ReceiptRepository::claim`]) already makes that rare.
//!
//! The same key with other fiscal data (a different registration) is declined — the
//! registration made first stands, as at a real ОФД — when this instance remembers the first
//! one.
//!
//! # Where the receipt goes
//!
//! To the contact's email if it has one (subject «Кассовый чек — <seller>», the full receipt,
//! [`render_email`]), otherwise as an SMS to its phone (one line: seller, kind, total, ФН, ФД,
//! ФП and the QR code's text, [`render_sms`]). A receipt **without a contact** is registered
//! all the same and nothing is sent: that is what billing-core documents for a payment without
//! an online record (`Receipts`' income receipt «registered all the same; nothing is sent»),
//! and declining it would leave the receipt pending for good.
//!
//! Times are printed at [`FiscalSettings::local_offset`] (the supplier's offset, +03:00 by
//! default) and labelled with it (`20.03.2026 12:15 (UTC+03:00)`), or in UTC, labelled `UTC`,
//! when none is set. The QR code's text is the ФНС format
//! `t=YYYYMMDDTHHMM&s=1234.50&fn=<ФН>&i=<ФД>&fp=<ФП>&n=<1 приход | 2 возврат прихода>`
//! ([`qr_text`]).
//!
//! # Errors
//!
//! [`GatewayError::Declined`] (English, for the operator) for a return receipt without its
//! refund request, an id too large to number, or a key reused with other data;
//! [`GatewayError::Unavailable`] when the outbox failed — then the receipt is not registered
//! and a retry sends it.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use billing_core::online::GatewayError;
use billing_core::receipt::{
    FiscalReceipt, FiscalRegistrar, FiscalRegistration, ItemVat, ReceiptKey, ReceiptKind,
};
use hmac::{Hmac, KeyInit, Mac};
use identity_core::ports::Clock;
use sha2::Sha256;
use time::{OffsetDateTime, UtcOffset};
use tokio::sync::Mutex;

use crate::clock::DEFAULT_SUPPLIER_OFFSET;
use crate::render::{EmailText, SIGNATURE};
use crate::store::{MessageChannel, OutboxMessage, SandboxStore, StoreError};

/// The sandbox fiscal drive's number (ФН): 16 digits, `9999` marking it as a test drive.
pub const SANDBOX_FISCAL_NUMBER: &str = "9999078900012345";

/// The outbox `kind` of an electronic receipt.
pub const KIND_RECEIPT: &str = "receipt";

/// How many outbox messages one read of the duplicate check asks for.
const OUTBOX_PAGE: u32 = 100;

/// The default key of the fiscal sign: public, sandbox only.
const SANDBOX_SIGN_KEY: &[u8] = b"abonent-sandbox-fiscal-sign-key";

/// How the sandbox register is set up.
#[derive(Clone, PartialEq, Eq)]
pub struct FiscalSettings {
    /// The fiscal drive's number (ФН) printed on every receipt; default
    /// [`SANDBOX_FISCAL_NUMBER`].
    pub fiscal_number: String,
    /// The HMAC-SHA256 key of the fiscal sign (ФП); the default is a public sandbox key.
    /// Changing it changes every ФП, so keep it while receipts may be retried.
    pub sign_key: Vec<u8>,
    /// The offset receipts' times are printed at (the supplier's); `None`: UTC. Default
    /// [`DEFAULT_SUPPLIER_OFFSET`] (+03:00).
    pub local_offset: Option<UtcOffset>,
}

impl Default for FiscalSettings {
    fn default() -> Self {
        Self {
            fiscal_number: SANDBOX_FISCAL_NUMBER.to_owned(),
            sign_key: SANDBOX_SIGN_KEY.to_vec(),
            local_offset: Some(DEFAULT_SUPPLIER_OFFSET),
        }
    }
}

impl fmt::Debug for FiscalSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FiscalSettings")
            .field("fiscal_number", &self.fiscal_number)
            .field("sign_key", &"<redacted>")
            .field("local_offset", &self.local_offset)
            .finish()
    }
}

/// The sandbox cash register (see the module docs). Share it in an `Arc`.
pub struct SandboxFiscal {
    outbox: Arc<dyn SandboxStore>,
    clock: Arc<dyn Clock>,
    settings: FiscalSettings,
    /// The registrations made by this instance, by external id; the lock also serialises
    /// the check-and-send of the receipt's message.
    registered: Mutex<HashMap<String, FiscalRegistration>>,
}

impl fmt::Debug for SandboxFiscal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxFiscal")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl SandboxFiscal {
    /// A register sending receipts into `outbox`, the messages stamped by `clock`.
    pub fn new(
        outbox: Arc<dyn SandboxStore>,
        clock: Arc<dyn Clock>,
        settings: FiscalSettings,
    ) -> Self {
        Self {
            outbox,
            clock,
            settings,
            registered: Mutex::new(HashMap::new()),
        }
    }

    /// The settings it was made with.
    pub fn settings(&self) -> &FiscalSettings {
        &self.settings
    }

    /// The registration `receipt` gets, computed without registering or sending anything (see
    /// the module docs): the same receipt always gets the same registration.
    pub fn registration_of(
        &self,
        receipt: &FiscalReceipt,
    ) -> Result<FiscalRegistration, GatewayError> {
        let document_number = document_number(&receipt.key())?;
        let fiscal_sign = self.fiscal_sign(receipt, document_number)?;
        Ok(FiscalRegistration {
            fiscal_number: self.settings.fiscal_number.clone(),
            document_number,
            fiscal_sign,
            registered_at: receipt.at,
        })
    }

    /// Ten digits of HMAC-SHA256 over the document's fiscal data.
    fn fiscal_sign(
        &self,
        receipt: &FiscalReceipt,
        document_number: u64,
    ) -> Result<String, GatewayError> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.settings.sign_key)
            .map_err(|_| GatewayError::Unavailable("fiscal sign key rejected".to_owned()))?;
        mac.update(fiscal_data(receipt, &self.settings.fiscal_number, document_number).as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut first = [0u8; 4];
        first.copy_from_slice(&digest[..4]);
        Ok(format!("{:010}", u32::from_be_bytes(first)))
    }

    /// The message carrying the receipt: an email if the contact has an address, else an SMS
    /// if it has a phone; `None` without a contact.
    fn message(
        &self,
        receipt: &FiscalReceipt,
        registration: &FiscalRegistration,
    ) -> Option<OutboxMessage> {
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let offset = self.settings.local_offset;
        let (channel, recipient, subject, body) = if let Some(email) = given(&receipt.contact.email)
        {
            let text = render_email(receipt, registration, offset);
            (MessageChannel::Email, email, Some(text.subject), text.body)
        } else {
            let phone = given(&receipt.contact.phone)?;
            let text = render_sms(receipt, registration, offset);
            (MessageChannel::Sms, phone, None, text)
        };
        Some(OutboxMessage {
            channel,
            recipient,
            kind: KIND_RECEIPT.to_owned(),
            subject,
            body,
            correlation: Some(receipt.key().external_id()),
            created_at: self.clock.now(),
        })
    }

    /// True if the outbox holds a receipt message to `recipient` for `external_id`.
    async fn already_sent(&self, recipient: &str, external_id: &str) -> Result<bool, StoreError> {
        let mut after = 0;
        loop {
            let page = self
                .outbox
                .messages(Some(recipient), Some(after), OUTBOX_PAGE)
                .await?;
            if page.iter().any(|m| {
                m.message.kind == KIND_RECEIPT
                    && m.message.correlation.as_deref() == Some(external_id)
            }) {
                return Ok(true);
            }
            let full = page.len() >= usize::try_from(OUTBOX_PAGE).unwrap_or(usize::MAX);
            match page.last() {
                Some(last) if full => after = last.id,
                _ => return Ok(false),
            }
        }
    }
}

#[async_trait]
impl FiscalRegistrar for SandboxFiscal {
    async fn register(&self, receipt: &FiscalReceipt) -> Result<FiscalRegistration, GatewayError> {
        let external_id = receipt.key().external_id();
        let registration = self.registration_of(receipt)?;
        let mut registered = self.registered.lock().await;
        if let Some(first) = registered.get(&external_id) {
            if *first == registration {
                return Ok(first.clone());
            }
            tracing::warn!(receipt = %external_id, "sandbox receipt declined: key reused with other data");
            return Err(GatewayError::Declined(format!(
                "receipt {external_id} was registered with other fiscal data"
            )));
        }
        let unavailable = |e: StoreError| {
            tracing::warn!(receipt = %external_id, error = %e, "sandbox receipt not registered: outbox failed");
            GatewayError::Unavailable(e.to_string())
        };
        match self.message(receipt, &registration) {
            Some(message) => {
                if self
                    .already_sent(&message.recipient, &external_id)
                    .await
                    .map_err(unavailable)?
                {
                    tracing::info!(receipt = %external_id, "sandbox receipt already in the outbox: not sent again");
                } else {
                    self.outbox
                        .push_message(&message)
                        .await
                        .map_err(unavailable)?;
                }
            }
            None => {
                tracing::info!(receipt = %external_id, "sandbox receipt has no contact: registered, not sent");
            }
        }
        tracing::info!(
            receipt = %external_id,
            document = registration.document_number,
            total = %receipt.total,
            "sandbox receipt registered"
        );
        registered.insert(external_id, registration.clone());
        Ok(registration)
    }
}

/// The ФД of the receipt with `key`: `2 × payment` for an income receipt, `2 × refund + 1`
/// for a return receipt.
fn document_number(key: &ReceiptKey) -> Result<u64, GatewayError> {
    let number = match (key.kind, key.refund) {
        (ReceiptKind::Income, _) => key.payment.get().checked_mul(2),
        (ReceiptKind::IncomeReturn, Some(refund)) => {
            refund.get().checked_mul(2).and_then(|n| n.checked_add(1))
        }
        (ReceiptKind::IncomeReturn, None) => {
            return Err(GatewayError::Declined(format!(
                "return receipt {} has no refund request",
                key.external_id()
            )));
        }
    };
    number.ok_or_else(|| {
        GatewayError::Declined(format!(
            "receipt {} has an id too large for a document number",
            key.external_id()
        ))
    })
}

/// The text the fiscal sign is computed over: one field a line, then one line an item.
fn fiscal_data(receipt: &FiscalReceipt, fiscal_number: &str, document_number: u64) -> String {
    let mut data = format!(
        "{}\nfn={fiscal_number}\ni={document_number}\nt={}\nn={}\ns={}\ninn={}\nsno={}\n",
        receipt.key().external_id(),
        receipt.at.unix_timestamp(),
        receipt.kind.tag(),
        receipt.total,
        receipt.seller_inn,
        receipt.taxation.tag(),
    );
    for item in &receipt.items {
        data.push_str(&format!(
            "{}|{}|{}|{}|{}|{}\n",
            item.name,
            item.amount,
            item.vat.label(),
            item.vat_amount,
            item.method.tag(),
            item.subject.tag(),
        ));
    }
    data
}

/// The registration's time at `offset` (UTC without one) and its label (`UTC+03:00`, `UTC`).
fn local_time(at: OffsetDateTime, offset: Option<UtcOffset>) -> (OffsetDateTime, String) {
    let offset = offset.unwrap_or(UtcOffset::UTC);
    let label = if offset.is_utc() {
        "UTC".to_owned()
    } else {
        let sign = if offset.is_negative() { '-' } else { '+' };
        format!(
            "UTC{sign}{:02}:{:02}",
            offset.whole_hours().unsigned_abs(),
            offset.minutes_past_hour().unsigned_abs()
        )
    };
    (at.to_offset(offset), label)
}

/// The text of the receipt's QR code (the ФНС format):
/// `t=20260320T1215&s=1000.00&fn=9999078900012345&i=10&fp=0123456789&n=1`, the time at
/// `offset` (UTC without one).
pub fn qr_text(
    receipt: &FiscalReceipt,
    registration: &FiscalRegistration,
    offset: Option<UtcOffset>,
) -> String {
    let (t, _) = local_time(registration.registered_at, offset);
    format!(
        "t={:04}{:02}{:02}T{:02}{:02}&s={}&fn={}&i={}&fp={}&n={}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        receipt.total,
        registration.fiscal_number,
        registration.document_number,
        registration.fiscal_sign,
        receipt.kind.tag()
    )
}

/// The email carrying the receipt: subject «Кассовый чек — <seller>», the whole receipt in the
/// body (times at `offset`, UTC without one).
pub fn render_email(
    receipt: &FiscalReceipt,
    registration: &FiscalRegistration,
    offset: Option<UtcOffset>,
) -> EmailText {
    let intro = match receipt.kind {
        ReceiptKind::Income => "Электронный кассовый чек по вашему платежу.",
        ReceiptKind::IncomeReturn => "Электронный кассовый чек по возврату вашего платежа.",
    };
    EmailText {
        subject: format!("Кассовый чек — {}", receipt.seller_name),
        body: format!(
            "Здравствуйте!\n\n{intro}\n\n{}\n\n{SIGNATURE}",
            render_receipt(receipt, registration, offset)
        ),
    }
}

/// The receipt as printed: seller, kind, time, account, items, totals, ФН/ФД/ФП and the QR
/// code's text.
pub fn render_receipt(
    receipt: &FiscalReceipt,
    registration: &FiscalRegistration,
    offset: Option<UtcOffset>,
) -> String {
    let (t, label) = local_time(registration.registered_at, offset);
    let mut lines = vec![
        receipt.seller_name.to_string(),
        format!("ИНН {}", receipt.seller_inn),
        format!("Кассовый чек. {}", receipt.kind.russian()),
        format!(
            "{:02}.{:02}.{} {:02}:{:02} ({label})",
            t.day(),
            u8::from(t.month()),
            t.year(),
            t.hour(),
            t.minute()
        ),
        format!("Лицевой счёт {}", receipt.account_number),
    ];
    for (n, item) in receipt.items.iter().enumerate() {
        lines.push(String::new());
        lines.push(format!("{}. {}", n + 1, item.name));
        lines.push(format!("   Сумма: {}", item.amount.to_russian()));
        lines.push(match item.vat {
            ItemVat::NotSubject => format!("   {}", item.vat.label()),
            ItemVat::Rate(_) | ItemVat::Calculated(_) => {
                format!("   {}: {}", item.vat.label(), item.vat_amount.to_russian())
            }
        });
        lines.push(format!("   Способ расчёта: {}", item.method.russian()));
        lines.push(format!("   Предмет расчёта: {}", item.subject.russian()));
    }
    lines.push(String::new());
    lines.push(format!("ИТОГО: {}", receipt.total.to_russian()));
    lines.push(format!("Безналичными: {}", receipt.total.to_russian()));
    for total in &receipt.vat_totals {
        lines.push(match total.vat {
            ItemVat::NotSubject => format!("Сумма без НДС: {}", total.amount.to_russian()),
            ItemVat::Rate(_) | ItemVat::Calculated(_) => format!(
                "в т.ч. {}: {}",
                total.vat.label(),
                total.vat_amount.to_russian()
            ),
        });
    }
    lines.push(format!(
        "Система налогообложения: {}",
        receipt.taxation.russian()
    ));
    lines.push(String::new());
    lines.push(format!("ФН: {}", registration.fiscal_number));
    lines.push(format!("ФД: {}", registration.document_number));
    lines.push(format!("ФП: {}", registration.fiscal_sign));
    lines.push(format!(
        "QR-код чека: {}",
        qr_text(receipt, registration, offset)
    ));
    lines.join("\n")
}

/// The SMS carrying the receipt, one line: seller, kind, total, ФН, ФД, ФП and the QR code's
/// text (the time in it at `offset`, UTC without one).
pub fn render_sms(
    receipt: &FiscalReceipt,
    registration: &FiscalRegistration,
    offset: Option<UtcOffset>,
) -> String {
    format!(
        "Кассовый чек {}: {} {}. ФН {} ФД {} ФП {}. Проверка чека: {}",
        receipt.seller_name,
        receipt.kind.russian().to_lowercase(),
        receipt.total.to_russian(),
        registration.fiscal_number,
        registration.document_number,
        registration.fiscal_sign,
        qr_text(receipt, registration, offset)
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use billing_core::ids::{AccountId, PaymentId, RefundRequestId};
    use billing_core::model::AccountNumber;
    use billing_core::money::Money;
    use billing_core::online::ReceiptContact;
    use billing_core::receipt::{
        PaymentMethodSign, PaymentSubject, ReceiptItem, TaxationSystem, VatTotal,
    };
    use billing_core::requisites::{Inn, OrgName};
    use billing_core::vat::VatRate;
    use billing_core::{Period, ServiceKind};
    use time::macros::{datetime, offset};

    use super::*;
    use crate::store::MemorySandboxStore;
    use crate::testing::{FlakyStore, ManualClock, T0};

    /// When the receipts are issued: 12:15 in Moscow.
    const AT: OffsetDateTime = datetime!(2026-03-20 09:15 UTC);
    const EMAIL: &str = "ivanov@example.ru";
    const PHONE: &str = "+79161234567";
    const R22: ItemVat = ItemVat::Rate(VatRate::TWENTY_TWO);

    fn item(name: &str, service: Option<ServiceKind>, rub: i64, vat: ItemVat) -> ReceiptItem {
        let amount = Money::from_roubles(rub);
        let (method, subject) = match (service, vat) {
            (Some(ServiceKind::Penalty), _) => (
                PaymentMethodSign::FullPayment,
                PaymentSubject::NonOperatingIncome,
            ),
            (_, ItemVat::Calculated(_)) => (PaymentMethodSign::Advance, PaymentSubject::Service),
            _ => (PaymentMethodSign::FullPayment, PaymentSubject::Service),
        };
        ReceiptItem {
            name: name.to_owned(),
            service,
            period: service.map(|_| Period::new(2026, 2).unwrap()),
            amount,
            vat,
            vat_amount: vat.of(amount),
            method,
            subject,
        }
    }

    fn contact(email: Option<&str>, phone: Option<&str>) -> ReceiptContact {
        ReceiptContact {
            email: email.map(str::to_owned),
            phone: phone.map(str::to_owned),
        }
    }

    fn receipt(
        kind: ReceiptKind,
        refund: Option<u64>,
        items: Vec<ReceiptItem>,
        contact: ReceiptContact,
    ) -> FiscalReceipt {
        let mut totals: BTreeMap<ItemVat, (Money, Money)> = BTreeMap::new();
        for i in &items {
            let t = totals.entry(i.vat).or_insert((Money::ZERO, Money::ZERO));
            t.0 += i.amount;
            t.1 += i.vat_amount;
        }
        FiscalReceipt {
            kind,
            payment: PaymentId::new(5),
            refund: refund.map(RefundRequestId::new),
            account: AccountId::new(1),
            account_number: AccountNumber::parse("7700100001").unwrap(),
            seller_inn: Inn::parse("7707083893").unwrap(),
            seller_name: OrgName::parse("АО «Энергосбыт»").unwrap(),
            taxation: TaxationSystem::General,
            total: items.iter().map(|i| i.amount).sum(),
            vat_totals: totals
                .into_iter()
                .map(|(vat, (amount, vat_amount))| VatTotal {
                    vat,
                    amount,
                    vat_amount,
                })
                .collect(),
            items,
            contact,
            at: AT,
        }
    }

    /// 1 000 ₽ of payment 5: February's electricity, penalties and an advance.
    fn income(contact: ReceiptContact) -> FiscalReceipt {
        let items = vec![
            item(
                "Электроснабжение, ЛС 7700100001, за 02.2026",
                Some(ServiceKind::Electricity),
                800,
                R22,
            ),
            item(
                "Пени, ЛС 7700100001, за 02.2026",
                Some(ServiceKind::Penalty),
                50,
                ItemVat::NotSubject,
            ),
            item(
                "Коммунальные услуги, ЛС 7700100001, аванс",
                None,
                150,
                ItemVat::Calculated(VatRate::TWENTY_TWO),
            ),
        ];
        receipt(ReceiptKind::Income, None, items, contact)
    }

    /// 200 ₽ of it returned by refund request 3.
    fn refund(contact: ReceiptContact) -> FiscalReceipt {
        let items = vec![item(
            "Электроснабжение, ЛС 7700100001, за 02.2026",
            Some(ServiceKind::Electricity),
            200,
            R22,
        )];
        receipt(ReceiptKind::IncomeReturn, Some(3), items, contact)
    }

    fn fiscal_with(store: &Arc<dyn SandboxStore>, settings: FiscalSettings) -> SandboxFiscal {
        SandboxFiscal::new(store.clone(), ManualClock::new(), settings)
    }

    fn fiscal(store: &Arc<dyn SandboxStore>) -> SandboxFiscal {
        fiscal_with(store, FiscalSettings::default())
    }

    fn memory() -> Arc<dyn SandboxStore> {
        Arc::new(MemorySandboxStore::new())
    }

    /// Every receipt message in the outbox.
    async fn sent(store: &Arc<dyn SandboxStore>) -> Vec<OutboxMessage> {
        let all = store.messages(None, None, 10_000).await.unwrap();
        all.into_iter()
            .map(|m| m.message)
            .filter(|m| m.kind == KIND_RECEIPT)
            .collect()
    }

    /// The one message in the outbox to `to`.
    async fn only_message_to(store: &Arc<dyn SandboxStore>, to: &str) -> OutboxMessage {
        let found = store.messages(Some(to), None, 10).await.unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        found[0].message.clone()
    }

    #[tokio::test]
    async fn the_registration_is_a_function_of_the_receipt_and_the_receipt_is_sent_once() {
        let store = memory();
        let r = income(contact(Some(EMAIL), Some(PHONE)));
        let first = fiscal(&store).register(&r).await.unwrap();
        assert_eq!(first.fiscal_number, "9999078900012345");
        assert_eq!(first.document_number, 10); // 2 × payment 5
        assert_eq!(first.fiscal_sign.len(), 10);
        assert!(first.fiscal_sign.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(first.registered_at, AT);

        // The same instance again, a restarted one over the same outbox, and a pure look-up.
        let again = fiscal(&store);
        assert_eq!(again.register(&r).await.unwrap(), first);
        assert_eq!(again.register(&r).await.unwrap(), first);
        assert_eq!(again.registration_of(&r).unwrap(), first);
        assert_eq!(sent(&store).await.len(), 1);

        // The sign depends on the key and on the fiscal data.
        let other_key = fiscal_with(
            &memory(),
            FiscalSettings {
                sign_key: b"another key".to_vec(),
                ..FiscalSettings::default()
            },
        );
        let signed = other_key.registration_of(&r).unwrap();
        assert_eq!(signed.document_number, 10);
        assert_ne!(signed.fiscal_sign, first.fiscal_sign);
        let mut later = r.clone();
        later.at += time::Duration::MINUTE;
        assert_ne!(
            again.registration_of(&later).unwrap().fiscal_sign,
            first.fiscal_sign
        );
        // Not the contact: it says where the receipt goes.
        let mut elsewhere = r.clone();
        elsewhere.contact = contact(None, Some(PHONE));
        assert_eq!(again.registration_of(&elsewhere).unwrap(), first);
    }

    #[tokio::test]
    async fn the_same_key_with_other_data_is_declined_by_the_register_that_remembers_it() {
        let store = memory();
        let f = fiscal(&store);
        let r = income(contact(Some(EMAIL), None));
        let first = f.register(&r).await.unwrap();
        let mut changed = r.clone();
        changed.items[0].name = "Отопление, ЛС 7700100001, за 02.2026".to_owned();
        let err = f.register(&changed).await.unwrap_err();
        assert!(
            matches!(&err, GatewayError::Declined(why) if why.contains("income-5")),
            "{err:?}"
        );
        assert_eq!(f.register(&r).await.unwrap(), first);
        assert_eq!(sent(&store).await.len(), 1);
    }

    #[tokio::test]
    async fn an_email_gets_the_receipt_by_email_and_a_phone_alone_by_sms() {
        let store = memory();
        let clock = ManualClock::new();
        let f = SandboxFiscal::new(store.clone(), clock.clone(), FiscalSettings::default());
        let reg = f
            .register(&income(contact(Some(EMAIL), Some(PHONE))))
            .await
            .unwrap();
        let m = only_message_to(&store, EMAIL).await;
        assert_eq!(m.channel, MessageChannel::Email);
        assert_eq!(m.kind, KIND_RECEIPT);
        assert_eq!(m.subject.as_deref(), Some("Кассовый чек — АО «Энергосбыт»"));
        assert_eq!(m.correlation.as_deref(), Some("income-5"));
        assert_eq!(m.created_at, T0);
        assert!(m.body.contains(&format!("ФП: {}", reg.fiscal_sign)));
        assert!(
            store
                .messages(Some(PHONE), None, 10)
                .await
                .unwrap()
                .is_empty()
        );

        // A blank email does not count: the phone gets an SMS.
        let later = T0 + time::Duration::HOUR;
        clock.set(later);
        let reg = f
            .register(&refund(contact(Some("  "), Some(PHONE))))
            .await
            .unwrap();
        let m = only_message_to(&store, PHONE).await;
        assert_eq!(m.channel, MessageChannel::Sms);
        assert_eq!(m.subject, None);
        assert_eq!(m.correlation.as_deref(), Some("return-5-3"));
        assert_eq!(m.created_at, later);
        assert_eq!(
            m.body,
            format!(
                "Кассовый чек АО «Энергосбыт»: возврат прихода 200,00\u{a0}₽. \
                 ФН 9999078900012345 ФД 7 ФП {fp}. Проверка чека: \
                 t=20260320T1215&s=200.00&fn=9999078900012345&i=7&fp={fp}&n=2",
                fp = reg.fiscal_sign
            )
        );
        assert_eq!(sent(&store).await.len(), 2);
    }

    #[tokio::test]
    async fn the_email_itemises_the_receipt_with_vat_per_rate_totals_and_fiscal_data() {
        let store = memory();
        let reg = fiscal(&store)
            .register(&income(contact(Some(EMAIL), None)))
            .await
            .unwrap();
        let fp = &reg.fiscal_sign;
        let expected = format!(
            "Здравствуйте!

Электронный кассовый чек по вашему платежу.

АО «Энергосбыт»
ИНН 7707083893
Кассовый чек. Приход
20.03.2026 12:15 (UTC+03:00)
Лицевой счёт 7700100001

1. Электроснабжение, ЛС 7700100001, за 02.2026
   Сумма: 800,00 ₽
   НДС 22 %: 144,26 ₽
   Способ расчёта: Полный расчёт
   Предмет расчёта: Услуга

2. Пени, ЛС 7700100001, за 02.2026
   Сумма: 50,00 ₽
   Без НДС
   Способ расчёта: Полный расчёт
   Предмет расчёта: Внереализационный доход

3. Коммунальные услуги, ЛС 7700100001, аванс
   Сумма: 150,00 ₽
   НДС 22/122: 27,05 ₽
   Способ расчёта: Аванс
   Предмет расчёта: Услуга

ИТОГО: 1 000,00 ₽
Безналичными: 1 000,00 ₽
Сумма без НДС: 50,00 ₽
в т.ч. НДС 22 %: 144,26 ₽
в т.ч. НДС 22/122: 27,05 ₽
Система налогообложения: ОСН

ФН: 9999078900012345
ФД: 10
ФП: {fp}
QR-код чека: t=20260320T1215&s=1000.00&fn=9999078900012345&i=10&fp={fp}&n=1

С уважением,
Личный кабинет абонента"
        );
        // Amounts are grouped and joined to ₽ by no-break spaces, as Money::to_russian does.
        let expected = expected
            .replace(" ₽", "\u{a0}₽")
            .replace("1 000", "1\u{a0}000")
            .replace("22 %", "22\u{a0}%");
        let body = &sent(&store).await[0].body;
        assert_eq!(body, &expected, "\n{body}");
    }

    #[tokio::test]
    async fn a_return_receipt_is_numbered_by_its_refund_and_reads_as_a_return() {
        let store = memory();
        let r = refund(contact(Some(EMAIL), None));
        let reg = fiscal(&store).register(&r).await.unwrap();
        assert_eq!(reg.document_number, 7); // 2 × refund request 3 + 1
        let body = &sent(&store).await[0].body;
        for line in [
            "Электронный кассовый чек по возврату вашего платежа.",
            "Кассовый чек. Возврат прихода",
            "ИТОГО: 200,00\u{a0}₽",
            "в т.ч. НДС 22\u{a0}%: 36,07\u{a0}₽",
            "ФД: 7",
        ] {
            assert!(body.lines().any(|l| l == line), "{line}\n{body}");
        }
        assert!(!body.contains("Приход"), "{body}");
        let qr = format!(
            "t=20260320T1215&s=200.00&fn=9999078900012345&i=7&fp={}&n=2",
            reg.fiscal_sign
        );
        assert_eq!(qr_text(&r, &reg, Some(offset!(+3))), qr);
        assert!(body.contains(&qr), "{body}");
    }

    #[tokio::test]
    async fn a_receipt_without_a_contact_is_registered_and_sent_nowhere() {
        let store = memory();
        let f = fiscal(&store);
        let r = income(contact(None, Some(" ")));
        let reg = f.register(&r).await.unwrap();
        assert_eq!(reg, f.registration_of(&r).unwrap());
        assert!(store.messages(None, None, 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn receipts_that_cannot_be_numbered_are_declined() {
        let store = memory();
        let f = fiscal(&store);
        let mut orphan = refund(contact(Some(EMAIL), None));
        orphan.refund = None;
        let err = f.register(&orphan).await.unwrap_err();
        assert!(
            matches!(&err, GatewayError::Declined(why) if why.contains("no refund request")),
            "{err:?}"
        );
        let mut huge = income(contact(Some(EMAIL), None));
        huge.payment = PaymentId::new(u64::MAX);
        assert!(matches!(
            f.register(&huge).await,
            Err(GatewayError::Declined(_))
        ));
        assert!(sent(&store).await.is_empty());
    }

    #[tokio::test]
    async fn an_outbox_failure_is_unavailable_and_the_retry_sends_the_receipt_once() {
        let flaky = Arc::new(FlakyStore::default());
        flaky.set_down(true);
        let store: Arc<dyn SandboxStore> = flaky.clone();
        let f = fiscal(&store);
        let r = income(contact(None, Some(PHONE)));
        let err = f.register(&r).await.unwrap_err();
        assert!(
            matches!(&err, GatewayError::Unavailable(why) if why.contains("database down")),
            "{err:?}"
        );
        flaky.set_down(false);
        assert!(sent(&store).await.is_empty());
        let reg = f.register(&r).await.unwrap();
        assert_eq!(f.register(&r).await.unwrap(), reg);
        assert_eq!(sent(&store).await.len(), 1);
    }

    #[tokio::test]
    async fn the_duplicate_check_reads_the_recipients_whole_outbox() {
        let store = memory();
        let r = income(contact(Some(EMAIL), None));
        fiscal(&store).register(&r).await.unwrap();
        // More than a page of other mail to the payer since.
        for n in 0..(OUTBOX_PAGE + 20) {
            let other = OutboxMessage {
                channel: MessageChannel::Email,
                recipient: EMAIL.to_owned(),
                kind: crate::store::KIND_NOTICE.to_owned(),
                subject: Some("Пароль изменён".to_owned()),
                body: format!("Уведомление {n}"),
                correlation: Some("income-5".to_owned()),
                created_at: T0,
            };
            store.push_message(&other).await.unwrap();
        }
        let restarted = fiscal(&store);
        restarted.register(&r).await.unwrap();
        assert_eq!(sent(&store).await.len(), 1);
        // Another receipt to the same payer is sent.
        restarted
            .register(&refund(contact(Some(EMAIL), None)))
            .await
            .unwrap();
        let receipts = sent(&store).await;
        assert_eq!(receipts.len(), 2);
        assert_eq!(receipts[1].correlation.as_deref(), Some("return-5-3"));
    }

    #[tokio::test]
    async fn times_are_printed_at_the_local_offset_or_in_utc_and_labelled() {
        let store = memory();
        let utc = FiscalSettings {
            local_offset: None,
            ..FiscalSettings::default()
        };
        let r = income(contact(Some(EMAIL), None));
        let reg = fiscal_with(&store, utc).register(&r).await.unwrap();
        let body = &sent(&store).await[0].body;
        assert!(body.contains("\n20.03.2026 09:15 (UTC)\n"), "{body}");
        assert!(body.contains("t=20260320T0915&"), "{body}");
        // The day changes with the offset.
        let late = datetime!(2026-03-31 22:30 UTC);
        let (t, label) = local_time(late, Some(offset!(+3)));
        assert_eq!((t.day(), t.hour(), label.as_str()), (1, 1, "UTC+03:00"));
        let (t, label) = local_time(late, Some(offset!(-3:30)));
        assert_eq!((t.hour(), t.minute(), label.as_str()), (19, 0, "UTC-03:30"));
        let reg_late = FiscalRegistration {
            registered_at: late,
            ..reg
        };
        assert!(qr_text(&r, &reg_late, Some(offset!(+3))).starts_with("t=20260401T0130&"));
    }

    #[test]
    fn debug_output_hides_the_sign_key() {
        let settings = FiscalSettings {
            sign_key: b"top secret".to_vec(),
            ..FiscalSettings::default()
        };
        let f = fiscal_with(&memory(), settings.clone());
        for text in [format!("{settings:?}"), format!("{f:?}")] {
            assert!(!text.contains("top secret"), "{text}");
            assert!(text.contains("9999078900012345"), "{text}");
        }
        assert_eq!(f.settings(), &settings);
    }
}
