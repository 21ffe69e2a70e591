//! Bounded polling: every wait in the lab has a deadline and, when it gives up, says what it
//! waited for and what it saw last.

use std::future::Future;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
#[error("gave up after {waited:.1?} waiting for {what} (last seen: {last})")]
pub struct WaitError {
    pub what: String,
    pub waited: Duration,
    pub last: String,
}

/// Polls `probe` every `interval` until it returns `Ok(value)`, or fails with the last `Err`
/// text once `deadline` has passed.
pub async fn until<T, F, Fut>(what: &str, deadline: Duration, interval: Duration, mut probe: F) -> Result<T, WaitError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let started = Instant::now();
    loop {
        let last = match tokio::time::timeout(deadline.saturating_sub(started.elapsed()), probe()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(seen)) => seen,
            Err(_) => "the probe itself did not return in time".to_string(),
        };
        if started.elapsed() + interval > deadline {
            return Err(WaitError { what: what.to_string(), waited: started.elapsed(), last });
        }
        tokio::time::sleep(interval).await;
    }
}
