//! Browser binding: a sign-in's session goes only to the browser that went through the bank.
//!
//! Two one-time secrets, of which Aisle keeps only SHA-256 hashes:
//! - a [`BrowserKey`], held in a first-party cookie by the browser that began a bank attempt
//!   (the widget's bank window at `/go`, a redirection's page when it begins the bank); the
//!   bank's way back is refused in any other browser;
//! - a [`CompletionCode`], handed to whoever finished a widget sign-in (the bank window's
//!   return page, or the answer to the frame's last step). The frame gets the session only in
//!   exchange for it, so a frame whose bank link was finished elsewhere never does.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// How long a completion code may be exchanged: the return page hands it over at once.
pub const COMPLETION_TTL: chrono::Duration = chrono::Duration::minutes(5);

/// The secret a browser holds in its binding cookie.
pub struct BrowserKey(String);

/// The secret that exchanges a finished widget sign-in for its session, once.
#[derive(Clone)]
pub struct CompletionCode(String);

macro_rules! one_time_secret {
    ($name:ident) => {
        impl $name {
            /// 256 fresh random bits, as hex.
            pub fn generate() -> Self {
                Self(random_hex())
            }

            /// What the browser presents; its hash is compared with the stored one.
            pub fn from_presented(value: &str) -> Self {
                Self(value.to_owned())
            }

            pub fn expose(&self) -> &str {
                &self.0
            }

            /// What the database keeps.
            pub fn hash(&self) -> Vec<u8> {
                Sha256::digest(self.0.as_bytes()).to_vec()
            }
        }

        // Never in a log line, whatever prints it.
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(…)"))
            }
        }
    };
}

one_time_secret!(BrowserKey);
one_time_secret!(CompletionCode);

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_time_secret_is_fresh_each_time_hashes_stably_and_never_debug_prints() {
        let code = CompletionCode::generate();
        assert_eq!(code.expose().len(), 64);
        assert_ne!(code.expose(), CompletionCode::generate().expose());
        assert_eq!(
            code.hash(),
            CompletionCode::from_presented(code.expose()).hash()
        );
        assert!(!format!("{code:?}").contains(code.expose()));
        let key = BrowserKey::generate();
        assert!(!format!("{key:?}").contains(key.expose()));
    }
}
