//! Bounded polling: every wait in the lab has a deadline and, when it gives up, says what it
//! waited for and what it saw last.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often the lab's waits look (`Timing::poll`, the same in every profile).
pub use arcus_facts::timing::POLL;

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
    let mut last = String::from("nothing yet");
    loop {
        match tokio::time::timeout(deadline.saturating_sub(started.elapsed()), probe()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(seen)) => last = seen,
            // keep what the previous probe saw: it says more than the cut-off does
            Err(_) => last = format!("{last}; then a probe did not return before the deadline"),
        }
        if started.elapsed() + interval > deadline {
            return Err(WaitError { what: what.to_string(), waited: started.elapsed(), last });
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn giving_up_names_the_wait_and_what_was_seen_last() {
        let mut calls = 0;
        let err = until("the answer", Duration::from_millis(300), Duration::from_millis(10), || {
            calls += 1;
            let call = calls;
            async move {
                if call < 3 {
                    Err::<(), _>(format!("call {call} saw 41"))
                } else {
                    std::future::pending().await // a probe that hangs past the deadline
                }
            }
        })
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("the answer") && text.contains("call 2 saw 41"), "{text}");
    }

    #[tokio::test]
    async fn a_probe_that_succeeds_ends_the_wait() {
        let value =
            until("a value", Duration::from_secs(1), Duration::from_millis(1), || async { Ok::<_, String>(7) }).await;
        assert_eq!(value.unwrap(), 7);
    }
}
