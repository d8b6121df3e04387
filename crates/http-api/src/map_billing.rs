//! The billing-core errors of the cabinet's reads as problems: one `From` per use-case error
//! enum, every variant matched (no catch-all), the Russian `detail` from the core's
//! `user_message()`.
//!
//! The account-scoped operations pass [`crate::api::accounts::linked_account`] first, so an
//! `AccountNotFound` here means the ЛС vanished between the two reads: answered `not-found`.
//!
//! **Invariant:** a `Repo` variant (and a payment document the stored data cannot build) is
//! logged and answered `service-unavailable`; its text never reaches the client.

use billing_core::reads::{
    AccountEstimateError, ChargesError, MetersError, PaymentsError, ReadingHistoryError,
    SupplierError, TariffsError,
};
use billing_core::usecase::{BalanceError, PaymentDocumentError, StatementError};

use crate::problem::{Problem, ProblemType};

fn said(kind: ProblemType, message: String) -> Problem {
    Problem::with_detail(kind, message)
}

impl From<MetersError> for Problem {
    fn from(e: MetersError) -> Self {
        match &e {
            MetersError::AccountNotFound => said(ProblemType::NotFound, e.user_message()),
            MetersError::Repo(r) => Problem::unavailable("list meters", r),
        }
    }
}

impl From<ReadingHistoryError> for Problem {
    fn from(e: ReadingHistoryError) -> Self {
        match &e {
            ReadingHistoryError::MeterNotFound => said(ProblemType::NotFound, e.user_message()),
            ReadingHistoryError::InvalidRange { .. } => {
                said(ProblemType::InvalidRange, e.user_message())
            }
            ReadingHistoryError::Repo(r) => Problem::unavailable("read a reading history", r),
        }
    }
}

impl From<ChargesError> for Problem {
    fn from(e: ChargesError) -> Self {
        match &e {
            ChargesError::AccountNotFound => said(ProblemType::NotFound, e.user_message()),
            ChargesError::PeriodNotBilled(_) => {
                said(ProblemType::PeriodNotBilled, e.user_message())
            }
            ChargesError::Repo(r) => Problem::unavailable("read charges", r),
        }
    }
}

impl From<TariffsError> for Problem {
    fn from(e: TariffsError) -> Self {
        match &e {
            TariffsError::AccountNotFound => said(ProblemType::NotFound, e.user_message()),
            TariffsError::Repo(r) => Problem::unavailable("read tariffs", r),
        }
    }
}

impl From<AccountEstimateError> for Problem {
    fn from(e: AccountEstimateError) -> Self {
        match &e {
            AccountEstimateError::MeterNotFound | AccountEstimateError::AccountNotFound => {
                said(ProblemType::NotFound, e.user_message())
            }
            AccountEstimateError::NoPreviousReading(_) | AccountEstimateError::Rejected(_) => {
                said(ProblemType::EstimateRejected, e.user_message())
            }
            AccountEstimateError::Repo(r) => Problem::unavailable("estimate a reading", r),
        }
    }
}

impl From<PaymentsError> for Problem {
    fn from(e: PaymentsError) -> Self {
        match &e {
            PaymentsError::AccountNotFound => said(ProblemType::NotFound, e.user_message()),
            PaymentsError::Repo(r) => Problem::unavailable("list payments", r),
        }
    }
}

impl From<SupplierError> for Problem {
    fn from(e: SupplierError) -> Self {
        match &e {
            SupplierError::SupplierNotFound => said(ProblemType::NotFound, e.user_message()),
            SupplierError::Repo(r) => Problem::unavailable("read a supplier", r),
        }
    }
}

impl From<BalanceError> for Problem {
    fn from(e: BalanceError) -> Self {
        match &e {
            BalanceError::AccountNotFound => said(ProblemType::NotFound, e.user_message()),
            BalanceError::Repo(r) => Problem::unavailable("read a balance", r),
        }
    }
}

impl From<StatementError> for Problem {
    fn from(e: StatementError) -> Self {
        match &e {
            StatementError::AccountNotFound => said(ProblemType::NotFound, e.user_message()),
            StatementError::InvalidRange { .. } => {
                said(ProblemType::InvalidRange, e.user_message())
            }
            StatementError::Repo(r) => Problem::unavailable("read a statement", r),
        }
    }
}

