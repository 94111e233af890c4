//! The digest stage: new changelog entries, grouped by channel and partner, become Slack
//! messages in the outbox, in the same transaction that claims the entries.
//!
//! The flood guard: the entries of a poll that found more than `max_new` unseen entries (marked
//! by the changelog watcher, [`ClaimedEntry::flood`]) make one "N new entries on FEED" section of
//! their partner, listing the newest [`FLOOD_LISTED`] and saying why; the others are carried by
//! the same message (delivered with it), never listed.

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

/// Entries listed in a flood section, newest first.
pub const FLOOD_LISTED: usize = 5;

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

/// The entries of one partner in a digest (or one flooded feed of it).
#[derive(Debug, Clone)]
pub struct PartnerGroup {
    /// Partner id.
    pub id: String,
    /// Partner display name.
    pub name: String,
    /// Its new entries listed, newest first.
    pub entries: Vec<ClaimedEntry>,
    /// Set for the section of a feed that brought more than `max_new` entries at once.
    pub flood: Option<Flood>,
}

/// A feed that brought more new entries at once than its `max_new`.
#[derive(Debug, Clone)]
pub struct Flood {
    /// The feed.
    pub feed_url: String,
    /// Its `max_new` when it was polled.
    pub max_new: usize,
    /// Its entries carried by the section but not listed (beyond the newest [`FLOOD_LISTED`]).
    pub unlisted: Vec<ClaimedEntry>,
}

impl PartnerGroup {
    /// Listed and unlisted entries.
    fn total(&self) -> usize {
        self.entries.len() + self.flood.as_ref().map_or(0, |f| f.unlisted.len())
    }
}

fn group_by_channel(config: &Config, claimed: Vec<ClaimedEntry>) -> BTreeMap<String, Vec<PartnerGroup>> {
    let default_channel = &config.global.slack.channel;
    let mut by_partner: BTreeMap<String, Vec<ClaimedEntry>> = BTreeMap::new();
    for c in claimed {
        by_partner.entry(c.partner_id.clone()).or_default().push(c);
    }
    let mut by_channel: BTreeMap<String, Vec<PartnerGroup>> = BTreeMap::new();
    for (id, entries) in by_partner {
        let partner = config.partner(&id);
        let channel = partner.map_or(default_channel.as_str(), |p| p.channel(default_channel)).to_owned();
        let name = partner.map_or_else(|| id.clone(), |p| p.name.clone());
        by_channel.entry(channel).or_default().extend(partner_groups(&id, &name, entries));
    }
    for groups in by_channel.values_mut() {
        // Stable: a partner's flood sections stay after its other entries.
        groups.sort_by_key(|g| g.name.to_lowercase());
    }
    by_channel
}

/// The groups of one partner: its entries, then one group per flooded feed.
pub fn partner_groups(id: &str, name: &str, entries: Vec<ClaimedEntry>) -> Vec<PartnerGroup> {
    let mut plain = Vec::new();
    let mut floods: BTreeMap<String, (usize, Vec<ClaimedEntry>)> = BTreeMap::new();
    for e in entries {
        match e.flood {
            Some(max_new) => floods.entry(e.feed_url.clone()).or_insert((max_new, Vec::new())).1.push(e),
            None => plain.push(e),
        }
    }
    let group =
        |entries: Vec<ClaimedEntry>, flood: Option<Flood>| PartnerGroup { id: id.to_owned(), name: name.to_owned(), entries, flood };
    let mut groups = Vec::new();
    if !plain.is_empty() {
        groups.push(group(newest_first(plain), None));
    }
    for (feed_url, (max_new, entries)) in floods {
        let mut listed = newest_first(entries);
        let unlisted = listed.split_off(FLOOD_LISTED.min(listed.len()));
        groups.push(group(listed, Some(Flood { feed_url, max_new, unlisted })));
    }
    groups
}

/// Newest first, as feed readers show them; undated entries last.
fn newest_first(mut entries: Vec<ClaimedEntry>) -> Vec<ClaimedEntry> {
    entries.sort_by_key(|e| std::cmp::Reverse(e.entry.published_at));
    entries
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
    flood: Option<FloodView<'a>>,
}

/// A flood section in the templates: `total` new entries on `feed_url`, `listed` of them
/// shown, and the `reason` in words.
#[derive(Serialize)]
struct FloodView<'a> {
    total: usize,
    listed: usize,
    max_new: usize,
    feed_url: &'a str,
    reason: String,
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
    let count = groups.iter().map(PartnerGroup::total).sum();
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
            let mut entries: Vec<(String, String)> = Vec::new();
            for &(g, e) in chunk {
                let group = &groups[g];
                entries.push((group.id.clone(), group.entries[e].entry.key.clone()));
                // The entries a flood section does not list go with the message of its first.
                if let (0, Some(flood)) = (e, &group.flood) {
                    entries.extend(flood.unlisted.iter().map(|u| (group.id.clone(), u.entry.key.clone())));
                }
            }
            Ok(DigestPart { fingerprint: fingerprint(&entries), post, entries })
        })
        .collect()
}

fn view<'a>(groups: &'a [PartnerGroup], chunk: &[Slot], part: usize, note: &str, count: usize) -> DigestView<'a> {
    let mut partners: Vec<PartnerView<'a>> = Vec::new();
    for &(g, e) in chunk {
        let group = &groups[g];
        if e == 0 || partners.is_empty() {
            let flood = group.flood.as_ref().map(|f| FloodView {
                total: group.total(),
                listed: group.entries.len(),
                max_new: f.max_new,
                feed_url: &f.feed_url,
                reason: format!(
                    "more than {} new entries at once: listing the newest {}; see {}",
                    f.max_new,
                    group.entries.len(),
                    f.feed_url
                ),
            });
            partners.push(PartnerView { id: &group.id, name: &group.name, continued: e > 0, entries: Vec::new(), flood });
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
