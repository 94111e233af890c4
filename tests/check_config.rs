//! `sparky check-config`: every problem as `FILE: key: reason`, exit 2.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use common::{Db, Sparky};

#[tokio::test]
async fn the_shipped_configuration_is_valid() {
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_sparky"))
        .args(["check-config", "--config", env!("CARGO_MANIFEST_DIR")])
        .env_remove("SPARKY_DATABASE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("configuration ok: 7 partners"), "{stdout}");
}

#[tokio::test]
async fn every_problem_is_reported_with_file_and_key() {
    let sparky = Sparky::new(Db::Sqlite);
    sparky.write("sparky.toml", "[schedules]\nchangelogs = \"every six hours\"\n[slack]\ncolour = \"red\"\n");
    sparky.write("partners/okta.toml", "id = \"okta\"\nname = \"Okta\"\nfavourite = true\n[status_page]\nkind = \"statuspage\"\nurl = \"https://status.okta.com/api/v2/summary.json\"\ninterval = \"often\"\n");
    sparky.write("partners/ftp.toml", "id = \"ftp\"\nname = \"Ftp\"\n[[feeds]]\nurl = \"ftp://developer.okta.com/feed.xml\"\n");
    sparky.write("partners/okta-again.toml", "id = \"okta\"\nname = \"Okta again\"\n");
    sparky.write("partners/secret.toml", "id = \"secret\"\nname = \"${SPARKY_TEST_SURELY_UNSET_VAR}\"\n");
    sparky.write("partners/html.toml", "id = \"html\"\nname = \"Html\"\n[[feeds]]\nurl = \"https://x.test/changelog\"\nkind = \"html\"\n");
    let run = sparky.cli(&["check-config"]).await;
    run.expect_code(2);
    let out = run.stdout;
    for expected in [
        "sparky.toml: schedules.changelogs: `every six hours` has 3 fields",
        "sparky.toml: slack.colour: unknown key",
        "partners/okta.toml: favourite: unknown key",
        "partners/okta.toml: status_page.interval: `often` is not a duration",
        "partners/ftp.toml: feeds[0].url: `ftp://developer.okta.com/feed.xml`: scheme `ftp` is not http or https",
        "partners/okta.toml: id: duplicate partner id `okta` (also in partners/okta-again.toml)",
        "partners/secret.toml: name: environment variable SPARKY_TEST_SURELY_UNSET_VAR is not set",
        "partners/html.toml: feeds[0].entry: a feed of kind = \"html\" needs this CSS selector",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}

#[tokio::test]
async fn a_bad_config_stops_every_command_with_exit_2() {
    let sparky = Sparky::new(Db::Sqlite);
    sparky.write("partners/bad.toml", "id = \"Bad Id\"\nname = \"x\"\n");
    let run = sparky.cli(&["once", "changelogs"]).await;
    run.expect_code(2);
    assert!(run.stderr.contains("partners/bad.toml: id: `Bad Id` is not a valid id"), "{}", run.stderr);
}

#[tokio::test]
async fn a_broken_template_override_is_a_config_problem() {
    let sparky = Sparky::new(Db::Sqlite);
    sparky.write("templates/slack/digest.txt.j2", "{{ count }");
    let run = sparky.cli(&["check-config"]).await;
    run.expect_code(2);
    assert!(run.stdout.contains("templates/slack/digest.txt.j2: line 1:"), "{}", run.stdout);
}