impl From<PaymentDocumentError> for Problem {
    fn from(e: PaymentDocumentError) -> Self {
        match &e {
            PaymentDocumentError::AccountNotFound => said(ProblemType::NotFound, e.user_message()),
            PaymentDocumentError::NotBilled(_) => {
                said(ProblemType::PeriodNotBilled, e.user_message())
            }
            // The stored data cannot make a valid document (requisites, a reading, the QR):
            // the supplier's operators must fix it; the subscriber is told to ask them.
            PaymentDocumentError::Document(d) => {
                Problem::unavailable("build a payment document", d).detail(e.user_message())
            }
            PaymentDocumentError::Repo(r) => Problem::unavailable("build a payment document", r),
        }
    }
}

#[cfg(test)]
mod tests {
    use billing_core::Period;
    use billing_core::RepoError;
    use billing_core::calculator::EstimateError;
    use billing_core::document::DocumentError;
    use time::macros::date;

    use super::*;

    fn kind(p: Problem) -> ProblemType {
        assert!(!p.body().detail.is_ascii(), "{p:?}");
        p.kind
    }

    fn repo() -> RepoError {
        RepoError::NotFound
    }

    #[test]
    fn every_variant_maps() {
        let p = Period::new(2026, 10).unwrap();
        use ProblemType as T;
        let cases: Vec<(Problem, ProblemType)> = vec![
            (MetersError::AccountNotFound.into(), T::NotFound),
            (MetersError::Repo(repo()).into(), T::ServiceUnavailable),
            (ReadingHistoryError::MeterNotFound.into(), T::NotFound),
            (
                ReadingHistoryError::InvalidRange { from: p, to: p }.into(),
                T::InvalidRange,
            ),
            (
                ReadingHistoryError::Repo(repo()).into(),
                T::ServiceUnavailable,
            ),
            (ChargesError::AccountNotFound.into(), T::NotFound),
            (ChargesError::PeriodNotBilled(p).into(), T::PeriodNotBilled),
            (ChargesError::Repo(repo()).into(), T::ServiceUnavailable),
            (TariffsError::AccountNotFound.into(), T::NotFound),
            (TariffsError::Repo(repo()).into(), T::ServiceUnavailable),
            (AccountEstimateError::MeterNotFound.into(), T::NotFound),
            (AccountEstimateError::AccountNotFound.into(), T::NotFound),
            (
                AccountEstimateError::NoPreviousReading(p).into(),
                T::EstimateRejected,
            ),
            (
                AccountEstimateError::Rejected(EstimateError::WrongZoneCount {
                    expected: 2,
                    previous: 2,
                    current: 1,
                })
                .into(),
                T::EstimateRejected,
            ),
            (
                AccountEstimateError::Repo(repo()).into(),
                T::ServiceUnavailable,
            ),
            (PaymentsError::AccountNotFound.into(), T::NotFound),
            (PaymentsError::Repo(repo()).into(), T::ServiceUnavailable),
            (SupplierError::SupplierNotFound.into(), T::NotFound),
            (SupplierError::Repo(repo()).into(), T::ServiceUnavailable),
            (BalanceError::AccountNotFound.into(), T::NotFound),
            (BalanceError::Repo(repo()).into(), T::ServiceUnavailable),
            (StatementError::AccountNotFound.into(), T::NotFound),
            (
                StatementError::InvalidRange {
                    from: date!(2026 - 10 - 01),
                    to: date!(2026 - 09 - 30),
                }
                .into(),
                T::InvalidRange,
            ),
            (StatementError::Repo(repo()).into(), T::ServiceUnavailable),
            (PaymentDocumentError::AccountNotFound.into(), T::NotFound),
            (
                PaymentDocumentError::NotBilled(p).into(),
                T::PeriodNotBilled,
            ),
            (
                PaymentDocumentError::Document(DocumentError::AmountOutOfRange).into(),
                T::ServiceUnavailable,
            ),
            (
                PaymentDocumentError::Repo(repo()).into(),
                T::ServiceUnavailable,
            ),
        ];
        for (problem, expected) in cases {
            assert_eq!(kind(problem), expected);
        }
    }

    #[test]
    fn a_repo_failure_says_nothing_of_its_cause() {
        let p: Problem = ChargesError::Repo(RepoError::NotFound).into();
        assert_eq!(p.detail, None, "the generic Russian text is used");
    }
}
