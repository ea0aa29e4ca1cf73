//! The import job: queue wiring, history planning, the pipeline that fetches and stores, and
//! how bank failures become command outcomes.

pub mod collect;
pub mod continuity;
pub mod history;
pub mod identity;
pub mod import;
pub mod outcome;
pub mod pace;
pub mod planner;
pub mod queue;
pub mod receipt;
pub mod retry;
pub mod worker;
