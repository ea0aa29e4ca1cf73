//! A real headless Chromium for the widget tests, driven through ChromeDriver, and a client's
//! web page on its own origin that embeds the widget.
//!
//! Every helper panics with what it was doing when the browser does not cooperate, like the
//! rest of the harness; every wait polls against a deadline.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Router, http::Method, response::Html, routing::get};
use fantoccini::{
    Client, ClientBuilder, Locator,
    elements::Element,
    error::CmdError,
    wd::{Capabilities, WebDriverCompatibleCommand, WindowHandle},
};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::{
    net::TcpListener,
    process::{Child, Command},
    task::JoinHandle,
};
use uuid::Uuid;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const MISSING: &str = "browser tests need Debian's chromium and chromium-driver \
                       (apt-get install chromium chromium-driver)";
/// How long `click`, `fill`, `text` and `switch_to_frame` wait for their element.
const ELEMENT_WAIT: Duration = Duration::from_secs(10);
/// How long ChromeDriver gets to answer ready.
const DRIVER_WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(50);
/// The window: a phone held upright. The viewport is 143 px shorter: headless Chromium draws
/// no toolbar but still reserves its height.
const WIDTH: u32 = 420;
const HEIGHT: u32 = 900;

/// One headless Chromium with its own ChromeDriver and a fresh profile.
///
/// Call [`Browser::close`] at the end of a test. Dropping the browser without it (a failed
/// test) quits Chromium too, with a blocking request, and then keeps its files (the ChromeDriver
/// log, the profile) under `target/tmp/browser-{uuid}/` when the test is panicking.
pub struct Browser {
    client: Client,
    /// The window the browser started with.
    main: WindowHandle,
    /// Windows [`Browser::wait_for_new_window`] has already handed out (and `main`).
    seen_windows: Mutex<Vec<WindowHandle>>,
    /// The test's name, for screenshot files.
    test: String,
    screenshots: AtomicU32,
    dir: PathBuf,
    driver: Child,
    /// ChromeDriver's `host:port` and the session, to quit Chromium if `close` was not called.
    driver_addr: String,
    session: String,
    closed: bool,
}

