//! Staff sign-in: invitations with a one-time setup link, passwords (argon2) and TOTP codes
//! (mandatory, each good once), the session cookie, lockout after repeated failures, and the
//! CSRF check every form passes.
//!
//! CSRF: a double-submit token bound by HMAC. Every form carries
//! `HMAC-SHA256(k, binding)`, where `binding` is the session cookie's value (signed in) or a
//! random pre-sign-in cookie (the sign-in and setup forms), and `k` is derived from the
//! service's `session_signing_key`. Another site can neither read the cookie nor compute the
//! token, so it cannot forge a form; the cookies are also `SameSite=Strict`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use axum::{
    body::Body,
    extract::{FromRequestParts, Path, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use totp_rs::Totp;
use uuid::Uuid;

use super::views::{ConsoleError, render};
use crate::{
    model::staff::Role,
    sealing::SecretSealer,
    state::AppState,
    store::staff::{self, NewStaffUser, StaffUser},
};

/// A session ends after this long without a request...
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// ...and this long after sign-in, whatever happens.
pub const ABSOLUTE: Duration = Duration::from_secs(12 * 60 * 60);
/// Wrong passwords or codes in a row that lock an account...
pub const MAX_FAILURES: i32 = 5;
/// ...for this long.
pub const LOCK: Duration = Duration::from_secs(15 * 60);
/// How long an invitation's setup link works.
pub const SETUP_LINK_TTL: Duration = Duration::from_secs(72 * 60 * 60);
const MIN_PASSWORD: usize = 12;
const MAX_PASSWORD: usize = 1024;

/// The cookie names: `__Host-` (https only, host-bound, path `/`) when Aisle is reached
/// over https, so no subdomain can plant or shadow them.
struct CookieNames {
    session: &'static str,
    pre: &'static str,
    secure: bool,
}

fn cookie_names(state: &AppState) -> CookieNames {
    if crate::http::privacy::hsts_for(&state.config.public_url) {
        CookieNames {
            session: "__Host-aisle_console",
            pre: "__Host-aisle_console_pre",
            secure: true,
        }
    } else {
        CookieNames {
            session: "aisle_console",
            pre: "aisle_console_pre",
            secure: false,
        }
    }
}

fn read_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty() && value.len() <= 128)
}

fn cookie(names: &CookieNames, name: &str, value: &str, max_age: Option<Duration>) -> HeaderValue {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if names.secure {
        cookie.push_str("; Secure");
    }
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={}", age.as_secs()));
    }
    // Only base64url and fixed names go in: always a valid header value.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn sha256(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

/// The CSRF token for forms sent along with `binding`.
fn csrf_token(state: &AppState, binding: &str) -> Result<String, ConsoleError> {
    let key = state
        .config
        .session_signing_key
        .as_ref()
        .ok_or_else(|| ConsoleError::Internal("no session_signing_key".into()))?;
    let mut derive = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes())
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    derive.update(b"aisle console csrf v1");
    let mut mac = Hmac::<Sha256>::new_from_slice(&derive.finalize().into_bytes())
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    mac.update(binding.as_bytes());
    Ok(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// What the CSRF token of a request's forms is bound to: its session, else its pre-sign-in
/// cookie.
fn binding<'h>(state: &AppState, headers: &'h HeaderMap) -> Option<&'h str> {
    let names = cookie_names(state);
    read_cookie(headers, names.session).or_else(|| read_cookie(headers, names.pre))
}

