//! The code printed on an ЛС's payment document, by which a subscriber links the ЛС to a
//! cabinet (seed 000: «с соблюдением регистра»).
//!
//! A code is [`LENGTH`] characters of [`ALPHABET`] — Latin letters of both cases and digits
//! without the look-alikes `0 O 1 I l` — drawn uniformly from the operating system's CSPRNG:
//! 57¹⁰ ≈ 2⁵⁸ codes, so with linking limited to a few wrong attempts an hour per cabinet and
//! per address guessing is hopeless. Only its digest is stored (`account_codes`); the code
//! itself is shown once, when issued, for printing.

use billing_core::ids::AccountId;
use identity_core::crypto::SecretDigest;
use identity_core::ports::{PortError, Random, WriteError};
use identity_core::secret::Secret;
use storage_seaorm::Storage;
use time::OffsetDateTime;

/// The characters of a code: no `0`, `O`, `1`, `I`, `l`.
pub const ALPHABET: &[u8; 57] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

/// The length of a code.
pub const LENGTH: usize = 10;

/// The stored digest of `code` (exact bytes: case matters).
pub fn digest(code: &str) -> SecretDigest {
    SecretDigest::of_token(code)
}

/// A fresh code from `random` (uniform over [`ALPHABET`]: bytes ≥ 228 = 4 × 57 are drawn
/// again rather than folded, which would favour the first letters).
pub fn generate(random: &dyn Random) -> Result<Secret<String>, PortError> {
    const ACCEPT_BELOW: u8 = 228;
    let mut code = String::with_capacity(LENGTH);
    let mut buf = [0u8; 32];
    while code.len() < LENGTH {
        random.fill(&mut buf)?;
        for b in buf {
            if b < ACCEPT_BELOW && code.len() < LENGTH {
                code.push(char::from(ALPHABET[usize::from(b % 57)]));
            }
        }
    }
    Ok(Secret::new(code))
}

/// Why no code was issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueCodeError {
    /// The ЛС does not exist, or the database failed.
    #[error("cannot store the payment code: {0}")]
    Storage(PortError),
    /// The random source failed.
    #[error("random source: {0}")]
    Random(PortError),
}

/// Issues a new code for `account` (replacing the previous one, which stops linking) and
/// returns it for printing. A collision with another ЛС's code — about one in 2⁵⁸ per pair —
/// is drawn again.
pub async fn issue(
    storage: &Storage,
    random: &dyn Random,
    account: AccountId,
    now: OffsetDateTime,
) -> Result<Secret<String>, IssueCodeError> {
    loop {
        let code = generate(random).map_err(IssueCodeError::Random)?;
        match storage
            .set_payment_code(account, &digest(code.expose()), now)
            .await
        {
            Ok(()) => return Ok(code),
            Err(WriteError::Duplicate) => {}
            Err(WriteError::Conflict) => {
                return Err(IssueCodeError::Storage(PortError::new(
                    "unexpected conflict storing a payment code",
                )));
            }
            Err(WriteError::Port(e)) => return Err(IssueCodeError::Storage(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use fake_providers::OsRandom;

    use super::*;

    #[test]
    fn codes_use_the_alphabet_and_differ() {
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            let code = generate(&OsRandom).unwrap();
            let text = code.expose();
            assert_eq!(text.chars().count(), LENGTH);
            assert!(text.bytes().all(|b| ALPHABET.contains(&b)), "{text}");
            assert!(seen.insert(text.to_owned()), "{text} came twice");
        }
        // No look-alikes in the alphabet, and no letter twice.
        for c in b"0O1Il" {
            assert!(!ALPHABET.contains(c));
        }
        let unique: HashSet<_> = ALPHABET.iter().collect();
        assert_eq!(unique.len(), ALPHABET.len());
    }

    /// A source that returns only bytes the sampler must reject, then a fixed byte.
    struct Biased(std::sync::atomic::AtomicUsize);

    impl Random for Biased {
        fn fill(&self, buf: &mut [u8]) -> Result<(), PortError> {
            let call = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            buf.fill(if call == 0 { 250 } else { 57 + 3 });
            Ok(())
        }
    }

    #[test]
    fn rejected_bytes_are_drawn_again() {
        let code = generate(&Biased(Default::default())).unwrap();
        // 60 % 57 = 3 → 'D'; the first fill (all ≥ 228) contributed nothing.
        assert_eq!(code.expose(), "DDDDDDDDDD");
    }

    #[test]
    fn the_digest_is_case_sensitive() {
        assert!(!digest("AbCdEfGhJk").ct_eq(&digest("abcdefghjk")));
        assert!(digest("AbCdEfGhJk").ct_eq(&digest("AbCdEfGhJk")));
    }
}