impl Browser {
    /// Starts ChromeDriver on a free port and a headless Chromium through it.
    pub async fn start() -> Browser {
        for binary in [CHROMEDRIVER, CHROMIUM] {
            assert!(
                Path::new(binary).exists(),
                "{MISSING}: there is no {binary}"
            );
        }
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("browser-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let (driver, driver_addr) = spawn_driver(&dir).await;
        let url = format!("http://{driver_addr}");
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities(&dir.join("profile")))
            .connect(&url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "Chromium starts through ChromeDriver (log: {}): {e}",
                    dir.join("chromedriver.log").display()
                )
            });
        let session = client
            .session_id()
            .await
            .expect("the session id")
            .expect("a session");
        let main = client.window().await.expect("the first window's handle");
        // The test's thread is named after it.
        let test = std::thread::current()
            .name()
            .and_then(|name| name.rsplit("::").next())
            .filter(|name| *name != "main")
            .unwrap_or("browser")
            .to_string();
        let browser = Browser {
            client,
            seen_windows: Mutex::new(vec![main.clone()]),
            main,
            test,
            screenshots: AtomicU32::new(0),
            dir,
            driver,
            driver_addr,
            session,
            closed: false,
        };
        // `--window-size` cannot go below 500 px wide (the viewport came out 500 wide);
        // WebDriver's Set Window Rect can.
        browser
            .client
            .set_window_size(WIDTH, HEIGHT)
            .await
            .expect("a phone-sized window");
        browser
    }

    /// Quits Chromium and ChromeDriver and removes the profile.
    pub async fn close(mut self) {
        self.client
            .clone()
            .close()
            .await
            .expect("the WebDriver session ends");
        self.closed = true;
        let _ = self.driver.kill().await;
    }

    /// Loads `url` in the current window and waits for its `load` event.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// Waits for the first displayed element matching `css` in the current frame.
    pub async fn wait_for(&self, css: &str, deadline: Duration) -> Element {
        let started = Instant::now();
        let mut last = String::from("no element matches");
        loop {
            match self.displayed(css).await {
                Ok(Some(element)) => return element,
                Ok(None) => {}
                Err(e) if e.is_invalid_selector() => panic!("bad selector {css}: {e}"),
                Err(e) => last = e.to_string(),
            }
            assert!(
                started.elapsed() < deadline,
                "no displayed {css} after {deadline:?} ({last}); page: {}",
                self.describe().await
            );
            tokio::time::sleep(POLL).await;
        }
    }

    async fn displayed(&self, css: &str) -> Result<Option<Element>, CmdError> {
        for element in self.client.find_all(Locator::Css(css)).await? {
            if element.is_displayed().await? {
                return Ok(Some(element));
            }
        }
        Ok(None)
    }

    /// Clicks (a real user gesture: it may open popups) the displayed element matching `css`,
    /// waiting for it to appear and to take clicks.
    pub async fn click(&self, css: &str) {
        let started = Instant::now();
        loop {
            let element = self
                .wait_for(css, ELEMENT_WAIT.saturating_sub(started.elapsed()))
                .await;
            match element.click().await {
                Ok(()) => return,
                Err(e) if retry_on(&e) && started.elapsed() < ELEMENT_WAIT => {}
                Err(e) => panic!("click {css}: {e}"),
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Replaces the value of the input matching `css` by typing `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.wait_for(css, ELEMENT_WAIT).await;
        element
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// The rendered text of the displayed element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css, ELEMENT_WAIT)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    /// Evaluates the JavaScript expression `script` in the current frame and returns its value
    /// (a promise is awaited). For statements, wrap them: `(() => { …; return x })()`.
    pub async fn eval(&self, script: &str) -> Value {
        self.try_eval(script)
            .await
            .unwrap_or_else(|e| panic!("eval {script}: {e}"))
    }

    async fn try_eval(&self, script: &str) -> Result<Value, CmdError> {
        self.client
            .execute(&format!("return (\n{script}\n);"), vec![])
            .await
    }

    /// Waits until the JavaScript expression `script` is `true` in the current frame.
    pub async fn wait_until_js(&self, script: &str, deadline: Duration) {
        let started = Instant::now();
        loop {
            let last = match self.try_eval(script).await {
                Ok(Value::Bool(true)) => return,
                Ok(value) => value.to_string(),
                Err(e) => e.to_string(),
            };
            assert!(
                started.elapsed() < deadline,
                "`{script}` still not true after {deadline:?} (last: {last}); page: {}",
                self.describe().await
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// The handles of the open windows.
    pub async fn windows(&self) -> Vec<WindowHandle> {
        self.client.windows().await.expect("the window handles")
    }

    /// The window the browser started with.
    pub fn main_window(&self) -> WindowHandle {
        self.main.clone()
    }

    /// Waits for a window (a popup) this method has not returned before, and returns it. It
    /// does not switch to it.
    pub async fn wait_for_new_window(&self, deadline: Duration) -> WindowHandle {
        let started = Instant::now();
        loop {
            let windows = self.windows().await;
            if let Some(new) = self.first_unseen(windows) {
                return new;
            }
            assert!(
                started.elapsed() < deadline,
                "no new window after {deadline:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// The first of `windows` not seen before, now seen.
    fn first_unseen(&self, windows: Vec<WindowHandle>) -> Option<WindowHandle> {
        let mut seen = self.seen_windows.lock().unwrap();
        let new = windows.into_iter().find(|w| !seen.contains(w))?;
        seen.push(new.clone());
        Some(new)
    }

    /// Makes `window` the current window, at its top-level document.
    pub async fn switch_to(&self, window: &WindowHandle) {
        self.client
            .switch_to_window(window.clone())
            .await
            .unwrap_or_else(|e| panic!("switch to window {window:?}: {e}"));
    }

    /// Closes the current window, as the user would close a popup. Switch to another window
    /// before the next command.
    pub async fn close_window(&self) {
        self.client
            .close_window()
            .await
            .expect("the current window closes");
    }

    /// Makes the document in the `<iframe>` matching `css` (in the current frame) current.
    pub async fn switch_to_frame(&self, css: &str) {
        self.wait_for(css, ELEMENT_WAIT)
            .await
            .enter_frame()
            .await
            .unwrap_or_else(|e| panic!("switch to frame {css}: {e}"));
    }

    /// Makes the current window's top-level document current again.
    pub async fn switch_to_top(&self) {
        self.client
            .issue_cmd(SwitchToTopFrame)
            .await
            .expect("switch to the top-level document");
    }

    /// Saves a PNG of the current window's viewport as
    /// `target/widget-screenshots/{test}-{NN}-{name}.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        self.screenshot_into("widget-screenshots", name).await
    }

    /// Resizes the window, e.g. to a desktop's for pages made for one.
    pub async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("the window resizes");
    }

    /// Saves a PNG of the current window's viewport as `target/{folder}/{test}-{NN}-{name}.png`
    /// and returns its path.
    pub async fn screenshot_into(&self, folder: &str, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .unwrap()
            .join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        let step = self.screenshots.fetch_add(1, Ordering::Relaxed) + 1;
        let path = dir.join(format!("{}-{step:02}-{name}.png", self.test));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Where the browser is, for failure messages.
    async fn describe(&self) -> String {
        match self.try_eval("location.href").await {
            Ok(Value::String(url)) => url,
            Ok(other) => other.to_string(),
            Err(e) => format!("unknown ({e})"),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Killing ChromeDriver (kill_on_drop) would leave Chromium running: quit it first.
        if !self.closed {
            quit_session(&self.driver_addr, &self.session);
        }
        // After a failure the files help.
        if std::thread::panicking() {
            eprintln!("browser files kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Ends a WebDriver session with a blocking request (Drop cannot await; the runtime may be
/// gone). ChromeDriver answers once Chromium has quit.
fn quit_session(driver_addr: &str, session: &str) {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(driver_addr) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: {driver_addr}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        // The answer's first bytes mean it is done (ChromeDriver keeps the connection open).
        let _ = stream.read(&mut [0; 512]);
    }
}

/// Errors after which a click is worth another try: the element is being replaced, is not
/// shown yet or is covered for a moment.
fn retry_on(e: &CmdError) -> bool {
    e.is_stale_element_reference()
        || e.is_element_not_interactable()
        || e.to_string().contains("element click intercepted")
}

/// Starts ChromeDriver on a free port and waits for its `/status` to answer ready; tries another
/// port if someone took the chosen one in between. Returns it and its `host:port`.
async fn spawn_driver(dir: &Path) -> (Child, String) {
    let log = dir.join("chromedriver.log");
    let http = reqwest::Client::new();
    let mut attempts = 0;
    'attempts: loop {
        attempts += 1;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{MISSING}: {CHROMEDRIVER}: {e}"));
        let addr = format!("127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            if let Some(status) = driver.try_wait().unwrap() {
                assert!(
                    attempts < 3,
                    "ChromeDriver exited ({status}) before it was ready; log: {}",
                    log.display()
                );
                continue 'attempts;
            }
            let ready = match http.get(format!("http://{addr}/status")).send().await {
                Ok(response) => response
                    .json::<Value>()
                    .await
                    .is_ok_and(|status| status["value"]["ready"] == true),
                Err(_) => false,
            };
            if ready {
                return (driver, addr);
            }
            assert!(
                started.elapsed() < DRIVER_WAIT,
                "ChromeDriver not ready after {DRIVER_WAIT:?}; log: {}",
                log.display()
            );
            tokio::time::sleep(POLL).await;
        }
    }
}

fn capabilities(profile: &Path) -> Capabilities {
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            // ChromeDriver adds --disable-popup-blocking by default: keep the blocker, so a
            // popup opened outside a click fails here as it would for the owner.
            "excludeSwitches": ["disable-popup-blocking"],
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                format!("--window-size={WIDTH},{HEIGHT}"),
                format!("--user-data-dir={}", profile.display()),
            ],
        },
    });
    match capabilities {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

/// WebDriver's Switch To Frame with a null id: back to the top-level document. fantoccini only
/// has "parent frame".
#[derive(Debug)]
struct SwitchToTopFrame;

impl WebDriverCompatibleCommand for SwitchToTopFrame {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/frame", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        (Method::POST, Some(r#"{"id":null}"#.into()))
    }
}

