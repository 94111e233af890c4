//! The response headers every page and API answer carries, so the server is safe to expose
//! inside a company network (OWASP Secure Headers): a Content Security Policy that allows no
//! script, no frame, no form target elsewhere, and styles and images only from the page itself
//! (inline `<style>` and SVG); `X-Content-Type-Options: nosniff`; frames refused
//! (`X-Frame-Options: DENY`, `frame-ancestors 'none'`); no referrer sent out; and a short cache
//! (`max-age=5`) on answers whose handler set no `Cache-Control` of its own.

use axum::http::{HeaderValue, header};
use axum::response::Response;

/// The Content Security Policy of every answer.
pub const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// How long a read-only answer may be cached, when its handler does not say.
pub const CACHE: &str = "private, max-age=5";

/// Adds the headers to `response` (an axum `map_response` layer).
pub async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static(CACHE));
    response
}
