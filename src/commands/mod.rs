//! The command lifecycle, owned in one place.
//!
//! - [`start`]: verify the session's signature, claim the session, insert the command and push
//!   its job, all in one transaction.
//! - [`finish`]: the only way a command ends. It sets the state and error code and erases the
//!   session's bank secret in one transaction, fenced so that only the run holding the lease
//!   (or the reaper, when no run does) can end it; then it ends the bank session.
//! - [`deletion`]: deleting a finished command's imported data, on request or when the
//!   client's retention ends, with a signed receipt; the command row stays and says so.
//! - [`reaper`]: ends every in-progress command whose job is gone, exhausted or killed, or
//!   whose run is overdue, so that after any crash every command reaches a final state.

pub mod deletion;
pub mod finish;
pub mod reaper;
pub mod start;
