//! The Atlassian Statuspage REST API client (manage API v1, `Authorization: OAuth KEY`), under
//! `{api_url}/pages/{page_id}/`:
//!
//! - a component's status: `PATCH components/{component_id}` `{"component": {"status"}}`;
//! - an incident: `POST incidents` `{"incident": {"name", "status", "body", "component_ids",
//!   "components": {id: status}, "metadata": {"sparky": {"incident": KEY}}}}`; its id is kept in
//!   `remote_ids` (sink `statuspage`). When an earlier attempt may have reached Statuspage, the
//!   unresolved incidents (`GET incidents/unresolved`) are searched for our key in `metadata`
//!   first, so an incident is created once;
//! - an update or resolution: `PATCH incidents/{id}` `{"incident": {"status", "body", "metadata":
//!   {"sparky": {"incident": KEY, "update": ACTION_KEY}}}}`: the marker of the latest update rides
//!   in the same request as the update, so after an uncertain attempt `GET incidents/{id}` tells
//!   whether it landed (updates of one incident go out one after the other, so the latest marker
//!   is the only one to look for) and customers never read the same update twice.

use serde_json::{Map, Value, json};
use url::Url;

use crate::config::{HttpConfig, Secret, StatuspageConfig};
use crate::model::Indicator;
use crate::outbox::statuspage::{IncidentStatus, PublicComponent, StatuspageAction};
use crate::outbox::{Action, Attempt, Delivered, DeliveryError, Sink};
use crate::sinks::http::SinkHttp;
use crate::store::{Store, remote_ids};

/// Sink name in `remote_ids`.
const SINK: &str = "statuspage";
/// Statuspage's limit on an incident name, in characters.
const MAX_NAME: usize = 255;
/// Statuspage's limit on an update body, in characters.
const MAX_BODY: usize = 25_000;
/// Pages of unresolved incidents read when looking for an earlier attempt.
const UNRESOLVED_PAGES: u32 = 5;
/// Incidents per page of that look-up.
const PER_PAGE: u32 = 100;

/// Updates components and incidents of our Statuspage page.
pub struct StatuspageSink {
    http: SinkHttp,
    /// `{api_url}/pages/{page_id}`.
    page: Url,
    api_key: Secret,
    store: Store,
}

impl StatuspageSink {
    /// A sink for the page of `cfg` (which `is_configured`), with the discipline of `http`.
    pub fn new(cfg: &StatuspageConfig, http: &HttpConfig, store: Store) -> Result<Self, DeliveryError> {
        let (Some(api_key), Some(page_id)) = (cfg.api_key.as_ref(), cfg.page_id.as_deref()) else {
            return Err(DeliveryError::permanent("Statuspage: STATUSPAGE_API_KEY and STATUSPAGE_PAGE_ID are needed"));
        };
        let http = SinkHttp::new("Statuspage", http, cfg.timeout.get())?;
        let mut page = cfg.api_url.url().clone();
        page.path_segments_mut()
            .map_err(|()| DeliveryError::permanent(format!("Statuspage: `{}` cannot be a base URL", cfg.api_url)))?
            .pop_if_empty()
            .extend(["pages", page_id]);
        Ok(Self { http, page, api_key: api_key.clone(), store })
    }

    /// Delivers one action.
    async fn send(&self, action: &StatuspageAction, attempt: &Attempt) -> Result<Delivered, DeliveryError> {
        match action {
            StatuspageAction::Component(component) => self.component(component, attempt).await,
            StatuspageAction::OpenIncident { incident, name, body, status, components, impact } => {
                self.open(incident, Opening { name, body, status: *status, components, impact: *impact }).await
            }
            StatuspageAction::UpdateIncident { incident, body, status } => self.update(incident, body, *status, &attempt.key).await,
            StatuspageAction::ResolveIncident { incident, body } => {
                self.update(incident, body, IncidentStatus::Resolved, &attempt.key).await
            }
        }
    }

    async fn component(&self, component: &PublicComponent, attempt: &Attempt) -> Result<Delivered, DeliveryError> {
        let Some(id) = component.component_id.as_deref().filter(|id| !id.is_empty()) else {
            tracing::info!(
                action = attempt.action_id,
                partner = %component.partner,
                status = component.status.as_str(),
                "Statuspage component update skipped: the partner has no [public_status] component_id, nothing to update"
            );
            return Ok(Delivered { remote_id: None });
        };
        let url = self.url(&["components", id]);
        let body = json!({"component": {"status": component.status.as_str()}});
        self.call(self.http.client().patch(url).json(&body)).await?;
        Ok(Delivered::with_id(id))
    }

    async fn open(&self, key: &str, opening: Opening<'_>) -> Result<Delivered, DeliveryError> {
        if let Some(id) = self.remembered(key).await? {
            return Ok(Delivered::with_id(id));
        }
        let request = incident_body(key, &opening);
        let answer = self.call(self.http.client().post(self.url(&["incidents"])).json(&request)).await?;
        let Some(id) = answer.get("id").and_then(Value::as_str).filter(|id| !id.is_empty()) else {
            // Created, but without its id: the next attempt finds it by metadata.
            return Err(DeliveryError::retry("Statuspage created the incident but its answer carries no id"));
        };
        self.remember(key, id).await?;
        Ok(Delivered::with_id(id))
    }

    async fn update(&self, key: &str, body: &str, status: IncidentStatus, marker: &str) -> Result<Delivered, DeliveryError> {
        let id = self.opened(key).await?;
        let metadata = json!({"sparky": {"incident": key, "update": marker}});
        let request = json!({"incident": {"status": status.as_str(), "body": truncate(body, MAX_BODY), "metadata": metadata}});
        self.call(self.http.client().patch(self.url(&["incidents", &id])).json(&request)).await?;
        Ok(Delivered::with_id(id))
    }

