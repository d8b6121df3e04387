//! Limits per client address: before a login, a registration, a code or link sent, or a
//! linking attempt, the HTTP layer asks [`IdentityService::admit_client`] whether the client's
//! address may make one more request of that kind. This is the one throttle that sees one
//! source trying many accounts, phones or ЛС; the per-account, per-phone and per-subscriber
//! limits of the flows themselves still apply after it.

use time::Duration;

use super::IdentityService;
use crate::errors::{UNEXPECTED_RU, UserMessage};
use crate::model::{ClientAction, ThrottleKey};
use crate::ports::PortError;

/// Errors of [`IdentityService::admit_client`].
#[derive(Debug, thiserror::Error)]
pub enum Throttled {
    /// This address has made too many requests of this kind; wait `retry_after`.
    #[error("too many requests from this address, retry after {retry_after}")]
    TooManyRequests {
        /// How long to wait.
        retry_after: Duration,
    },
    /// A port failed (the request must not go ahead: the limit fails closed).
    #[error("unexpected failure")]
    Unexpected(#[from] PortError),
}

impl UserMessage for Throttled {
    fn user_message(&self) -> &'static str {
        match self {
            Self::TooManyRequests { .. } => {
                "Слишком много запросов с вашего устройства или сети. Попробуйте позже."
            }
            Self::Unexpected(_) => UNEXPECTED_RU,
        }
    }
}

impl IdentityService {
    /// Takes one request of kind `action` from the client at `address` under
    /// [`crate::policy::ClientAddressLimits`], as one atomic reservation of the throttle port
    /// (like every other limit), or refuses with the wait and records nothing. Every admitted
    /// request counts, whatever its outcome; nothing is given back.
    ///
    /// `address` is the client's IP address as the HTTP layer established it (the peer, or a
    /// forwarding header only from a trusted proxy: an address the client can choose is no
    /// limit at all). It is normalised by [`ThrottleKey::client_address`]: a port is ignored
    /// and IPv6 addresses count per /64.
    pub async fn admit_client(&self, address: &str, action: ClientAction) -> Result<(), Throttled> {
        let now = self.now();
        let key = ThrottleKey::client_address(action, address);
        let limit = self.policy.per_address.limit(action);
        self.reserve(limit, &key, now)
            .await?
            .map_err(|retry_after| Throttled::TooManyRequests { retry_after })
    }
}
