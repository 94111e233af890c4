//! The digest stage: new changelog entries, grouped by channel and partner, become Slack
//! messages in the outbox, in the same transaction that claims the entries.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::outbox::Action;
use crate::outbox::slack::{DIGEST, Fit, Purpose, RenderError, SlackPost, fit};
use crate::store::changelogs::{ClaimedEntry, attach_action, claim_pending};
use crate::store::outbox::insert;
use crate::store::{Store, StoreError};
use crate::templates::Templates;

/// Why no digest could be queued; the entries stay pending for the next run.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    /// The digest's templates failed.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What [`queue_digests`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Queued {
    /// Entries now carried by digest messages.
    pub entries: usize,
    /// Digest messages written to the outbox.
    pub messages: usize,
}

/// Claims every pending entry and writes its digest messages to the outbox, atomically: either
/// the entries are queued with their messages, or nothing changes.
pub async fn queue_digests(store: &Store, config: &Config, templates: &Templates) -> Result<Queued, DigestError> {
    let mut tx = store.pool().begin().await.map_err(StoreError::from)?;
    let claimed = claim_pending(&mut tx).await?;
    if claimed.is_empty() {
        tx.commit().await.map_err(StoreError::from)?;
        return Ok(Queued::default());
    }
    let mut queued = Queued { entries: claimed.len(), messages: 0 };
    for (channel, groups) in group_by_channel(config, claimed) {
        let parts = render_digest(templates, &channel, &groups)?;
        // The parts of one digest go in order; a digest that keeps failing holds back only its
        // own parts, never a notice or another digest.
        let chain = parts.first().map(|p| format!("digest:{channel}:{}", p.fingerprint)).unwrap_or_default();
        for part in parts {
            let new = Action::SlackPost(part.post).queued(format!("digest:{channel}:{}", part.fingerprint), chain.clone());
            let Some(id) = insert(&mut tx, &new).await? else { continue };
            for (partner, key) in &part.entries {
                attach_action(&mut tx, partner, key, id).await?;
            }
            queued.messages += 1;
        }
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(queued)
}

/// The entries of one partner in a digest.
#[derive(Debug, Clone)]
pub struct PartnerGroup {
    /// Partner id.
    pub id: String,
    /// Partner display name.
    pub name: String,
    /// Its new entries, newest first.
    pub entries: Vec<ClaimedEntry>,
}

fn group_by_channel(config: &Config, claimed: Vec<ClaimedEntry>) -> BTreeMap<String, Vec<PartnerGroup>> {
    let default_channel = &config.global.slack.channel;
    let mut by_partner: BTreeMap<String, Vec<ClaimedEntry>> = BTreeMap::new();
    for c in claimed {
        by_partner.entry(c.partner_id.clone()).or_default().push(c);
    }
    let mut by_channel: BTreeMap<String, Vec<PartnerGroup>> = BTreeMap::new();
    for (id, mut entries) in by_partner {
        // Newest first, as feed readers show them; undated entries last.
        entries.sort_by_key(|e| std::cmp::Reverse(e.entry.published_at));
        let partner = config.partner(&id);
        let channel = partner.map_or(default_channel.as_str(), |p| p.channel(default_channel)).to_owned();
        let name = partner.map_or_else(|| id.clone(), |p| p.name.clone());
        by_channel.entry(channel).or_default().push(PartnerGroup { id, name, entries });
    }
    for groups in by_channel.values_mut() {
        groups.sort_by_key(|g| g.name.to_lowercase());
    }
    by_channel
}

/// One message of a digest and the entries it carries.
#[derive(Debug, Clone)]
pub struct DigestPart {
    /// The message.
    pub post: SlackPost,
    /// (partner id, entry key) of every entry in it.
    pub entries: Vec<(String, String)>,
    /// Hash of those entries: the message's identity.
    pub fingerprint: String,
}

#[derive(Serialize)]
struct DigestView<'a> {
    part: usize,
    parts_note: String,
    count: usize,
    partners: Vec<PartnerView<'a>>,
}

#[derive(Serialize)]
struct PartnerView<'a> {
    id: &'a str,
    name: &'a str,
    continued: bool,
    entries: Vec<EntryView<'a>>,
}

#[derive(Serialize)]
struct EntryView<'a> {
    title: &'a str,
    link: Option<&'a str>,
    summary: &'a str,
    tags: &'a [String],
    published: Option<String>,
}

/// Position of an entry: (group index, entry index).
type Slot = (usize, usize);

/// Renders the digest of one channel, split into as many messages as Slack's limits require.
pub fn render_digest(templates: &Templates, channel: &str, groups: &[PartnerGroup]) -> Result<Vec<DigestPart>, DigestError> {
    let count = groups.iter().map(|g| g.entries.len()).sum();
    let slots: Vec<Slot> = groups.iter().enumerate().flat_map(|(g, group)| (0..group.entries.len()).map(move |e| (g, e))).collect();
    let mut chunks: Vec<Vec<Slot>> = Vec::new();
    let mut current: Vec<Slot> = Vec::new();
    for slot in slots {
        current.push(slot);
        let blocks = render_blocks(templates, groups, &current, chunks.len() + 1, "", count)?;
        if fit(&blocks) == Fit::TooBig && current.len() > 1 {
            current.pop();
            chunks.push(std::mem::replace(&mut current, vec![slot]));
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    let total = chunks.len();
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let note = if total > 1 { format!(" ({} of {total})", i + 1) } else { String::new() };
            let post: SlackPost = DIGEST.post(templates, &view(groups, chunk, i + 1, &note, count), channel, Purpose::Digest)?;
            let entries: Vec<(String, String)> =
                chunk.iter().map(|&(g, e)| (groups[g].id.clone(), groups[g].entries[e].entry.key.clone())).collect();
            Ok(DigestPart { fingerprint: fingerprint(&entries), post, entries })
        })
        .collect()
}

fn view<'a>(groups: &'a [PartnerGroup], chunk: &[Slot], part: usize, note: &str, count: usize) -> DigestView<'a> {
    let mut partners: Vec<PartnerView<'a>> = Vec::new();
    for &(g, e) in chunk {
        let group = &groups[g];
        if partners.last().is_none_or(|p| p.id != group.id) {
            partners.push(PartnerView { id: &group.id, name: &group.name, continued: e > 0, entries: Vec::new() });
        }
        let entry = &group.entries[e].entry;
        if let Some(p) = partners.last_mut() {
            p.entries.push(EntryView {
                title: &entry.title,
                link: entry.link.as_deref(),
                summary: &entry.summary,
                tags: &entry.tags,
                published: entry.published_at.map(|t| t.to_datetime().format("%Y-%m-%d").to_string()),
            });
        }
    }
    DigestView { part, parts_note: note.to_owned(), count, partners }
}

fn render_blocks(
    templates: &Templates,
    groups: &[PartnerGroup],
    chunk: &[Slot],
    part: usize,
    note: &str,
    count: usize,
) -> Result<Vec<Value>, DigestError> {
    Ok(DIGEST.blocks(templates, &view(groups, chunk, part, note, count))?)
}

fn fingerprint(entries: &[(String, String)]) -> String {
    let mut hasher = Sha256::new();
    for (partner, key) in entries {
        hasher.update(partner.as_bytes());
        hasher.update([0]);
        hasher.update(key.as_bytes());
        hasher.update([0]);
    }
    hex::encode(&hasher.finalize()[..12])
}

#[cfg(test)]
mod tests;
