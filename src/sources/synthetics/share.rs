//! Checks shared by the live replicas: rendezvous (highest random weight) hashing of each check
//! over the members of the `replicas` table, so each check has one owner, a member that joins
//! takes about 1/N of the checks, and one that leaves gives only its own to the others.
//!
//! Ownership is a pure function of the members as last read and of the time ([`View::owner`]),
//! evaluated by each check at each of its ticks: nothing is written per check. Every replica
//! computes the same owner from the same rows, and the rows that change the answer are known in
//! advance: a new member counts from `started_at + SETTLE` (its row was read by the others
//! meanwhile), so the old and the new owner switch at the same instant. A member whose heartbeat
//! stops counts until `heartbeat_at + ttl`: a crashed replica's checks are run again by the
//! others within `ttl` plus one heartbeat.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::metrics::METRICS;
use crate::model::Timestamp;
use crate::store::Store;
use crate::store::replicas::{self, Member};

/// Heartbeats a member may miss before the others take its checks (its ttl), and heartbeats a
/// new member waits before it takes its share (its settle time).
const MISSED_BEATS: u32 = 3;

/// How long a member's heartbeat stays valid, for heartbeats every `heartbeat`.
pub fn ttl(heartbeat: Duration) -> Duration {
    heartbeat * MISSED_BEATS
}

/// The members as one replica last read them.
#[derive(Debug, Clone)]
pub struct View {
    me: String,
    members: Vec<Member>,
    ttl: Duration,
}

impl View {
    /// `me`'s view of `members` (rows of `replicas`) with heartbeats valid for `ttl`.
    pub fn new(me: &str, members: Vec<Member>, ttl: Duration) -> Self {
        Self { me: me.to_owned(), members, ttl }
    }

    /// Alone: every check is `me`'s (one process, or before the first heartbeat).
    pub fn alone(me: &str) -> Self {
        Self::new(me, Vec::new(), Duration::ZERO)
    }

    /// The members that share checks at `now`: heartbeat fresh and settled (started at least
    /// `ttl` ago). When none is settled (a cluster starting), every fresh member; `me` always
    /// counts as fresh (a replica that cannot read the table keeps running its share).
    fn sharing(&self, now: Timestamp) -> Vec<&str> {
        let fresh = |m: &&Member| m.instance == self.me || m.heartbeat_at + self.ttl >= now;
        let settled: Vec<&str> =
            self.members.iter().filter(fresh).filter(|m| m.started_at + self.ttl <= now).map(|m| m.instance.as_str()).collect();
        if !settled.is_empty() {
            return settled;
        }
        self.members.iter().filter(fresh).map(|m| m.instance.as_str()).collect()
    }

    /// The replica that runs `check` at `now` (`None`: no member known; then `me` runs it).
    pub fn owner(&self, check: &str, now: Timestamp) -> Option<&str> {
        self.sharing(now).into_iter().max_by_key(|member| (weight(member, check), *member))
    }

    /// `me` runs `check` at `now`.
    pub fn owns(&self, check: &str, now: Timestamp) -> bool {
        self.owner(check, now).is_none_or(|owner| owner == self.me)
    }
}

