//! Thin read use cases of [`BillingService`] for the cabinet's HTTP API (plan G4), and marking a
//! payment pending.
//!
//! Each method loads what it answers through the [`crate::ports`] and computes nothing new: the
//! rules stay where they live ([`crate::calculator::estimate`], [`crate::tariff`]). As everywhere
//! in [`crate::usecase`], one error enum per use case with variants a caller can act on and a
//! Russian `user_message()`; every port failure arrives as the enum's `Repo` variant.
//!
//! - [`BillingService::account`], [`BillingService::account_by_number`],
//!   [`BillingService::supplier`] — single records;
//! - [`BillingService::meters`] — the account's meters with their reading in force;
//! - [`BillingService::reading_history`] — a meter's readings over a range of periods, only
//!   for a meter of the account (a meter of another account is "not found": nothing tells it
//!   exists);
//! - [`BillingService::charges`] — the stored charge set of a billed period;
//! - [`BillingService::tariffs_for_account`] — the tariff versions in force on a day for the
//!   account's services and consumer group;
//! - [`BillingService::estimate`] — the calculator fed with the stored context of a reading;
//! - [`BillingService::payments`] — the account's payments, newest first;
//! - [`BillingService::mark_payment_pending`] — `Created` → `Pending` once the gateway has the
//!   payment; idempotent.

use rust_decimal::Decimal;
use time::Date;

use crate::calculator::{Estimate, EstimateError, EstimateRequest, estimate};
use crate::ids::{AccountId, MeterId, SupplierId};
use crate::ledger::PaymentState;
use crate::meter::Meter;
use crate::model::{Account, AccountNumber, House, Premise, Supplier};
use crate::period::Period;
use crate::ports::{ChargeSet, GatewayPaymentId, PaymentRecord, RepoError};
use crate::reading::Reading;
use crate::service::ServiceKind;
use crate::tariff::TariffVersion;
use crate::usecase::{BillingService, latest_accepted};

/// What a subscriber sees when a port failed: nothing about the cause.
const UNAVAILABLE_RU: &str = "Сервис временно недоступен. Повторите попытку позже.";
const ACCOUNT_NOT_FOUND_RU: &str = "Лицевой счёт не найден.";
const METER_NOT_FOUND_RU: &str = "Прибор учёта не найден на вашем лицевом счёте.";

// ---------------------------------------------------------------------------------------------
// Errors and views
// ---------------------------------------------------------------------------------------------

/// Why an account was not given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// No account has this id.
    #[error("account not found")]
    AccountNotFound,
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl AccountError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::AccountNotFound => ACCOUNT_NOT_FOUND_RU.into(),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

/// Why an account was not found by its number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountByNumberError {
    /// The supplier has no account with this number.
    #[error("account not found")]
    AccountNotFound,
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl AccountByNumberError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::AccountNotFound => "Лицевой счёт с таким номером у поставщика не найден.".into(),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

/// Why a supplier was not given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupplierError {
    /// No supplier has this id.
    #[error("supplier not found")]
    SupplierNotFound,
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl SupplierError {
    /// The refusal in Russian.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::SupplierNotFound => "Поставщик не найден.".into(),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

/// A meter of an account with its reading in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterView {
    /// The meter.
    pub meter: Meter,
    /// Its latest accepted reading (by period, day taken, id), if it has any.
    pub last_accepted: Option<Reading>,
}

/// Why the meters of an account were not given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetersError {
    /// No account has this id.
    #[error("account not found")]
    AccountNotFound,
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl MetersError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::AccountNotFound => ACCOUNT_NOT_FOUND_RU.into(),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

/// Why a meter's reading history was not given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadingHistoryError {
    /// The account has no meter with this id — whether some other account has one is not
    /// told.
    #[error("meter not found on this account")]
    MeterNotFound,
    /// `from` is after `to`.
    #[error("{from} is after {to}")]
    InvalidRange {
        /// First period asked.
        from: Period,
        /// Last period asked.
        to: Period,
    },
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl ReadingHistoryError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::MeterNotFound => METER_NOT_FOUND_RU.into(),
            Self::InvalidRange { from, to } => format!(
                "Начало периода («{}») позже его конца («{}»).",
                from.to_russian(),
                to.to_russian()
            ),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

/// Why the charges of a period were not given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChargesError {
    /// No account has this id.
    #[error("account not found")]
    AccountNotFound,
    /// The account has not been billed for the period (yet).
    #[error("period {0} is not billed")]
    PeriodNotBilled(Period),
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl ChargesError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::AccountNotFound => ACCOUNT_NOT_FOUND_RU.into(),
            Self::PeriodNotBilled(p) => {
                format!("Начисление за «{}» ещё не выполнено.", p.to_russian())
            }
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

/// Why the tariffs of an account were not given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TariffsError {
    /// No account has this id.
    #[error("account not found")]
    AccountNotFound,
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl TariffsError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::AccountNotFound => ACCOUNT_NOT_FOUND_RU.into(),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

