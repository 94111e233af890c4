//! Any HTML status page, read with the CSS selectors of `[status_page]` (`overall`, `component`,
//! `component_name`, `component_status`, `incident`, `incident_name`, `incident_impact`).
//!
//! Text goes through [`super::classify`] (the partner's rules, then the built-in words). When the
//! text does not classify, the element's attributes are read as status words: `data-*` values
//! (`data-component-status="partial_outage"`), then class tokens that are a long status word
//! (`major_outage`, `operational`; not `none`/`low`: `d-none` hides an element) or one after `status-`/`impact-`/`state-`/`is-`/`indicator-`
//! (`status-minor`, `impact-major`), with Statuspage's colours after `status-`/`color-`
//! (`green` none, `yellow` minor, `orange` major, `red` critical, `blue` maintenance).
//!
//! - Indicator: the `overall` element (first match) when the page shows it; it must classify,
//!   else the error "status text not recognised". Not shown (Statuspage replaces the banner by
//!   the unresolved incidents): [`PartnerStatus::derived_indicator`].
//! - Components: each `component` element; name from `component_name` (else the element's
//!   text); status from `component_status` (text, then its attributes), then the element's own
//!   attributes; nothing readable: `degraded_performance` (never silently operational).
//! - Incidents: each `incident` element (title from `incident_name`, else its text; impact from
//!   `incident_impact` text/attributes, then the element's attributes, else `minor`; status: the
//!   newest `<strong>` update word; id and link: the first `href`). An element whose newest update
//!   is `resolved`/`completed` is skipped; one whose impact is `maintenance` is a maintenance in
//!   progress.
//! - A page where no `overall`, no component and no incident matched is an error: a page that
//!   changed must not read as operational.
//!
//! Statuspage-hosted pages (e.g. `https://status.example.com`) work with `overall =
//! ".page-status"`, `component = ".component-inner-container"`, `component_name = ".name"`,
//! `component_status = ".component-status"`, `incident = ".unresolved-incident"`,
//! `incident_name = ".actual-title"`.

use scraper::{ElementRef, Html, Selector};

use super::{StatusParseError, absolute, check_not_empty, classify, element_text, latest, looks_like_json, maintenance_status, updates};
use crate::config::CssSelector;
use crate::config::StatusPageConfig;
use crate::model::{Component, ComponentStatus, ErrorKind, Indicator, Maintenance, PartnerIncident, PartnerStatus};

/// Longest title kept when an element's whole text is its title.
const MAX_NAME: usize = 200;

/// Parses an HTML status page with the selectors of `cfg`.
///
/// # Errors
/// `empty`; `json_not_html` when the body is JSON; `unrecognised` when the overall text does
/// not classify or when nothing matched the selectors.
pub fn parse(cfg: &StatusPageConfig, body: &[u8], content_type: Option<&str>) -> Result<PartnerStatus, StatusParseError> {
    check_not_empty(body, content_type)?;
    if looks_like_json(body) {
        return Err(StatusParseError::new(
            ErrorKind::JsonNotHtml,
            "expected an HTML page, got JSON: use kind = \"json\" or \"statuspage\"",
        ));
    }
    let doc = Html::parse_document(&String::from_utf8_lossy(body));
    let root = doc.root_element();
    let overall = match cfg.overall.as_ref().and_then(|s| root.select(s.selector()).next()) {
        Some(el) => Some(overall(el, cfg)?),
        None => None,
    };
    let components: Vec<Component> = select(root, cfg.component.as_ref()).filter_map(|el| component(el, cfg)).collect();
    let description = overall.as_ref().map(|(_, text)| text.clone()).filter(|t| !t.is_empty());
    let mut page = PartnerStatus {
        indicator: Indicator::Unknown,
        description,
        components: Vec::new(),
        incidents: Vec::new(),
        maintenances: Vec::new(),
        error: None,
    };
    for el in select(root, cfg.incident.as_ref()) {
        push_incident(&mut page, el, cfg);
    }
    if overall.is_none() && components.is_empty() && page.incidents.is_empty() && page.maintenances.is_empty() {
        return Err(StatusParseError::new(
            ErrorKind::Unrecognised,
            "nothing matched: no overall status, no component and no incident on the page (did the page change?)",
        ));
    }
    page.components = components;
    page.indicator = overall.map_or_else(|| page.derived_indicator(), |(indicator, _)| indicator);
    Ok(page)
}