    /// The Statuspage id of our incident `key`; a retry while it is not opened yet.
    async fn opened(&self, key: &str) -> Result<String, DeliveryError> {
        self.remembered(key).await?.ok_or_else(|| DeliveryError::retry(format!("Statuspage incident `{key}` not opened yet")))
    }

    /// Whether the update marked `marker` is the incident's latest (`GET incidents/{id}`).
    async fn updated(&self, key: &str, marker: &str) -> Result<Option<Delivered>, DeliveryError> {
        let id = self.opened(key).await?;
        let incident = self.call(self.http.client().get(self.url(&["incidents", &id]))).await?;
        Ok((incident["metadata"]["sparky"]["update"].as_str() == Some(marker)).then(|| Delivered::with_id(id)))
    }

    /// The id of an unresolved incident carrying `key` in `metadata.sparky.incident`.
    async fn find_by_metadata(&self, key: &str) -> Result<Option<String>, DeliveryError> {
        for page in 1..=UNRESOLVED_PAGES {
            let mut url = self.url(&["incidents", "unresolved"]);
            url.query_pairs_mut().append_pair("page", &page.to_string()).append_pair("per_page", &PER_PAGE.to_string());
            let answer = self.call(self.http.client().get(url)).await?;
            let incidents = answer.as_array().map(Vec::as_slice).unwrap_or_default();
            if let Some(found) = incidents.iter().find(|i| i["metadata"]["sparky"]["incident"].as_str() == Some(key)) {
                return Ok(found["id"].as_str().map(str::to_owned));
            }
            if incidents.len() < PER_PAGE as usize {
                break;
            }
        }
        Ok(None)
    }

    async fn remembered(&self, key: &str) -> Result<Option<String>, DeliveryError> {
        remote_ids::get(&self.store, SINK, key)
            .await
            .map_err(|e| DeliveryError::retry(format!("cannot read the Statuspage incident id: {e}")))
    }

    async fn remember(&self, key: &str, id: &str) -> Result<(), DeliveryError> {
        remote_ids::put(&self.store, SINK, key, id)
            .await
            .map_err(|e| DeliveryError::retry(format!("Statuspage incident {id} created, but its id cannot be recorded: {e}")))
    }

    /// `{page}/{segments...}`, each segment escaped.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.page.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.extend(segments);
        }
        url
    }

    /// Sends with the API key; the answer's JSON.
    async fn call(&self, request: reqwest::RequestBuilder) -> Result<Value, DeliveryError> {
        let request = request.header(reqwest::header::AUTHORIZATION, format!("OAuth {}", self.api_key.expose()));
        self.http.send(request).await.map(|answer| answer.json).map_err(|e| e.redact(self.api_key.expose()))
    }
}

#[async_trait::async_trait]
impl Sink for StatuspageSink {
    /// An incident created by an earlier attempt is found by the key in its metadata; the other
    /// actions set a state, which setting again leaves as it is.
    async fn find_earlier(&self, action: &Action, attempt: &Attempt) -> Result<Option<Delivered>, DeliveryError> {
        let incident = match action {
            Action::Statuspage(StatuspageAction::OpenIncident { incident, .. }) => incident,
            Action::Statuspage(StatuspageAction::UpdateIncident { incident, .. } | StatuspageAction::ResolveIncident { incident, .. }) => {
                return self.updated(incident, &attempt.key).await;
            }
            _ => return Ok(None),
        };
        if let Some(id) = self.remembered(incident).await? {
            return Ok(Some(Delivered::with_id(id)));
        }
        let Some(id) = self.find_by_metadata(incident).await? else { return Ok(None) };
        self.remember(incident, &id).await?;
        Ok(Some(Delivered::with_id(id)))
    }

    async fn deliver(&self, action: &Action, attempt: &Attempt) -> Result<Delivered, DeliveryError> {
        let Action::Statuspage(action) = action else {
            return Err(DeliveryError::permanent(format!("the Statuspage sink cannot deliver a {} action", action.sink())));
        };
        self.send(action, attempt).await
    }
}

/// The `POST incidents` body: the affected components with a Statuspage id, and our key in
/// `metadata` (every top-level metadata value must be an object).
/// The parts of an `OpenIncident` action.
struct Opening<'a> {
    name: &'a str,
    body: &'a str,
    status: IncidentStatus,
    components: &'a [PublicComponent],
    impact: Option<Indicator>,
}

/// The body of `POST /v1/pages/{page_id}/incidents` (Statuspage manage API, "Create an
/// incident"): `impact_override` mirrors the partner's impact when we know it.
fn incident_body(key: &str, o: &Opening<'_>) -> Value {
    let with_id: Vec<(&str, &str)> = o
        .components
        .iter()
        .filter_map(|c| c.component_id.as_deref().filter(|id| !id.is_empty()).map(|id| (id, c.status.as_str())))
        .collect();
    let ids: Vec<&str> = with_id.iter().map(|(id, _)| *id).collect();
    let statuses: Map<String, Value> = with_id.iter().map(|(id, status)| ((*id).to_owned(), Value::String((*status).to_owned()))).collect();
    let mut incident = json!({
        "name": truncate(o.name, MAX_NAME),
        "status": o.status.as_str(),
        "body": truncate(o.body, MAX_BODY),
        "component_ids": ids,
        "components": statuses,
        "metadata": {"sparky": {"incident": key}},
    });
    if let Some(impact) = o.impact.filter(|i| *i != Indicator::Unknown) {
        incident["impact_override"] = Value::String(impact.as_str().to_owned());
    }
    json!({ "incident": incident })
}

/// At most `max` characters, an ellipsis marking a cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
