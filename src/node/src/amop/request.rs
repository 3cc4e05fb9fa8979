//! A request's way to one subscriber: tried on the candidates in turn (rotating, so load
//! spreads), each until it answers, says it has no subscriber, or its path fails (the
//! subscriber left, or its node went silent: dead or cut off); then the next candidate.
//! The caller gets the answer, or a clear error once every candidate failed or the
//! timeout passed. Never silently lost.

use super::private::random_b256;
use super::router::{Reply, Router, Target};
use bcos_rpc::ApiError;
use bcos_types::Bytes;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a waiting request checks that its path still stands.
pub const AMOP_PATH_CHECK_MS: u64 = 100;

pub async fn request(
    router: Arc<Router>,
    topic: String,
    data: Bytes,
    timeout: Duration,
) -> Result<Bytes, ApiError> {
    let deadline = Instant::now() + timeout;
    let mut tried: BTreeSet<Target> = BTreeSet::new();
    router.counters.requests.fetch_add(1, Relaxed);
    loop {
        let Some(target) = router.targets(&topic, &tried).into_iter().next() else {
            return Err(ApiError::Unavailable(if tried.is_empty() {
                format!("no subscriber of AMOP topic {topic:?} is reachable")
            } else {
                format!(
                    "every subscriber of AMOP topic {topic:?} failed or went away ({} tried)",
                    tried.len()
                )
            }));
        };
        if !tried.is_empty() {
            router.counters.retries.fetch_add(1, Relaxed);
        }
        tried.insert(target);
        let id = random_b256();
        let Some(mut rx) = router.send_request(target, id, &topic, &data)? else {
            continue;
        };
        loop {
            let now = Instant::now();
            if now >= deadline {
                router.forget(id);
                router.counters.timeouts.fetch_add(1, Relaxed);
                return Err(ApiError::Unavailable(format!(
                    "AMOP request to {topic:?} timed out after {} ms",
                    timeout.as_millis()
                )));
            }
            let wait = (deadline - now).min(Duration::from_millis(AMOP_PATH_CHECK_MS));
            match tokio::time::timeout(wait, &mut rx).await {
                Ok(Ok(Reply::Data(answer))) => return Ok(answer),
                // No subscriber there after all: the next candidate.
                Ok(Ok(Reply::NoSubscriber)) | Ok(Err(_)) => break,
                Err(_) if !router.alive(target, &topic) => {
                    tracing::debug!(%topic, ?target, "AMOP path failed; trying another subscriber");
                    break;
                }
                Err(_) => {}
            }
        }
        router.forget(id);
    }
}
