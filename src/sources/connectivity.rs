//! The connectivity check: a few independent canary URLs tell whether Sparky itself can reach
//! the internet. Any HTTP answer (even a 4xx) proves the network works; only transport failures
//! count. Sparky is offline when more than half the canaries fail.

use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::config::{ConnectivityConfig, HttpConfig, HttpUrl};
use crate::fetch::{FetchError, classify, client};

/// What the canaries say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Egress {
    /// Most canaries answered.
    Up,
    /// Most canaries failed: "URL: reason" of each failure.
    Down(Vec<String>),
    /// No canaries configured (`SPARKY_CANARY_URLS=`): the check is off.
    Off,
}

/// Probes the canaries.
#[derive(Debug, Clone)]
pub struct Connectivity {
    client: reqwest::Client,
    canaries: Vec<HttpUrl>,
    timeout: Duration,
}

impl Connectivity {
    /// A probe of `cfg.canaries` with `cfg.timeout` each, with the discipline of `http` (no
    /// redirects: any answer proves the network).
    pub fn new(cfg: &ConnectivityConfig, http: &HttpConfig) -> Result<Self, FetchError> {
        Ok(Self { client: client(http)?, canaries: cfg.canaries.clone(), timeout: cfg.timeout.get() })
    }

    /// Probes every canary at once and answers as soon as a majority has decided.
    pub async fn check(&self) -> Egress {
        if self.canaries.is_empty() {
            return Egress::Off;
        }
        let needed = self.canaries.len() / 2 + 1;
        let mut probes: FuturesUnordered<_> = self.canaries.iter().map(|url| self.probe(url)).collect();
        let (mut ok, mut failures) = (0, Vec::new());
        while let Some(result) = probes.next().await {
            match result {
                Ok(()) => ok += 1,
                Err(failure) => failures.push(failure),
            }
            if ok >= needed {
                return Egress::Up;
            }
            if failures.len() >= needed {
                return Egress::Down(failures);
            }
        }
        // An even count split in half: not "most failed".
        Egress::Up
    }

    async fn probe(&self, url: &HttpUrl) -> Result<(), String> {
        let request = self.client.head(url.url().clone()).timeout(self.timeout);
        request.send().await.map(|_| ()).map_err(|e| format!("{url}: {}", classify(&e, self.timeout)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(urls: &[String]) -> ConnectivityConfig {
        ConnectivityConfig { canaries: urls.iter().map(|u| u.parse().unwrap()).collect(), timeout: crate::config::Duration::from_secs(2) }
    }

    #[tokio::test]
    async fn egress_is_down_only_when_most_canaries_fail() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::any()).respond_with(wiremock::ResponseTemplate::new(404)).mount(&server).await;
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (up, down) = (server.uri(), format!("http://127.0.0.1:{closed}/"));
        let probe = |urls: Vec<String>| Connectivity::new(&config(&urls), &HttpConfig::default()).unwrap();
        assert_eq!(probe(vec![up.clone(), up.clone(), down.clone()]).check().await, Egress::Up, "a 404 proves the network");
        assert!(matches!(probe(vec![up.clone(), down.clone(), down.clone()]).check().await, Egress::Down(f) if f.len() == 2));
        assert_eq!(probe(vec![]).check().await, Egress::Off);
    }
}
