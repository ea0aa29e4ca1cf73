//! The client console over HTTP: staff sign-in (password and TOTP, each code good once,
//! lockout), CSRF on every form, and roles and client isolation on every route.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aisle::{console::auth, model::staff::Role};
use reqwest::{StatusCode, header, redirect::Policy};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TEST_SECRETS_KEY, TestApp, import_body, spawn_app};

/// A staff member ready to sign in.
pub struct StaffLogin {
    pub login: String,
    pub password: String,
    pub totp_secret: String,
}

/// Makes a staff member of `client` with `role`, set up and ready to sign in.
pub async fn staff_member(app: &TestApp, client: Uuid, role: Role) -> StaffLogin {
    let login = format!("{}-{}@example.com", role.as_str(), Uuid::new_v4().simple());
    let password = "correct horse battery staple".to_string();
    let sealer = aisle::sealing::SecretSealer::from_hex(TEST_SECRETS_KEY).unwrap();
    let totp_secret = auth::create_enrolled(&app.pool, &sealer, client, &login, role, &password)
        .await
        .unwrap();
    StaffLogin {
        login,
        password,
        totp_secret,
    }
}

/// The authenticator's code for `secret` (base32) now, `steps` time steps away.
pub fn totp_code(secret: &str, steps: i64) -> String {
    let bytes = totp_rs::Secret::try_from_base32(secret).unwrap();
    let totp = totp_rs::Builder::new()
        .with_secret(bytes.as_bytes().to_vec())
        .build()
        .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    totp.generate((now + steps * 30) as u64).to_string()
}

/// A browser-like console client: no redirect following, cookies kept by hand.
pub struct Console {
    pub http: reqwest::Client,
    pub base: String,
    pub cookies: Vec<String>,
}

impl Console {
    pub fn new(app: &TestApp) -> Console {
        Console {
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            base: app.address.clone(),
            cookies: Vec::new(),
        }
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for set in response.headers().get_all(header::SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_string();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|c| !c.starts_with(&format!("{name}=")));
            if !value.is_empty() {
                self.cookies.push(pair.clone());
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> reqwest::Response {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookies.join("; "))
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        response
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookies.join("; "))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        response
    }

    /// Posts `form` with the CSRF token of the page at `page`.
    pub async fn submit(
        &mut self,
        page: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let html = self.get(page).await.text().await.unwrap();
        let csrf = csrf_of(&html);
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        self.post(path, &fields).await
    }

    /// Signs in with `code`; returns the answer to the form.
    pub async fn sign_in_with(
        &mut self,
        staff: &StaffLogin,
        password: &str,
        code: &str,
    ) -> reqwest::Response {
        self.submit(
            "/console/login",
            "/console/login",
            &[
                ("login", &staff.login),
                ("password", password),
                ("code", code),
            ],
        )
        .await
    }
}

/// The CSRF token in a page's first form.
pub fn csrf_of(html: &str) -> String {
    let start = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    html[start..].split('"').next().unwrap().to_string()
}

/// A console signed in as `staff`.
pub async fn signed_in(app: &TestApp, staff: &StaffLogin) -> Console {
    let mut console = Console::new(app);
    let answer = console
        .sign_in_with(staff, &staff.password, &totp_code(&staff.totp_secret, 0))
        .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER, "sign-in");
    console
}

