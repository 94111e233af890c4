//! `GET /changelog` (every partner's entries, newest first, `?partner=ID&tag=TAG`), the same as
//! an Atom 1.0 feed at `GET /changelog.atom` (RFC 4287: one `<entry>` per changelog entry, the
//! partner as its first `<category>`, its tags as the others) and as JSON at `GET /api/changelog`.

use axum::Json;
use axum::extract::{Query, State as Extract};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::overview::{EntryRow, entry_row};
use super::view::{When, when};
use super::{html, no_partner, rendering_failed, unavailable};
use crate::config::Config;
use crate::http::State;
use crate::model::Timestamp;
use crate::store::{Store, StoreError, changelogs};

/// The template of `GET /changelog`.
pub const TEMPLATE: &str = "dashboard/changelog.html.j2";
/// The template of `GET /changelog.atom`.
pub const ATOM: &str = "dashboard/changelog.atom.xml.j2";
/// Entries read at most.
const LIMIT: i64 = 500;
/// The tags offered as filters (the shipped tag rules' words).
pub const TAGS: [&str; 4] = ["breaking", "deprecation", "beta", "security"];

/// `?partner=ID&tag=TAG`.
#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    /// Only this partner.
    pub partner: Option<String>,
    /// Only entries with this tag.
    pub tag: Option<String>,
}

/// The changelog page.
#[derive(Debug, Clone, Serialize)]
pub struct Changelog {
    /// When it was read.
    pub generated_at: When,
    /// The partner filter.
    pub partner: Option<String>,
    /// The tag filter.
    pub tag: Option<String>,
    /// Every partner: (id, name), for the filter.
    pub partners: Vec<(String, String)>,
    /// The filterable tags.
    pub tags: Vec<&'static str>,
    /// Entries, newest first.
    pub entries: Vec<Entry>,
}

/// One entry.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Partner id.
    pub partner: String,
    /// Partner name.
    pub partner_name: String,
    /// Stable Atom id (`urn:sparky:changelog:PARTNER:SHA256-OF-KEY`).
    pub atom_id: String,
    /// Its summary (the digest's text).
    pub summary: String,
    /// When (published, else the read time) for Atom's `updated`, RFC 3339.
    pub updated: String,
    /// Title, link, published, tags.
    #[serde(flatten)]
    pub row: EntryRow,
}

/// `GET /changelog`.
pub async fn page(Extract(state): Extract<State>, Query(filter): Query<Filter>) -> Response {
    respond(&state, &filter, |view| html(&state.templates, TEMPLATE, view)).await
}

/// `GET /api/changelog`.
pub async fn api(Extract(state): Extract<State>, Query(filter): Query<Filter>) -> Response {
    respond(&state, &filter, |view| Json(view).into_response()).await
}

/// `GET /changelog.atom`.
pub async fn atom(Extract(state): Extract<State>, Query(filter): Query<Filter>) -> Response {
    respond(&state, &filter, |view| match state.templates.render(ATOM, view) {
        Ok(xml) => ([(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")], xml).into_response(),
        Err(e) => rendering_failed(&e),
    })
    .await
}

async fn respond(state: &State, filter: &Filter, answer: impl FnOnce(&Changelog) -> Response) -> Response {
    if let Some(p) = &filter.partner
        && state.config.partner(p).is_none()
    {
        return no_partner(p);
    }
    match read(&state.store, &state.config, filter, Timestamp::now()).await {
        Ok(view) => answer(&view),
        Err(e) => unavailable(&e),
    }
}

/// The changelog at `now`, filtered.
///
/// # Errors
/// A query failed.
pub async fn read(store: &Store, config: &Config, filter: &Filter, now: Timestamp) -> Result<Changelog, StoreError> {
    let names = |id: &str| config.partner(id).map_or_else(|| id.to_owned(), |p| p.name.clone());
    let entries = changelogs::recent(store, filter.partner.as_deref(), LIMIT)
        .await?
        .into_iter()
        .filter(|(_, e)| filter.tag.as_ref().is_none_or(|t| e.tags.iter().any(|x| x == t)))
        .map(|(partner, e)| Entry {
            atom_id: format!("urn:sparky:changelog:{partner}:{}", hex::encode(Sha256::digest(e.key.as_bytes()))),
            partner_name: names(&partner),
            summary: e.summary.clone(),
            updated: e.published_at.unwrap_or(now).to_rfc3339_seconds(),
            row: entry_row(&e, now),
            partner,
        })
        .collect();
    Ok(Changelog {
        generated_at: when(now, now),
        partner: filter.partner.clone(),
        tag: filter.tag.clone(),
        partners: config.partners.iter().map(|p| (p.id.to_string(), p.name.clone())).collect(),
        tags: TAGS.to_vec(),
        entries,
    })
}
