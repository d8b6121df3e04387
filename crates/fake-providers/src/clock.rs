//! Clocks: [`SystemClock`] (the wall clock) and [`AdjustableClock`] (the wall clock plus an
//! offset that can be changed while the service runs, so sandbox tests can move time forward —
//! for example to submit a reading after its window closed).
//!
//! Both implement `identity_core::ports::Clock` and `billing_core::ports::Clock`: `now()` is
//! UTC, `today()` is the date in the supplier's UTC offset ([`DEFAULT_SUPPLIER_OFFSET`],
//! +03:00, unless configured). Each also has inherent `now()` and `today()`, so code holding the
//! concrete type need not say which port it means.

use std::sync::atomic::{AtomicI64, Ordering};

use time::{Date, Duration, OffsetDateTime, UtcOffset};

/// The supplier's UTC offset when none is configured: Moscow time, +03:00.
pub const DEFAULT_SUPPLIER_OFFSET: UtcOffset = match UtcOffset::from_hms(3, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};

/// The largest offset an [`AdjustableClock`] accepts, either way: 100 years.
pub const MAX_OFFSET: Duration = Duration::days(36_525);

/// The wall clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemClock {
    supplier_offset: UtcOffset,
}

impl SystemClock {
    /// A wall clock whose `today()` is the date at `supplier_offset`.
    pub fn new(supplier_offset: UtcOffset) -> Self {
        Self { supplier_offset }
    }

    /// The offset `today()` uses.
    pub fn supplier_offset(&self) -> UtcOffset {
        self.supplier_offset
    }

    /// Now, UTC.
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    /// Today's date at the supplier's offset.
    pub fn today(&self) -> Date {
        self.now().to_offset(self.supplier_offset).date()
    }
}

impl Default for SystemClock {
    /// A wall clock at [`DEFAULT_SUPPLIER_OFFSET`].
    fn default() -> Self {
        Self::new(DEFAULT_SUPPLIER_OFFSET)
    }
}

impl identity_core::ports::Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        SystemClock::now(self)
    }
}

impl billing_core::ports::Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        SystemClock::now(self)
    }

    fn today(&self) -> Date {
        SystemClock::today(self)
    }
}

/// An offset beyond [`MAX_OFFSET`] was asked of an [`AdjustableClock`]; the offset did not
/// change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("clock offset {requested} is beyond the allowed ±{MAX_OFFSET}")]
pub struct OffsetOutOfRange {
    /// The offset that was refused.
    pub requested: Duration,
}

/// The wall clock plus an offset that can be changed at run time (atomically; share it in an
/// `Arc` between both cores, the gateway and the sandbox's `POST /sandbox/clock`).
///
/// The offset is kept in whole nanoseconds within ±[`MAX_OFFSET`].
#[derive(Debug)]
pub struct AdjustableClock {
    base: SystemClock,
    offset_nanos: AtomicI64,
}

impl AdjustableClock {
    /// A clock at the wall-clock time (offset zero) whose `today()` is the date at
    /// `supplier_offset`.
    pub fn new(supplier_offset: UtcOffset) -> Self {
        Self {
            base: SystemClock::new(supplier_offset),
            offset_nanos: AtomicI64::new(0),
        }
    }

    /// The offset `today()` uses.
    pub fn supplier_offset(&self) -> UtcOffset {
        self.base.supplier_offset()
    }

    /// How far this clock is ahead of the wall clock (negative: behind).
    pub fn offset(&self) -> Duration {
        Duration::nanoseconds(self.offset_nanos.load(Ordering::SeqCst))
    }

    /// Sets how far this clock is ahead of the wall clock (negative: behind).
    pub fn set_offset(&self, offset: Duration) -> Result<(), OffsetOutOfRange> {
        let nanos = checked_nanos(offset)?;
        self.offset_nanos.store(nanos, Ordering::SeqCst);
        Ok(())
    }

    /// Moves the clock by `by` (negative: back) and returns the new offset, as one atomic step
    /// (concurrent calls add up). Refused, changing nothing, if the new offset would be beyond
    /// ±[`MAX_OFFSET`].
    pub fn advance(&self, by: Duration) -> Result<Duration, OffsetOutOfRange> {
        let by = checked_nanos(by)?;
        // Both terms are within ±MAX_OFFSET (about 3.2e18 ns), so their sum fits in an i64.
        let moved = self
            .offset_nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |current| {
                let next = current + by;
                (next.abs() <= MAX_OFFSET_NANOS).then_some(next)
            });
        match moved {
            Ok(previous) => Ok(Duration::nanoseconds(previous + by)),
            Err(current) => Err(OffsetOutOfRange {
                requested: Duration::nanoseconds(current + by),
            }),
        }
    }

    /// Back to the wall-clock time (offset zero).
    pub fn reset(&self) {
        self.offset_nanos.store(0, Ordering::SeqCst);
    }

    /// Now, UTC: the wall clock plus the offset.
    pub fn now(&self) -> OffsetDateTime {
        self.base.now() + self.offset()
    }

    /// Today's date at the supplier's offset, by [`AdjustableClock::now`].
    pub fn today(&self) -> Date {
        self.now().to_offset(self.base.supplier_offset()).date()
    }
}

