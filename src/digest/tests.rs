use super::*;
use crate::store::changelogs::EntryRecord;

fn templates() -> Templates {
    Templates::load(std::path::Path::new("/nonexistent")).expect("default templates")
}

fn group(id: &str, name: &str, n: usize, summary_len: usize) -> PartnerGroup {
    let entries = (0..n)
        .map(|i| ClaimedEntry {
            partner_id: id.to_owned(),
            feed_url: format!("https://{id}.test/feed.xml"),
            flood: None,
            entry: EntryRecord {
                key: format!("{id}-{i}"),
                title: format!("{name} <entry> #{i} & more"),
                link: Some(format!("https://{id}.test/{i}")),
                published_at: Some(crate::model::Timestamp::from_millis(1_756_720_800_000)),
                summary: "word ".repeat(summary_len / 5),
                tags: if i % 2 == 0 { vec!["breaking".to_owned()] } else { vec![] },
            },
        })
        .collect();
    PartnerGroup { id: id.to_owned(), name: name.to_owned(), entries, flood: None }
}

#[test]
fn a_small_digest_is_one_message_with_escaped_text() {
    let parts = render_digest(&templates(), "#ecosystem-updates", &[group("okta", "Okta", 2, 50)]).unwrap();
    assert_eq!(parts.len(), 1);
    let post = &parts[0].post;
    assert_eq!(post.channel, "#ecosystem-updates");
    assert_eq!(post.text, "2 new partner changelog entries: Okta");
    let json = serde_json::to_string(&post.blocks).unwrap();
    assert!(json.contains("<https://okta.test/0|Okta &lt;entry&gt; #0 &amp; more>"), "{json}");
    assert!(json.contains("`breaking`"));
    assert!(json.contains("2025-09-01"));
    assert_eq!(parts[0].entries.len(), 2);
}

#[test]
fn a_large_digest_splits_within_limits_and_keeps_every_entry_once() {
    let groups = [group("github", "GitHub", 70, 280), group("okta", "Okta", 40, 280)];
    let parts = render_digest(&templates(), "#c", &groups).unwrap();
    assert!(parts.len() >= 3, "{} parts", parts.len());
    let mut keys: Vec<String> = parts.iter().flat_map(|p| p.entries.iter().map(|(_, k)| k.clone())).collect();
    assert_eq!(keys.len(), 110);
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 110, "no entry in two parts");
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(fit(&part.post.blocks), Fit::Fits);
        let header = part.post.blocks[0]["text"]["text"].as_str().unwrap();
        assert!(header.ends_with(&format!("({} of {})", i + 1, parts.len())), "{header}");
    }
    let fingerprints: std::collections::HashSet<_> = parts.iter().map(|p| p.fingerprint.clone()).collect();
    assert_eq!(fingerprints.len(), parts.len());
}

#[test]
fn one_oversized_entry_is_clamped_not_dropped() {
    let parts = render_digest(&templates(), "#c", &[group("x", "X", 1, 4000)]).unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(fit(&parts[0].post.blocks), Fit::Fits);
}

#[test]
fn a_flooded_feed_is_one_section_listing_the_newest_five_and_carrying_all() {
    let mut entries = group("okta", "Okta", 50, 50).entries;
    for (i, e) in entries.iter_mut().enumerate() {
        e.flood = Some(20);
        e.entry.published_at = Some(crate::model::Timestamp::from_millis(1_756_720_800_000 + i as i64 * 60_000));
    }
    let mut groups = partner_groups("okta", "Okta", entries);
    groups.extend(partner_groups(
        "okta",
        "Okta",
        group("okta", "Okta", 1, 10)
            .entries
            .into_iter()
            .map(|mut e| {
                e.entry.key = "plain".to_owned();
                e.entry.title = "A plain entry".to_owned();
                e
            })
            .collect(),
    ));
    let parts = render_digest(&templates(), "#c", &groups).unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].entries.len(), 51, "every entry is carried by the message");
    let json = serde_json::to_string(&parts[0].post.blocks).unwrap();
    assert!(json.contains("50 new entries on <https://okta.test/feed.xml|https://okta.test/feed.xml>"), "{json}");
    assert!(json.contains("more than 20 new entries at once: listing the newest 5; see https://okta.test/feed.xml"), "{json}");
    let listed = (0..50).filter(|i| json.contains(&format!("#{i} &amp; more"))).collect::<Vec<_>>();
    assert_eq!(listed, vec![45, 46, 47, 48, 49], "the newest five");
    assert!(json.contains("A plain entry"), "the feed's other entries are listed as usual: {json}");
    assert_eq!(parts[0].post.text, "51 new partner changelog entries: Okta");
}
