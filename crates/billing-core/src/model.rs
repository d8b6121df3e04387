//! Houses, premises and personal accounts (ЛС).

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, HouseId, PremiseId, SupplierId};
use crate::odn::OdnPolicy;
use crate::service::ServiceKind;
use crate::tariff::ConsumerGroup;

/// The number of a personal account (лицевой счёт) as printed on the payment document: 1 to 20
/// digits (13-digit payment codes are common).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountNumber(String);

/// Why a text is not an account number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountNumberError {
    /// Empty.
    #[error("account number is empty")]
    Empty,
    /// Longer than 20 digits.
    #[error("account number is longer than 20 digits")]
    TooLong,
    /// Contains something other than digits.
    #[error("account number must contain digits only")]
    NotDigits,
}

impl AccountNumber {
    /// Parses an account number; spaces and dashes people type are ignored.
    ///
    /// ```
    /// use billing_core::model::AccountNumber;
    /// assert_eq!(AccountNumber::parse("12 3456-7890").unwrap().as_str(), "1234567890");
    /// assert!(AccountNumber::parse("12a").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<AccountNumber, AccountNumberError> {
        let digits: String = s
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '\u{a0}'))
            .collect();
        if digits.is_empty() {
            return Err(AccountNumberError::Empty);
        }
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(AccountNumberError::NotDigits);
        }
        if digits.len() > 20 {
            return Err(AccountNumberError::TooLong);
        }
        Ok(AccountNumber(digits))
    }

    /// The digits.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AccountNumber {
    type Err = AccountNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AccountNumber::parse(s)
    }
}

impl TryFrom<String> for AccountNumber {
    type Error = AccountNumberError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        AccountNumber::parse(&value)
    }
}

impl From<AccountNumber> for String {
    fn from(value: AccountNumber) -> Self {
        value.0
    }
}

impl fmt::Display for AccountNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccountNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ЛС {}", self.0)
    }
}

/// A house (block of flats or private house).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct House {
    /// Id.
    pub id: HouseId,
    /// Supplier.
    pub supplier: SupplierId,
    /// Postal address.
    pub address: String,
    /// S_total: all residential and non-residential premises, common areas excluded.
    pub total_area: Decimal,
    /// S_common: the common property.
    pub common_area: Decimal,
    /// ОДН policy.
    pub odn: OdnPolicy,
    /// Electrically heated without gas (raises the consumption-range thresholds in season).
    pub electric_heating: bool,
    /// Whether the house has a working heat meter (heating by its volume, else by the norm).
    pub heat_meter: bool,
}

/// A premise (flat or non-residential room).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Premise {
    /// Id.
    pub id: PremiseId,
    /// House.
    pub house: HouseId,
    /// Number (flat number).
    pub number: String,
    /// Total area S_i, m².
    pub area: Decimal,
    /// Residential or not.
    pub residential: bool,
    /// Registered persons (the owners' number when nobody is registered — ПП 354 п. 56(2)).
    pub persons: u32,
    /// Rooms (the regional electricity norm depends on them).
    pub rooms: u32,
}

/// A service on an account with its norm.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AccountService {
    /// Service.
    pub service: ServiceKind,
    /// The regional norm per person (or per m² for heating) and month, for this premise
    /// (rooms and persons already taken into account by the operator's import).
    pub norm_per_unit: Decimal,
    /// Whether a meter can be installed (technical possibility; governs the coefficient).
    pub meter_installable: bool,
}

/// A personal account (ЛС).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Account {
    /// Id.
    pub id: AccountId,
    /// The number printed on documents.
    pub number: AccountNumber,
    /// Supplier.
    pub supplier: SupplierId,
    /// Premise.
    pub premise: PremiseId,
    /// Holder's full name as in the contract.
    pub holder: String,
    /// Consumer group for tariffs.
    pub group: ConsumerGroup,
    /// Services billed on the account (ОДН is added by the house run when the supplier bills it).
    pub services: Vec<AccountService>,
}

/// A supplier (гарантирующий поставщик, heat or water utility) and every setting that governs
/// its billing.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Supplier {
    /// Id.
    pub id: SupplierId,
    /// Requisites and bank details (the payment QR code is built from them).
    pub requisites: crate::requisites::Requisites,
    /// Billing policies: readings window, due day, estimates, coefficients, ОДН …
    pub policy: crate::policy::BillingPolicy,
    /// Penalty policy (ЖК ст. 155 ч. 14).
    pub penalty: crate::penalty::PenaltyPolicy,
    /// The least amount accepted in one online payment (supplier practice, e.g. 50 ₽;
    /// billing-rules.md §10).
    pub minimum_payment: crate::money::Money,
}

