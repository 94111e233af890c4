//! Rate limits on the public endpoints (`/status`, `/status/history.atom`,
//! `/api/v2/summary.json`, `/webhooks/github`): per client address, `[server]
//! public_requests_per_second` with a burst of twice that (governor's GCRA); over it, 429 with
//! `Retry-After` in whole seconds. The dashboard's own pages are for people inside the network
//! and are not limited.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The limiter shared by the public routes.
#[derive(Clone)]
pub struct PublicLimit(Arc<DefaultKeyedRateLimiter<IpAddr>>);

impl PublicLimit {
    /// `per_second` requests per client address, bursts of twice that.
    pub fn new(per_second: u32) -> Self {
        let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let burst = rate.saturating_mul(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN));
        Self(Arc::new(RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))))
    }
}

/// The middleware: the request goes on, or 429.
pub async fn public(State(limit): State<PublicLimit>, request: Request, next: Next) -> Response {
    let client = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let Some(client) = client else { return next.run(request).await };
    match limit.0.check_key(&client) {
        Ok(()) => next.run(request).await,
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now()).as_secs().max(1);
            (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, wait.to_string())], "too many requests: slow down\n").into_response()
        }
    }
}