/// The elements `selector` matches (none without one).
fn select<'a>(root: ElementRef<'a>, selector: Option<&'a CssSelector>) -> impl Iterator<Item = ElementRef<'a>> + 'a {
    selector.into_iter().flat_map(move |s| root.select(s.selector()))
}

/// The first match of `selector` inside `el`.
fn inside<'a>(el: ElementRef<'a>, selector: Option<&CssSelector>) -> Option<ElementRef<'a>> {
    selector.and_then(|s| el.select(s.selector()).next())
}

fn overall(el: ElementRef<'_>, cfg: &StatusPageConfig) -> Result<(Indicator, String), StatusParseError> {
    let text = element_text(el);
    match classify(&text, &cfg.rules).or_else(|| attribute_status(el)) {
        Some(indicator) => Ok((indicator, text)),
        None => Err(StatusParseError::new(ErrorKind::Unrecognised, format!("status text not recognised: {:?}", cut(&text, MAX_NAME)))),
    }
}

fn component(el: ElementRef<'_>, cfg: &StatusPageConfig) -> Option<Component> {
    let name = cut(&element_text(inside(el, cfg.component_name.as_ref()).unwrap_or(el)), MAX_NAME);
    if name.is_empty() {
        return None;
    }
    let status_el = inside(el, cfg.component_status.as_ref());
    let status = status_el
        .and_then(|s| classify(&element_text(s), &cfg.rules).or_else(|| attribute_status(s)))
        .or_else(|| attribute_status(el))
        .and_then(Indicator::as_component_status)
        .unwrap_or(ComponentStatus::DegradedPerformance);
    Some(Component { name, status, group: None })
}

fn push_incident(page: &mut PartnerStatus, el: ElementRef<'_>, cfg: &StatusPageConfig) {
    let latest = latest(&updates(el));
    if latest.as_ref().is_some_and(|l| !l.open) {
        return;
    }
    let name_el = inside(el, cfg.incident_name.as_ref());
    let name = cut(&element_text(name_el.unwrap_or(el)), MAX_NAME);
    let href = name_el.and_then(|n| n.value().attr("href")).or_else(|| first_href(el)).map(|h| absolute(cfg, h));
    let impact = inside(el, cfg.incident_impact.as_ref())
        .and_then(|i| classify(&element_text(i), &cfg.rules).or_else(|| attribute_status(i)))
        .or_else(|| attribute_status(el));
    let id = href.clone().unwrap_or_else(|| name.clone());
    if impact == Some(Indicator::Maintenance) || latest.as_ref().is_some_and(|l| l.maintenance && !l.incident) {
        let status = maintenance_status(latest.as_ref());
        let m = Maintenance {
            id,
            name,
            status: status.to_owned(),
            scheduled_for: None,
            scheduled_until: None,
            shortlink: href,
            components: Vec::new(),
        };
        page.maintenances.push(m);
        return;
    }
    let status = latest.map_or("unknown", |l| l.word).to_owned();
    let impact = impact.filter(|i| *i != Indicator::Maintenance).unwrap_or(Indicator::Minor);
    page.incidents.push(PartnerIncident { id, name, impact, status, started_at: None, shortlink: href, components: Vec::new() });
}

fn first_href<'a>(el: ElementRef<'a>) -> Option<&'a str> {
    let a = Selector::parse("a[href]").ok()?;
    el.select(&a).next().and_then(|a| a.value().attr("href"))
}

/// At most `max` characters of `text`, with an ellipsis when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max { text.to_owned() } else { format!("{}…", text.chars().take(max).collect::<String>()) }
}

/// Class tokens that are a status word on their own (short words like `none` or `low` are not:
/// `d-none` hides an element, it says nothing about a status).
const BARE: &[&str] = &[
    "operational",
    "degraded",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "full_outage",
    "outage",
    "under_maintenance",
    "maintenance",
];

