//! Small cryptographic helpers over the [`Random`] port: opaque tokens, numeric one-time codes,
//! SHA-256 digests of secrets and constant-time comparison.
//!
//! Tokens carry 256 bits from the randomness port, so a fast hash is enough to store them
//! (OWASP ASVS 3.2.2, 3.5.2). One-time codes have only 20 bits; their protection is the
//! attempt limit and the short lifetime, and the digest is bound to the challenge so a stored
//! value cannot be replayed against another challenge.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ports::{PortError, Random};
use crate::secret::Secret;

/// A SHA-256 digest of a secret (session token, link token, one-time code). This is what
/// storage keeps; the secret itself is never stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SecretDigest([u8; 32]);

impl SecretDigest {
    /// Rebuilds a digest read back from storage.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes of the digest.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Compares two digests in constant time.
    pub fn ct_eq(&self, other: &Self) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// The digest of a bearer token (session token or emailed link token).
    pub fn of_token(token: &str) -> Self {
        Self::of_parts(&[b"abonent/token/v1", token.as_bytes()])
    }

    /// The digest of a one-time code bound to the challenge it was issued for.
    pub fn of_code(challenge: &[u8], code: &str) -> Self {
        Self::of_parts(&[b"abonent/code/v1", challenge, code.as_bytes()])
    }

    fn of_parts(parts: &[&[u8]]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            let len = u64::try_from(part.len()).unwrap_or(u64::MAX);
            hasher.update(len.to_be_bytes());
            hasher.update(part);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(&hasher.finalize());
        Self(out)
    }
}

impl fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretDigest({}…)", to_hex(&self.0[..4]))
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Parses exactly `N` bytes of lowercase hex.
pub(crate) fn from_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *slot = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// Draws `N` random bytes from the port.
pub(crate) fn random_bytes<const N: usize>(random: &dyn Random) -> Result<[u8; N], PortError> {
    let mut out = [0u8; N];
    random.fill(&mut out)?;
    Ok(out)
}

/// A new opaque bearer token: 32 random bytes (256 bits) as 64 hex characters, with its digest.
pub(crate) fn new_token(random: &dyn Random) -> Result<(Secret<String>, SecretDigest), PortError> {
    let token = to_hex(&random_bytes::<32>(random)?);
    let digest = SecretDigest::of_token(&token);
    Ok((Secret::new(token), digest))
}

/// A uniformly random numeric code of `digits` digits (leading zeros kept), by rejection
/// sampling so that no code is likelier than another. `digits` is clamped to 4..=9.
pub(crate) fn new_code(random: &dyn Random, digits: u8) -> Result<Secret<String>, PortError> {
    let digits = digits.clamp(4, 9);
    let modulus = 10u32.pow(u32::from(digits));
    // The largest multiple of `modulus` that fits in u32: values at or above it are redrawn.
    let zone = u32::MAX - (u32::MAX % modulus);
    for _ in 0..64 {
        let value = u32::from_be_bytes(random_bytes::<4>(random)?);
        if value < zone {
            let width = usize::from(digits);
            return Ok(Secret::new(format!("{:0width$}", value % modulus)));
        }
    }
    Err(PortError::new(
        "the random source returned out-of-range values 64 times in a row",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MockRandom;

    fn counting_random() -> MockRandom {
        let mut random = MockRandom::new();
        let mut next = 0u8;
        random.expect_fill().returning(move |buf| {
            for b in buf.iter_mut() {
                next = next.wrapping_add(37);
                *b = next;
            }
            Ok(())
        });
        random
    }

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 0x7f, 0x80, 0xff, 0x10, 0xab, 0xcd];
        assert_eq!(to_hex(&bytes), "00017f80ff10abcd");
        assert_eq!(from_hex::<8>("00017f80ff10abcd"), Some(bytes));
        assert_eq!(from_hex::<8>("00017F80FF10ABCD"), None);
        assert_eq!(from_hex::<2>("abc"), None);
    }

    #[test]
    fn tokens_have_256_bits_and_are_stored_as_digests() {
        let random = counting_random();
        let (first, first_digest) = new_token(&random).unwrap();
        let (second, _) = new_token(&random).unwrap();
        assert_eq!(first.expose().len(), 64);
        assert_ne!(first.expose(), second.expose());
        assert!(first_digest.ct_eq(&SecretDigest::of_token(first.expose())));
        assert!(!first_digest.ct_eq(&SecretDigest::of_token(second.expose())));
    }

    #[test]
    fn codes_have_the_requested_digits_and_bind_to_their_challenge() {
        let random = counting_random();
        for _ in 0..20 {
            let code = new_code(&random, 6).unwrap();
            assert_eq!(code.expose().len(), 6);
            assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
        }
        assert_ne!(
            SecretDigest::of_code(b"a", "123456"),
            SecretDigest::of_code(b"b", "123456")
        );
    }

    #[test]
    fn out_of_range_draws_are_rejected_not_folded() {
        let mut random = MockRandom::new();
        let mut calls = 0;
        random.expect_fill().returning(move |buf| {
            calls += 1;
            // First draw is u32::MAX (biased zone), second is 42.
            let value: u32 = if calls == 1 { u32::MAX } else { 42 };
            buf.copy_from_slice(&value.to_be_bytes());
            Ok(())
        });
        assert_eq!(new_code(&random, 6).unwrap().expose(), "000042");
    }

    #[test]
    fn a_failing_random_source_is_reported() {
        let mut random = MockRandom::new();
        random
            .expect_fill()
            .returning(|_| Err(PortError::new("entropy pool unavailable")));
        assert!(new_token(&random).is_err());
        assert!(new_code(&random, 6).is_err());
    }
}
