//! Changelog entry words.

vocabulary! {
    /// The state of a stored changelog entry.
    pub enum EntryState {
        /// Recorded, never posted: beyond a first poll's backfill, or a duplicate of an entry
        /// already seen (same link, or title and date, under a new id).
        Seen,
        /// New; the next digest will carry it.
        Pending,
        /// Carried by a digest action; delivered when that action is.
        Queued,
    }
}
