//! `POST /webhooks/github` on the daemon (issue 13, item 3): a `workflow_run` delivery signed
//! with `X-Hub-Signature-256` hurries the next poll of the run it names (the daemon then reads
//! the run from the API, the source of truth); unsigned or badly signed deliveries get 401, a
//! replayed `X-GitHub-Delivery` is ignored, a 30 MB body is refused with 413 on its headers
//! alone (and a streamed one as soon as it passes 1 MiB), without a configured secret every
//! delivery is refused; each outcome is counted in `sparky_webhook_requests_total`.
//!
//! The payload is GitHub's real `workflow_run` event (`../shared/fixtures/github/`), its run id
//! set to the run Sparky dispatched; the signature is computed here with `hmac`, as GitHub does.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use common::fake_feeds::{FakeFeeds, Served, rss};
use common::fake_github::{Answer, FakeGitHub, fixture};
use common::{Daemon, Db, Sparky, eventually};
use hmac::{Hmac, Mac};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "whsec-compat-0123456789";
const TOKEN: &str = "github_pat_11AAwebhookTest0123456789";

struct Env {
    github: FakeGitHub,
    daemon: Daemon,
    _feeds: FakeFeeds,
    _sparky: Sparky,
    run_id: i64,
}

/// A daemon following one dispatched run (polls an hour apart: only a webhook hurries one).
async fn env(secret: Option<&str>) -> Env {
    let github = FakeGitHub::start(TOKEN, Answer::Details).await;
    let feeds = FakeFeeds::start().await;
    let beta = ("b1", "Beta: Orders API v2.1", "Tue, 06 Oct 2026 10:00:00 GMT", "<p>Try it.</p>");
    let feed = feeds.serve("/acme.xml", Served::Body(rss(&[beta]), "application/rss+xml"));
    let mut sparky = Sparky::new(Db::Sqlite).env("GITHUB_TOKEN", TOKEN).env("GITHUB_API_URL", &github.url());
    if let Some(s) = secret {
        sparky = sparky.env("GITHUB_WEBHOOK_SECRET", s);
    }
    sparky.write("sparky.toml", "[schedules]\ncompat = \"1h\"\n[http]\nretries = 0\n");
    sparky.write(
        "partners/acme.toml",
        &format!("id = \"acme\"\nname = \"Acme\"\n[[feeds]]\nurl = \"{feed}\"\n[compat]\nrepository = \"acme/compat\"\nworkflow = \"compat.yml\"\n"),
    );
    sparky.changelogs().await;
    let run_id = github.runs()[0].id;
    let daemon = sparky.boot().await;
    Env { github, daemon, _feeds: feeds, _sparky: sparky, run_id }
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// GitHub's `workflow_run` completed event, about run `id`.
fn event(id: i64, attempt: i64) -> Vec<u8> {
    let mut e = fixture("webhook_workflow_run_completed.json");
    e["workflow_run"]["id"] = serde_json::json!(id);
    e["workflow_run"]["run_attempt"] = serde_json::json!(attempt);
    serde_json::to_vec(&e).unwrap()
}

impl Env {
    async fn post(&self, event: &str, delivery: &str, signature: Option<&str>, body: Vec<u8>) -> (u16, serde_json::Value) {
        let mut request = reqwest::Client::new()
            .post(format!("{}/webhooks/github", self.daemon.base))
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header("x-github-delivery", delivery)
            .body(body);
        if let Some(s) = signature {
            request = request.header("x-hub-signature-256", s);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    fn run_reads(&self) -> usize {
        self.github.requests_to("GET", &format!("/actions/runs/{}", self.run_id)).len()
    }

    async fn counted(&self, outcome: &str) -> u64 {
        let (_, metrics) = self.daemon.get("/metrics").await;
        let line = format!("sparky_webhook_requests_total{{outcome=\"{outcome}\"}} ");
        metrics.lines().find_map(|l| l.strip_prefix(&line)).and_then(|v| v.trim().parse().ok()).unwrap_or_else(|| panic!("no {line}"))
    }
}

/// Sends `head` (and `body`) on a raw connection and reads the answer's status line.
async fn raw(base: &str, head: &str, body: &[u8]) -> String {
    let mut conn = tokio::net::TcpStream::connect(base.trim_start_matches("http://")).await.unwrap();
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(body).await.unwrap();
    let mut answer = vec![0; 512];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), conn.read(&mut answer)).await.expect("answered").unwrap();
    String::from_utf8_lossy(&answer[..n]).lines().next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_workflow_run_delivery_hurries_the_poll_and_everything_else_is_refused_or_ignored() {
    let env = env(Some(SECRET)).await;
    let before = env.run_reads();
    let body = event(env.run_id, 1);

    let (status, answer) = env.post("workflow_run", "d-1", Some(&sign(&body)), body.clone()).await;
    assert_eq!((status, answer["outcome"].as_str()), (202, Some("accepted")), "{answer}");
    assert!(eventually(10, || env.run_reads() > before).await, "the hurried poll reads the run from the API");

    let (status, answer) = env.post("workflow_run", "d-1", Some(&sign(&body)), body.clone()).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("replayed")), "a replayed delivery is ignored: {answer}");

    let (status, _) = env.post("workflow_run", "d-2", None, body.clone()).await;
    assert_eq!(status, 401, "unsigned");
    let (status, _) = env.post("workflow_run", "d-3", Some(&sign(b"another body")), body.clone()).await;
    assert_eq!(status, 401, "signed for another body");
    let wrong = Hmac::<sha2::Sha256>::new_from_slice(b"not the secret").unwrap().chain_update(&body).finalize().into_bytes();
    let (status, _) = env.post("workflow_run", "d-4", Some(&format!("sha256={}", hex::encode(wrong))), body.clone()).await;
    assert_eq!(status, 401, "signed with another secret");

    let ping = br#"{"zen": "Keep it logically awesome.", "hook_id": 1}"#.to_vec();
    let (status, answer) = env.post("ping", "d-5", Some(&sign(&ping)), ping).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("ignored")));
    let garbage = b"not json".to_vec();
    let (status, _) = env.post("workflow_run", "d-6", Some(&sign(&garbage)), garbage).await;
    assert_eq!(status, 400);

    // 30 MB announced: refused on the headers, before a byte of the body is sent.
    let head = format!(
        "POST /webhooks/github HTTP/1.1\r\nHost: sparky\r\nContent-Type: application/json\r\nX-GitHub-Event: workflow_run\r\nX-GitHub-Delivery: d-7\r\nX-Hub-Signature-256: sha256=00\r\nContent-Length: {}\r\n\r\n",
        30 * 1024 * 1024
    );
    assert_eq!(raw(&env.daemon.base, &head, b"").await, "HTTP/1.1 413 Payload Too Large");
    // Streamed without a length: refused as soon as it passes 1 MiB.
    let head = "POST /webhooks/github HTTP/1.1\r\nHost: sparky\r\nContent-Type: application/json\r\nX-GitHub-Event: workflow_run\r\nX-GitHub-Delivery: d-8\r\nX-Hub-Signature-256: sha256=00\r\nTransfer-Encoding: chunked\r\n\r\n";
    let chunk = [format!("{:x}\r\n", 64 * 1024).into_bytes(), vec![b'x'; 64 * 1024], b"\r\n".to_vec()].concat();
    let body: Vec<u8> = chunk.iter().copied().cycle().take(chunk.len() * 17).collect();
    assert_eq!(raw(&env.daemon.base, head, &body).await, "HTTP/1.1 413 Payload Too Large");

    for (outcome, n) in
        [("accepted", 1), ("replayed", 1), ("unsigned", 1), ("bad_signature", 2), ("ignored", 1), ("malformed", 1), ("too_large", 2)]
    {
        assert_eq!(env.counted(outcome).await, n, "{outcome}");
    }
    assert_eq!(env.github.violations(), Vec::<String>::new());
    env.daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_secret_every_delivery_is_refused() {
    let env = env(None).await;
    let body = event(env.run_id, 1);
    let (status, answer) = env.post("workflow_run", "n-1", Some(&sign(&body)), body).await;
    assert_eq!(status, 401);
    assert!(answer["detail"].as_str().unwrap().contains("GITHUB_WEBHOOK_SECRET"), "{answer}");
    assert!(env.counted("no_secret").await >= 1);
    env.daemon.stop().await;
}
