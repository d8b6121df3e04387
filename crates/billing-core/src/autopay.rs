//! Autopay settings (plan G7, seed 004 «Автоплатёж»): a subscriber asks for an ЛС to be paid
//! every month on a day — the whole debt, or a fixed amount — with an optional monthly limit.
//!
//! This module keeps and validates the **settings**; charging a saved card on the day is the
//! gateway's recurring-payment feature and is not part of this release (docs/api.md says so).
//! Settings are per (ЛС, payer): two cabinets linked to one ЛС keep their own.
//!
//! Validation (`AutopayService::set`): the day is 1–28 (every month has it); a fixed amount is
//! positive and not below the supplier's minimum online payment; a limit is positive and not
//! below the fixed amount. Writes are compare-and-set on `version`, so two devices editing at
//! once cannot silently overwrite each other.

use std::sync::Arc;

use crate::ids::AccountId;
use crate::money::Money;
use crate::ports::RepoError;
use crate::usecase::BillingService;

/// What autopay pays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutopayMode {
    /// The whole debt on the day (nothing when there is none).
    FullDebt,
    /// This amount every month.
    Fixed(Money),
}

/// A payer's autopay settings for an ЛС.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutopaySettings {
    /// The ЛС.
    pub account: AccountId,
    /// Who set it: an opaque reference to the subscriber.
    pub payer: String,
    /// Whether it is on.
    pub enabled: bool,
    /// What it pays.
    pub mode: AutopayMode,
    /// The day of the month it pays on (1–28).
    pub day_of_month: u8,
    /// The most it pays in a month, if limited.
    pub limit: Option<Money>,
    /// The version stored (0 before the first write); a write names the version it read.
    pub version: u64,
}

/// The autopay settings kept.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait AutopayRepository: Send + Sync {
    /// The payer's settings for the ЛС.
    async fn get(
        &self,
        account: AccountId,
        payer: &str,
    ) -> Result<Option<AutopaySettings>, RepoError>;
    /// Stores `settings` as version `settings.version + 1` if the stored version is
    /// `settings.version` (0: none stored yet). MUST return [`RepoError::Conflict`], writing
    /// nothing, otherwise. Returns the settings as stored.
    async fn put(&self, settings: &AutopaySettings) -> Result<AutopaySettings, RepoError>;
    /// Deletes the payer's settings for the ЛС; whether there were any.
    async fn delete(&self, account: AccountId, payer: &str) -> Result<bool, RepoError>;
}

/// Why settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AutopayError {
    /// No account has this id.
    #[error("account not found")]
    AccountNotFound,
    /// The day is not 1–28.
    #[error("day of month {0} is not 1-28")]
    InvalidDay(u8),
    /// The fixed amount is not positive or is below the supplier's minimum online payment.
    #[error("fixed amount {amount} below the minimum {minimum}")]
    AmountTooSmall {
        /// The amount given.
        amount: Money,
        /// The least accepted.
        minimum: Money,
    },
    /// The limit is not positive or is below the fixed amount.
    #[error("limit {0} is not positive or below the fixed amount")]
    InvalidLimit(Money),
    /// Someone else changed the settings since they were read: read them again.
    #[error("settings changed meanwhile")]
    Conflict,
    /// A port failed.
    #[error(transparent)]
    Repo(RepoError),
}

impl From<RepoError> for AutopayError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::Conflict => Self::Conflict,
            e => Self::Repo(e),
        }
    }
}

impl AutopayError {
    /// The refusal in Russian, for the subscriber.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::AccountNotFound => "Лицевой счёт не найден.".into(),
            Self::InvalidDay(_) => "День автоплатежа — с 1 по 28 число месяца.".into(),
            Self::AmountTooSmall { minimum, .. } => format!(
                "Сумма автоплатежа должна быть не меньше {} ₽.",
                minimum.to_string().replace('.', ",")
            ),
            Self::InvalidLimit(_) => {
                "Лимит должен быть больше нуля и не меньше суммы автоплатежа.".into()
            }
            Self::Conflict => {
                "Настройки автоплатежа изменились на другом устройстве: откройте их заново.".into()
            }
            Self::Repo(_) => "Сервис временно недоступен. Повторите попытку позже.".into(),
        }
    }
}

