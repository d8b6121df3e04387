//! Identifiers of the billing domain.
//!
//! Numeric surrogate ids are assigned by storage; the ЛС number a subscriber sees is an
//! [`AccountNumber`](crate::model::AccountNumber), not an id.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(u64);

        impl $name {
            /// Wraps a raw id.
            #[must_use]
            pub const fn new(raw: u64) -> Self {
                Self(raw)
            }

            /// The raw id.
            #[must_use]
            pub const fn get(self) -> u64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }
    };
}

id_type!(
    /// A supplier (гарантирующий поставщик, теплоснабжающая организация …).
    SupplierId
);
id_type!(
    /// A block of flats or a private house.
    HouseId
);
id_type!(
    /// A premise (flat or non-residential room) in a house.
    PremiseId
);
id_type!(
    /// A personal account (ЛС).
    AccountId
);
id_type!(
    /// A meter (ИПУ or ОДПУ).
    MeterId
);
id_type!(
    /// A submitted meter reading.
    ReadingId
);
id_type!(
    /// A tariff version.
    TariffId
);
id_type!(
    /// A payment.
    PaymentId
);
id_type!(
    /// A ledger entry.
    EntryId
);
id_type!(
    /// A recorded correction of a closed period (control check or operator correction).
    RecalculationId
);
id_type!(
    /// A written refund request.
    RefundRequestId
);
id_type!(
    /// A fiscal receipt claimed for issue (54-ФЗ; [`crate::receipt`]).
    ReceiptId
);