/// The rendezvous weight of `member` for `check`: the first 8 bytes of SHA-256(member, check),
/// stable across replicas and releases.
fn weight(member: &str, check: &str) -> u64 {
    let mut hash = Sha256::new();
    hash.update(member.as_bytes());
    hash.update([0]);
    hash.update(check.as_bytes());
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// This replica's membership: its view, renewed by [`Membership::run`].
#[derive(Debug, Clone)]
pub struct Membership {
    me: String,
    heartbeat: Duration,
    view: Arc<RwLock<Arc<View>>>,
}

impl Membership {
    /// Replica `me`, beating every `heartbeat`; alone until its first beat.
    pub fn new(me: &str, heartbeat: Duration) -> Self {
        Self { me: me.to_owned(), heartbeat, view: Arc::new(RwLock::new(Arc::new(View::alone(me)))) }
    }

    /// The view as last read.
    pub fn view(&self) -> Arc<View> {
        self.view.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Beats and reads the members once; a failure keeps the last view (logged and counted).
    pub async fn beat(&self, store: &Store, started_at: Timestamp) {
        let now = Timestamp::now();
        let ttl = ttl(self.heartbeat);
        let read = async {
            replicas::beat(store, &self.me, started_at, now).await?;
            replicas::live(store, now - ttl, now - Duration::from_secs(86_400)).await
        };
        match read.await {
            Ok(members) => {
                METRICS.replicas.set(i64::try_from(members.len()).unwrap_or(i64::MAX));
                *self.view.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(View::new(&self.me, members, ttl));
            }
            Err(e) => {
                METRICS.error("synthetics", "store");
                tracing::error!(error = %e, "cannot renew this replica's heartbeat; keeping the last view of the replicas");
            }
        }
    }

    /// Beats every heartbeat until `shutdown`, then leaves (its checks go to the others at
    /// their next beat).
    pub async fn run(&self, store: &Store, shutdown: CancellationToken) {
        let started_at = Timestamp::now();
        loop {
            self.beat(store, started_at).await;
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(self.heartbeat) => {}
            }
        }
        if let Err(e) = replicas::leave(store, &self.me).await {
            tracing::warn!(error = %e, "cannot remove this replica's row; the others take its checks when its heartbeat expires");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(15);

    fn at(s: i64) -> Timestamp {
        Timestamp::from_millis(s * 1000)
    }

    fn member(name: &str, started: i64, beat: i64) -> Member {
        Member { instance: name.to_owned(), started_at: at(started), heartbeat_at: at(beat) }
    }

    fn checks() -> Vec<String> {
        (0..3000).map(|i| format!("check-{i}")).collect()
    }

    fn owned(view: &View, now: Timestamp) -> usize {
        checks().iter().filter(|c| view.owns(c, now)).count()
    }

    #[test]
    fn every_check_has_exactly_one_owner_and_the_shares_are_even() {
        let members = vec![member("a", 0, 100), member("b", 0, 100), member("c", 0, 100)];
        let views: Vec<View> = ["a", "b", "c"].iter().map(|me| View::new(me, members.clone(), TTL)).collect();
        for c in checks() {
            assert_eq!(views.iter().filter(|v| v.owns(&c, at(100))).count(), 1, "{c}");
        }
        for v in &views {
            let share = owned(v, at(100));
            assert!((800..1200).contains(&share), "{} owns {share} of 3000", v.me);
        }
    }

    #[test]
    fn a_joining_member_takes_only_its_share_and_only_once_settled() {
        let old = vec![member("a", 0, 100), member("b", 0, 100)];
        let mut joined = old.clone();
        joined.push(member("c", 95, 100));
        let (before, after) = (View::new("a", old, TTL), View::new("a", joined.clone(), TTL));
        assert_eq!(owned(&after, at(100)), owned(&before, at(100)), "c is not settled before 95 + 15");
        let c = View::new("c", joined, TTL);
        assert_eq!(owned(&c, at(100)), 0, "c waits");
        let moved: Vec<String> = checks().into_iter().filter(|k| before.owns(k, at(110)) && !after.owns(k, at(110))).collect();
        assert!(moved.iter().all(|k| c.owns(k, at(110))), "what a gives up goes to c, at the same instant");
        assert!(checks().iter().all(|k| !after.owns(k, at(110)) || before.owns(k, at(110))), "a takes nothing new");
        assert!((400..600).contains(&moved.len()), "about a third of a's 1500 moved: {}", moved.len());
    }

    #[test]
    fn a_silent_member_loses_its_checks_after_the_ttl() {
        let members = vec![member("a", 0, 100), member("b", 0, 90)];
        let a = View::new("a", members, TTL);
        assert!(owned(&a, at(104)) < 3000, "b's heartbeat of 90 holds until 105");
        assert_eq!(owned(&a, at(106)), 3000, "b is gone: a runs everything");
    }

    #[test]
    fn alone_or_unable_to_read_the_table_a_replica_runs_everything() {
        assert_eq!(owned(&View::alone("a"), at(0)), 3000);
        let stale = View::new("a", vec![member("a", 0, 10)], TTL);
        assert_eq!(owned(&stale, at(1000)), 3000, "its own row counts however old the view is");
    }

    #[test]
    fn a_cluster_starting_together_shares_before_anyone_is_settled() {
        let members = vec![member("a", 100, 100), member("b", 101, 101)];
        let (a, b) = (View::new("a", members.clone(), TTL), View::new("b", members, TTL));
        assert_eq!(owned(&a, at(102)) + owned(&b, at(102)), 3000);
    }
}