/// Checks settings against the rules and the supplier's minimum online payment.
///
/// ```
/// use billing_core::autopay::{AutopayError, AutopayMode, AutopaySettings, validate};
/// use billing_core::ids::AccountId;
/// use billing_core::money::Money;
/// let s = AutopaySettings { account: AccountId::new(1), payer: "p".into(), enabled: true,
///     mode: AutopayMode::Fixed(Money::from_roubles(30)), day_of_month: 10, limit: None, version: 0 };
/// assert!(matches!(validate(&s, Money::from_roubles(50)), Err(AutopayError::AmountTooSmall { .. })));
/// ```
pub fn validate(settings: &AutopaySettings, minimum: Money) -> Result<(), AutopayError> {
    if !(1..=28).contains(&settings.day_of_month) {
        return Err(AutopayError::InvalidDay(settings.day_of_month));
    }
    if let AutopayMode::Fixed(amount) = settings.mode
        && (!amount.is_positive() || amount < minimum)
    {
        return Err(AutopayError::AmountTooSmall { amount, minimum });
    }
    if let Some(limit) = settings.limit {
        let below_fixed = matches!(settings.mode, AutopayMode::Fixed(a) if limit < a);
        if !limit.is_positive() || below_fixed {
            return Err(AutopayError::InvalidLimit(limit));
        }
    }
    Ok(())
}

/// The autopay settings use cases.
pub struct AutopayService {
    billing: Arc<BillingService>,
    repo: Arc<dyn AutopayRepository>,
}

impl AutopayService {
    /// The use cases over the billing use cases (for the account and its supplier) and the
    /// settings' storage.
    #[must_use]
    pub fn new(billing: Arc<BillingService>, repo: Arc<dyn AutopayRepository>) -> AutopayService {
        AutopayService { billing, repo }
    }

    /// The payer's settings for the ЛС, if any.
    pub async fn get(
        &self,
        account: AccountId,
        payer: &str,
    ) -> Result<Option<AutopaySettings>, AutopayError> {
        Ok(self.repo.get(account, payer).await?)
    }

    /// Validates and stores the settings (compare-and-set on `version`).
    pub async fn set(&self, settings: AutopaySettings) -> Result<AutopaySettings, AutopayError> {
        let account = self
            .billing
            .ports
            .accounts
            .account(settings.account)
            .await?
            .ok_or(AutopayError::AccountNotFound)?;
        let supplier = self.billing.load_supplier(account.supplier).await?;
        validate(&settings, supplier.minimum_payment)?;
        Ok(self.repo.put(&settings).await?)
    }

    /// Turns autopay off for good (deletes the settings); whether there were any.
    pub async fn delete(&self, account: AccountId, payer: &str) -> Result<bool, AutopayError> {
        Ok(self.repo.delete(account, payer).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(mode: AutopayMode, day: u8, limit: Option<Money>) -> AutopaySettings {
        AutopaySettings {
            account: AccountId::new(1),
            payer: "p".into(),
            enabled: true,
            mode,
            day_of_month: day,
            limit,
            version: 0,
        }
    }

    #[test]
    fn the_rules() {
        let min = Money::from_roubles(50);
        let ok = |s: &AutopaySettings| validate(s, min).is_ok();
        assert!(ok(&settings(AutopayMode::FullDebt, 1, None)));
        assert!(ok(&settings(
            AutopayMode::FullDebt,
            28,
            Some(Money::from_roubles(1))
        )));
        assert!(!ok(&settings(AutopayMode::FullDebt, 0, None)));
        assert!(!ok(&settings(AutopayMode::FullDebt, 29, None)));
        assert!(ok(&settings(AutopayMode::Fixed(min), 10, None)));
        assert!(!ok(&settings(
            AutopayMode::Fixed(Money::from_kopecks(4_999)),
            10,
            None
        )));
        assert!(!ok(&settings(AutopayMode::Fixed(Money::ZERO), 10, None)));
        assert!(ok(&settings(
            AutopayMode::Fixed(Money::from_roubles(100)),
            10,
            Some(Money::from_roubles(100))
        )));
        assert!(!ok(&settings(
            AutopayMode::Fixed(Money::from_roubles(100)),
            10,
            Some(Money::from_kopecks(9_999))
        )));
        assert!(!ok(&settings(AutopayMode::FullDebt, 10, Some(Money::ZERO))));
    }
}