/// The client's web page on its own origin: `GET /client.html?…` embeds the widget from the
/// Aisle origin into `<div id="widget">`.
///
/// The query string gives the `Aisle.embed` options: `client`, `ownerExternalId`, `bank`,
/// `country`, `locale`, `maxImportDate` as strings, `forceSca` as a boolean (`true`), `divId`
/// (default `widget`; `divId=` passes an empty one); absent parameters are left out. Every
/// callback pushes `{event: "onSuccess" | "onError" | "onUnsupportedTarget" | "onStarted" |
/// "onTargetSelected" | "onClose", args: [...]}` onto `window.aisleEvents`; an error thrown by
/// `Aisle.embed` (or any uncaught one) lands in `window.aisleErrors` as its message.
/// `Aisle.embed`'s return value is `window.aisleWidget`.
pub struct ClientPage {
    origin: String,
    server: JoinHandle<()>,
}

impl ClientPage {
    /// Serves the page on 127.0.0.1:{a free port}; `aisle_url` is the Aisle origin that serves
    /// `/widget.js`.
    pub async fn serve(aisle_url: &str) -> ClientPage {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let page = client_page(aisle_url.trim_end_matches('/'));
        let app = Router::new().route("/client.html", get(move || async move { Html(page) }));
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        ClientPage { origin, server }
    }

