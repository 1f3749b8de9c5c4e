//! The appliance's releases and the rule that commits or rolls one back
//! (issue 22): pure, no file and no clock — the Linux slot store keeps
//! [`Slots`] durably and gives the time.
//!
//! A release installed is on **trial**: it runs, and each start is counted
//! (the count is written before the new binary does anything else, so a
//! release that crashes at start is counted however it dies). It
//! **commits** once it has run healthy for [`Rules::healthy_ms`] and
//! followed or forged [`Rules::blocks`] blocks; it is **rolled back** after
//! more than [`Rules::max_starts`] starts without committing, or on a
//! failed health check: the previous release (or the factory binary) runs
//! again and the failed release's counter is marked bad, never tried
//! again.

use serde::{Deserialize, Serialize};

use super::ManifestError;

/// One installed release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// Its version.
    pub version: String,
    /// Its release counter.
    pub counter: u64,
    /// Its binary's SHA-256, hex (what the manifest signed).
    pub sha256: String,
}

/// A release on trial: how often it started, and since when it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trial {
    /// Starts counted, this one included.
    pub starts: u32,
    /// When the current start began (ms since 1970).
    pub since_ms: u64,
}

/// When a release on trial commits or rolls back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Starts allowed on trial; one more rolls back.
    pub max_starts: u32,
    /// Healthy running time before a commit (ms).
    pub healthy_ms: u64,
    /// Blocks followed or forged before a commit.
    pub blocks: u64,
    /// A start not proven within this long (ms) has failed its health
    /// check: synced, fed and following blocks, a release proves itself
    /// well before; one that cannot (no sync, a stuck core) rolls back.
    pub trial_ms: u64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            max_starts: 3,
            healthy_ms: 10 * 60_000,
            blocks: 30,
            trial_ms: 30 * 60_000,
        }
    }
}

/// The appliance's releases: what runs, what a rollback returns to, and
/// what failed here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Slots {
    /// The release that runs (None: the factory binary, the package's).
    pub current: Option<Release>,
    /// What a rollback returns to (None: the factory binary).
    pub previous: Option<Release>,
    /// Some while `current` is on trial.
    pub trial: Option<Trial>,
    /// Release counters rolled back from, never taken again.
    pub bad: Vec<u64>,
    /// The release last rolled back from, until another is installed (the
    /// red LED's heartbeat).
    pub rolled_back: Option<u64>,
}

/// What a start does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtStart {
    /// Run (committed, or on trial within its starts).
    Run,
    /// Too many starts on trial: roll back to the previous release.
    RollBack {
        /// The starts counted.
        starts: u32,
    },
}

/// What a health report leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to decide (committed, or on trial and not yet proven).
    Wait,
    /// On trial and proven: mark it valid.
    Commit,
    /// On trial and not proven within [`Rules::trial_ms`] of its start:
    /// the health check failed, roll back.
    Fail,
}

impl Slots {
    /// The running release's counter (0: the factory binary).
    pub fn running(&self) -> u64 {
        self.current.as_ref().map_or(0, |r| r.counter)
    }

    /// Takes `release` (its manifest checked) as the one to run next, on
    /// trial; the running one becomes what a rollback returns to. Refused
    /// while the running one is on trial itself, and for a counter not
    /// above the running one or marked bad.
    pub fn install(&mut self, release: Release, now_ms: u64) -> Result<(), InstallError> {
        if self.trial.is_some() {
            return Err(InstallError::OnTrial);
        }
        if self.bad.contains(&release.counter) {
            return Err(InstallError::Manifest(ManifestError::MarkedBad(
                release.counter,
            )));
        }
        if release.counter <= self.running() {
            return Err(InstallError::Manifest(ManifestError::NotNewer {
                counter: release.counter,
                running: self.running(),
            }));
        }
        self.previous = self.current.take();
        self.current = Some(release);
        self.rolled_back = None;
        self.trial = Some(Trial {
            starts: 0,
            since_ms: now_ms,
        });
        Ok(())
    }

