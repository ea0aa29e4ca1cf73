//! Sign-in: how an owner's authorisation at their bank becomes a session, and the signature
//! that proves a session id came from us.

pub mod sandbox;
pub mod signature;
