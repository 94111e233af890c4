use super::*;

fn partners() -> Vec<Partner> {
    vec![toml::from_str("id = \"acme\"\nname = \"Acme\"\n").unwrap()]
}

fn read(text: &str) -> (Vec<MaintenanceWindow>, Vec<String>) {
    #[derive(Deserialize)]
    struct File {
        maintenance: Vec<MaintenanceTable>,
    }
    let file: File = toml::from_str(text).unwrap();
    let mut problems = Vec::new();
    let windows = windows(&file.maintenance, &partners(), &[], Path::new("sparky.toml"), &mut problems);
    (windows, problems.iter().map(ToString::to_string).collect())
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

#[test]
fn a_start_end_window_is_in_force_between_them() {
    let (windows, problems) = read(
        "[[maintenance]]\npartner = \"acme\"\nreason = \"db upgrade\"\nstart = \"2026-12-02T05:00:00Z\"\nend = 2026-12-02T07:00:00Z\n",
    );
    assert_eq!(problems, Vec::<String>::new());
    let w = &windows[0];
    assert_eq!((w.name.as_str(), &w.target), ("maintenance", &SilenceTarget::Partner("acme".parse().unwrap())));
    assert_eq!(w.in_force(at("2026-12-02T04:59:59Z")), None);
    assert_eq!(w.in_force(at("2026-12-02T05:00:00Z")), Some((at("2026-12-02T05:00:00Z"), at("2026-12-02T07:00:00Z"))));
    assert_eq!(w.in_force(at("2026-12-02T07:00:00Z")), None, "the end is not in it");
}

#[test]
fn a_cron_window_is_in_force_for_its_duration_after_each_fire_time() {
    let (windows, problems) = read(
        "[[maintenance]]\nname = \"sunday-deploy\"\npartner = \"acme\"\nreason = \"deploy\"\ncron = \"0 5 * * SUN\"\nduration = \"2h\"\n",
    );
    assert_eq!(problems, Vec::<String>::new());
    let w = &windows[0];
    // 2026-12-06 is a Sunday.
    assert_eq!(w.in_force(at("2026-12-06T04:59:59Z")), None);
    assert_eq!(w.in_force(at("2026-12-06T06:30:00Z")), Some((at("2026-12-06T05:00:00Z"), at("2026-12-06T07:00:00Z"))));
    assert_eq!(w.in_force(at("2026-12-06T07:00:00Z")), None);
    assert_eq!(w.in_force(at("2026-12-09T06:00:00Z")), None, "a Wednesday");
    assert!(w.in_force(at("2026-12-13T05:00:00Z")).is_some(), "the next Sunday");
}

#[test]
fn each_mistake_names_its_key() {
    let (windows, problems) = read(concat!(
        "[[maintenance]]\nreason = \"x\"\ncron = \"0 5 * * *\"\n",
        "[[maintenance]]\npartner = \"nope\"\nreason = \"x\"\nstart = \"2026-12-02T05:00:00Z\"\nend = \"2026-12-02T04:00:00Z\"\n",
        "[[maintenance]]\ncheck = \"acme-api\"\nreason = \" \"\nstart = \"yesterday\"\nend = \"2026-12-02T04:00:00Z\"\n",
        "[[maintenance]]\npartner = \"acme\"\nreason = \"x\"\ncron = \"0 5 * * *\"\nstart = \"2026-12-02T05:00:00Z\"\nduration = \"1h\"\n",
    ));
    assert!(windows.is_empty());
    assert_eq!(
        problems,
        vec![
            "sparky.toml: maintenance[0].partner: a window needs `partner = \"ID\"` or `check = \"ID\"`",
            "sparky.toml: maintenance[0].duration: a cron window needs a duration, e.g. \"2h\"",
            "sparky.toml: maintenance[1].partner: no partner `nope` in partners/",
            "sparky.toml: maintenance[1].end: must be after start (2026-12-02T05:00:00Z)",
            "sparky.toml: maintenance[2].reason: must say why (it is shown in Slack and Jira)",
            "sparky.toml: maintenance[2].check: no check `acme-api` in synthetics/",
            "sparky.toml: maintenance[2].start: `yesterday` is not an RFC 3339 time with an offset, like \"2026-12-02T05:00:00Z\": premature end of input",
            "sparky.toml: maintenance[3].start: a window has either `start` and `end`, or `cron` and `duration`, not both",
        ]
    );
}
