//! Feed parsing throughput: Sparky's parse -> identity -> summary over a directory of real feeds,
//! in entries and MB per CPU-second, compared in the same run with the anchor (Python feedparser,
//! `../shared/tools/anchor-feedparser`) on the same directory.
//!
//! ```text
//! cargo bench --bench feed_parsing -- [DIR] [--seconds N] [--no-anchor]
//! ```
//!
//! DIR defaults to `$CARGO_MANIFEST_DIR/../shared/fixtures/feeds` (skipped, exit 0, when absent);
//! N (default 5) is the CPU-seconds each side spends in its timed loop. Every regular, non-hidden
//! file of DIR is read into memory first; after one warm-up pass, passes run until this process
//! has used N CPU-seconds (utime + stime from `getrusage`). A file that fails to parse counts 0
//! entries but its bytes still count. Peak RSS is VmHWM of this (fresh) process after the loop.
//! The anchor runs after Sparky's measurement, never beside it. Targets: at least 10x
//! feedparser's entries per CPU-second, and a peak RSS under 64 MiB.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sparky::sources::changelogs::parse::parse_feed;
use sparky::sources::changelogs::summarise;
use sparky::sources::changelogs::summary::TagRules;
use support::{cpu_seconds, mib, peak_rss_mib, yes_no};

mod support;

/// The summary budget, as in the corpus test.
const SUMMARY_CHARS: usize = 300;
/// Sparky must parse at least this many times more entries per CPU-second than feedparser.
const TARGET_RATIO: f64 = 10.0;
/// Sparky's peak RSS must stay under this many MiB.
const TARGET_RSS_MIB: f64 = 64.0;

/// Command line.
struct Args {
    dir: PathBuf,
    seconds: f64,
    anchor: bool,
}

/// Parses the command line; flags it does not know (cargo passes `--bench`) are ignored.
fn parse_args() -> Result<Args, String> {
    let mut args = Args { dir: support::shared_path("fixtures/feeds"), seconds: 5.0, anchor: true };
    let mut dir = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let seconds = match arg.as_str() {
            "--seconds" => Some(it.next().ok_or("--seconds needs a value")?),
            "--no-anchor" => {
                args.anchor = false;
                None
            }
            _ => arg.strip_prefix("--seconds=").map(str::to_owned),
        };
        if let Some(value) = seconds {
            args.seconds = value
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s > 0.0)
                .ok_or_else(|| format!("--seconds: not a positive number: {value:?}"))?;
        } else if !arg.starts_with('-') && dir.is_none() {
            dir = Some(PathBuf::from(arg));
        }
    }
    if let Some(dir) = dir {
        args.dir = dir;
    }
    Ok(args)
}

/// Every regular, non-hidden file of `dir`, sorted by name (as the anchor reads them).
fn load(dir: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && entry.file_type()?.is_file() {
            names.push(name);
        }
    }
    names.sort();
    names.into_iter().map(|name| std::fs::read(dir.join(&name)).map(|bytes| (name, bytes))).collect()
}

/// One pass: parse every file, identify and summarise every entry; returns the entries.
fn one_pass(files: &[(String, Vec<u8>)], bases: &[String], rules: &TagRules) -> usize {
    let mut entries = 0;
    for ((_, bytes), base) in files.iter().zip(bases) {
        // A failed parse counts 0 entries (its bytes still count towards MB per CPU-second).
        let Ok(parsed) = parse_feed(black_box(bytes), base, None) else {
            continue;
        };
        for entry in &parsed {
            // `summarise` computes the identity (the record's key) along with the summary.
            black_box(summarise(entry, rules, SUMMARY_CHARS));
        }
        entries += parsed.len();
    }
    entries
}

/// Sparky's figures.
struct Measured {
    entries_per_cpu_second: f64,
    mb_per_cpu_second: f64,
    entries_per_pass: usize,
    files: usize,
    failed: Vec<String>,
    passes: u64,
    cpu_seconds: f64,
    wall_seconds: f64,
    peak_rss_mib: Option<f64>,
}