/// Signs `owner` in at the sandbox bank as alice for `api_key`'s client and imports.
async fn import_for(app: &TestApp, api_key: &str, owner: &str) -> String {
    let session: Value = app
        .http
        .post(format!("{}/v1/sandbox/sessions", app.address))
        .bearer_auth(api_key)
        .json(&json!({"bank": "sandbox", "login": "alice", "ownerExternalId": owner}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let accepted: Value = app
        .post_default_import(api_key, &import_body(&session))
        .await
        .json()
        .await
        .unwrap();
    let command = accepted["commandId"].as_str().unwrap().to_string();
    let finished = app.get_command(api_key, &command).await;
    assert!(finished.status().is_success());
    command
}

async fn wait_for(app: &TestApp, api_key: &str, command: &str) {
    let started = std::time::Instant::now();
    loop {
        let body: Value = app
            .get_command(api_key, command)
            .await
            .json()
            .await
            .unwrap();
        if body["state"] != "in_progress" {
            assert_eq!(body["state"], "successful", "{body}");
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_staff_member_signs_in_with_password_and_code_and_sees_the_owners_data() {
    let app = spawn_app().await;
    let command = import_for(&app, &app.api_key, "owner-42").await;
    wait_for(&app, &app.api_key, &command).await;
    let admin = staff_member(&app, app.client_id, Role::Admin).await;
    let mut console = signed_in(&app, &admin).await;

    let owners = console.get("/console/owners").await;
    assert_eq!(owners.status(), StatusCode::OK);
    assert_eq!(owners.headers()[header::CACHE_CONTROL], "no-store");
    let html = owners.text().await.unwrap();
    assert!(html.contains("owner-42"), "{html}");
    assert!(html.contains("Alice Example"), "{html}");

    let page = console
        .get("/console/owners/owner-42")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<polyline class=\"line\""),
        "a balance chart: {page}"
    );
    assert!(page.contains("id=\"transactions\""), "{page}");
    // Keyset pages: the next page starts after the last row of this one.
    let after = page
        .split("id=\"next-page\" href=\"?")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("alice has more than a page of rows")
        .replace("&amp;", "&");
    let second = console
        .get(&format!("/console/owners/owner-42?{after}"))
        .await
        .text()
        .await
        .unwrap();
    let rows = |html: &str| html.matches("<tr class=\"tx\">").count();
    assert_eq!(rows(&page), 50);
    assert!(rows(&second) > 0, "{second}");
    assert!(second.contains("First page"));
    let filtered = console
        .get("/console/owners/owner-42?text=Gehalt&status=booked")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        filtered.contains("Gehalt") && !filtered.contains("Miete "),
        "{filtered}"
    );

    let csv = console
        .get("/console/owners/owner-42/transactions.csv?text=Miete")
        .await;
    assert_eq!(
        csv.headers()[header::CONTENT_TYPE],
        "text/csv; charset=utf-8"
    );
    let csv = csv.text().await.unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert!(!rows.is_empty(), "{csv}");
    assert!(rows.iter().all(|row| row.contains("Miete")), "{csv}");

    let data: Value = console
        .get("/console/owners/owner-42/data.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(data["ownerExternalId"], "owner-42");
    assert_eq!(data["imports"][0]["commandId"], command.as_str());
    assert!(
        data["imports"][0]["result"]["accounts"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );

    for page in [
        "/console/imports",
        "/console/imports/rows",
        "/console/usage",
        "/console/settings",
        "/console/users",
    ] {
        let answer = console.get(page).await;
        assert_eq!(answer.status(), StatusCode::OK, "{page}");
    }
}

#[tokio::test]
async fn a_console_without_a_session_sends_the_browser_to_sign_in() {
    let app = spawn_app().await;
    let mut console = Console::new(&app);
    let answer = console.get("/console/owners").await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(answer.headers()[header::LOCATION], "/console/login");
}

#[tokio::test]
async fn a_totp_code_is_good_once() {
    let app = spawn_app().await;
    let admin = staff_member(&app, app.client_id, Role::Admin).await;
    let code = totp_code(&admin.totp_secret, 0);
    let mut first = Console::new(&app);
    assert_eq!(
        first
            .sign_in_with(&admin, &admin.password, &code)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let mut second = Console::new(&app);
    let replay = second.sign_in_with(&admin, &admin.password, &code).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn repeated_wrong_passwords_or_codes_lock_the_account_for_a_while() {
    let app = spawn_app().await;
    let admin = staff_member(&app, app.client_id, Role::Admin).await;
    let mut console = Console::new(&app);
    for attempt in 1..=5 {
        let (password, code) = match attempt % 2 {
            0 => (admin.password.clone(), "000000".to_string()),
            _ => (
                "wrong password!".to_string(),
                totp_code(&admin.totp_secret, 0),
            ),
        };
        let answer = console.sign_in_with(&admin, &password, &code).await;
        let expected = if attempt < 5 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(answer.status(), expected, "attempt {attempt}");
    }
    let right = console
        .sign_in_with(&admin, &admin.password, &totp_code(&admin.totp_secret, 0))
        .await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(right.text().await.unwrap().contains("locked"));
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused() {
    let app = spawn_app().await;
    let admin = staff_member(&app, app.client_id, Role::Admin).await;
    let mut console = signed_in(&app, &admin).await;
    let keys_before = app.count("select count(*) from api_keys").await;

    let missing = console
        .post("/console/settings/keys", &[("name", "sneaky")])
        .await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let wrong = console
        .post(
            "/console/settings/keys",
            &[("csrf", "AAAA"), ("name", "sneaky")],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    // A token of another session is no better.
    let other = staff_member(&app, app.client_id, Role::Admin).await;
    let mut elsewhere = signed_in(&app, &other).await;
    let foreign = csrf_of(
        &elsewhere
            .get("/console/settings")
            .await
            .text()
            .await
            .unwrap(),
    );
    let replayed = console
        .post(
            "/console/settings/keys",
            &[("csrf", &foreign), ("name", "sneaky")],
        )
        .await;
    assert_eq!(replayed.status(), StatusCode::FORBIDDEN);
    // The sign-in form needs one too.
    let mut anonymous = Console::new(&app);
    let login = anonymous
        .post(
            "/console/login",
            &[
                ("login", &admin.login),
                ("password", &admin.password),
                ("code", "123456"),
            ],
        )
        .await;
    assert_eq!(login.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.count("select count(*) from api_keys").await,
        keys_before
    );

    let good = console
        .submit(
            "/console/settings",
            "/console/settings/keys",
            &[("name", "production")],
        )
        .await;
    assert_eq!(good.status(), StatusCode::OK);
    let html = good.text().await.unwrap();
    assert!(html.contains("aisle_sk_"), "the new key is shown once");
    assert_eq!(
        app.count("select count(*) from api_keys").await,
        keys_before + 1
    );
}

#[tokio::test]
async fn an_invited_admin_sets_a_password_and_enrols_totp_through_the_setup_link_once() {
    let app = spawn_app().await;
    let sealer = aisle::sealing::SecretSealer::from_hex(TEST_SECRETS_KEY).unwrap();
    let invitation = auth::invite(
        &app.pool,
        &sealer,
        &app.address,
        app.client_id,
        "Ada@Example.com",
        Role::Admin,
    )
    .await
    .unwrap();
    assert_eq!(invitation.login, "ada@example.com");
    let path = invitation
        .setup_link
        .strip_prefix(&app.address)
        .unwrap()
        .to_string();
    let mut console = Console::new(&app);
    let page = console.get(&path).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()[header::REFERRER_POLICY], "no-referrer");
    let html = page.text().await.unwrap();
    // The link is HTML-escaped (`/` too) and percent-encoded.
    assert!(
        html.contains("otpauth:&#x2f;&#x2f;totp&#x2f;Aisle:ada%40example.com"),
        "{html}"
    );
    assert!(html.contains("<svg class=\"qr\""), "a QR code");
    let secret = html
        .split("id=\"totp-secret\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();

    let short = console
        .submit(
            &path,
            &path,
            &[
                ("password", "short"),
                ("confirm", "short"),
                ("code", &totp_code(&secret, 0)),
            ],
        )
        .await;
    assert_eq!(short.status(), StatusCode::BAD_REQUEST);
    let password = "a long and fine password";
    let done = console
        .submit(
            &path,
            &path,
            &[
                ("password", password),
                ("confirm", password),
                ("code", &totp_code(&secret, 0)),
            ],
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "set up and signed in");
    assert_eq!(console.get("/console/users").await.status(), StatusCode::OK);
    assert_eq!(
        Console::new(&app).get(&path).await.status(),
        StatusCode::NOT_FOUND,
        "the link works once"
    );
}

/// A route of the console, with the least role that may use it.
struct Route {
    method: &'static str,
    /// `{owner}`, `{key}`, `{webhook}` and `{user}` stand for an object's id.
    path: &'static str,
    form: &'static [(&'static str, &'static str)],
    least: Role,
}

const ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/console/owners",
        form: &[],
        least: Role::Viewer,
    },
    Route {
        method: "GET",
        path: "/console/owners/{owner}",
        form: &[],
        least: Role::Viewer,
    },
    Route {
        method: "GET",
        path: "/console/owners/{owner}/transactions.csv",
        form: &[],
        least: Role::Viewer,
    },
    Route {
        method: "GET",
        path: "/console/owners/{owner}/data.json",
        form: &[],
        least: Role::Viewer,
    },
    Route {
        method: "GET",
        path: "/console/imports",
        form: &[],
        least: Role::Viewer,
    },
    Route {
        method: "GET",
        path: "/console/imports/rows",
        form: &[],
        least: Role::Viewer,
    },
    Route {
        method: "GET",
        path: "/console/usage",
        form: &[],
        least: Role::Viewer,
    },
    Route {
        method: "GET",
        path: "/console/settings",
        form: &[],
        least: Role::Viewer,
    },
    Route {
        method: "POST",
        path: "/console/settings/keys",
        form: &[("name", "k")],
        least: Role::Technician,
    },
    Route {
        method: "POST",
        path: "/console/settings/keys/{key}/name",
        form: &[("name", "renamed")],
        least: Role::Technician,
    },
    Route {
        method: "POST",
        path: "/console/settings/keys/{key}/revoke",
        form: &[],
        least: Role::Technician,
    },
    Route {
        method: "POST",
        path: "/console/settings/ips",
        form: &[("ips", "")],
        least: Role::Technician,
    },
    Route {
        method: "POST",
        path: "/console/settings/signin-places",
        form: &[("widget_origins", ""), ("redirect_uris", "")],
        least: Role::Technician,
    },
    Route {
        method: "POST",
        path: "/console/settings/webhooks",
        form: &[("url", "https://hooks.example.com/aisle")],
        least: Role::Technician,
    },
    Route {
        method: "POST",
        path: "/console/settings/webhooks/{webhook}/delete",
        form: &[],
        least: Role::Technician,
    },
    Route {
        method: "POST",
        path: "/console/settings/auto-import",
        form: &[("enabled", "on"), ("months", "12")],
        least: Role::Admin,
    },
    Route {
        method: "POST",
        path: "/console/settings/retention",
        form: &[("value", "2"), ("unit", "days")],
        least: Role::Admin,
    },
    Route {
        method: "GET",
        path: "/console/users",
        form: &[],
        least: Role::Admin,
    },
    Route {
        method: "POST",
        path: "/console/users",
        form: &[("login", "{fresh}"), ("role", "viewer")],
        least: Role::Admin,
    },
    Route {
        method: "POST",
        path: "/console/users/{user}/role",
        form: &[("role", "technician")],
        least: Role::Admin,
    },
    Route {
        method: "POST",
        path: "/console/users/{user}/remove",
        form: &[],
        least: Role::Admin,
    },
];

/// Ids of one client's objects, for a route's path.
struct Objects {
    owner: String,
    key: Uuid,
    webhook: Uuid,
    user: Uuid,
}

impl Objects {
    /// The objects `path` names (the others are nil ids), made for `client`.
    async fn make(app: &TestApp, client: Uuid, owner: &str, path: &str) -> Objects {
        let sealer = aisle::sealing::SecretSealer::from_hex(TEST_SECRETS_KEY).unwrap();
        let mut objects = Objects {
            owner: owner.to_string(),
            key: Uuid::nil(),
            webhook: Uuid::nil(),
            user: Uuid::nil(),
        };
        if path.contains("{key}") {
            objects.key = aisle::store::clients::issue_api_key(&app.pool, client)
                .await
                .unwrap()
                .unwrap()
                .0;
        }
        if path.contains("{webhook}") {
            let url =
                aisle::webhooks::endpoints::WebhookUrl::parse("https://hooks.example.com/b", false)
                    .unwrap();
            objects.webhook = aisle::webhooks::endpoints::register(
                &app.pool,
                &sealer,
                client,
                &url,
                &aisle::webhooks::EventType::ALL,
            )
            .await
            .unwrap()
            .endpoint
            .id;
        }
        if path.contains("{user}") {
            let login = format!("someone-{}", Uuid::new_v4().simple());
            objects.user = auth::invite(
                &app.pool,
                &sealer,
                &app.address,
                client,
                &login,
                Role::Viewer,
            )
            .await
            .unwrap()
            .user_id;
        }
        objects
    }

    fn path(&self, template: &str) -> String {
        template
            .replace("{owner}", &self.owner)
            .replace("{key}", &self.key.to_string())
            .replace("{webhook}", &self.webhook.to_string())
            .replace("{user}", &self.user.to_string())
    }
}

async fn call(console: &mut Console, route: &Route, objects: &Objects) -> (StatusCode, String) {
    let path = objects.path(route.path);
    let answer = match route.method {
        "GET" => console.get(&path).await,
        _ => {
            let fresh = format!("new-{}", Uuid::new_v4().simple());
            let form: Vec<(&str, &str)> = route
                .form
                .iter()
                .map(|(name, value)| {
                    (
                        *name,
                        if *value == "{fresh}" {
                            fresh.as_str()
                        } else {
                            *value
                        },
                    )
                })
                .collect();
            console.submit("/console/settings", &path, &form).await
        }
    };
    let status = answer.status();
    (status, answer.text().await.unwrap_or_default())
}

#[tokio::test]
async fn every_console_route_enforces_roles_and_the_client_boundary() {
    let app = spawn_app().await;
    let (client_b, key_b) = app.create_client(&[]).await;
    let command_a = import_for(&app, &app.api_key, "owner-of-a").await;
    let command_b = import_for(&app, &key_b, "owner-of-b").await;
    wait_for(&app, &app.api_key, &command_a).await;
    wait_for(&app, &key_b, &command_b).await;
    let theirs = Objects::make(&app, client_b, "owner-of-b", "{key}{webhook}{user}").await;
    let their_user = app
        .count(&format!(
            "select count(*) from staff_users where id = '{}'",
            theirs.user
        ))
        .await;
    assert_eq!(their_user, 1);

    for role in Role::ALL {
        let member = staff_member(&app, app.client_id, role).await;
        let mut console = signed_in(&app, &member).await;
        for route in ROUTES {
            // Each role works on objects of its own, so one role's change leaves the next
            // role's objects intact.
            let ours = Objects::make(&app, app.client_id, "owner-of-a", route.path).await;
            let (status, body) = call(&mut console, route, &ours).await;
            let allowed = role >= route.least;
            match allowed {
                true => assert!(
                    status.is_success() || status == StatusCode::SEE_OTHER,
                    "{role:?} {} {}: {status} {body}",
                    route.method,
                    route.path
                ),
                false => assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{role:?} {} {}",
                    route.method,
                    route.path
                ),
            }
            for secret in [
                "owner-of-b",
                &theirs.key.to_string(),
                &theirs.webhook.to_string(),
                &theirs.user.to_string(),
            ] {
                assert!(
                    !body.contains(secret),
                    "{role:?} {} {} shows client B's {secret}",
                    route.method,
                    route.path
                );
            }
            if route.path.contains('{') {
                let (status, body) = call(&mut console, route, &theirs).await;
                assert!(
                    status == StatusCode::NOT_FOUND
                        || (!allowed && status == StatusCode::FORBIDDEN),
                    "{role:?} {} {} on client B's object: {status}",
                    route.method,
                    route.path
                );
                assert!(
                    !body.contains("owner-of-b") && !body.contains("Alice"),
                    "{body}"
                );
            }
        }
    }
    // Client B's objects are as they were.
    assert_eq!(
        app.count(&format!(
            "select count(*) from api_keys where id = '{}' and revoked_at is null and name is null",
            theirs.key
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "select count(*) from webhook_endpoints where id = '{}'",
            theirs.webhook
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "select count(*) from staff_users where id = '{}' and role = 'viewer'",
            theirs.user
        ))
        .await,
        1
    );
    assert_eq!(app.count(&format!("select count(*) from clients where id = '{client_b}' and auto_import_months is null and retention_seconds = 86400")).await, 1);
}