/// Refuses every console `POST` whose form lacks the right `csrf` field, before any handler
/// sees it.
pub async fn check_csrf(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ConsoleError> {
    if request.method() != Method::POST {
        return Ok(next.run(request).await);
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, state.config.http.body_limit)
        .await
        .map_err(|_| ConsoleError::BadInput("the form is too large".into()))?;
    let sent = url::form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value.into_owned());
    let expected = match binding(&state, &parts.headers) {
        Some(binding) => Some(csrf_token(&state, binding)?),
        None => None,
    };
    let good = match (sent, expected) {
        (Some(sent), Some(expected)) => {
            // Compared as MACs: in constant time.
            let mut mac = Hmac::<Sha256>::new_from_slice(b"compare")
                .map_err(|e| ConsoleError::Internal(e.to_string()))?;
            mac.update(sent.as_bytes());
            let mut other = Hmac::<Sha256>::new_from_slice(b"compare")
                .map_err(|e| ConsoleError::Internal(e.to_string()))?;
            other.update(expected.as_bytes());
            mac.verify_slice(&other.finalize().into_bytes()).is_ok()
        }
        _ => false,
    };
    if !good {
        return Err(ConsoleError::FormExpired);
    }
    Ok(next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await)
}

/// The signed-in staff member of a console request, with the CSRF token for its forms.
#[derive(Debug, Clone, Serialize)]
pub struct Staff {
    pub user_id: Uuid,
    pub client_id: Uuid,
    pub login: String,
    pub role: Role,
    pub client_name: String,
    pub csrf: String,
}

impl Staff {
    /// Refuses unless the member's role is `role` or above.
    pub fn require(&self, role: Role) -> Result<(), ConsoleError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden)
        }
    }

    pub fn may(&self, role: Role) -> bool {
        self.role >= role
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let names = cookie_names(state);
        let session =
            read_cookie(&parts.headers, names.session).ok_or(ConsoleError::SignInNeeded)?;
        let user = staff::touch_session(&state.pool, &sha256(session), IDLE)
            .await?
            .ok_or(ConsoleError::SignInNeeded)?;
        Ok(Staff {
            user_id: user.user_id,
            client_id: user.client_id,
            login: user.login,
            role: user.role,
            client_name: user.client_name,
            csrf: csrf_token(state, session)?,
        })
    }
}

/// A login: 1 to 254 characters of letters, digits and `.` `_` `@` `+` `-`, compared in
/// lowercase (an email address, or a name such as the CLI's `admin-…`).
pub fn parse_login(raw: &str) -> Result<String, ConsoleError> {
    let login = raw.trim().to_lowercase();
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '+' | '-');
    if login.is_empty() || login.len() > 254 || !login.chars().all(allowed) {
        return Err(ConsoleError::BadInput(
            "a login is 1 to 254 letters, digits and . _ @ + -".into(),
        ));
    }
    Ok(login)
}

fn totp(secret: &[u8], login: &str) -> Result<Totp, ConsoleError> {
    totp_rs::Builder::new()
        .with_secret(secret.to_vec())
        .with_account_name(login)
        .with_issuer(Some("Aisle"))
        .build()
        .map_err(|e| ConsoleError::Internal(format!("totp: {e:?}")))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The TOTP time step `code` is valid for now (one step of skew either way), if any.
fn totp_step(secret: &[u8], login: &str, code: &str) -> Result<Option<i64>, ConsoleError> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    Ok(totp(secret, login)?
        .check(&code, unix_now())
        .and_then(|step| i64::try_from(step).ok()))
}

async fn hash_password(password: String) -> Result<String, ConsoleError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| ConsoleError::Internal(format!("argon2: {e}")))
    })
    .await
    .map_err(|e| ConsoleError::Internal(e.to_string()))?
}

/// Whether `password` matches `hash`; with no hash, still spends the time a check takes, so
/// an unknown login answers as slowly as a known one.
async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_string());
        Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

/// An argon2 hash (default parameters) of a password nobody has.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Gx6Dd9pBvYzVYq0R1cPVBrUNaDBhV5gqR2bEXFvX1Vk";