    /// Counts a start at `now_ms`: on trial, one more start, and a
    /// rollback once there are more than `rules.max_starts`.
    pub fn at_start(&mut self, rules: &Rules, now_ms: u64) -> AtStart {
        let Some(t) = &mut self.trial else {
            return AtStart::Run;
        };
        t.starts = t.starts.saturating_add(1);
        t.since_ms = now_ms;
        if t.starts > rules.max_starts {
            AtStart::RollBack { starts: t.starts }
        } else {
            AtStart::Run
        }
    }

    /// Whether the release on trial has proven itself: healthy (its
    /// watchdog fed, synced) since `healthy_since_ms`, and `blocks` blocks
    /// followed or forged since this start.
    pub fn health(
        &self,
        rules: &Rules,
        now_ms: u64,
        healthy_since_ms: u64,
        blocks: u64,
    ) -> Verdict {
        let Some(t) = &self.trial else {
            return Verdict::Wait;
        };
        let since = healthy_since_ms.max(t.since_ms);
        if now_ms.saturating_sub(since) >= rules.healthy_ms && blocks >= rules.blocks {
            Verdict::Commit
        } else if now_ms.saturating_sub(t.since_ms) >= rules.trial_ms {
            Verdict::Fail
        } else {
            Verdict::Wait
        }
    }

    /// Marks the release on trial valid: it runs from now on, and a
    /// rollback no longer returns past it.
    pub fn commit(&mut self) {
        self.trial = None;
    }

    /// Rolls back: the release on trial is marked bad and the previous one
    /// (None: the factory binary) runs again. Returns the release rolled
    /// back from; None if nothing was on trial (a committed release is
    /// never taken back by this).
    pub fn roll_back(&mut self) -> Option<Release> {
        self.trial.take()?;
        let failed = self.current.take()?;
        if !self.bad.contains(&failed.counter) {
            self.bad.push(failed.counter);
        }
        self.rolled_back = Some(failed.counter);
        self.current = self.previous.take();
        Some(failed)
    }

    /// The operator's rollback (`goodwill update rollback`): the running
    /// release, on trial or committed, is marked bad and the previous one
    /// (None: the factory binary) runs again. None when the factory binary
    /// runs already.
    pub fn give_up(&mut self) -> Option<Release> {
        self.trial = None;
        let failed = self.current.take()?;
        if !self.bad.contains(&failed.counter) {
            self.bad.push(failed.counter);
        }
        self.rolled_back = Some(failed.counter);
        self.current = self.previous.take();
        Some(failed)
    }

    /// Back to the factory binary (`factory_reset`): no release runs or is
    /// returned to, no rollback is shown; the counters marked bad stay
    /// marked.
    pub fn factory_reset(&mut self) {
        self.current = None;
        self.previous = None;
        self.trial = None;
        self.rolled_back = None;
    }
}

