//! [`SecurityPolicy`]: every security number of the crate in one place, with the defaults
//! documented in `docs/security.md`, and [`RateLimit`], the one throttling rule behind login
//! throttling, code-sending limits, linking-proof limits and per-client-address limits.

use time::{Duration, OffsetDateTime};

use crate::model::ClientAction;

/// Password rules (OWASP ASVS 2.1, NIST SP 800-63B 5.1.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters (Unicode scalar values after NFKC normalisation). Default 8.
    pub min_chars: usize,
    /// Most characters. Default 128.
    pub max_chars: usize,
    /// Lowest acceptable `zxcvbn` score, 0 to 4. Default 3 ("safely unguessable").
    pub min_strength: u8,
}

/// One-time code rules (NIST SP 800-63B 5.1.3, OWASP ASVS 2.7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodePolicy {
    /// Digits in an SMS code. Default 6.
    pub digits: u8,
    /// How long a code is accepted. Default 10 minutes.
    pub ttl: Duration,
    /// Wrong entries before a code is dead. Default 5.
    pub max_attempts: u32,
    /// How long an email-confirmation link is accepted. Default 24 hours.
    pub email_link_ttl: Duration,
    /// How long a recovery link or recovery code is accepted. Default 1 hour (the SMS recovery
    /// code also obeys `ttl`, whichever is shorter).
    pub recovery_ttl: Duration,
}

/// Session lifetimes (OWASP ASVS 3.3, NIST SP 800-63B 7.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused this long ends. Default 30 minutes.
    ///
    /// Measured from the last *recorded* activity: activity is recorded at most once per
    /// [`SessionPolicy::touch_interval`], so a session ends between `idle_timeout -
    /// touch_interval` and `idle_timeout` after its last request — never later than
    /// `idle_timeout` after it.
    pub idle_timeout: Duration,
    /// A session this old ends whatever its use. Default 12 hours.
    pub absolute_lifetime: Duration,
    /// Activity on a session is written (moving its idle deadline) only when the last recorded
    /// activity is at least this old, so a busy session costs one write per interval instead
    /// of one per request. Default 60 seconds. A value above half of `idle_timeout` is used as
    /// half of it ([`SessionPolicy::touch_due`]), so a session used at least every
    /// `idle_timeout / 2` never idles out.
    pub touch_interval: Duration,
}

impl SessionPolicy {
    /// Whether a request at `now` on a session whose last recorded activity is `last_seen_at`
    /// must record its activity: when `now - last_seen_at` has reached
    /// [`SessionPolicy::touch_interval`], capped at half of the idle timeout.
    ///
    /// Skipping a write never lets a session live longer: its idle deadline stays
    /// `last_seen_at + idle_timeout`, which is before `now + idle_timeout`. It only ends it
    /// earlier, by less than the interval.
    pub fn touch_due(&self, last_seen_at: OffsetDateTime, now: OffsetDateTime) -> bool {
        now - last_seen_at >= self.touch_interval.min(self.idle_timeout / 2)
    }
}

/// Requests per client address, one [`RateLimit`] per [`ClientAction`] (each action counted
/// separately). They count every request, successful or not, and are meant to be generous:
/// many subscribers can share one address (carrier-grade NAT, an office). They stop one
/// source from trying many accounts (credential stuffing), sending codes to many phones
/// (SMS pumping) or trying many ЛС, which the per-account, per-phone and per-subscriber
/// limits alone do not see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientAddressLimits {
    /// Login attempts: at most 200 an hour.
    pub login: RateLimit,
    /// Registrations started (by phone or by ЛС): at most 20 an hour.
    pub registration: RateLimit,
    /// Other requests that send a code or a link (resends, recovery, email and phone
    /// changes): at most 30 an hour.
    pub send_code: RateLimit,
    /// Linking attempts (any proof): at most 60 an hour.
    pub linking: RateLimit,
}

impl ClientAddressLimits {
    /// The limit for `action`.
    pub fn limit(&self, action: ClientAction) -> &RateLimit {
        match action {
            ClientAction::Login => &self.login,
            ClientAction::Registration => &self.registration,
            ClientAction::SendCode => &self.send_code,
            ClientAction::Linking => &self.linking,
        }
    }
}

/// Exponential slow-down after some free events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Events allowed without delay.
    pub free_events: u32,
    /// The delay after the first event past the free ones; it doubles with each further one.
    pub base: Duration,
    /// The delay never exceeds this.
    pub max: Duration,
}