fn measure(files: &[(String, Vec<u8>)], seconds: f64) -> Measured {
    let rules = TagRules::default();
    let bases: Vec<String> = files.iter().map(|(name, _)| format!("https://fixtures.invalid/feeds/{name}")).collect();
    let bytes_per_pass: usize = files.iter().map(|(_, b)| b.len()).sum();
    let failed = files
        .iter()
        .zip(&bases)
        .filter_map(|((name, bytes), base)| parse_feed(bytes, base, None).err().map(|e| format!("{name} ({})", e.kind())))
        .collect();

    let entries_per_pass = one_pass(files, &bases, &rules); // warm-up, not timed
    let (mut passes, mut entries) = (0u64, 0usize);
    let (c0, w0) = (cpu_seconds(), std::time::Instant::now());
    let mut cpu = 0.0;
    while cpu < seconds {
        entries += one_pass(files, &bases, &rules);
        passes += 1;
        cpu = cpu_seconds() - c0;
    }
    let wall_seconds = w0.elapsed().as_secs_f64();
    Measured {
        entries_per_cpu_second: entries as f64 / cpu,
        mb_per_cpu_second: passes as f64 * bytes_per_pass as f64 / 1e6 / cpu,
        entries_per_pass,
        files: files.len(),
        failed,
        passes,
        cpu_seconds: cpu,
        wall_seconds,
        peak_rss_mib: peak_rss_mib(),
    }
}

/// The anchor's figures (keys of its `--json` object).
struct Anchor {
    entries_per_cpu_second: f64,
    mb_per_cpu_second: f64,
    entries_per_pass: u64,
    files: u64,
    peak_rss_mib: f64,
    version: String,
    passes: u64,
    cpu_seconds: f64,
    bozo_files: u64,
}

/// Runs the anchor on `dir` for `seconds` CPU-seconds; `Err` says why there is no figure.
fn run_anchor(dir: &Path, seconds: f64) -> Result<Anchor, String> {
    let seconds = seconds.to_string();
    let json = support::run_anchor("anchor-feedparser", [dir.as_os_str(), "--seconds".as_ref(), seconds.as_ref(), "--json".as_ref()])?;
    let num = |key: &str| json[key].as_f64().ok_or_else(|| format!("anchor JSON has no number {key:?}: {json}"));
    let int = |key: &str| json[key].as_u64().ok_or_else(|| format!("anchor JSON has no integer {key:?}: {json}"));
    Ok(Anchor {
        entries_per_cpu_second: num("entries_per_cpu_second")?,
        mb_per_cpu_second: num("mb_per_cpu_second")?,
        entries_per_pass: int("entries_per_pass")?,
        files: int("files")?,
        peak_rss_mib: num("peak_rss_mib")?,
        version: json["version"].as_str().unwrap_or("?").to_owned(),
        passes: int("passes")?,
        cpu_seconds: num("cpu_seconds")?,
        bozo_files: int("bozo_files")?,
    })
}