/// Why a release is not installed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// The running release is itself on trial.
    #[error(
        "the running release is on trial: it commits or rolls back before another is installed"
    )]
    OnTrial,
    /// What the manifest check says.
    #[error(transparent)]
    Manifest(ManifestError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(counter: u64) -> Release {
        Release {
            version: format!("0.{counter}.0"),
            counter,
            sha256: "00".repeat(32),
        }
    }

    const RULES: Rules = Rules {
        max_starts: 3,
        healthy_ms: 1_000,
        blocks: 5,
        trial_ms: 60_000,
    };

    #[test]
    fn a_healthy_release_commits_after_its_time_and_blocks() {
        let mut s = Slots::default();
        s.install(rel(1), 0).unwrap();
        assert_eq!(s.at_start(&RULES, 10), AtStart::Run);
        assert_eq!(s.health(&RULES, 500, 10, 9), Verdict::Wait);
        assert_eq!(s.health(&RULES, 2_000, 10, 4), Verdict::Wait);
        // Healthy only since 1,500: not yet 1 s of it.
        assert_eq!(s.health(&RULES, 2_000, 1_500, 9), Verdict::Wait);
        assert_eq!(s.health(&RULES, 2_000, 10, 5), Verdict::Commit);
        s.commit();
        assert_eq!(s.running(), 1);
        assert_eq!(s.at_start(&RULES, 3_000), AtStart::Run);
        assert_eq!(s.health(&RULES, 9_000, 0, 99), Verdict::Wait);
        // A committed release is not rolled back by this.
        assert_eq!(s.roll_back(), None);
        assert_eq!(s.running(), 1);
    }

    #[test]
    fn a_release_that_never_proves_itself_rolls_back_and_is_never_taken_again() {
        let mut s = Slots::default();
        s.install(rel(1), 0).unwrap();
        s.commit();
        s.install(rel(2), 0).unwrap();
        assert_eq!(s.install(rel(3), 0), Err(InstallError::OnTrial));
        for i in 1..=3 {
            assert_eq!(s.at_start(&RULES, i), AtStart::Run, "start {i}");
        }
        assert_eq!(s.at_start(&RULES, 4), AtStart::RollBack { starts: 4 });
        assert_eq!(s.roll_back(), Some(rel(2)));
        assert_eq!(
            (s.current.clone(), s.trial, s.bad.clone()),
            (Some(rel(1)), None, vec![2])
        );
        assert_eq!(
            s.install(rel(2), 5),
            Err(InstallError::Manifest(ManifestError::MarkedBad(2)))
        );
        assert!(matches!(
            s.install(rel(1), 5),
            Err(InstallError::Manifest(ManifestError::NotNewer { .. }))
        ));
        s.install(rel(3), 5).unwrap();
        // A failed health check rolls back at once, to release 1.
        assert_eq!(s.roll_back(), Some(rel(3)));
        assert_eq!(s.running(), 1);
        assert_eq!(s.bad, vec![2, 3]);
    }

    #[test]
    fn the_first_release_rolls_back_to_the_factory_binary() {
        let mut s = Slots::default();
        s.install(rel(4), 0).unwrap();
        assert_eq!(s.roll_back(), Some(rel(4)));
        assert_eq!((s.current.clone(), s.running()), (None, 0));
    }

    #[test]
    fn a_start_not_proven_within_the_trial_fails_its_health_check() {
        let mut s = Slots::default();
        s.install(rel(1), 0).unwrap();
        assert_eq!(s.at_start(&RULES, 1_000), AtStart::Run);
        // Never synced (healthy since "never" = now), or too few blocks.
        assert_eq!(s.health(&RULES, 60_999, 60_999, 0), Verdict::Wait);
        assert_eq!(s.health(&RULES, 61_000, 61_000, 0), Verdict::Fail);
        s.commit();
        assert_eq!(s.health(&RULES, 999_000, 999_000, 0), Verdict::Wait);
    }

    #[test]
    fn the_operator_gives_up_a_committed_release_and_the_state_reads_back() {
        let mut s = Slots::default();
        s.install(rel(1), 0).unwrap();
        s.commit();
        s.install(rel(2), 0).unwrap();
        s.commit();
        let text = toml::to_string(&s).unwrap();
        assert_eq!(toml::from_str::<Slots>(&text).unwrap(), s);
        assert_eq!(s.give_up(), Some(rel(2)));
        assert_eq!((s.running(), s.bad.clone()), (1, vec![2]));
        // Then to the factory binary, then nothing more to give up.
        assert_eq!(s.give_up(), Some(rel(1)));
        assert_eq!(s.give_up(), None);
        assert_eq!((s.running(), s.bad.clone()), (0, vec![2, 1]));
        s.install(rel(3), 0).unwrap();
        s.factory_reset();
        assert_eq!((s.current.clone(), s.trial), (None, None));
    }
}