fn check_password_rules(password: &str, confirm: &str) -> Result<(), String> {
    let length = password.chars().count();
    if length < MIN_PASSWORD {
        return Err(format!("Use at least {MIN_PASSWORD} characters."));
    }
    if length > MAX_PASSWORD {
        return Err(format!("Use at most {MAX_PASSWORD} characters."));
    }
    if password != confirm {
        return Err("The two passwords differ.".into());
    }
    Ok(())
}

/// An invitation just made: the setup link is shown once.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub user_id: Uuid,
    pub login: String,
    pub setup_link: String,
}

#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error("the login {0} is taken")]
    LoginTaken(String),
    #[error("{0}")]
    InvalidLogin(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Invites a staff member of `client_id`: a user with a fresh TOTP secret and a one-time
/// setup link (under `public_url`) where they choose a password and enrol the secret.
pub async fn invite(
    pool: &PgPool,
    sealer: &SecretSealer,
    public_url: &str,
    client_id: Uuid,
    login: &str,
    role: Role,
) -> Result<Invitation, InviteError> {
    let login = parse_login(login).map_err(|e| InviteError::InvalidLogin(e.to_string()))?;
    let id = Uuid::now_v7();
    let mut secret = [0u8; 20];
    rand::rng().fill_bytes(&mut secret);
    // Sealed as text; it is shown in base32, the form authenticator apps take.
    let sealed = sealer.seal(&URL_SAFE_NO_PAD.encode(secret), id.as_bytes());
    let token = random_token();
    let expires = Utc::now()
        + chrono::Duration::from_std(SETUP_LINK_TTL).unwrap_or(chrono::Duration::hours(72));
    let inserted = staff::insert(
        pool,
        &NewStaffUser {
            id,
            client_id,
            login: &login,
            role,
            totp_secret_sealed: &sealed,
            setup_token_hash: &sha256(&token),
            setup_expires_at: expires,
        },
    )
    .await;
    match inserted {
        Ok(()) => {}
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            return Err(InviteError::LoginTaken(login));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Invitation {
        user_id: id,
        setup_link: format!("{}/console/setup/{token}", public_url.trim_end_matches('/')),
        login,
    })
}

/// A staff member made ready to sign in at once (the dev stack's demo admin, tests): invited,
/// then set up with `password`. Returns the TOTP secret in base32.
pub async fn create_enrolled(
    pool: &PgPool,
    sealer: &SecretSealer,
    client_id: Uuid,
    login: &str,
    role: Role,
    password: &str,
) -> Result<String, InviteError> {
    let invitation = invite(pool, sealer, "", client_id, login, role).await?;
    let token = invitation
        .setup_link
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let hash = hash_password(password.to_string())
        .await
        .map_err(|e| InviteError::InvalidLogin(e.to_string()))?;
    staff::complete_setup(pool, &sha256(&token), &hash, 0).await?;
    let user = staff::find_by_login(pool, &invitation.login)
        .await?
        .ok_or_else(|| InviteError::InvalidLogin("the user vanished".into()))?;
    let secret =
        open_secret(sealer, &user).map_err(|e| InviteError::InvalidLogin(e.to_string()))?;
    Ok(base32(&secret))
}

fn open_secret(sealer: &SecretSealer, user: &StaffUser) -> Result<Vec<u8>, ConsoleError> {
    let text = sealer
        .open(&user.totp_secret_sealed, user.id.as_bytes())
        .map_err(|e| ConsoleError::Internal(format!("a TOTP secret does not open: {e}")))?;
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|e| ConsoleError::Internal(format!("a TOTP secret: {e}")))
}

fn base32(secret: &[u8]) -> String {
    totp_rs::Secret::from(secret.to_vec()).to_base32()
}

#[derive(Serialize)]
struct LoginPage<'a> {
    csrf: String,
    login: &'a str,
    error: Option<&'a str>,
}

/// The sign-in page, with a pre-sign-in cookie for its form's CSRF token.
pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    anonymous_page(&state, &headers, StatusCode::OK, |csrf| {
        render(
            "login.html",
            LoginPage {
                csrf,
                login: "",
                error: None,
            },
        )
    })
}