/// Why a reading was not estimated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountEstimateError {
    /// The account has no meter with this id — whether some other account has one is not
    /// told.
    #[error("meter not found on this account")]
    MeterNotFound,
    /// No account has this id.
    #[error("account not found")]
    AccountNotFound,
    /// The meter has no accepted reading before the period the new one would belong to: there
    /// is nothing to count the consumption from.
    #[error("no previous reading before {0}")]
    NoPreviousReading(Period),
    /// The calculator refused the values (wrong number of registers, a value that does not fit
    /// the register) or found no tariff; the inner error says which.
    #[error(transparent)]
    Rejected(#[from] EstimateError),
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl AccountEstimateError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::MeterNotFound => METER_NOT_FOUND_RU.into(),
            Self::AccountNotFound => ACCOUNT_NOT_FOUND_RU.into(),
            Self::NoPreviousReading(_) => {
                "По прибору учёта ещё нет принятых показаний: рассчитать расход не от чего.".into()
            }
            Self::Rejected(e) => e.user_message(),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

/// Why the payments of an account were not given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentsError {
    /// No account has this id.
    #[error("account not found")]
    AccountNotFound,
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl PaymentsError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::AccountNotFound => ACCOUNT_NOT_FOUND_RU.into(),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

/// Whether [`BillingService::mark_payment_pending`] changed the payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PendingOutcome {
    /// This call moved the payment from `Created` to `Pending`.
    Marked,
    /// The payment was `Pending` or further along already (or another call moved it first):
    /// nothing was written.
    Unchanged,
}

/// A payment after [`BillingService::mark_payment_pending`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentPending {
    /// The payment, in its state after the call (`Pending` when marked now).
    pub payment: PaymentRecord,
    /// Whether this call changed it.
    pub outcome: PendingOutcome,
}

/// Why a payment was not marked pending.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkPendingError {
    /// No payment has this gateway id.
    #[error("payment not found")]
    PaymentNotFound,
    /// A port failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl MarkPendingError {
    /// The refusal in Russian (for the operator or the gateway adapter's log).
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::PaymentNotFound => "Платёж не найден.".into(),
            Self::Repo(_) => UNAVAILABLE_RU.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The tariff versions in force on `on` for `account`: one per tariffed service of the account
