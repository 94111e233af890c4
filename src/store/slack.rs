//! Table `slack_channels`: channel names resolved to ids, learnt from Slack's answers.

use sqlx::Row;

use super::{Store, StoreError};

/// The id of channel `name`, when Slack told us before.
pub async fn channel_id(store: &Store, name: &str) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT channel_id FROM slack_channels WHERE name = $1").bind(name).fetch_optional(store.pool()).await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// Remembers that channel `name` has id `id`.
pub async fn remember_channel(store: &Store, name: &str, id: &str) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO slack_channels (name, channel_id) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET channel_id = $2")
        .bind(name)
        .bind(id)
        .execute(store.pool())
        .await?;
    Ok(())
}