/// Renders a page whose forms are sent before sign-in, giving the browser a pre-sign-in
/// cookie when it has no cookie to bind the CSRF token to.
fn anonymous_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    page: impl FnOnce(String) -> Result<Response, ConsoleError>,
) -> Result<Response, ConsoleError> {
    let names = cookie_names(state);
    let (bound, fresh) = match binding(state, headers) {
        Some(existing) => (existing.to_string(), false),
        None => (random_token(), true),
    };
    let mut response = page(csrf_token(state, &bound)?)?;
    *response.status_mut() = status;
    if fresh {
        response.headers_mut().append(
            header::SET_COOKIE,
            cookie(&names, names.pre, &bound, Some(Duration::from_secs(3600))),
        );
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
    code: String,
}

/// Checks a login, password and TOTP code together, so a failure never says which was wrong.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> Result<Response, ConsoleError> {
    let login = parse_login(&form.login).unwrap_or_default();
    let user = match login.is_empty() {
        true => None,
        false => staff::find_by_login(&state.pool, &login).await?,
    };
    let refuse = |status: StatusCode, error: &'static str| {
        let login = login.clone();
        anonymous_page(&state, &headers, status, move |csrf| {
            render(
                "login.html",
                LoginPage {
                    csrf,
                    login: &login,
                    error: Some(error),
                },
            )
        })
    };
    const WRONG: &str = "That login, password and code do not match.";
    const LOCKED: &str = "Too many failed attempts: this account is locked for 15 minutes.";
    let password_ok = verify_password(
        form.password,
        user.as_ref().and_then(|u| u.password_hash.clone()),
    )
    .await;
    let Some(user) = user else {
        return refuse(StatusCode::UNAUTHORIZED, WRONG);
    };
    if user.locked_until.is_some_and(|until| until > Utc::now()) {
        return refuse(StatusCode::TOO_MANY_REQUESTS, LOCKED);
    }
    let step = match password_ok && user.password_hash.is_some() {
        true => totp_step(&open_secret(&state.sealer, &user)?, &user.login, &form.code)?,
        false => None,
    };
    let accepted = match step {
        Some(step) => staff::accept_sign_in(&state.pool, user.id, step).await?,
        None => false,
    };
    if !accepted {
        let locked = staff::record_failure(&state.pool, user.id, MAX_FAILURES, LOCK).await?;
        tracing::info!(user = %user.id, locked, "a console sign-in failed");
        return match locked {
            true => refuse(StatusCode::TOO_MANY_REQUESTS, LOCKED),
            false => refuse(StatusCode::UNAUTHORIZED, WRONG),
        };
    }
    start_session(&state, &user).await
}

/// Opens a session for `user` and sends the browser to the console.
async fn start_session(state: &AppState, user: &StaffUser) -> Result<Response, ConsoleError> {
    let names = cookie_names(state);
    let session = random_token();
    staff::insert_session(&state.pool, &sha256(&session), user, ABSOLUTE).await?;
    tracing::info!(user = %user.id, client = %user.client_id, "a console session began");
    let mut response = Redirect::to("/console").into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        cookie(&names, names.session, &session, Some(ABSOLUTE)),
    );
    headers.append(
        header::SET_COOKIE,
        cookie(&names, names.pre, "", Some(Duration::ZERO)),
    );
    Ok(response)
}

/// Ends the session and forgets the cookie.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    let names = cookie_names(&state);
    if let Some(session) = read_cookie(&headers, names.session) {
        staff::delete_session(&state.pool, &sha256(session)).await?;
    }
    let mut response = Redirect::to("/console/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        cookie(&names, names.session, "", Some(Duration::ZERO)),
    );
    Ok(response)
}

#[derive(Serialize)]
struct SetupPage<'a> {
    csrf: String,
    login: &'a str,
    client_name: &'a str,
    otpauth: String,
    secret: String,
    qr: String,
    error: Option<String>,
}

