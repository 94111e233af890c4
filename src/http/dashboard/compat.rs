//! `GET /compat` (`?partner=ID&team=NAME`): every detected upcoming version, its runs,
//! conclusions, failed jobs and steps, links to the run and the P2; and `GET /api/compat`
//! (`?partner=ID`), the runs as `{"detections": [Story ...]}`, the same JSON as `sparky compat
//! --json` (`compatibility::story`).

use axum::Json;
use axum::extract::{Query, State as Extract};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::view::{When, safe_link, when};
use super::{html, no_partner, unavailable};
use crate::compatibility::story::{Story, stories};
use crate::config::Config;
use crate::http::State;
use crate::model::Timestamp;
use crate::store::{Store, StoreError};

/// The template of `GET /compat`.
pub const TEMPLATE: &str = "dashboard/compat.html.j2";

/// `?partner=ID&team=NAME`.
#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    /// Only this partner.
    pub partner: Option<String>,
    /// Only the partners this team owns (`owner_team`).
    pub team: Option<String>,
}

/// The compatibility page.
#[derive(Debug, Clone, Serialize)]
pub struct Compat {
    /// When it was read.
    pub generated_at: When,
    /// The partner filter.
    pub partner: Option<String>,
    /// The team filter.
    pub team: Option<String>,
    /// Partners with `[compat]`: (id, name).
    pub partners: Vec<(String, String)>,
    /// Their owner teams.
    pub teams: Vec<String>,
    /// Detections, as `GET /api/compat` has them, with their partner's name, team and the
    /// Jira link of the P2.
    pub detections: Vec<Line>,
}

/// One detection.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// Partner name.
    pub partner_name: String,
    /// Owner team.
    pub team: Option<String>,
    /// The P2's Jira page.
    pub p2_url: Option<String>,
    /// The announcing entry's link, when a web link.
    pub entry_link: Option<String>,
    /// The detection.
    #[serde(flatten)]
    pub story: Story,
}

/// `GET /compat`.
pub async fn page(Extract(state): Extract<State>, Query(filter): Query<Filter>) -> Response {
    if let Some(p) = &filter.partner
        && state.config.partner(p).is_none()
    {
        return no_partner(p);
    }
    match read(&state.store, &state.config, &filter, Timestamp::now()).await {
        Ok(view) => html(&state.templates, TEMPLATE, &view),
        Err(e) => unavailable(&e),
    }
}

/// `GET /api/compat`: 200 with the stories; 404 for an unknown partner; 503 when the database
/// fails.
pub async fn api(Extract(state): Extract<State>, Query(filter): Query<Filter>) -> Response {
    if let Some(p) = &filter.partner
        && state.config.partner(p).is_none()
    {
        return no_partner(p);
    }
    match stories(&state.store, filter.partner.as_deref()).await {
        Ok(all) => Json(serde_json::json!({ "detections": all })).into_response(),
        Err(e) => unavailable(&e),
    }
}

/// The page at `now`.
///
/// # Errors
/// A query failed.
pub async fn read(store: &Store, config: &Config, filter: &Filter, now: Timestamp) -> Result<Compat, StoreError> {
    let with_compat: Vec<_> = config.partners.iter().filter(|p| p.compat.is_some()).collect();
    let mut teams: Vec<String> = with_compat.iter().filter_map(|p| p.owner_team.clone()).collect();
    teams.sort();
    teams.dedup();
    let jira = config.global.jira.base_url.as_ref().map(|b| b.as_str().trim_end_matches('/').to_owned());
    let detections = stories(store, filter.partner.as_deref())
        .await?
        .into_iter()
        .filter_map(|story| {
            let partner = config.partner(&story.partner)?;
            if filter.team.as_ref().is_some_and(|t| partner.owner_team.as_ref() != Some(t)) {
                return None;
            }
            let p2_url =
                story.p2.as_ref().and_then(|p| p.jira_key.as_ref()).zip(jira.as_ref()).map(|(k, base)| format!("{base}/browse/{k}"));
            Some(Line {
                partner_name: partner.name.clone(),
                team: partner.owner_team.clone(),
                p2_url,
                entry_link: safe_link(story.entry.link.as_deref()),
                story,
            })
        })
        .collect();
    Ok(Compat {
        generated_at: when(now, now),
        partner: filter.partner.clone(),
        team: filter.team.clone(),
        partners: with_compat.iter().map(|p| (p.id.to_string(), p.name.clone())).collect(),
        teams,
        detections,
    })
}
