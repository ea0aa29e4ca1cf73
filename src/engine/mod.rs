//! The import job: the workers, history planning, and the pipeline that fetches and stores.

pub mod collect;
pub mod continuity;
pub mod history;
pub mod identity;
pub mod import;
pub mod pace;
pub mod planner;
pub mod retry;
pub mod worker;