async fn setup_context(
    state: &AppState,
    token: &str,
) -> Result<(StaffUser, Vec<u8>, String), ConsoleError> {
    let user = staff::find_by_setup_token(&state.pool, &sha256(token))
        .await?
        .ok_or(ConsoleError::NotFound)?;
    let secret = open_secret(&state.sealer, &user)?;
    let client_name = crate::store::clients::find(&state.pool, user.client_id)
        .await?
        .map(|c| c.name)
        .unwrap_or_default();
    Ok((user, secret, client_name))
}

fn setup_page(
    csrf: String,
    user: &StaffUser,
    secret: &[u8],
    client_name: &str,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let otpauth = totp(secret, &user.login)?
        .to_url()
        .map_err(|e| ConsoleError::Internal(format!("otpauth: {e:?}")))?;
    render(
        "setup.html",
        SetupPage {
            csrf,
            login: &user.login,
            client_name,
            qr: qr_svg(&otpauth),
            otpauth,
            secret: base32(secret),
            error,
        },
    )
}

/// The one-time setup page: choose a password and enrol the TOTP secret.
pub async fn setup_form(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    let (user, secret, client_name) = setup_context(&state, &token).await?;
    let mut response = anonymous_page(&state, &headers, StatusCode::OK, |csrf| {
        setup_page(csrf, &user, &secret, &client_name, None)
    })?;
    // The link is a capability: no page it leads to may send it on.
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(response)
}

#[derive(Deserialize)]
pub struct SetupForm {
    password: String,
    confirm: String,
    code: String,
}

/// Sets the password once the code proves the authenticator holds the secret, then signs in.
pub async fn setup(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<SetupForm>,
) -> Result<Response, ConsoleError> {
    let (user, secret, client_name) = setup_context(&state, &token).await?;
    let again = |error: String| {
        anonymous_page(&state, &headers, StatusCode::BAD_REQUEST, |csrf| {
            setup_page(csrf, &user, &secret, &client_name, Some(error))
        })
    };
    if let Err(why) = check_password_rules(&form.password, &form.confirm) {
        return again(why);
    }
    let Some(step) = totp_step(&secret, &user.login, &form.code)? else {
        return again("That code is not the current one: check the authenticator's clock.".into());
    };
    let hash = hash_password(form.password).await?;
    if !staff::complete_setup(&state.pool, &sha256(&token), &hash, step).await? {
        return Err(ConsoleError::NotFound);
    }
    tracing::info!(user = %user.id, "a console user finished their setup");
    start_session(&state, &user).await
}

/// The otpauth URI as an SVG QR code (each dark module a unit square of one path).
fn qr_svg(text: &str) -> String {
    let Ok(qr) = qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium) else {
        return String::new();
    };
    let size = qr.size();
    let border = 4;
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    let full = size + 2 * border;
    format!(
        r##"<svg class="qr" viewBox="0 0 {full} {full}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="QR code of the authenticator link"><rect width="100%" height="100%" fill="#fff"/><path d="{path}" fill="#111"/></svg>"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_is_lowercase_and_plain() {
        assert_eq!(parse_login(" Ada@Example.com ").unwrap(), "ada@example.com");
        assert!(parse_login("a:b").is_err());
        assert!(parse_login("").is_err());
        assert!(parse_login("<script>").is_err());
    }

    #[test]
    fn the_dummy_hash_is_a_valid_argon2_hash() {
        let hash = argon2::PasswordHash::new(DUMMY_HASH).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"anything", &hash)
                .is_err()
        );
    }

    #[test]
    fn passwords_follow_the_rules() {
        assert!(check_password_rules("short", "short").is_err());
        assert!(check_password_rules("long enough pass", "long enough pasS").is_err());
        assert!(check_password_rules("long enough pass", "long enough pass").is_ok());
    }
}
