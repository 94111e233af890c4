//! Partner feeds on loopback: bodies that tests change between runs, with `ETag` and 304.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// What a path serves.
#[derive(Debug, Clone)]
#[allow(dead_code)]
pub enum Served {
    /// A body with its content type; `ETag` is derived from the body.
    Body(String, &'static str),
    /// An HTTP status with a short body.
    Status(u16),
    /// Nothing until the client gives up.
    Hang,
    /// A body sent gzip-compressed (`Content-Encoding: gzip`).
    Gzip(String, &'static str),
}

/// The fake partner web server.
pub struct FakeFeeds {
    pub server: MockServer,
    served: Arc<Mutex<HashMap<String, Served>>>,
}

struct Responder(Arc<Mutex<HashMap<String, Served>>>);

fn etag(body: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    format!("\"{:x}\"", h.finish())
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let served = self.0.lock().unwrap().get(request.url.path()).cloned();
        match served {
            Some(Served::Body(body, content_type)) => {
                let tag = etag(&body);
                let if_none_match = request.headers.get("if-none-match").and_then(|v| v.to_str().ok());
                if if_none_match == Some(tag.as_str()) {
                    return ResponseTemplate::new(304).insert_header("ETag", tag.as_str());
                }
                ResponseTemplate::new(200).insert_header("ETag", tag.as_str()).set_body_raw(body.into_bytes(), content_type)
            }
            Some(Served::Status(code)) => ResponseTemplate::new(code).set_body_string("error"),
            Some(Served::Hang) => ResponseTemplate::new(200).set_delay(Duration::from_secs(600)),
            Some(Served::Gzip(body, content_type)) => {
                use std::io::Write;
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                encoder.write_all(body.as_bytes()).unwrap();
                ResponseTemplate::new(200).insert_header("Content-Encoding", "gzip").set_body_raw(encoder.finish().unwrap(), content_type)
            }
            None => ResponseTemplate::new(404),
        }
    }
}

#[allow(dead_code)]
impl FakeFeeds {
    /// Starts an empty server (404 everywhere).
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let served = Arc::new(Mutex::new(HashMap::new()));
        Mock::given(wiremock::matchers::any()).respond_with(Responder(served.clone())).mount(&server).await;
        Self { server, served }
    }

    /// Serves `what` at `path`; returns the full URL.
    pub fn serve(&self, path: &str, what: Served) -> String {
        self.served.lock().unwrap().insert(path.to_owned(), what);
        format!("{}{path}", self.server.uri())
    }

    /// Requests received for `path`.
    pub async fn requests(&self, path: &str) -> Vec<Request> {
        self.server.received_requests().await.unwrap_or_default().into_iter().filter(|r| r.url.path() == path).collect()
    }
}

/// An RSS 2.0 feed of `items`: (guid, title, RFC 2822 date, HTML description).
#[allow(dead_code)]
pub fn rss(items: &[(&str, &str, &str, &str)]) -> String {
    let items: String = items
        .iter()
        .map(|(guid, title, date, html)| {
            format!(
                "<item><title>{title}</title><guid isPermaLink=\"false\">{guid}</guid><link>https://partner.test/changelog/{guid}</link><pubDate>{date}</pubDate><description><![CDATA[{html}]]></description></item>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Partner changelog</title><link>https://partner.test/</link><description>d</description>{items}</channel></rss>"
    )
}
