//! [`OsRandom`]: the operating system's cryptographically secure random source (`getrandom`),
//! as `identity_core::ports::Random`.

use identity_core::ports::{PortError, Random};

/// The operating system's CSPRNG (`getrandom`: `getrandom(2)` on Linux). Suitable for secrets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), PortError> {
        getrandom::fill(buf)
            .map_err(|e| PortError::new(format!("the operating system's random source: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn fills_buffers_with_distinct_random_bytes() {
        let random = OsRandom;
        let mut seen = HashSet::new();
        for _ in 0..100 {
            let mut buf = [0u8; 16];
            random.fill(&mut buf).unwrap();
            assert!(seen.insert(buf), "a 128-bit value came twice");
        }
        // An empty buffer is fine, and a large one is filled (not left zero).
        random.fill(&mut []).unwrap();
        let mut big = vec![0u8; 4096];
        random.fill(&mut big).unwrap();
        assert!(big.iter().filter(|b| **b == 0).count() < 100);
    }

    #[test]
    fn can_be_held_as_the_identity_port() {
        let random: std::sync::Arc<dyn Random> = std::sync::Arc::new(OsRandom);
        let mut buf = [0u8; 8];
        random.fill(&mut buf).unwrap();
    }
}
