//! Helpers shared by the benchmarks, each bench taking them with `mod support;` (Cargo does not
//! build this directory as a bench of its own): CPU time and memory of this process, percentiles,
//! the verdict word, the loopback environment, the helper process a bench re-runs itself as, and
//! the anchors of `../shared/tools`.

#![allow(dead_code, reason = "every bench uses a part of these helpers")]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};

use serde_json::Value;

/// CPU-seconds (user + system) used by this process so far, from `getrusage(RUSAGE_SELF)`.
pub fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            panic!("getrusage failed: {}", std::io::Error::last_os_error());
        }
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// A `/proc/self/status` figure given in kB (`VmHWM:`, `VmRSS:`), in MiB; `None` when unreadable.
pub fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Peak resident set of this process (VmHWM), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    status_mib("VmHWM:")
}

/// A MiB figure as `12.3 MiB`, or `unknown`.
pub fn mib(v: Option<f64>) -> String {
    v.map_or_else(|| "unknown".to_owned(), |m| format!("{m:.1} MiB"))
}

/// The `p`th percentile (nearest rank) of `sorted` (ascending); `None` when it is empty.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The answer of a `targets` line: `yes`, or `NO` so that a miss stands out.
pub fn yes_no(ok: bool) -> &'static str {
    if ok { "yes" } else { "NO" }
}

/// Removes the proxy variables from the environment: a proxy would carry the benches' loopback
/// requests elsewhere.
///
/// # Safety
///
/// No other thread may run (see [`std::env::remove_var`]): call it first thing in `main`.
pub unsafe fn clear_proxy_env() {
    for var in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
        // SAFETY: the caller guarantees that no other thread runs.
        unsafe { std::env::remove_var(var) };
    }
}

/// `$CARGO_MANIFEST_DIR/../shared/{relative}`: the fixtures and anchors beside the repository.
pub fn shared_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared").join(relative)
}

/// Runs the anchor `../shared/tools/{name}` with `args` (which should include `--json`) and
/// returns the JSON object it prints last; `Err` says why there is no figure, with its stderr.
pub fn run_anchor<S: AsRef<OsStr>>(name: &str, args: impl IntoIterator<Item = S>) -> Result<Value, String> {
    let path = shared_path("tools").join(name);
    if !path.is_file() {
        return Err(format!("{} not found", path.display()));
    }
    let output = Command::new(&path).args(args).stdin(Stdio::null()).output().map_err(|e| format!("cannot run {}: {e}", path.display()))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("{name} exited with {}; its stderr:\n{}", output.status, stderr.trim_end()));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().rev().find(|l| l.trim_start().starts_with('{')).unwrap_or_default();
    serde_json::from_str(line).map_err(|e| format!("{name} printed {stdout:?}, no JSON object ({e}); its stderr:\n{}", stderr.trim_end()))
}

/// A helper process: this bench's own executable re-run with other arguments (`--serve` ...), so
/// that what it does (serving the loopback world) costs nothing in the bench's CPU figures.
///
/// The helper prints one line when it is ready (`port N`, see [`serve_loopback`]), may answer
/// lines the bench sends it, and exits when its stdin closes. It is killed and reaped on drop.
pub struct Helper {
    /// What it is, for messages (`page server`).
    what: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// The line it printed when ready.
    ready: String,
}

impl Helper {
    /// Starts `current_exe()` with `args` and `env` added, its stderr inherited, and waits for
    /// its first line.
    pub fn spawn(what: &'static str, args: &[&str], env: &[(&str, &str)]) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
        let mut child = Command::new(exe)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the {what}: {e}"))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut helper = Self { what, child, stdin: Some(stdin), stdout, ready: String::new() };
        helper.ready = helper.read_line()?;
        Ok(helper)
    }

    /// The port of a helper whose first line was `port N`.
    pub fn port(&self) -> Result<u16, String> {
        self.ready
            .strip_prefix("port ")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("{} said {:?}, not `port N`", self.what, self.ready))
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its next line on stdout, trimmed.
    pub fn read_line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(0) => Err(format!("the {} exited", self.what)),
            Ok(_) => Ok(line.trim().to_owned()),
            Err(e) => Err(format!("cannot read from the {}: {e}", self.what)),
        }
    }

    /// Sends it one line on its stdin.
    pub fn send_line(&mut self, line: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or_else(|| format!("{} stdin closed", self.what))?;
        writeln!(stdin, "{line}").and_then(|()| stdin.flush()).map_err(|e| format!("cannot talk to the {}: {e}", self.what))
    }

    /// Kills it and reaps it; the description of how it ended.
    pub fn stop(&mut self) -> String {
        let (what, pid) = (self.what, self.child.id());
        if let Ok(Some(status)) = self.child.try_wait() {
            return format!("{what} (pid {pid}) had already exited: {status}");
        }
        let killed = self.child.kill();
        self.stdin = None;
        match (killed, self.child.wait()) {
            (_, Ok(status)) => {
                // SAFETY: signal 0 only asks whether the (reaped) pid still exists.
                let gone = i32::try_from(pid).is_ok_and(|p| unsafe { libc::kill(p, 0) } != 0);
                format!("{what} (pid {pid}) stopped: {status}{}", if gone { "; pid gone" } else { "; pid STILL EXISTS" })
            }
            (Err(e), Err(_)) | (Ok(()), Err(e)) => format!("{what} (pid {pid}) could not be stopped: {e}"),
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The helper's side of [`Helper`]: serves `app` on a free port of 127.0.0.1 (a current-thread
/// runtime), prints `port N`, then hands every line of stdin to `on_line` and prints its answer,
/// if any. Exits the process when stdin closes (the bench is gone) or stdout breaks, so that the
/// helper never outlives the bench; returns (failure) only when serving fails.
pub fn serve_loopback(what: &str, app: axum::Router, mut on_line: impl FnMut(&str) -> Option<String> + Send + 'static) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        std::thread::spawn(move || {
            let mut out = std::io::stdout().lock();
            if writeln!(out, "port {port}").and_then(|()| out.flush()).is_err() {
                std::process::exit(0);
            }
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if let Some(answer) = on_line(&line)
                    && writeln!(out, "{answer}").and_then(|()| out.flush()).is_err()
                {
                    break;
                }
            }
            std::process::exit(0);
        });
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("{what}: {e}");
        }
    });
    ExitCode::FAILURE
}