    /// `http://127.0.0.1:{port}`: the origin the widget's client must register.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The page's URL with `query` (see [`ClientPage`] for the names).
    pub fn url(&self, query: &[(&str, &str)]) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        format!("{}/client.html?{query}", self.origin)
    }
}

impl Drop for ClientPage {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn client_page(aisle_url: &str) -> String {
    assert!(
        !aisle_url.contains(['"', '<', '>', '&']),
        "a plain Aisle URL: {aisle_url}"
    );
    const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Client shop</title>
<style>
  body { margin: 0; padding: 12px; font-family: system-ui, sans-serif; background: #f3f1ea; }
  h1 { margin: 0 0 12px; font-size: 18px; }
</style>
</head>
<body>
<h1>Client shop: connect your bank</h1>
<div id="widget"></div>
<script>
  window.aisleEvents = [];
  window.aisleErrors = [];
  window.addEventListener('error', function (e) { window.aisleErrors.push(String(e.message)); });
</script>
<script src="{aisle}/widget.js"></script>
<script>
  (function () {
    var query = new URLSearchParams(location.search);
    var options = { divId: query.has('divId') ? query.get('divId') : 'widget' };
    ['client', 'ownerExternalId', 'bank', 'country', 'locale', 'maxImportDate'].forEach(function (name) {
      if (query.has(name)) options[name] = query.get(name);
    });
    if (query.has('forceSca')) options.forceSca = query.get('forceSca') === 'true';
    if (query.has('autoImport')) options.autoImport = JSON.parse(query.get('autoImport'));
    ['onSuccess', 'onError', 'onUnsupportedTarget', 'onStarted', 'onTargetSelected', 'onClose'].forEach(function (name) {
      options[name] = function () {
        window.aisleEvents.push({ event: name, args: Array.prototype.slice.call(arguments) });
      };
    });
    try {
      window.aisleWidget = Aisle.embed(options);
    } catch (e) {
      window.aisleErrors.push(String(e && e.message || e));
    }
  })();
</script>
</body>
</html>
"#;
    PAGE.replace("{aisle}", aisle_url)
}
