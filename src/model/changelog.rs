//! Changelog entry words.

vocabulary! {
    /// The state of a stored changelog entry.
    pub enum EntryState {
        /// Recorded on a first poll beyond the backfill: never posted.
        Seen,
        /// New; the next digest will carry it.
        Pending,
        /// Carried by a digest action; delivered when that action is.
        Queued,
    }
}