/// (ОДН is priced with the electricity tariff; penalties have none), of its consumer group —
/// the latest version that starts on `on` or earlier — ordered by service.
#[must_use]
pub fn tariffs_in_force(
    versions: &[TariffVersion],
    account: &Account,
    on: Date,
) -> Vec<TariffVersion> {
    let mut keys: Vec<ServiceKind> = account
        .services
        .iter()
        .filter_map(|s| match s.service {
            ServiceKind::Penalty => None,
            ServiceKind::ElectricityCommon => Some(ServiceKind::Electricity),
            other => Some(other),
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .filter_map(|service| {
            versions
                .iter()
                .filter(|v| {
                    v.supplier == account.supplier
                        && v.service == service
                        && v.group == account.group
                        && v.valid_from <= on
                })
                .max_by_key(|v| (v.valid_from, v.id))
                .copied()
        })
        .collect()
}

impl BillingService {
    async fn existing_account(&self, id: AccountId) -> Result<Option<Account>, RepoError> {
        self.ports.accounts.account(id).await
    }

    /// The meter `id` if it is billed to `account`; `None` both when it does not exist and
    /// when it is another account's.
    async fn meter_of(&self, account: AccountId, id: MeterId) -> Result<Option<Meter>, RepoError> {
        Ok(self
            .ports
            .meters
            .meter(id)
            .await?
            .filter(|m| m.account == Some(account)))
    }

    // -----------------------------------------------------------------------------------------
    // Records
    // -----------------------------------------------------------------------------------------

    /// The account with this id.
    pub async fn account(&self, id: AccountId) -> Result<Account, AccountError> {
        self.existing_account(id)
            .await?
            .ok_or(AccountError::AccountNotFound)
    }

    /// The account with this id and where it is: its premise and house, as a cabinet lists
    /// its ЛС. A premise or house the account names but storage lacks is
    /// [`RepoError::NotFound`] (broken reference data), not a missing account.
    pub async fn account_card(&self, id: AccountId) -> Result<AccountCard, AccountError> {
        let account = self.account(id).await?;
        let premise = self
            .ports
            .houses
            .premise(account.premise)
            .await?
            .ok_or(RepoError::NotFound)?;
        let house = self
            .ports
            .houses
            .house(premise.house)
            .await?
            .ok_or(RepoError::NotFound)?;
        Ok(AccountCard {
            account,
            premise,
            house,
        })
    }

    /// The supplier's account with this printed number.
    pub async fn account_by_number(
        &self,
        supplier: SupplierId,
        number: &AccountNumber,
    ) -> Result<Account, AccountByNumberError> {
        self.ports
            .accounts
            .find_by_number(supplier, number)
            .await?
            .ok_or(AccountByNumberError::AccountNotFound)
    }

    /// The supplier with this id: its requisites, bank details and policies (public data).
    pub async fn supplier(&self, id: SupplierId) -> Result<Supplier, SupplierError> {
        self.ports
            .suppliers
            .supplier(id)
            .await?
            .ok_or(SupplierError::SupplierNotFound)
    }

    // -----------------------------------------------------------------------------------------
    // Meters and readings
    // -----------------------------------------------------------------------------------------

    /// Every meter ever installed on the account — removed ones included (see
    /// [`Meter::removed_on`]) — ordered by id, each with its latest accepted reading.
    pub async fn meters(&self, account: AccountId) -> Result<Vec<MeterView>, MetersError> {
        let account = self
            .existing_account(account)
            .await?
            .ok_or(MetersError::AccountNotFound)?;
        let mut meters = self.ports.meters.meters_of_account(account.id).await?;
        meters.sort_by_key(|m| m.id);
        let mut out = Vec::with_capacity(meters.len());
        for meter in meters {
            let history = self.ports.readings.history(meter.id).await?;
            out.push(MeterView {
                last_accepted: latest_accepted(&history).cloned(),
                meter,
            });
        }
        Ok(out)
    }

    /// The readings of a meter of the account (every status: accepted, superseded, cancelled)
    /// whose period is in `from..=to`, ordered by (period, day taken, id).
    pub async fn reading_history(
        &self,
        account: AccountId,
        meter: MeterId,
        from: Period,
        to: Period,
    ) -> Result<Vec<Reading>, ReadingHistoryError> {
        if from > to {
            return Err(ReadingHistoryError::InvalidRange { from, to });
        }
        let meter = self
            .meter_of(account, meter)
            .await?
            .ok_or(ReadingHistoryError::MeterNotFound)?;
        let mut readings: Vec<Reading> = self
            .ports
            .readings
            .history(meter.id)
            .await?
            .into_iter()
            .filter(|r| r.meter == meter.id && (from..=to).contains(&r.period))
            .collect();
        readings.sort_by_key(|r| (r.period, r.taken_on, r.id));
        Ok(readings)
    }

    // -----------------------------------------------------------------------------------------
    // Charges and tariffs
    // -----------------------------------------------------------------------------------------

    /// The stored charge set of the account for a billed period (lines with their basis;
    /// [`crate::charge::ChargeLine::explain`] says why).
    pub async fn charges(
        &self,
        account: AccountId,
        period: Period,
    ) -> Result<ChargeSet, ChargesError> {
        let account = self
            .existing_account(account)
            .await?
            .ok_or(ChargesError::AccountNotFound)?;
        self.ports
            .charges
            .charge_set(account.id, period)
            .await?
            .ok_or(ChargesError::PeriodNotBilled(period))
    }

    /// The tariff versions that price the account's services on `on`: see
    /// [`tariffs_in_force`].
    pub async fn tariffs_for_account(
        &self,
        account: AccountId,
        on: Date,
    ) -> Result<Vec<TariffVersion>, TariffsError> {
        let account = self
            .existing_account(account)
            .await?
            .ok_or(TariffsError::AccountNotFound)?;
        let versions = self.ports.tariffs.versions(account.supplier).await?;
        Ok(tariffs_in_force(&versions, &account, on))
    }

    /// How much a reading with `values` (one per register) would cost if the subscriber
    /// submitted it today — [`crate::calculator::estimate`] fed with what
    /// [`BillingService::submit_reading`] would check it against: the period it would belong
    /// to (the next one after the readings window), the meter's latest accepted reading before
    /// that period, the supplier's tariffs for the account's group, the premise's registered
    /// persons and whether the house is electrically heated. Stores nothing.
    pub async fn estimate(
        &self,
        account: AccountId,
        meter: MeterId,
        values: &[Decimal],
    ) -> Result<Estimate, AccountEstimateError> {
        let meter = self
            .meter_of(account, meter)
            .await?
            .ok_or(AccountEstimateError::MeterNotFound)?;
        let account = self
            .existing_account(account)
            .await?
            .ok_or(AccountEstimateError::AccountNotFound)?;
        let supplier = self.load_supplier(account.supplier).await?;
        let today = self.ports.clock.today();
        let period = supplier.policy.readings_window.period_for(today);
        let previous = self
            .ports
            .readings
            .last_accepted_before(meter.id, period)
            .await?
            .ok_or(AccountEstimateError::NoPreviousReading(period))?;
        let premise = self
            .ports
            .houses
            .premise(account.premise)
            .await?
            .ok_or(RepoError::NotFound)?;
        let house = self
            .ports
            .houses
            .house(premise.house)
            .await?
            .ok_or(RepoError::NotFound)?;
        let tariffs = self.ports.tariffs.versions(account.supplier).await?;
        Ok(estimate(
            &EstimateRequest {
                service: meter.service,
                tariffs: &tariffs,
                group: account.group,
                registers: meter.registers,
                previous: previous.values.values(),
                current: values,
                period,
                persons: premise.persons,
                electric_heating: house.electric_heating,
            },
            &supplier.policy,
        )?)
    }

    // -----------------------------------------------------------------------------------------
    // Payments
    // -----------------------------------------------------------------------------------------

    /// Every payment of the account, newest first (by day created, then id).
    pub async fn payments(&self, account: AccountId) -> Result<Vec<PaymentRecord>, PaymentsError> {
        let account = self
            .existing_account(account)
            .await?
            .ok_or(PaymentsError::AccountNotFound)?;
        let mut payments = self.ports.ledger.payments(account.id).await?;
        payments.sort_by_key(|p| std::cmp::Reverse((p.created_on, p.id)));
        Ok(payments)
    }

    /// Marks a payment pending once the gateway has it: `Created` → `Pending`, a
    /// compare-and-set through [`crate::ports::LedgerRepository::transition_payment`]; the
    /// balance does not move. **Idempotent**: a payment already `Pending` or further along
    /// (succeeded, failed, refunded) — also one moved by a concurrent call — is left as it is
    /// and answered with [`PendingOutcome::Unchanged`].
    pub async fn mark_payment_pending(
        &self,
        gateway_id: &GatewayPaymentId,
    ) -> Result<PaymentPending, MarkPendingError> {
        let payment = self
            .ports
            .ledger
            .payment_by_gateway_id(gateway_id)
            .await?
            .ok_or(MarkPendingError::PaymentNotFound)?;
        if payment.state != PaymentState::Created {
            return Ok(PaymentPending {
                payment,
                outcome: PendingOutcome::Unchanged,
            });
        }
        let today = self.ports.clock.today();
        match self
            .ports
            .ledger
            .transition_payment(
                gateway_id,
                PaymentState::Created,
                PaymentState::Pending,
                today,
            )
            .await
        {
            Ok(()) => Ok(PaymentPending {
                payment: PaymentRecord {
                    state: PaymentState::Pending,
                    ..payment
                },
                outcome: PendingOutcome::Marked,
            }),
            Err(RepoError::Conflict) => {
                // Another call (or a webhook) moved it first; we wrote nothing.
                let payment = self
                    .ports
                    .ledger
                    .payment_by_gateway_id(gateway_id)
                    .await?
                    .ok_or(MarkPendingError::PaymentNotFound)?;
                Ok(PaymentPending {
                    payment,
                    outcome: PendingOutcome::Unchanged,
                })
            }
            Err(RepoError::NotFound) => Err(MarkPendingError::PaymentNotFound),
            Err(e) => Err(e.into()),
        }
    }
}

/// An account with its premise and house ([`BillingService::account_card`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountCard {
    /// The account.
    pub account: Account,
    /// Its premise.
    pub premise: Premise,
    /// The premise's house.
    pub house: House,
}

impl AccountCard {
    /// The address as a bill prints it: the house's address and, for a flat, «кв. N».
    #[must_use]
    pub fn address(&self) -> String {
        let number = self.premise.number.trim();
        if number.is_empty() {
            self.house.address.clone()
        } else if self.premise.residential {
            format!("{}, кв. {number}", self.house.address)
        } else {
            format!("{}, пом. {number}", self.house.address)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mockall::predicate::eq;
    use rust_decimal_macros::dec;
    use time::macros::date;

    use super::*;
    use crate::charge::ChargeLine;
    use crate::ids::{PaymentId, TariffId};
    use crate::ledger::PaymentSplit;
    use crate::money::Money;
    use crate::ports::ChargeSet;
    use crate::reading::ReadingStatus;
    use crate::tariff::ConsumerGroup;
    use crate::usecase::tests::{
        DOWN, Mocks, account, account_n, cas, feb_reading, gw, house, march_set, meter, meter_n, p,
        premise_n, reading, store_mocks, store_with_pending_payment, supplier, tariff,
    };

    // ----- account, account_by_number, supplier ---------------------------------------------

    #[tokio::test]
    async fn account_by_id() {
        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        let s = m.service();
        assert_eq!(s.account(AccountId::new(1)).await, Ok(account()));
        assert_eq!(
            s.account(AccountId::new(2)).await,
            Err(AccountError::AccountNotFound)
        );

        let mut m = Mocks::new();
        m.accounts.expect_account().returning(|_| Err(DOWN()));
        assert_eq!(
            m.service().account(AccountId::new(1)).await,
            Err(AccountError::Repo(DOWN()))
        );
    }

    #[tokio::test]
    async fn account_card_has_the_premise_and_house() {
        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        m.houses
            .expect_premise()
            .returning(|id| Ok(Some(premise_n(id.get()))));
        m.houses
            .expect_house()
            .returning(|_| Ok(Some(house(false))));
        let card = m.service().account_card(AccountId::new(1)).await.unwrap();
        assert_eq!(card.account, account());
        assert_eq!(card.premise, premise_n(account().premise.get()));
        let flat = premise_n(account().premise.get()).number;
        assert_eq!(
            card.address(),
            format!("г. Москва, ул. Ленина, д. 1, кв. {flat}")
        );
        let office = AccountCard {
            premise: Premise {
                residential: false,
                ..card.premise.clone()
            },
            ..card.clone()
        };
        assert_eq!(
            office.address(),
            format!("г. Москва, ул. Ленина, д. 1, пом. {flat}")
        );
        let private_house = AccountCard {
            premise: Premise {
                number: String::new(),
                ..card.premise.clone()
            },
            ..card
        };
        assert_eq!(private_house.address(), "г. Москва, ул. Ленина, д. 1");

        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        m.houses.expect_premise().returning(|_| Ok(None));
        assert_eq!(
            m.service().account_card(AccountId::new(1)).await,
            Err(AccountError::Repo(RepoError::NotFound))
        );
        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        assert_eq!(
            m.service().account_card(AccountId::new(7)).await,
            Err(AccountError::AccountNotFound)
        );
    }

    #[tokio::test]
    async fn account_by_its_number() {
        let number = AccountNumber::parse("1001").unwrap();
        let mut m = Mocks::new();
        m.accounts
            .expect_find_by_number()
            .with(eq(SupplierId::new(1)), eq(number.clone()))
            .returning(|_, _| Ok(Some(account())));
        m.accounts
            .expect_find_by_number()
            .returning(|_, _| Ok(None));
        let s = m.service();
        assert_eq!(
            s.account_by_number(SupplierId::new(1), &number).await,
            Ok(account())
        );
        assert_eq!(
            s.account_by_number(SupplierId::new(2), &number).await,
            Err(AccountByNumberError::AccountNotFound)
        );

        let mut m = Mocks::new();
        m.accounts
            .expect_find_by_number()
            .returning(|_, _| Err(DOWN()));
        assert_eq!(
            m.service()
                .account_by_number(SupplierId::new(1), &number)
                .await,
            Err(AccountByNumberError::Repo(DOWN()))
        );
    }

    #[tokio::test]
    async fn supplier_by_id() {
        let mut m = Mocks::new();
        m.suppliers
            .expect_supplier()
            .returning(|id| Ok(Some(supplier()).filter(|s| s.id == id)));
        let s = m.service();
        assert_eq!(s.supplier(SupplierId::new(1)).await, Ok(supplier()));
        assert_eq!(
            s.supplier(SupplierId::new(9)).await,
            Err(SupplierError::SupplierNotFound)
        );

        let mut m = Mocks::new();
        m.suppliers.expect_supplier().returning(|_| Err(DOWN()));
        assert_eq!(
            m.service().supplier(SupplierId::new(1)).await,
            Err(SupplierError::Repo(DOWN()))
        );
    }

    // ----- meters ------------------------------------------------------------------------------

    fn with_status(mut r: Reading, status: ReadingStatus) -> Reading {
        r.status = status;
        r
    }

    #[tokio::test]
    async fn meters_with_their_reading_in_force() {
        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        m.meters
            .expect_meters_of_account()
            .with(eq(AccountId::new(1)))
            .returning(|_| Ok(vec![meter_n(8, 1), meter_n(7, 1)]));
        let history = vec![
            reading(9, 7, p(2026, 1), dec!(5800), date!(2026 - 01 - 20)),
            feb_reading(),
            with_status(
                reading(3, 7, p(2026, 3), dec!(6000), date!(2026 - 03 - 20)),
                ReadingStatus::Cancelled,
            ),
        ];
        m.readings.expect_history().returning(move |id| {
            Ok(if id == MeterId::new(7) {
                history.clone()
            } else {
                vec![]
            })
        });
        let views = m.service().meters(AccountId::new(1)).await.unwrap();
        assert_eq!(views.len(), 2);
        assert_eq!(views[0].meter.id, MeterId::new(7));
        assert_eq!(views[0].last_accepted, Some(feb_reading()));
        assert_eq!(views[1].meter.id, MeterId::new(8));
        assert_eq!(views[1].last_accepted, None);
    }

    #[tokio::test]
    async fn meters_rejections_and_failures() {
        let mut m = Mocks::new();
        m.accounts(vec![]);
        assert_eq!(
            m.service().meters(AccountId::new(1)).await,
            Err(MetersError::AccountNotFound)
        );

        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        m.meters
            .expect_meters_of_account()
            .returning(|_| Ok(vec![meter()]));
        m.readings.expect_history().returning(|_| Err(DOWN()));
        assert_eq!(
            m.service().meters(AccountId::new(1)).await,
            Err(MetersError::Repo(DOWN()))
        );
    }

    // ----- reading_history -----------------------------------------------------------------------

    fn history_mocks() -> Mocks {
        let mut m = Mocks::new();
        m.meters.expect_meter().returning(|id| {
            Ok(match id.get() {
                7 => Some(meter_n(7, 1)),
                8 => Some(meter_n(8, 2)),
                _ => None,
            })
        });
        m.readings.expect_history().returning(|_| {
            Ok(vec![
                reading(5, 7, p(2026, 4), dec!(6100), date!(2026 - 04 - 20)),
                with_status(
                    reading(6, 7, p(2026, 3), dec!(6000), date!(2026 - 03 - 20)),
                    ReadingStatus::Cancelled,
                ),
                reading(1, 7, p(2026, 1), dec!(5800), date!(2026 - 01 - 20)),
                reading(4, 7, p(2026, 3), dec!(6010), date!(2026 - 03 - 20)),
                // A reading after February's window, carried over to March and superseded.
                with_status(
                    reading(3, 7, p(2026, 3), dec!(5950), date!(2026 - 02 - 27)),
                    ReadingStatus::Superseded,
                ),
                reading(2, 7, p(2026, 2), dec!(5910), date!(2026 - 02 - 20)),
            ])
        });
        m
    }

    fn ids(readings: &[Reading]) -> Vec<u64> {
        readings.iter().map(|r| r.id.get()).collect()
    }

    #[tokio::test]
    async fn reading_history_of_a_range_of_periods() {
        let s = history_mocks().service();
        let (account, meter) = (AccountId::new(1), MeterId::new(7));
        let got = s
            .reading_history(account, meter, p(2026, 2), p(2026, 3))
            .await
            .unwrap();
        // Every status, ordered by (period, day taken, id).
        assert_eq!(ids(&got), vec![2, 3, 4, 6]);
        let got = s
            .reading_history(account, meter, p(2026, 4), p(2026, 4))
            .await
            .unwrap();
        assert_eq!(ids(&got), vec![5]);
        let got = s
            .reading_history(account, meter, p(2025, 1), p(2025, 12))
            .await
            .unwrap();
        assert!(got.is_empty());
    }

    #[tokio::test]
    async fn reading_history_rejections_and_failures() {
        let s = history_mocks().service();
        let (account, jan, dec) = (AccountId::new(1), p(2026, 1), p(2026, 12));
        // Another account's meter and no meter at all look the same.
        let other = s.reading_history(account, MeterId::new(8), jan, dec).await;
        let unknown = s.reading_history(account, MeterId::new(99), jan, dec).await;
        assert_eq!(other, Err(ReadingHistoryError::MeterNotFound));
        assert_eq!(unknown, other);
        let err = s
            .reading_history(account, MeterId::new(7), dec, jan)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            ReadingHistoryError::InvalidRange { from: dec, to: jan }
        );
        assert!(
            err.user_message().contains("декабрь 2026"),
            "{}",
            err.user_message()
        );

        let mut m = Mocks::new();
        m.meter(meter());
        m.readings.expect_history().returning(|_| Err(DOWN()));
        assert_eq!(
            m.service()
                .reading_history(account, MeterId::new(7), jan, dec)
                .await,
            Err(ReadingHistoryError::Repo(DOWN()))
        );
    }

    // ----- charges -------------------------------------------------------------------------------

    #[tokio::test]
    async fn charges_of_a_billed_period() {
        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        m.charges.expect_charge_set().returning(|a, period| {
            Ok(Some(march_set()).filter(|s| s.account == a && s.period == period))
        });
        let s = m.service();
        let set: ChargeSet = s.charges(AccountId::new(1), p(2026, 3)).await.unwrap();
        assert_eq!(set, march_set());
        let lines: &[ChargeLine] = &set.lines;
        assert_eq!(lines.len(), 1);
        let err = s.charges(AccountId::new(1), p(2026, 4)).await.unwrap_err();
        assert_eq!(err, ChargesError::PeriodNotBilled(p(2026, 4)));
        assert!(
            err.user_message().contains("апрель 2026"),
            "{}",
            err.user_message()
        );
        assert_eq!(
            s.charges(AccountId::new(2), p(2026, 3)).await,
            Err(ChargesError::AccountNotFound)
        );

        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        m.charges.expect_charge_set().returning(|_, _| Err(DOWN()));
        assert_eq!(
            m.service().charges(AccountId::new(1), p(2026, 3)).await,
            Err(ChargesError::Repo(DOWN()))
        );
    }

    // ----- tariffs -------------------------------------------------------------------------------

    fn version(id: u64, service: ServiceKind, group: ConsumerGroup, from: Date) -> TariffVersion {
        TariffVersion {
            id: TariffId::new(id),
            service,
            group,
            valid_from: from,
            ..tariff()
        }
    }

    fn tariff_book() -> Vec<TariffVersion> {
        use ConsumerGroup::{Population, Rural};
        use ServiceKind::{ColdWater, Electricity, Heating};
        vec![
            version(1, Electricity, Population, date!(2025 - 07 - 01)),
            version(2, Electricity, Population, date!(2026 - 01 - 01)),
            version(3, Electricity, Population, date!(2026 - 07 - 01)),
            version(4, Electricity, Rural, date!(2026 - 01 - 01)),
            version(5, ColdWater, Population, date!(2026 - 01 - 01)),
            version(6, Heating, Population, date!(2026 - 01 - 01)),
            TariffVersion {
                supplier: SupplierId::new(2),
                ..version(7, Electricity, Population, date!(2026 - 03 - 01))
            },
        ]
    }

    fn tariff_ids(v: &[TariffVersion]) -> Vec<u64> {
        v.iter().map(|t| t.id.get()).collect()
    }

    #[test]
    fn tariffs_in_force_on_a_day() {
        let mut a = account();
        a.services.push(crate::model::AccountService {
            service: ServiceKind::ColdWater,
            norm_per_unit: dec!(5),
            meter_installable: true,
        });
        let book = tariff_book();
        let on = |a: &Account, d| tariff_ids(&tariffs_in_force(&book, a, d));
        assert_eq!(on(&a, date!(2026 - 03 - 20)), vec![2, 5]);
        assert_eq!(on(&a, date!(2026 - 06 - 30)), vec![2, 5]);
        assert_eq!(on(&a, date!(2026 - 07 - 01)), vec![3, 5]);
        assert_eq!(on(&a, date!(2025 - 12 - 31)), vec![1]);
        assert_eq!(on(&a, date!(2025 - 06 - 30)), Vec::<u64>::new());
        // Another group sees its own tariff.
        a.group = ConsumerGroup::Rural;
        assert_eq!(on(&a, date!(2026 - 03 - 20)), vec![4]);
    }

    #[tokio::test]
    async fn tariffs_for_an_account() {
        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        m.tariffs
            .expect_versions()
            .with(eq(SupplierId::new(1)))
            .returning(|_| Ok(tariff_book()));
        let s = m.service();
        let got = s
            .tariffs_for_account(AccountId::new(1), date!(2026 - 03 - 20))
            .await
            .unwrap();
        assert_eq!(tariff_ids(&got), vec![2]);
        assert_eq!(
            s.tariffs_for_account(AccountId::new(2), date!(2026 - 03 - 20))
                .await,
            Err(TariffsError::AccountNotFound)
        );

        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        m.tariffs.expect_versions().returning(|_| Err(DOWN()));
        assert_eq!(
            m.service()
                .tariffs_for_account(AccountId::new(1), date!(2026 - 03 - 20))
                .await,
            Err(TariffsError::Repo(DOWN()))
        );
    }

    // ----- estimate ------------------------------------------------------------------------------

    /// Meter 7 of account 1 with February's 5910, electricity at 6.85 ₽, on `today`.
    fn estimate_mocks(today: Date) -> Mocks {
        let mut m = Mocks::new();
        m.meters.expect_meter().returning(|id| {
            Ok(match id.get() {
                7 => Some(meter_n(7, 1)),
                8 => Some(meter_n(8, 2)),
                _ => None,
            })
        });
        m.accounts(vec![account()]);
        m.supplier();
        m.today(today);
        m.houses
            .expect_premise()
            .returning(|id| Ok(Some(premise_n(id.get()))));
        m.houses
            .expect_house()
            .returning(|_| Ok(Some(house(false))));
        m.tariffs
            .expect_versions()
            .returning(|_| Ok(vec![tariff()]));
        m
    }

    #[tokio::test]
    async fn estimate_from_the_previous_accepted_reading() {
        let mut m = estimate_mocks(date!(2026 - 03 - 20));
        m.readings
            .expect_last_accepted_before()
            .with(eq(MeterId::new(7)), eq(p(2026, 3)))
            .times(1)
            .returning(|_, _| Ok(Some(feb_reading())));
        let e = m
            .service()
            .estimate(AccountId::new(1), MeterId::new(7), &[dec!(6060)])
            .await
            .unwrap();
        assert_eq!(e.consumption.total(), dec!(150));
        assert_eq!(e.total, Money::from_kopecks(102_750)); // 150 kWh × 6.85 ₽
    }

    #[tokio::test]
    async fn estimate_after_the_window_is_priced_in_the_next_period() {
        let mut m = estimate_mocks(date!(2026 - 03 - 27));
        m.readings
            .expect_last_accepted_before()
            .with(eq(MeterId::new(7)), eq(p(2026, 4)))
            .times(1)
            .returning(|_, _| Ok(Some(feb_reading())));
        let e = m
            .service()
            .estimate(AccountId::new(1), MeterId::new(7), &[dec!(5920)])
            .await
            .unwrap();
        assert_eq!(e.total, Money::from_kopecks(6_850));
    }

    #[tokio::test]
    async fn estimate_rejections_and_failures() {
        let (a, today) = (AccountId::new(1), date!(2026 - 03 - 20));
        let previous = |m: &mut Mocks| {
            m.readings
                .expect_last_accepted_before()
                .returning(|_, _| Ok(Some(feb_reading())));
        };
        let s = estimate_mocks(today).service();
        let other = s.estimate(a, MeterId::new(8), &[dec!(1)]).await;
        assert_eq!(other, Err(AccountEstimateError::MeterNotFound));
        assert_eq!(s.estimate(a, MeterId::new(99), &[dec!(1)]).await, other);

        let mut m = estimate_mocks(today);
        previous(&mut m);
        let s = m.service();
        let err = s
            .estimate(a, MeterId::new(7), &[dec!(1), dec!(2)])
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                AccountEstimateError::Rejected(EstimateError::WrongZoneCount { .. })
            ),
            "{err:?}"
        );
        let err = s
            .estimate(a, MeterId::new(7), &[dec!(100000)])
            .await
            .unwrap_err();
        assert_eq!(
            err,
            AccountEstimateError::Rejected(EstimateError::OutOfRange(dec!(100000)))
        );
        assert!(err.user_message().contains("табло"));

        let mut m = estimate_mocks(today);
        m.readings
            .expect_last_accepted_before()
            .returning(|_, _| Ok(None));
        let err = m
            .service()
            .estimate(a, MeterId::new(7), &[dec!(1)])
            .await
            .unwrap_err();
        assert_eq!(err, AccountEstimateError::NoPreviousReading(p(2026, 3)));

        let mut m = estimate_mocks(today);
        previous(&mut m);
        m.tariffs.checkpoint();
        m.tariffs.expect_versions().returning(|_| Ok(vec![]));
        assert!(matches!(
            m.service()
                .estimate(a, MeterId::new(7), &[dec!(6000)])
                .await,
            Err(AccountEstimateError::Rejected(EstimateError::Tariff(_)))
        ));

        let mut m = Mocks::new();
        m.meter(meter());
        m.accounts(vec![]);
        assert_eq!(
            m.service().estimate(a, MeterId::new(7), &[dec!(1)]).await,
            Err(AccountEstimateError::AccountNotFound)
        );

        let mut m = estimate_mocks(today);
        m.readings
            .expect_last_accepted_before()
            .returning(|_, _| Err(DOWN()));
        assert_eq!(
            m.service().estimate(a, MeterId::new(7), &[dec!(1)]).await,
            Err(AccountEstimateError::Repo(DOWN()))
        );
    }

    // ----- payments ------------------------------------------------------------------------------

    fn payment(id: u64, created_on: Date) -> PaymentRecord {
        PaymentRecord {
            id: PaymentId::new(id),
            gateway_id: GatewayPaymentId::parse(&format!("g-{id}")).unwrap(),
            account: AccountId::new(1),
            amount: Money::from_roubles(100),
            split: PaymentSplit::Default,
            created_on,
            state: PaymentState::Succeeded,
            refunded: Money::ZERO,
            failure_reason: None,
        }
    }

    #[tokio::test]
    async fn payments_newest_first() {
        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        m.ledger
            .expect_payments()
            .with(eq(AccountId::new(1)))
            .returning(|_| {
                Ok(vec![
                    payment(1, date!(2026 - 01 - 10)),
                    payment(2, date!(2026 - 03 - 01)),
                    payment(3, date!(2026 - 02 - 01)),
                    payment(4, date!(2026 - 03 - 01)),
                ])
            });
        let got = m.service().payments(AccountId::new(1)).await.unwrap();
        let ids: Vec<u64> = got.iter().map(|p| p.id.get()).collect();
        assert_eq!(ids, vec![4, 2, 3, 1]);
    }

    #[tokio::test]
    async fn payments_rejections_and_failures() {
        let mut m = Mocks::new();
        m.accounts(vec![account_n(2)]);
        assert_eq!(
            m.service().payments(AccountId::new(1)).await,
            Err(PaymentsError::AccountNotFound)
        );
        let mut m = Mocks::new();
        m.accounts(vec![account()]);
        m.ledger.expect_payments().returning(|_| Err(DOWN()));
        assert_eq!(
            m.service().payments(AccountId::new(1)).await,
            Err(PaymentsError::Repo(DOWN()))
        );
    }

    // ----- mark_payment_pending ----------------------------------------------------------------

    fn created_store() -> Arc<std::sync::Mutex<crate::usecase::tests::Store>> {
        let store = store_with_pending_payment();
        {
            let mut s = store.lock().unwrap();
            if let Some(p) = s.payment.as_mut() {
                p.state = PaymentState::Created;
            }
            s.journal.pop(); // the Pending state record
        }
        store
    }

    #[tokio::test]
    async fn marking_a_created_payment_pending_once() {
        let store = created_store();
        let mut m = store_mocks(&store);
        m.ledger
            .expect_transition_payment()
            .withf(|g, from, to, on| {
                g == &gw()
                    && *from == PaymentState::Created
                    && *to == PaymentState::Pending
                    && *on == date!(2026 - 03 - 21)
            })
            .times(1)
            .returning(cas(&store));
        let s = m.service();
        let first = s.mark_payment_pending(&gw()).await.unwrap();
        assert_eq!(first.outcome, PendingOutcome::Marked);
        assert_eq!(first.payment.state, PaymentState::Pending);
        let second = s.mark_payment_pending(&gw()).await.unwrap();
        assert_eq!(second.outcome, PendingOutcome::Unchanged);
        assert_eq!(second.payment.state, PaymentState::Pending);
        assert_eq!(store.lock().unwrap().journal.len(), 3);
    }

    #[tokio::test]
    async fn a_payment_further_along_is_left_unchanged() {
        for state in [
            PaymentState::Succeeded,
            PaymentState::Failed,
            PaymentState::Refunded,
        ] {
            let store = store_with_pending_payment();
            if let Some(p) = store.lock().unwrap().payment.as_mut() {
                p.state = state;
            }
            let m = store_mocks(&store); // no transition expected
            let got = m.service().mark_payment_pending(&gw()).await.unwrap();
            assert_eq!(got.outcome, PendingOutcome::Unchanged);
            assert_eq!(got.payment.state, state);
        }
    }

    #[tokio::test]
    async fn marking_pending_losing_a_race_is_unchanged() {
        let store = created_store();
        let mut m = store_mocks(&store);
        let s2 = store.clone();
        m.ledger
            .expect_transition_payment()
            .times(1)
            .returning(move |_, _, _, _| {
                // A webhook confirmed it just before us.
                if let Some(p) = s2.lock().unwrap().payment.as_mut() {
                    p.state = PaymentState::Succeeded;
                }
                Err(RepoError::Conflict)
            });
        let got = m.service().mark_payment_pending(&gw()).await.unwrap();
        assert_eq!(got.outcome, PendingOutcome::Unchanged);
        assert_eq!(got.payment.state, PaymentState::Succeeded);
    }

    #[tokio::test]
    async fn mark_pending_rejections_and_failures() {
        let mut m = Mocks::new();
        m.ledger
            .expect_payment_by_gateway_id()
            .returning(|_| Ok(None));
        assert_eq!(
            m.service().mark_payment_pending(&gw()).await,
            Err(MarkPendingError::PaymentNotFound)
        );

        let store = created_store();
        let mut m = store_mocks(&store);
        m.ledger
            .expect_transition_payment()
            .returning(|_, _, _, _| Err(RepoError::NotFound));
        assert_eq!(
            m.service().mark_payment_pending(&gw()).await,
            Err(MarkPendingError::PaymentNotFound)
        );

        let store = created_store();
        let mut m = store_mocks(&store);
        m.ledger
            .expect_transition_payment()
            .returning(|_, _, _, _| Err(DOWN()));
        assert_eq!(
            m.service().mark_payment_pending(&gw()).await,
            Err(MarkPendingError::Repo(DOWN()))
        );
    }

    #[test]
    fn every_refusal_has_a_russian_message() {
        let repo = || RepoError::Unavailable("x".into());
        let messages = [
            AccountError::AccountNotFound.user_message(),
            AccountError::Repo(repo()).user_message(),
            AccountByNumberError::AccountNotFound.user_message(),
            AccountByNumberError::Repo(repo()).user_message(),
            SupplierError::SupplierNotFound.user_message(),
            SupplierError::Repo(repo()).user_message(),
            MetersError::AccountNotFound.user_message(),
            MetersError::Repo(repo()).user_message(),
            ReadingHistoryError::MeterNotFound.user_message(),
            ReadingHistoryError::Repo(repo()).user_message(),
            ChargesError::AccountNotFound.user_message(),
            ChargesError::Repo(repo()).user_message(),
            TariffsError::AccountNotFound.user_message(),
            TariffsError::Repo(repo()).user_message(),
            AccountEstimateError::MeterNotFound.user_message(),
            AccountEstimateError::AccountNotFound.user_message(),
            AccountEstimateError::NoPreviousReading(p(2026, 3)).user_message(),
            AccountEstimateError::Repo(repo()).user_message(),
            PaymentsError::AccountNotFound.user_message(),
            PaymentsError::Repo(repo()).user_message(),
            MarkPendingError::PaymentNotFound.user_message(),
            MarkPendingError::Repo(repo()).user_message(),
        ];
        for m in messages {
            assert!(
                m.chars()
                    .any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c))),
                "{m}"
            );
            assert!(!m.contains("db") && !m.contains('x'), "{m}");
        }
    }
}