/// A limit on events for one key: at most `max_events` in any `window`, at least
/// `min_interval` between two, and optionally an exponential [`Backoff`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Most events in any window.
    pub max_events: u32,
    /// The window length.
    pub window: Duration,
    /// Least time between two events.
    pub min_interval: Duration,
    /// Exponential slow-down, if any.
    pub backoff: Option<Backoff>,
}

impl RateLimit {
    /// How far back the events passed to [`RateLimit::check`] must reach: older events can
    /// change neither the count in the window nor the wait after the last event (which never
    /// exceeds the minimum interval or the back-off cap). Property-tested: the answer from the
    /// events since `now - lookback()` equals the answer from all of them.
    pub fn lookback(&self) -> Duration {
        let backoff_cap = self.backoff.as_ref().map_or(Duration::ZERO, |b| b.max);
        self.window.max(self.min_interval).max(backoff_cap)
    }

    /// Whether one more event may happen at `now`, given the earlier events of the key (any
    /// order) since at least [`RateLimit::lookback`] before `now`. `Err` carries how long to
    /// wait.
    ///
    /// Invariant (property-tested): if every allowed event is recorded, no window of length
    /// `window` ever holds more than `max_events` events, and no two events are closer than
    /// `min_interval`.
    pub fn check(&self, events: &[OffsetDateTime], now: OffsetDateTime) -> Result<(), Duration> {
        let window_start = now - self.window;
        let recent: Vec<OffsetDateTime> = events
            .iter()
            .copied()
            .filter(|t| *t > window_start)
            .collect();
        let mut wait = Duration::ZERO;
        let count = u32::try_from(recent.len()).unwrap_or(u32::MAX);
        if count >= self.max_events {
            // Wait until enough events leave the window for one more to fit.
            let mut sorted = recent.clone();
            sorted.sort();
            let excess = usize::try_from(count - self.max_events).unwrap_or(usize::MAX);
            if let Some(leaving) = sorted.get(excess) {
                wait = wait.max(*leaving + self.window - now);
            }
        }
        if let Some(last) = events.iter().max() {
            let mut gap = self.min_interval;
            if let Some(backoff) = &self.backoff
                && count >= backoff.free_events
            {
                let doublings = count - backoff.free_events;
                let factor = 1i32.checked_shl(doublings.min(30)).unwrap_or(i32::MAX);
                let delay = backoff
                    .base
                    .checked_mul(factor)
                    .unwrap_or(backoff.max)
                    .min(backoff.max);
                gap = gap.max(delay);
            }
            wait = wait.max(*last + gap - now);
        }
        if wait > Duration::ZERO {
            Err(wait)
        } else {
            Ok(())
        }
    }
}

