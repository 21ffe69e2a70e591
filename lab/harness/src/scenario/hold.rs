//! The `hold` step: let time pass with the faults in place. The only sleep in a scenario.

use std::time::Duration;

pub(super) async fn run(duration: Duration) {
    tokio::time::sleep(duration).await;
}
