//! Password hashing off the request threads.
//!
//! Argon2id takes tens of milliseconds of CPU per hash by design. Run on the async workers, a
//! flood of logins would stall every other request; [`BlockingHasher`] runs each hash on
//! tokio's blocking pool and admits at most `workers` at a time (default: one less than the
//! cores, at least one), so the async workers keep serving reading submissions while logins
//! queue for a hashing slot.

use std::sync::Arc;

use identity_core::password::PasswordHash;
use identity_core::ports::{PasswordHasher, PortError};
use identity_core::secret::Secret;
use tokio::sync::Semaphore;

/// A [`PasswordHasher`] that runs another one on the blocking pool, `workers` at a time.
pub struct BlockingHasher {
    inner: Arc<dyn PasswordHasher>,
    permits: Arc<Semaphore>,
}

/// The default number of concurrent hashes: one less than the cores, at least one.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .saturating_sub(1)
        .max(1)
}

impl BlockingHasher {
    /// Wraps `inner`, allowing `workers` (at least one) hashes at a time.
    pub fn new(inner: Arc<dyn PasswordHasher>, workers: usize) -> Self {
        Self {
            inner,
            permits: Arc::new(Semaphore::new(workers.max(1))),
        }
    }

    async fn run<T, F>(&self, f: F) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<dyn PasswordHasher>) -> Result<T, PortError> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PortError::new("password hashing is shut down"))?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(inner))
            .await
            .map_err(|e| PortError::new(format!("password hashing task failed: {e}")))?
    }
}

#[async_trait::async_trait]
impl PasswordHasher for BlockingHasher {
    async fn hash(&self, password: &Secret<String>) -> Result<PasswordHash, PortError> {
        let password = password.clone();
        let handle = tokio::runtime::Handle::current();
        self.run(move |inner| handle.block_on(inner.hash(&password)))
            .await
    }

    async fn verify(
        &self,
        password: &Secret<String>,
        hash: &PasswordHash,
    ) -> Result<bool, PortError> {
        let password = password.clone();
        let hash = hash.clone();
        let handle = tokio::runtime::Handle::current();
        self.run(move |inner| handle.block_on(inner.verify(&password, &hash)))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Counts how many hashes run at once.
    struct Slow {
        running: AtomicUsize,
        peak: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl PasswordHasher for Slow {
        async fn hash(&self, _: &Secret<String>) -> Result<PasswordHash, PortError> {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            self.running.fetch_sub(1, Ordering::SeqCst);
            Ok(PasswordHash::from_phc(
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
            ))
        }
        async fn verify(&self, _: &Secret<String>, _: &PasswordHash) -> Result<bool, PortError> {
            Ok(true)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_workers_hashes_run_at_once() {
        let slow = Arc::new(Slow {
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        });
        let hasher = Arc::new(BlockingHasher::new(slow.clone(), 2));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let h = Arc::clone(&hasher);
            tasks.push(tokio::spawn(async move {
                h.hash(&Secret::new("пароль".to_owned())).await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(slow.peak.load(Ordering::SeqCst), 2);
    }
}
