//! Sign-in: how an owner's authorisation at their bank becomes a session, the signature that
//! proves a session id came from us.

pub mod binding;
pub mod flow;
pub mod options;
pub mod origins;
pub mod sandbox;
pub mod session;
pub mod signature;
