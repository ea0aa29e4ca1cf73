//! Value types that several layers share: a command's vocabulary, the receipt and the import
//! result as clients read it. They sit low so that nothing imports upward.

pub mod command;
pub mod deletion;
pub mod input;
pub mod owner;
pub mod receipt;
pub mod result;
pub mod settings;
pub mod staff;