impl Default for AdjustableClock {
    /// An adjustable clock at [`DEFAULT_SUPPLIER_OFFSET`], offset zero.
    fn default() -> Self {
        Self::new(DEFAULT_SUPPLIER_OFFSET)
    }
}

/// [`MAX_OFFSET`] in nanoseconds.
const MAX_OFFSET_NANOS: i64 = 36_525 * 86_400 * 1_000_000_000;

/// `offset` in nanoseconds, if it is within ±[`MAX_OFFSET`].
fn checked_nanos(offset: Duration) -> Result<i64, OffsetOutOfRange> {
    i64::try_from(offset.whole_nanoseconds())
        .ok()
        .filter(|nanos| nanos.abs() <= MAX_OFFSET_NANOS)
        .ok_or(OffsetOutOfRange { requested: offset })
}

impl identity_core::ports::Clock for AdjustableClock {
    fn now(&self) -> OffsetDateTime {
        AdjustableClock::now(self)
    }
}

impl billing_core::ports::Clock for AdjustableClock {
    fn now(&self) -> OffsetDateTime {
        AdjustableClock::now(self)
    }

    fn today(&self) -> Date {
        AdjustableClock::today(self)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use time::macros::offset;

    use super::*;

    /// Whether `a` and `b` are within a second of each other (the wall clock moves on).
    fn close(a: OffsetDateTime, b: OffsetDateTime) -> bool {
        (a - b).abs() < Duration::seconds(1)
    }

    #[test]
    fn system_clock_is_utc_and_today_is_the_supplier_date() {
        let clock = SystemClock::default();
        assert_eq!(clock.supplier_offset(), offset!(+3));
        let now = identity_core::ports::Clock::now(&clock);
        assert_eq!(now.offset(), UtcOffset::UTC);
        assert!(close(now, OffsetDateTime::now_utc()));
        let today = billing_core::ports::Clock::today(&clock);
        let expected = OffsetDateTime::now_utc().to_offset(offset!(+3)).date();
        // Midnight may pass between the two readings.
        assert!(today == expected || today.next_day() == Some(expected));
    }

    #[test]
    fn adjustable_clock_moves_with_its_offset() {
        let clock = AdjustableClock::default();
        assert_eq!(clock.offset(), Duration::ZERO);
        assert!(close(clock.now(), OffsetDateTime::now_utc()));

        clock.set_offset(Duration::days(40)).unwrap();
        assert!(close(
            identity_core::ports::Clock::now(&clock),
            OffsetDateTime::now_utc() + Duration::days(40)
        ));
        assert_eq!(
            clock.advance(Duration::hours(-2)).unwrap(),
            Duration::days(40) - Duration::hours(2)
        );
        assert!(close(
            billing_core::ports::Clock::now(&clock),
            OffsetDateTime::now_utc() + Duration::days(40) - Duration::hours(2)
        ));
        clock.reset();
        assert_eq!(clock.offset(), Duration::ZERO);
    }

    #[test]
    fn today_is_counted_at_the_supplier_offset() {
        // Whatever the time of day, some offset puts "today" one day after UTC's date and
        // another one day before it: choose the clock's offset so that UTC 21:30 is tomorrow
        // at +03:00 and still today at UTC.
        let utc = OffsetDateTime::now_utc();
        let clock = AdjustableClock::new(offset!(+3));
        let target = utc.replace_time(time::macros::time!(21:30));
        clock.set_offset(target - utc).unwrap();
        let now = clock.now();
        assert_eq!(now.time().hour(), 21);
        assert_eq!(Some(clock.today()), now.date().next_day());
        let at_utc = AdjustableClock::new(UtcOffset::UTC);
        at_utc.set_offset(target - utc).unwrap();
        assert_eq!(billing_core::ports::Clock::today(&at_utc), now.date());
    }

    #[test]
    fn offsets_beyond_a_hundred_years_are_refused_and_change_nothing() {
        let clock = AdjustableClock::default();
        clock.set_offset(Duration::days(1)).unwrap();
        let huge = Duration::days(40_000);
        assert_eq!(
            clock.set_offset(huge),
            Err(OffsetOutOfRange { requested: huge })
        );
        assert!(clock.set_offset(-huge).is_err());
        assert!(clock.advance(MAX_OFFSET).is_err());
        assert!(clock.advance(Duration::MAX).is_err());
        assert_eq!(clock.offset(), Duration::days(1));
        clock.set_offset(-MAX_OFFSET).unwrap();
        assert_eq!(clock.offset(), -MAX_OFFSET);
    }

    #[test]
    fn concurrent_advances_add_up() {
        let clock = Arc::new(AdjustableClock::default());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let clock = clock.clone();
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        clock.advance(Duration::seconds(1)).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(clock.offset(), Duration::seconds(800));
    }

    #[test]
    fn both_ports_can_be_held_as_trait_objects() {
        let clock = Arc::new(AdjustableClock::default());
        let identity: Arc<dyn identity_core::ports::Clock> = clock.clone();
        let billing: Arc<dyn billing_core::ports::Clock> = clock.clone();
        clock.set_offset(Duration::hours(5)).unwrap();
        assert!(close(identity.now(), billing.now()));
        assert!(close(
            identity.now(),
            OffsetDateTime::now_utc() + Duration::hours(5)
        ));
    }
}
