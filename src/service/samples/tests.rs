//! The samples render every compiled-in template, and find an override's mistakes.

use super::*;

#[test]
fn the_compiled_in_templates_render_strictly_with_every_sample() {
    let templates = Templates::load(std::path::Path::new("/nonexistent")).unwrap();
    assert_eq!(template_problems(&templates), Vec::<Problem>::new());
}

#[test]
fn an_undefined_value_in_an_override_is_found_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("templates/slack")).unwrap();
    std::fs::write(dir.path().join("templates/slack/incident.txt.j2"), "{{ partner.name }}\n{{ partner.nmae }} failing").unwrap();
    let templates = Templates::load(dir.path()).unwrap();
    let problems: Vec<String> = template_problems(&templates).iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("templates/slack/incident.txt.j2: line 2: ") && problems[0].contains("undefined"), "{problems:?}");
    let ctx = serde_json::json!({"kind": "opened", "partner": {"name": "Acme"}, "check": "acme-api", "incident": {"cause": "internal"}});
    let rendered = templates.render("slack/incident.txt.j2", &ctx).unwrap();
    assert_eq!(rendered, "Acme: acme-api failing, internal cause", "at run time the default is used instead");
}

#[test]
fn an_override_that_is_not_block_kit_is_found_and_replaced_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("templates/slack")).unwrap();
    std::fs::write(dir.path().join("templates/slack/incident.jsonl.j2"), "{\"text\": {{ partner.name }}}\n").unwrap();
    let templates = Templates::load(dir.path()).unwrap();
    let problems: Vec<String> = template_problems(&templates).iter().map(ToString::to_string).collect();
    assert!(problems.iter().any(|p| p.starts_with("templates/slack/incident.jsonl.j2") && p.contains("\"type\"")), "{problems:?}");
    let view = serde_json::json!({"kind": "egress_up", "partner": {"name": "Sparky"}, "duration": "5m", "reason": ""});
    let post = crate::outbox::slack::INCIDENT.post(&templates, &view, "#ops", crate::outbox::slack::Purpose::Egress).unwrap();
    assert!(post.blocks[0]["type"] == "header", "the default blocks: {:?}", post.blocks);
}