impl Supplier {
    /// Checks an online payment amount against the supplier's minimum.
    ///
    /// A payment below the minimum is allowed when it settles the whole debt (the debt itself is
    /// below the minimum).
    pub fn check_payment_amount(
        &self,
        amount: crate::money::Money,
        debt: crate::money::Money,
    ) -> Result<(), PaymentAmountError> {
        if !amount.is_positive() {
            return Err(PaymentAmountError::NotPositive);
        }
        if amount < self.minimum_payment && amount < debt {
            return Err(PaymentAmountError::BelowMinimum {
                minimum: self.minimum_payment,
            });
        }
        Ok(())
    }

    /// The least amount [`Supplier::check_payment_amount`] accepts against `debt`: the
    /// minimum, or the whole debt when it is smaller. With nothing owed (`debt` ≤ 0) every
    /// positive amount settles the debt, so the least is one kopeck.
    #[must_use]
    pub fn least_payment(&self, debt: crate::money::Money) -> crate::money::Money {
        let kopeck = crate::money::Money::from_kopecks(1);
        if debt.is_positive() {
            self.minimum_payment.min(debt).max(kopeck)
        } else {
            kopeck
        }
    }
}

/// Why an online payment amount is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentAmountError {
    /// Zero or negative.
    #[error("payment amount must be positive")]
    NotPositive,
    /// Below the supplier's minimum.
    #[error("payment amount is below the minimum of {minimum}")]
    BelowMinimum {
        /// The minimum.
        minimum: crate::money::Money,
    },
}

impl PaymentAmountError {
    /// The refusal in Russian.
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            PaymentAmountError::NotPositive => "Сумма платежа должна быть больше нуля.".into(),
            PaymentAmountError::BelowMinimum { minimum } => {
                format!("Минимальная сумма платежа — {}.", minimum.to_russian())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Money;

    #[test]
    fn account_numbers() {
        assert_eq!(AccountNumber::parse(""), Err(AccountNumberError::Empty));
        assert_eq!(
            AccountNumber::parse("1".repeat(21).as_str()),
            Err(AccountNumberError::TooLong)
        );
        assert_eq!(
            AccountNumber::parse("12-34 56").unwrap().to_string(),
            "123456"
        );
    }

    fn supplier() -> Supplier {
        Supplier {
            id: SupplierId::new(1),
            requisites: crate::requisites::sample("ПАО «Энергосбыт»"),
            policy: crate::policy::BillingPolicy::default(),
            penalty: crate::penalty::PenaltyPolicy::default(),
            minimum_payment: Money::from_roubles(50),
        }
    }

    #[test]
    fn minimum_payment() {
        let s = supplier();
        let min = s.minimum_payment;
        assert_eq!(
            s.check_payment_amount(Money::from_roubles(49), Money::from_roubles(100)),
            Err(PaymentAmountError::BelowMinimum { minimum: min })
        );
        assert_eq!(
            s.check_payment_amount(Money::from_roubles(50), Money::from_roubles(100)),
            Ok(())
        );
        // Below the minimum is fine when it settles the whole (small) debt.
        assert_eq!(
            s.check_payment_amount(Money::from_roubles(30), Money::from_roubles(30)),
            Ok(())
        );
        assert_eq!(
            s.check_payment_amount(Money::ZERO, Money::from_roubles(30)),
            Err(PaymentAmountError::NotPositive)
        );
        assert!(
            PaymentAmountError::BelowMinimum { minimum: min }
                .user_message()
                .contains("50,00")
        );
    }

    #[test]
    fn least_payment_is_the_boundary_of_the_check() {
        let s = supplier();
        let kopeck = Money::from_kopecks(1);
        for (debt, least) in [
            (Money::from_roubles(800), Money::from_roubles(50)),
            (Money::from_roubles(30), Money::from_roubles(30)),
            (Money::ZERO, kopeck),
            (Money::from_roubles(-100), kopeck),
        ] {
            assert_eq!(s.least_payment(debt), least);
            assert_eq!(s.check_payment_amount(least, debt), Ok(()));
            assert!(s.check_payment_amount(least - kopeck, debt).is_err());
        }
    }
}
