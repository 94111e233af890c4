use super::*;

#[test]
fn sqlite_paths_resolve_against_the_config_dir() {
    let dir = Path::new("/etc/sparky");
    assert_eq!(resolve_database_url("sqlite://sparky.db", dir), "sqlite:///etc/sparky/sparky.db?mode=rwc");
    assert_eq!(resolve_database_url("sqlite:///var/lib/s.db", dir), "sqlite:///var/lib/s.db?mode=rwc");
    assert_eq!(resolve_database_url("postgres://h/db", dir), "postgres://h/db");
}

#[test]
fn schedules_set_the_intervals_of_pages_and_checks_that_set_none() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let write = |rel: &str, text: &str| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap_or(dir.path())).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
    };
    write("sparky.toml", "[schedules]\nstatus = \"2m\"\nchecks = \"1m\"\n");
    let page = "[status_page]\nkind = \"statuspage\"\nurl = \"https://status.acme.test/api/v2/summary.json\"\n";
    write("partners/acme.toml", &format!("id = \"acme\"\nname = \"Acme\"\n{page}"));
    write("partners/beta.toml", &format!("id = \"beta\"\nname = \"Beta\"\n{page}interval = \"30s\"\n"));
    let check = |id: &str, extra: &str| format!("id = \"{id}\"\npartner = \"acme\"\nurl = \"https://api.acme.test/\"\n{extra}");
    write("synthetics/plain.toml", &check("plain", ""));
    write("synthetics/own.toml", &check("own", "interval = \"10s\"\n"));
    write("synthetics/cron.toml", &check("cron", "cron = \"*/2 * * * *\"\n"));
    let config = Config::load_with_env(dir.path(), &|_| None).unwrap_or_else(|e| panic!("{e}"));
    let page_interval = |id: &str| config.partner(id).and_then(|p| p.status_page.as_ref()).map(StatusPageConfig::interval);
    assert_eq!(page_interval("acme"), Some(std::time::Duration::from_secs(120)));
    assert_eq!(page_interval("beta"), Some(std::time::Duration::from_secs(30)), "its own interval wins");
    let check_of = |id: &str| config.checks.iter().find(|c| c.id.as_str() == id).unwrap_or_else(|| panic!("{id}"));
    assert_eq!(check_of("plain").interval(), std::time::Duration::from_secs(60));
    assert_eq!(check_of("own").interval(), std::time::Duration::from_secs(10));
    assert!(check_of("cron").interval.is_none(), "a cron check keeps its cron");
    write("sparky.toml", "[schedules]\nstatus = \"5s\"\n");
    let ConfigError(problems) = Config::load_with_env(dir.path(), &|_| None).err().unwrap_or_else(|| panic!("5s accepted"));
    assert_eq!(problems[0].to_string(), "sparky.toml: schedules.status: poll status pages at most every 10 s");
}