/// Class prefixes after which a status word may follow.
const PREFIXES: &[&str] = &["status-", "impact-", "state-", "is-", "indicator-"];

/// A status read from an element's attributes (see the module doc).
fn attribute_status(el: ElementRef<'_>) -> Option<Indicator> {
    let data = el.value().attrs().filter(|(k, _)| k.starts_with("data-")).find_map(|(_, v)| Indicator::read_word(v));
    data.or_else(|| el.value().classes().find_map(class_status))
}

fn class_status(token: &str) -> Option<Indicator> {
    let token = token.to_lowercase();
    if BARE.contains(&token.as_str()) {
        return Indicator::read_word(&token);
    }
    if let Some(colour) = token.strip_prefix("status-").or_else(|| token.strip_prefix("color-")) {
        let by_colour = match colour {
            "green" => Some(Indicator::None),
            "yellow" => Some(Indicator::Minor),
            "orange" => Some(Indicator::Major),
            "red" => Some(Indicator::Critical),
            "blue" => Some(Indicator::Maintenance),
            _ => None,
        };
        if by_colour.is_some() {
            return by_colour;
        }
    }
    PREFIXES.iter().find_map(|p| token.strip_prefix(p)).and_then(Indicator::read_word)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The config for Statuspage-hosted HTML pages (also used by the corpus test).
    const STATUSPAGE_HTML: &str = r#"
kind = "html"
url = "https://status.example.test/"
overall = ".page-status"
component = ".component-inner-container"
component_name = ".name"
component_status = ".component-status"
incident = ".unresolved-incident"
incident_name = ".actual-title"
"#;

    fn cfg(text: &str) -> StatusPageConfig {
        toml::from_str(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn read(body: &str) -> PartnerStatus {
        parse(&cfg(STATUSPAGE_HTML), body.as_bytes(), Some("text/html")).unwrap_or_else(|e| panic!("{e}"))
    }

    fn row(name: &str, colour: &str, data: &str, text: &str) -> String {
        format!(
            r#"<div data-component-id="x" class="component-inner-container status-{colour}" data-component-status="{data}">
               <span class="name">{name}</span><span class="component-status" title="">{text}</span></div>"#
        )
    }

    fn page(banner: &str, incidents: &str, rows: &[String]) -> String {
        format!(
            r#"<!DOCTYPE html><html><head><title>Example Status</title><style>.page-status.status-critical{{}}</style></head><body>
               <div class="container">{banner}{incidents}<div class="components-section">{}</div></div></body></html>"#,
            rows.join("\n")
        )
    }

    fn banner(class: &str, text: &str) -> String {
        format!(
            r#"<div class="page-status status-{class}"><span class="status font-large">{text}</span><span class="last-updated-stamp"></span></div>"#
        )
    }

    fn incident(impact: &str, title: &str, words: &[&str]) -> String {
        let updates: Vec<String> = words
            .iter()
            .enumerate()
            .map(|(n, w)| {
                format!(r#"<div class="update"><strong>{w}</strong> - text.<br><small>Jan 12, 16:{:02} UTC</small></div>"#, 50 - n)
            })
            .collect();
        format!(
            r#"<div class="unresolved-incidents"><div class="unresolved-incident impact-{impact}"><div class="incident-title">
               <a class="actual-title" href="/incidents/abc">{title}</a></div><div class="updates">{}</div></div></div>"#,
            updates.join("")
        )
    }

    fn ok_rows() -> Vec<String> {
        vec![row("API", "green", "operational", "Operational"), row("Webhooks", "green", "operational", "Operational")]
    }

    #[test]
    fn every_indicator_from_the_banner() {
        for (class, text, expected) in [
            ("none", "All Systems Operational", Indicator::None),
            ("minor", "Partially Degraded Service", Indicator::Minor),
            ("major", "Partial System Outage", Indicator::Major),
            ("critical", "Major System Outage", Indicator::Critical),
            ("maintenance", "Service Under Maintenance", Indicator::Maintenance),
        ] {
            let p = read(&page(&banner(class, text), "", &ok_rows()));
            assert_eq!((p.indicator, p.description.as_deref()), (expected, Some(text)), "{text}");
        }
        assert_eq!(read(&page(&banner("major", "Something"), "", &ok_rows())).indicator, Indicator::Major, "text fails: the class");
    }

    #[test]
    fn an_unrecognised_banner_is_an_error() {
        let body = page(r#"<div class="page-status"><span>Everything is groovy</span></div>"#, "", &ok_rows());
        let e = parse(&cfg(STATUSPAGE_HTML), body.as_bytes(), None).err().unwrap_or_else(|| panic!("must fail"));
        assert_eq!(e.kind.as_str(), "unrecognised");
        assert!(e.message.contains("status text not recognised") && e.message.contains("groovy"), "{}", e.message);
    }

    #[test]
    fn a_partial_outage_counts_only_on_a_component_we_depend_on() {
        let rows = vec![row("API", "green", "operational", "Operational"), row("Webhooks", "orange", "partial_outage", "Partial Outage")];
        let p = read(&page(&banner("major", "Partial System Outage"), "", &rows));
        assert_eq!(p.effective(&["API".to_owned()]), Some(ComponentStatus::Operational));
        assert_eq!(p.effective(&["webhooks".to_owned()]), Some(ComponentStatus::PartialOutage));
        let rows = vec![row("API", "red", "major_outage", "?"), row("Odd", "", "", "?")];
        let p = read(&page("", "", &rows));
        assert_eq!(p.components[0].status, ComponentStatus::MajorOutage, "text fails: the data attribute");
        assert_eq!(p.components[1].status, ComponentStatus::DegradedPerformance, "unreadable: never operational");
    }

    #[test]
    fn an_incident_in_progress_replaces_the_banner() {
        let rows = vec![row("API", "orange", "partial_outage", "Partial Outage"), row("Webhooks", "green", "operational", "Operational")];
        let p = read(&page("", &incident("major", "API errors", &["Update", "Identified", "Investigating"]), &rows));
        assert_eq!(p.indicator, Indicator::Major, "derived");
        let i = &p.incidents[0];
        assert_eq!((i.name.as_str(), i.status.as_str(), i.impact), ("API errors", "identified", Indicator::Major));
        assert_eq!(i.shortlink.as_deref(), Some("https://status.example.test/incidents/abc"));
    }

    #[test]
    fn a_maintenance_in_progress_and_a_resolved_incident() {
        let rows = vec![row("API", "blue", "under_maintenance", "Under Maintenance")];
        let body = page("", &incident("maintenance", "DB upgrade", &["In progress", "Scheduled"]), &rows);
        let p = read(&body);
        assert_eq!((p.incidents.len(), p.maintenances.len()), (0, 1));
        assert!(p.maintenances[0].in_progress());
        assert_eq!(p.indicator, Indicator::Maintenance);
        let p =
            read(&page(&banner("none", "All Systems Operational"), &incident("minor", "Old", &["Resolved", "Investigating"]), &ok_rows()));
        assert!(p.incidents.is_empty(), "resolved: not listed");
    }

    #[test]
    fn garbage_is_an_error_with_a_clear_message() {
        let c = cfg(STATUSPAGE_HTML);
        let err = |body: &[u8]| parse(&c, body, Some("application/json")).err().map(|e| (e.kind.as_str(), e.message)).unwrap_or_default();
        assert_eq!(err(b"").0, "empty");
        assert_eq!(err(br#"{"status":{"indicator":"none"}}"#).0, "json_not_html");
        let (kind, message) = err(b"<html><body><h1>Welcome to nginx!</h1></body></html>");
        assert_eq!(kind, "unrecognised");
        assert!(message.contains("nothing matched"), "{message}");
        assert_eq!(err(&[0xff, 0xfe, 0x00, 0x3c, 0x80, 0x81]).0, "unrecognised");
        let truncated = page(&banner("none", "All Systems Operational"), "", &ok_rows());
        assert_eq!(err(&truncated.as_bytes()[..60]).0, "unrecognised", "cut before the banner");
    }
}