/// Every configurable security number of the identity core. [`SecurityPolicy::default`] gives
/// the documented defaults; `docs/security.md` states the standard behind each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityPolicy {
    /// Password rules.
    pub password: PasswordPolicy,
    /// One-time codes and links.
    pub codes: CodePolicy,
    /// Codes and links sent per phone or email: 5 an hour, 60 s apart.
    pub delivery: RateLimit,
    /// Failed logins per account: free 5, then exponential from 1 s up to 15 min, at most 100
    /// an hour.
    pub login: RateLimit,
    /// Failed linking proofs per subscriber: free 3, then exponential from 2 s, at most 10 an
    /// hour.
    pub link_proof: RateLimit,
    /// Failed registration identity proofs per ЛС: same numbers as `link_proof`.
    pub registration_proof: RateLimit,
    /// "Someone is registering your ЛС" notices per cabinet: at most 3 an hour, so that
    /// repeated registrations of a taken ЛС cannot flood its owner's phone and email.
    pub owner_notices: RateLimit,
    /// Session lifetimes.
    pub sessions: SessionPolicy,
    /// Requests per client address and action (see [`ClientAddressLimits`]).
    pub per_address: ClientAddressLimits,
    /// Questions asked per subscriber: at most 10 an hour.
    pub questions: RateLimit,
    /// Back-office operator session lifetimes: the same defaults as subscribers' sessions (30
    /// minutes idle, 12 hours at most, activity written once a minute). Failed operator logins
    /// obey [`SecurityPolicy::login`].
    pub operator_sessions: SessionPolicy,
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        let proof_limit = RateLimit {
            max_events: 10,
            window: Duration::HOUR,
            min_interval: Duration::ZERO,
            backoff: Some(Backoff {
                free_events: 3,
                base: Duration::seconds(2),
                max: Duration::minutes(15),
            }),
        };
        let per_hour = |max_events| RateLimit {
            max_events,
            window: Duration::HOUR,
            min_interval: Duration::ZERO,
            backoff: None,
        };
        Self {
            password: PasswordPolicy {
                min_chars: 8,
                max_chars: 128,
                min_strength: 3,
            },
            codes: CodePolicy {
                digits: 6,
                ttl: Duration::minutes(10),
                max_attempts: 5,
                email_link_ttl: Duration::hours(24),
                recovery_ttl: Duration::HOUR,
            },
            delivery: RateLimit {
                max_events: 5,
                window: Duration::HOUR,
                min_interval: Duration::seconds(60),
                backoff: None,
            },
            login: RateLimit {
                max_events: 100,
                window: Duration::HOUR,
                min_interval: Duration::ZERO,
                backoff: Some(Backoff {
                    free_events: 5,
                    base: Duration::SECOND,
                    max: Duration::minutes(15),
                }),
            },
            link_proof: proof_limit.clone(),
            registration_proof: proof_limit,
            owner_notices: per_hour(3),
            sessions: SessionPolicy {
                idle_timeout: Duration::minutes(30),
                absolute_lifetime: Duration::hours(12),
                touch_interval: Duration::MINUTE,
            },
            per_address: ClientAddressLimits {
                login: per_hour(200),
                registration: per_hour(20),
                send_code: per_hour(30),
                linking: per_hour(60),
            },
            questions: per_hour(10),
            operator_sessions: SessionPolicy {
                idle_timeout: Duration::minutes(30),
                absolute_lifetime: Duration::hours(12),
                touch_interval: Duration::MINUTE,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2025-03-01 10:00 UTC);

    #[test]
    fn delivery_allows_five_an_hour_sixty_seconds_apart() {
        let limit = SecurityPolicy::default().delivery;
        let mut sent = Vec::new();
        assert_eq!(limit.check(&sent, T0), Ok(()));
        sent.push(T0);
        assert_eq!(
            limit.check(&sent, T0 + Duration::seconds(30)),
            Err(Duration::seconds(30))
        );
        for minute in 1..=4 {
            let at = T0 + Duration::minutes(minute);
            assert_eq!(limit.check(&sent, at), Ok(()));
            sent.push(at);
        }
        // Five sent in the first four minutes: the sixth waits until the first leaves the hour.
        assert_eq!(
            limit.check(&sent, T0 + Duration::minutes(10)),
            Err(Duration::minutes(50))
        );
        assert_eq!(
            limit.check(&sent, T0 + Duration::HOUR + Duration::SECOND),
            Ok(())
        );
    }

    #[test]
    fn login_slows_down_exponentially_after_five_failures() {
        let limit = SecurityPolicy::default().login;
        let failures: Vec<_> = (0..5).map(|i| T0 + Duration::seconds(i)).collect();
        // Five failures are free; the sixth attempt waits 1 s after the fifth, then 2 s, 4 s.
        assert_eq!(
            limit.check(&failures[..4], T0 + Duration::seconds(4)),
            Ok(())
        );
        assert_eq!(
            limit.check(&failures, T0 + Duration::seconds(4)),
            Err(Duration::SECOND)
        );
        assert_eq!(limit.check(&failures, T0 + Duration::seconds(5)), Ok(()));
        let mut more = failures.clone();
        more.push(T0 + Duration::seconds(5));
        assert_eq!(
            limit.check(&more, T0 + Duration::seconds(6)),
            Err(Duration::SECOND)
        );
        more.push(T0 + Duration::seconds(7));
        assert_eq!(
            limit.check(&more, T0 + Duration::seconds(7)),
            Err(Duration::seconds(4))
        );
    }

    #[test]
    fn backoff_is_capped() {
        let limit = SecurityPolicy::default().login;
        let failures: Vec<_> = (0..60).map(|i| T0 + Duration::seconds(i)).collect();
        assert_eq!(
            limit.check(&failures, T0 + Duration::seconds(59)),
            Err(Duration::minutes(15))
        );
    }

    #[test]
    fn activity_is_recorded_once_a_minute() {
        let sessions = SecurityPolicy::default().sessions;
        assert_eq!(sessions.touch_interval, Duration::MINUTE);
        assert!(!sessions.touch_due(T0, T0));
        assert!(!sessions.touch_due(T0, T0 + Duration::seconds(59)));
        assert!(sessions.touch_due(T0, T0 + Duration::MINUTE));
        assert!(sessions.touch_due(T0, T0 + Duration::minutes(29)));
    }

    #[test]
    fn the_touch_interval_is_capped_at_half_the_idle_timeout() {
        let sessions = SessionPolicy {
            idle_timeout: Duration::minutes(10),
            absolute_lifetime: Duration::HOUR,
            touch_interval: Duration::HOUR,
        };
        assert!(!sessions.touch_due(T0, T0 + Duration::minutes(4)));
        assert!(sessions.touch_due(T0, T0 + Duration::minutes(5)));
        // Zero records every request, as before the interval existed.
        let every_request = SessionPolicy {
            touch_interval: Duration::ZERO,
            ..sessions
        };
        assert!(every_request.touch_due(T0, T0));
    }

    #[test]
    fn each_client_action_has_its_own_per_address_limit() {
        let limits = SecurityPolicy::default().per_address;
        let max = |action| limits.limit(action).max_events;
        assert_eq!(max(ClientAction::Login), 200);
        assert_eq!(max(ClientAction::Registration), 20);
        assert_eq!(max(ClientAction::SendCode), 30);
        assert_eq!(max(ClientAction::Linking), 60);
        for action in ClientAction::ALL {
            assert_eq!(limits.limit(action).window, Duration::HOUR);
        }
    }

    #[test]
    fn the_lookback_reaches_back_as_far_as_the_backoff_cap() {
        // A back-off longer than the window: the last event still matters after it has left
        // the window, so an adapter that reads only `window` back would allow the next event
        // too early.
        let limit = RateLimit {
            max_events: 5,
            window: Duration::SECOND,
            min_interval: Duration::ZERO,
            backoff: Some(Backoff {
                free_events: 0,
                base: Duration::seconds(30),
                max: Duration::seconds(30),
            }),
        };
        let now = T0 + Duration::seconds(2);
        assert_eq!(limit.check(&[T0], now), Err(Duration::seconds(28)));
        assert!(limit.lookback() >= now - T0);
    }

    fn limits() -> impl Strategy<Value = RateLimit> {
        (
            1u32..8,
            1i64..600,
            0i64..120,
            proptest::option::of((0u32..5, 1i64..30, 1i64..300)),
        )
            .prop_map(|(max_events, window, min_interval, backoff)| RateLimit {
                max_events,
                window: Duration::seconds(window),
                min_interval: Duration::seconds(min_interval),
                backoff: backoff.map(|(free_events, base, max)| Backoff {
                    free_events,
                    base: Duration::seconds(base),
                    max: Duration::seconds(base.max(max)),
                }),
            })
    }

    proptest! {
        #[test]
        fn never_more_than_the_limit_in_any_window(
            limit in limits(),
            gaps in proptest::collection::vec(0i64..200, 1..200),
        ) {
            let mut now = T0;
            let mut allowed: Vec<OffsetDateTime> = Vec::new();
            for gap in gaps {
                now += Duration::seconds(gap);
                if limit.check(&allowed, now).is_ok() {
                    allowed.push(now);
                }
            }
            for (j, t) in allowed.iter().enumerate() {
                let in_window = allowed[..=j].iter().filter(|s| **s > *t - limit.window).count();
                prop_assert!(u32::try_from(in_window).unwrap() <= limit.max_events);
                if j > 0 {
                    prop_assert!(*t - allowed[j - 1] >= limit.min_interval);
                }
            }
        }

        #[test]
        fn events_older_than_the_lookback_never_change_the_answer(
            limit in limits(),
            gaps in proptest::collection::vec(0i64..200, 1..60),
            last_gap in 0i64..900,
        ) {
            let mut now = T0;
            let mut allowed: Vec<OffsetDateTime> = Vec::new();
            for gap in gaps {
                now += Duration::seconds(gap);
                if limit.check(&allowed, now).is_ok() {
                    allowed.push(now);
                }
            }
            now += Duration::seconds(last_gap);
            let recent: Vec<OffsetDateTime> = allowed
                .iter()
                .copied()
                .filter(|t| *t > now - limit.lookback())
                .collect();
            prop_assert_eq!(limit.check(&recent, now), limit.check(&allowed, now));
        }

        #[test]
        fn the_wait_it_reports_is_enough(
            limit in limits(),
            gaps in proptest::collection::vec(0i64..100, 1..60),
        ) {
            let mut now = T0;
            let mut allowed: Vec<OffsetDateTime> = Vec::new();
            for gap in gaps {
                now += Duration::seconds(gap);
                match limit.check(&allowed, now) {
                    Ok(()) => allowed.push(now),
                    Err(wait) => {
                        prop_assert!(wait > Duration::ZERO);
                        prop_assert_eq!(limit.check(&allowed, now + wait), Ok(()));
                    }
                }
            }
        }
    }
}
