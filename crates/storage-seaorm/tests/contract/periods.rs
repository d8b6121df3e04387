//! Contract of `PeriodRepository`: periods close in order, once, per supplier.

use billing_core::ids::SupplierId;
use billing_core::ports::{PeriodRepository, RepoError};
use storage_seaorm::Storage;

use crate::common::billing::*;

contract!(
    nothing_is_closed_at_first,
    periods_close_in_order_once,
    suppliers_close_independently,
);

async fn nothing_is_closed_at_first(storage: Storage) {
    assert_eq!(storage.last_closed(SupplierId::new(1)).await, Ok(None));
}

async fn periods_close_in_order_once(storage: Storage) {
    let supplier = SupplierId::new(1);
    let (jan, feb, mar, apr) = (
        period(2025, 1),
        period(2025, 2),
        period(2025, 3),
        period(2025, 4),
    );
    PeriodRepository::close(&storage, supplier, jan)
        .await
        .unwrap();
    assert_eq!(storage.last_closed(supplier).await, Ok(Some(jan)));
    assert_eq!(
        PeriodRepository::close(&storage, supplier, jan).await,
        Err(RepoError::Duplicate)
    );
    assert_eq!(
        PeriodRepository::close(&storage, supplier, mar).await,
        Err(RepoError::Conflict)
    );
    PeriodRepository::close(&storage, supplier, feb)
        .await
        .unwrap();
    PeriodRepository::close(&storage, supplier, mar)
        .await
        .unwrap();
    assert_eq!(storage.last_closed(supplier).await, Ok(Some(mar)));
    // Year boundaries order correctly, and an earlier period that was skipped cannot close.
    assert_eq!(
        PeriodRepository::close(&storage, supplier, period(2024, 12)).await,
        Err(RepoError::Conflict)
    );
    PeriodRepository::close(&storage, supplier, apr)
        .await
        .unwrap();
    assert_eq!(storage.last_closed(supplier).await, Ok(Some(apr)));
}

async fn suppliers_close_independently(storage: Storage) {
    PeriodRepository::close(&storage, SupplierId::new(1), period(2024, 12))
        .await
        .unwrap();
    PeriodRepository::close(&storage, SupplierId::new(2), period(2025, 6))
        .await
        .unwrap();
    PeriodRepository::close(&storage, SupplierId::new(1), period(2025, 1))
        .await
        .unwrap();
    assert_eq!(
        storage.last_closed(SupplierId::new(1)).await,
        Ok(Some(period(2025, 1)))
    );
    assert_eq!(
        storage.last_closed(SupplierId::new(2)).await,
        Ok(Some(period(2025, 6)))
    );
}
