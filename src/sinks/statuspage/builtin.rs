//! Sparky's built-in public status page as a sink: our components (one per partner) and
//! incidents kept in the database ([`crate::store::public_status`]), served on `/status` and
//! `/api/v2/summary.json` by the HTTP server. Every write is idempotent, so there is never an
//! earlier attempt to look for.

use crate::model::Timestamp;
use crate::outbox::statuspage::{IncidentStatus, StatuspageAction};
use crate::outbox::{Action, Attempt, Delivered, DeliveryError, Sink};
use crate::store::public_status::{self as table, Affected, NewIncident};
use crate::store::{Store, StoreError};

/// Keeps our public components and incidents in the database.
pub struct BuiltinStatusPage {
    store: Store,
}

impl BuiltinStatusPage {
    /// The page stored in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Applies one action; the remote id is the partner id (component) or our incident key.
    pub async fn apply(&self, action: &StatuspageAction) -> Result<Delivered, DeliveryError> {
        let now = Timestamp::now();
        let retry = |e: StoreError| DeliveryError::retry(format!("built-in status page: {e}"));
        match action {
            StatuspageAction::Component(c) => {
                table::set_component(&self.store, c.partner.as_str(), &c.name, c.status, now).await.map_err(retry)?;
                Ok(Delivered::with_id(c.partner.as_str()))
            }
            StatuspageAction::OpenIncident { incident, name, body, status, components, impact } => {
                let affected: Vec<Affected> = components
                    .iter()
                    .map(|c| Affected { partner: c.partner.to_string(), name: c.name.clone(), status: c.status })
                    .collect();
                let new = NewIncident { key: incident, name, body, status: *status, components: &affected, impact: *impact, at: now };
                table::open_incident(&self.store, &new).await.map_err(retry)?;
                Ok(Delivered::with_id(incident.as_str()))
            }
            StatuspageAction::UpdateIncident { incident, body, status } => self.update(incident, body, *status, now).await,
            StatuspageAction::ResolveIncident { incident, body } => self.update(incident, body, IncidentStatus::Resolved, now).await,
        }
    }

    async fn update(&self, key: &str, body: &str, status: IncidentStatus, now: Timestamp) -> Result<Delivered, DeliveryError> {
        match table::append_update(&self.store, key, body, status, now).await {
            Ok(true) => Ok(Delivered::with_id(key)),
            Ok(false) => Err(DeliveryError::retry(format!("built-in status page: incident `{key}` not opened yet"))),
            Err(e) => Err(DeliveryError::retry(format!("built-in status page: {e}"))),
        }
    }
}

#[async_trait::async_trait]
impl Sink for BuiltinStatusPage {
    async fn find_earlier(&self, _: &Action, _: &Attempt) -> Result<Option<Delivered>, DeliveryError> {
        Ok(None)
    }

    async fn deliver(&self, action: &Action, _: &Attempt) -> Result<Delivered, DeliveryError> {
        let Action::Statuspage(action) = action else {
            return Err(DeliveryError::permanent(format!("the built-in status page cannot deliver a {} action", action.sink())));
        };
        self.apply(action).await
    }
}