fn main() -> ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("feed_parsing: {e}\nusage: feed_parsing [DIR] [--seconds N] [--no-anchor]");
            return ExitCode::from(2);
        }
    };
    if !args.dir.is_dir() {
        println!("feed_parsing: feed directory {} not found; benchmark skipped", args.dir.display());
        return ExitCode::SUCCESS;
    }
    let files = match load(&args.dir) {
        Ok(files) if !files.is_empty() => files,
        Ok(_) => {
            println!("feed_parsing: no feed files in {}; benchmark skipped", args.dir.display());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("feed_parsing: cannot read {}: {e}", args.dir.display());
            return ExitCode::FAILURE;
        }
    };
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    println!("feed_parsing: {} files, {bytes} bytes from {}; {} CPU-s per side", files.len(), args.dir.display(), args.seconds);

    let s = measure(&files, args.seconds);
    println!(
        "sparky     entries_per_cpu_second={:.0} mb_per_cpu_second={:.2} entries_per_pass={} files={} peak_rss_mib={} passes={} cpu_seconds={:.2} wall_seconds={:.2}",
        s.entries_per_cpu_second,
        s.mb_per_cpu_second,
        s.entries_per_pass,
        s.files,
        s.peak_rss_mib.map_or_else(|| "unknown".to_owned(), |m| format!("{m:.1}")),
        s.passes,
        s.cpu_seconds,
        s.wall_seconds
    );
    if !s.failed.is_empty() {
        println!("sparky     files that fail to parse (0 entries each): {}", s.failed.join(", "));
    }
    let rss_ok = s.peak_rss_mib.is_some_and(|m| m < TARGET_RSS_MIB);

    if !args.anchor {
        println!(
            "feed parsing: sparky {:.0} entries/CPU-s, {:.2} MB/CPU-s; anchor skipped (--no-anchor)",
            s.entries_per_cpu_second, s.mb_per_cpu_second
        );
        println!("peak RSS: sparky {}", mib(s.peak_rss_mib));
        println!(
            "targets: ratio >= {TARGET_RATIO}x feedparser: not measured (anchor skipped); sparky peak RSS < {TARGET_RSS_MIB} MiB: {} ({})",
            yes_no(rss_ok),
            mib(s.peak_rss_mib)
        );
        return ExitCode::SUCCESS;
    }

    // Only now, with Sparky's loop finished: the anchor must not compete for the same cores.
    match run_anchor(&args.dir, args.seconds) {
        Ok(a) => {
            println!(
                "feedparser entries_per_cpu_second={:.0} mb_per_cpu_second={:.2} entries_per_pass={} files={} peak_rss_mib={:.1} passes={} cpu_seconds={:.2} bozo_files={} version={}",
                a.entries_per_cpu_second,
                a.mb_per_cpu_second,
                a.entries_per_pass,
                a.files,
                a.peak_rss_mib,
                a.passes,
                a.cpu_seconds,
                a.bozo_files,
                a.version
            );
            let ratio = s.entries_per_cpu_second / a.entries_per_cpu_second;
            println!(
                "feed parsing: sparky {:.0} entries/CPU-s, feedparser {:.0} entries/CPU-s, ratio {ratio:.1}x",
                s.entries_per_cpu_second, a.entries_per_cpu_second
            );
            println!(
                "feed parsing: sparky {:.2} MB/CPU-s, feedparser {:.2} MB/CPU-s, ratio {:.1}x",
                s.mb_per_cpu_second,
                a.mb_per_cpu_second,
                s.mb_per_cpu_second / a.mb_per_cpu_second
            );
            println!("peak RSS: sparky {}, feedparser {:.1} MiB", mib(s.peak_rss_mib), a.peak_rss_mib);
            let ratio_ok = ratio >= TARGET_RATIO;
            println!(
                "targets {}: ratio >= {TARGET_RATIO}x feedparser: {} ({ratio:.1}x); sparky peak RSS < {TARGET_RSS_MIB} MiB: {} ({})",
                if ratio_ok && rss_ok { "hold" } else { "DO NOT hold" },
                yes_no(ratio_ok),
                yes_no(rss_ok),
                mib(s.peak_rss_mib)
            );
            if a.entries_per_pass as usize != s.entries_per_pass || a.files as usize != s.files {
                println!(
                    "note: entries per pass differ (sparky {} over {} files, feedparser {} over {} files): \
                     sparky counts 0 for the {} file(s) it rejects, feedparser counts what it recovers from its {} bozo file(s)",
                    s.entries_per_pass,
                    s.files,
                    a.entries_per_pass,
                    a.files,
                    s.failed.len(),
                    a.bozo_files
                );
            }
        }
        Err(e) => {
            println!(
                "feed parsing: sparky {:.0} entries/CPU-s, {:.2} MB/CPU-s; feedparser anchor FAILED, no ratio",
                s.entries_per_cpu_second, s.mb_per_cpu_second
            );
            println!("peak RSS: sparky {}", mib(s.peak_rss_mib));
            println!(
                "targets: ratio >= {TARGET_RATIO}x feedparser: not measured (anchor failed); sparky peak RSS < {TARGET_RSS_MIB} MiB: {} ({})",
                yes_no(rss_ok),
                mib(s.peak_rss_mib)
            );
            eprintln!("feed_parsing: anchor failed: {e}");
        }
    }
    ExitCode::SUCCESS
}
