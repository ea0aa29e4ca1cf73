//! The kit every connector's fuzz tests share (feature `fuzzing`): a runner that counts cases
//! and catches panics, and generators of what banks send, from arbitrary bytes to JSON shaped
//! like a protocol's wire types but with odd types, edge amounts, bad dates and hostile text.
//!
//! Each fuzz target runs [`cases`] cases, `AISLE_FUZZ_CASES` or a modest default that keeps
//! `cargo test` quick; `just fuzz` raises it. Each target prints one line
//! (`fuzz <target>: <n> cases, <p> panics, slowest <t>`) that `just fuzz` adds up.
//!
//! Every run draws a fresh seed, so `cargo test` in CI keeps exploring; a failure prints its
//! minimal input, and `PROPTEST_RNG_SEED` replays a run. A failing case is not written to a
//! `proptest-regressions` file: a panic found is fixed with a named regression test next to
//! the code, and that test is what keeps it fixed.

use std::cell::Cell;
use std::fmt::Debug;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use rust_decimal::Decimal;

/// Cases per target when `AISLE_FUZZ_CASES` is not set: enough to catch a shallow panic in
/// `cargo test`, few enough to keep the whole suite to seconds in a debug build.
pub const DEFAULT_CASES: u32 = 96;

/// How long one case may take before it counts as a hang. Every parser here is linear in
/// its input, so even a debug build on a busy machine stays far below this.
pub const HANG: Duration = Duration::from_secs(5);

/// The origin that [`Shape::Link`] writes absolute links on; a connector fuzzes with its
/// bank at this origin so that same-host and other-host links both occur.
pub const BANK_ORIGIN: &str = "http://bank.test";

/// Cases per target: `AISLE_FUZZ_CASES`, else [`DEFAULT_CASES`].
pub fn cases() -> u32 {
    std::env::var("AISLE_FUZZ_CASES")
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

/// Runs `check` on [`cases`] values of `strategy` and prints the target's tally. A panic,
/// a failed check or a case slower than [`HANG`] is shrunk to a minimal input, printed, and
/// fails the test.
pub fn run<S>(target: &str, strategy: S, check: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: Debug,
{
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let ran = Cell::new(0u64);
    let panicked = Cell::new(false);
    let slowest = Cell::new(Duration::ZERO);
    let outcome = runner.run(&strategy, |value| {
        ran.set(ran.get() + 1);
        let started = Instant::now();
        // proptest would catch the panic too, but could not tell it from a failed check.
        let result = panic::catch_unwind(AssertUnwindSafe(|| check(value))).unwrap_or_else(|e| {
            panicked.set(true);
            let message = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            Err(TestCaseError::fail(format!("panicked: {message}")))
        });
        let took = started.elapsed();
        slowest.set(slowest.get().max(took));
        if took > HANG {
            return Err(TestCaseError::fail(format!("a case took {took:?}")));
        }
        result
    });
    // Cases run, shrinking steps after a failure included.
    let (ran, slowest) = (ran.get(), slowest.get());
    let panics = u8::from(panicked.get());
    println!("fuzz {target}: {ran} cases, {panics} panics, slowest {slowest:?}");
    match outcome {
        Ok(()) => {}
        Err(TestError::Fail(reason, input)) => {
            panic!("fuzz {target}: {reason}\nminimal input: {input:#?}")
        }
        Err(TestError::Abort(reason)) => panic!("fuzz {target}: aborted: {reason}"),
    }
}

/// A JSON document as a generator builds it. Numbers keep their text, so amounts beyond
/// `f64` and `Decimal` reach the parser as a bank would write them; `Raw` splices in text
/// that need not be JSON at all. Object keys may repeat.
#[derive(Debug, Clone)]
pub enum Json {
    Null,
    Bool(bool),
    Number(String),
    Text(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
    Raw(String),
}

impl Json {
    /// The document as a bank's body.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Self::Null => out.push_str("null"),
            Self::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
            Self::Number(text) | Self::Raw(text) => out.push_str(text),
            Self::Text(text) => write_string(text, out),
            Self::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Self::Object(fields) => {
                out.push('{');
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(name, out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

fn write_string(text: &str, out: &mut String) {
    // serde_json escapes control characters, NUL included, as `\u0000`.
    out.push_str(&serde_json::Value::from(text).to_string());
}

/// What a wire field holds, to generate values close to it. Objects list their fields by
/// the protocol's own names; every field may be left out, and any value may be replaced by
/// one of the wrong type.
#[derive(Debug)]
pub enum Shape {
    /// Money: a decimal string or a bare number, near zero, near `Decimal::MAX` and past it.
    Amount,
    /// A calendar date as banks write them, and as they should not.
    Date,
    /// Free text: blank, long, with NUL bytes, digits that look like account numbers.
    Text,
    /// A boolean, or its spelling as a string.
    Flag,
    /// One of a protocol's codes, or something near it.
    Code(&'static [&'static str]),
    /// A URL or path a bank links to.
    Link,
    /// An absolute URL, on the bank's host or another.
    Url,
    /// A `_links` object with these link names, as `{"href": ...}` or bare strings.
    Links(&'static [&'static str]),
    List(&'static Shape),
    Object(&'static [(&'static str, Shape)]),
    /// One of several shapes a field comes in.
    Either(&'static [Shape]),
    /// A field the wire type cannot do without: always there unless the noise is heavy.
    Required(&'static Shape),
}

/// How far a generated document strays from its shape. Clean documents hold only values
/// of the right type, so they get past serde into the mapping; noisy ones test the refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noise {
    Clean,
    Light,
    Heavy,
}

/// JSON close to `shape`: half of the documents clean, the rest with a value of the wrong
/// type now and then (light) or often (heavy).
pub fn json(shape: &'static Shape) -> BoxedStrategy<Json> {
    prop_oneof![2 => Just(Noise::Clean), 1 => Just(Noise::Light), 1 => Just(Noise::Heavy)]
        .prop_flat_map(move |noise| shaped(shape, noise))
        .boxed()
}

/// JSON close to `shape`, with `noise`.
pub fn shaped(shape: &'static Shape, noise: Noise) -> BoxedStrategy<Json> {
    let clean = noise == Noise::Clean;
    let typed = match shape {
        Shape::Amount if clean => clean_amount().boxed(),
        Shape::Amount => amount().boxed(),
        Shape::Date if clean => clean_date().prop_map(Json::Text).boxed(),
        Shape::Date => date().prop_map(Json::Text).boxed(),
        Shape::Text => text().prop_map(Json::Text).boxed(),
        Shape::Flag if clean => any::<bool>().prop_map(Json::Bool).boxed(),
        Shape::Flag => prop_oneof![
            any::<bool>().prop_map(Json::Bool),
            prop::sample::select(&["true", "false", "TRUE", "yes", ""][..])
                .prop_map(|t| Json::Text(t.to_owned())),
        ]
        .boxed(),
        Shape::Code(codes) if clean => prop::sample::select(*codes)
            .prop_map(|c| Json::Text(c.to_owned()))
            .boxed(),
        Shape::Code(codes) => code(codes).boxed(),
        Shape::Link => link().prop_map(Json::Text).boxed(),
        Shape::Url => url().prop_map(Json::Text).boxed(),
        // Wrappers: the noise is the wrapped shape's to add, once.
        Shape::Required(inner) => return shaped(inner, noise),
        Shape::Either(shapes) => {
            return proptest::strategy::Union::new(shapes.iter().map(|s| shaped(s, noise))).boxed();
        }
        Shape::Links(names) => links(names).boxed(),
        Shape::List(item) if clean => vec(shaped(item, noise), 0..4).prop_map(Json::Array).boxed(),
        Shape::List(item) => prop_oneof![
            8 => vec(shaped(item, noise), 0..4).prop_map(Json::Array),
            1 => shaped(item, noise),
        ]
        .boxed(),
        Shape::Object(fields) => object(fields, noise).boxed(),
    };
    match noise {
        Noise::Clean => typed,
        Noise::Light => prop_oneof![40 => typed, 1 => odd()].boxed(),
        Noise::Heavy => prop_oneof![6 => typed, 1 => odd()].boxed(),
    }
}

fn object(fields: &'static [(&'static str, Shape)], noise: Noise) -> impl Strategy<Value = Json> {
    let known: Vec<BoxedStrategy<Option<(String, Json)>>> = fields
        .iter()
        .map(|(name, shape)| {
            let value = shaped(shape, noise);
            let value = match shape {
                Shape::Required(_) if noise != Noise::Heavy => value.prop_map(Some).boxed(),
                _ => prop::option::weighted(0.85, value).boxed(),
            };
            value
                .prop_map(move |value| value.map(|v| ((*name).to_owned(), v)))
                .boxed()
        })
        .collect();
    // Unknown fields, and in a noisy document now and then a known one twice.
    let names: Vec<&'static str> = fields.iter().map(|(name, _)| *name).collect();
    let name = if noise == Noise::Clean {
        key().boxed()
    } else {
        prop_oneof![key(), prop::sample::select(names).prop_map(str::to_owned)].boxed()
    };
    let extra = vec((name, any_json()), 0..2);
    (known, extra)
        .prop_map(|(known, extra)| Json::Object(known.into_iter().flatten().chain(extra).collect()))
}

fn links(names: &'static [&'static str]) -> impl Strategy<Value = Json> {
    let one = (
        prop::sample::select(names),
        link(),
        prop_oneof![Just(0u8), Just(1), Just(2)],
    )
        .prop_map(|(name, href, form)| {
            let value = match form {
                0 => Json::Object(vec![("href".to_owned(), Json::Text(href))]),
                1 => Json::Text(href),
                _ => Json::Object(vec![("href".to_owned(), Json::Null)]),
            };
            (name.to_owned(), value)
        });
    vec(one, 0..4).prop_map(Json::Object)
}

/// A value of no particular shape: the wrong type where a field expects another, or nesting
/// past any parser's depth limit.
pub fn odd() -> BoxedStrategy<Json> {
    prop_oneof![
        4 => any_json(),
        1 => deep(),
        1 => amount(),
        1 => text().prop_map(Json::Text),
    ]
    .boxed()
}

/// Any small JSON document.
pub fn any_json() -> BoxedStrategy<Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        number().prop_map(Json::Number),
        text().prop_map(Json::Text),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Json::Array),
            vec((key(), inner), 0..4).prop_map(Json::Object),
        ]
    })
    .boxed()
}

/// Arrays and objects nested hundreds deep, closed or not.
pub fn deep() -> impl Strategy<Value = Json> {
    (1usize..2_000, any::<bool>(), any::<bool>()).prop_map(|(depth, objects, closed)| {
        let (open, close) = if objects {
            (r#"{"a":"#, "}")
        } else {
            ("[", "]")
        };
        let mut text = open.repeat(depth);
        text.push('1');
        if closed {
            text.push_str(&close.repeat(depth));
        }
        Json::Raw(text)
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_]{1,12}",
        Just(String::new()),
        Just("\u{0}".to_owned()),
        "\\PC{1,8}",
    ]
}

/// Amounts a bank might send, as a string or a bare number: ordinary ones, the edges of
/// `Decimal`, exponents, and text that is no amount at all.
pub fn amount() -> impl Strategy<Value = Json> {
    prop_oneof![
        3 => number().prop_map(Json::Number),
        3 => number().prop_map(Json::Text),
        1 => (number(), "[ +\t]{0,2}", "[ \t]{0,2}")
            .prop_map(|(n, before, after)| Json::Text(format!("{before}{n}{after}"))),
        1 => prop::sample::select(&NOT_AMOUNTS[..]).prop_map(|t| Json::Text(t.to_owned())),
        1 => exact_amount().prop_map(|(_, text)| Json::Number(text)),
    ]
}

/// Amounts `Decimal` holds, written the ways banks write them.
pub fn clean_amount() -> impl Strategy<Value = Json> {
    let small = "-?(0|[1-9][0-9]{0,9})(\\.[0-9]{1,2})?";
    prop_oneof![
        2 => small.prop_map(Json::Number),
        2 => small.prop_map(Json::Text),
        1 => "[ ]{0,2}\\+?[0-9]{1,6}\\.[0-9]{2}[ ]{0,2}".prop_map(Json::Text),
        1 => exact_amount().prop_map(|(_, text)| Json::Number(text)),
        1 => exact_amount().prop_map(|(_, text)| Json::Text(text)),
    ]
}

/// Texts that are not amounts, or are only in a loose reading.
const NOT_AMOUNTS: [&str; 20] = [
    "",
    " ",
    "+",
    "-",
    "--1",
    "1.",
    ".5",
    "1,50",
    "1.234,56",
    "NaN",
    "inf",
    "-Infinity",
    "0x10",
    "1_000",
    "\u{661}\u{662}",
    "1e",
    "1e+",
    "12 34",
    "\u{0}1",
    "1\u{0}",
];

/// A JSON number's text: small, huge, with many decimals, with exponents, and the edges of
/// `Decimal` (its maximum is 79228162514264337593543950335, with at most 28 decimals).
pub fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "-?(0|[1-9][0-9]{0,12})(\\.[0-9]{1,4})?",
        2 => "-?(0|[1-9][0-9]{0,40})(\\.[0-9]{1,40})?([eE][+-]?[0-9]{1,5})?",
        2 => prop::sample::select(&EDGE_NUMBERS[..]).prop_map(str::to_owned),
        1 => (any::<i64>(), 0u32..40).prop_map(|(m, e)| format!("{m}e-{e}")),
    ]
}

const EDGE_NUMBERS: [&str; 18] = [
    "79228162514264337593543950335",
    "-79228162514264337593543950335",
    "79228162514264337593543950336",
    "7.9228162514264337593543950335",
    "0.0000000000000000000000000001",
    "0.00000000000000000000000000001",
    "1e28",
    "1e29",
    "-1e-28",
    "1e-29",
    "1E+400",
    "1e-400",
    "1e4294967296",
    "1e-18446744073709551616",
    "-0",
    "0e0",
    "9007199254740993.01",
    "123456789012345678901234567890123456789",
];

/// A decimal within `Decimal`'s range, and the text a bank would write it as (its scale,
/// trailing zeros included, kept). An amount read from this text must equal it exactly.
pub fn exact_amount() -> impl Strategy<Value = (Decimal, String)> {
    // 96 bits of mantissa, any scale Decimal holds.
    (any::<i128>(), 0u32..=28).prop_map(|(mantissa, scale)| {
        let mantissa = mantissa % (1i128 << 96);
        let amount = Decimal::try_from_i128_with_scale(mantissa, scale).unwrap_or_default();
        (amount, amount.to_string())
    })
}

/// Dates: well-formed, compact, timestamps, impossible days, other calendars' spellings,
/// and text with a multibyte character where the date should end.
pub fn date() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])",
        1 => "[0-9]{4}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])",
        1 => "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})",
        1 => "[0-9+-]{0,12}",
        1 => "[0-9]{4}-[0-9]{2}-[0-9]\\PC{1,4}",
        1 => prop::sample::select(&ODD_DATES[..]).prop_map(str::to_owned),
        1 => text(),
    ]
}

/// Real calendar dates, in the three forms the lenient reader takes.
pub fn clean_date() -> impl Strategy<Value = String> {
    let day = "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])";
    prop_oneof![
        3 => day,
        1 => "[0-9]{4}(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])",
        1 => (day, "T[0-9]{2}:[0-9]{2}:[0-9]{2}Z").prop_map(|(d, t)| format!("{d}{t}")),
    ]
}

const ODD_DATES: [&str; 12] = [
    "2023-02-29",
    "2024-02-30",
    "0000-00-00",
    "9999-12-31",
    "+275760-09-13",
    "-0001-01-01",
    "99999999",
    "20231301",
    "2023-01-01T25:61:61Z",
    "01.02.2023",
    "2023-01-0\u{e9}",
    "2023-01-01\u{0}",
];

/// Free text as banks send it, and as they should not.
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "\\PC{0,24}",
        1 => Just(String::new()),
        1 => "[ \t\r\n]{1,4}",
        1 => "[A-Z]{2}[0-9]{2}[0-9 ]{10,30}",
        1 => "[a-z ]{0,8}\u{0}[a-z ]{0,8}",
        1 => ("\\PC{1,8}", 100usize..2_000).prop_map(|(s, n)| s.repeat(n)),
        1 => "[\u{202e}\u{feff}\u{fffd}\u{10ffff}\\\\\"]{1,8}",
    ]
}

/// A code from `codes`, as a string or (when it is all digits) a number, padded with
/// blanks, in another case, or another code.
fn code(codes: &'static [&'static str]) -> impl Strategy<Value = Json> {
    let listed = prop::sample::select(codes);
    prop_oneof![
        6 => listed.clone().prop_map(|c| Json::Text(c.to_owned())),
        1 => listed.clone().prop_map(|c| match c.parse::<u64>() {
            Ok(n) => Json::Number(n.to_string()),
            Err(_) => Json::Text(c.to_ascii_lowercase()),
        }),
        1 => listed.prop_map(|c| Json::Text(format!(" {c} "))),
        1 => "[A-Za-z0-9_]{0,12}".prop_map(Json::Text),
        1 => number().prop_map(Json::Number),
    ]
}

/// Links a bank might give: on the bank's host, relative, on another host, and not URLs.
pub fn link() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "/v1/(accounts|card-accounts)/[a-z0-9-]{1,8}/(transactions|balances)(\\?page=[0-9]{1,3})?",
        2 => "/xs2a/v1/accounts/[a-z0-9]{1,8}/transactions\\?(page|dateFrom)=[0-9-]{1,10}",
        1 => "v1/[a-z/]{0,12}",
        1 => "/[^\\s]{0,20}",
        2 => "/[a-z0-9/?=&]{0,20}".prop_map(|p| format!("{BANK_ORIGIN}/xs2a{p}")),
        1 => prop::sample::select(&ODD_LINKS[..]).prop_map(str::to_owned),
        1 => text(),
    ]
}

/// Absolute URLs: the bank's, and others.
pub fn url() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "/[a-z0-9/._-]{0,24}".prop_map(|p| format!("{BANK_ORIGIN}{p}")),
        1 => "https://[a-z]{1,8}\\.test(:[0-9]{1,5})?/[a-z0-9/?=&]{0,16}",
        1 => link(),
    ]
}

const ODD_LINKS: [&str; 14] = [
    "",
    " ",
    "https://evil.test/v1/accounts",
    "//evil.test/v1/accounts",
    "http://bank.test:8080/xs2a/v1/accounts",
    "https://bank.test/xs2a/v1/accounts",
    "javascript:alert(1)",
    "data:text/plain,hi",
    "../../../../etc/passwd",
    "http://[::1",
    "http://bank.test/xs2a/v1/accounts/a/transactions?dateFrom=x#frag",
    "/xs2a/v1/accounts/a1/transactions",
    "mailto:x@bank.test",
    "http://bank.test/%00",
];

/// Bodies from arbitrary bytes: random bytes decoded as the HTTP layer decodes a body
/// (invalid UTF-8 replaced), any text, and token soup that gets deeper into a JSON parser.
pub fn bytes_body() -> BoxedStrategy<String> {
    prop_oneof![
        2 => vec(any::<u8>(), 0..1_024).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        1 => any::<String>(),
        2 => vec(prop::sample::select(&TOKENS[..]), 0..64).prop_map(|t| t.concat()),
    ]
    .boxed()
}

const TOKENS: [&str; 24] = [
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "null",
    "true",
    "false",
    "0",
    "-1.5e400",
    "\"a\"",
    "\"amount\"",
    "\"_links\"",
    "\"href\"",
    "\"booked\"",
    "\"data\"",
    "\"code\"",
    "\\u0000",
    "\\ud800",
    " ",
    "\u{0}",
    "\u{fffd}",
];

/// The text of every file in `dir` whose name starts with one of `prefixes`, in name order:
/// the recorded answers a connector's tests serve, as seeds for [`mutated`].
pub fn fixture_files(dir: impl AsRef<std::path::Path>, prefixes: &[&str]) -> Vec<String> {
    let dir = dir.as_ref();
    let mut paths: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("the fixtures folder {}: {e}", dir.display()))
        .map(|entry| entry.expect("a fixture").path())
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            prefixes.iter().any(|p| name.starts_with(p))
        })
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no fixture starts with {prefixes:?}");
    paths
        .iter()
        .map(|path| std::fs::read_to_string(path).expect("a readable fixture"))
        .collect()
}

/// Real bodies (a protocol's fixtures) with a few edits each: characters replaced, cut out
/// or repeated, JSON tokens spliced in. Most stay close to JSON the connector understands.
pub fn mutated(seeds: Vec<String>) -> BoxedStrategy<String> {
    let edit = (
        any::<prop::sample::Index>(),
        0u8..4,
        prop::sample::select(&TOKENS[..]),
        1usize..64,
    );
    (prop::sample::select(seeds), vec(edit, 1..4))
        .prop_map(|(seed, edits)| {
            let mut chars: Vec<char> = seed.chars().collect();
            for (at, kind, token, len) in edits {
                let at = at.index(chars.len() + 1);
                let end = (at + len).min(chars.len());
                match kind {
                    0 => {
                        chars.splice(at..at, token.chars());
                    }
                    1 => {
                        chars.drain(at..end);
                    }
                    2 => {
                        let copy: Vec<char> = chars[at..end].to_vec();
                        chars.splice(at..at, copy);
                    }
                    _ => {
                        chars.splice(at..end, token.chars());
                    }
                }
            }
            chars.into_iter().collect()
        })
        .boxed()
}

/// A body for `shape`: the structured JSON generator's document, rendered.
pub fn shaped_body(shape: &'static Shape) -> BoxedStrategy<String> {
    json(shape).prop_map(|doc| doc.render()).boxed()
}

/// An HTTP status a bank may answer with, weighted to the ones protocols give meaning to.
pub fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        3 => prop::sample::select(&[200u16, 201, 204, 400, 401, 403, 404, 408, 409, 429, 500, 502, 503][..]),
        1 => 100u16..=999,
    ]
}

/// A `Retry-After` header: seconds, HTTP dates, and garbage.
pub fn retry_after() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        "[0-9]{1,25}",
        "-[0-9]{1,5}",
        Just("Wed, 21 Oct 2015 07:28:00 GMT".to_owned()),
        Just("Fri, 31 Dec 9999 23:59:59 GMT".to_owned()),
        Just("Mon, 01 Jan 0001 00:00:00 GMT".to_owned()),
        "\\PC{0,30}",
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "panicked: a bank reply broke the parser")]
    fn a_panicking_case_fails_its_target_with_the_panic_message() {
        run("a target that panics", Just(()), |()| {
            panic!("a bank reply broke the parser");
        });
    }

    #[test]
    fn a_rendered_document_is_json_with_its_text_escaped() {
        let doc = Json::Object(vec![
            ("a".to_owned(), Json::Text("\u{0}\"".to_owned())),
            ("b".to_owned(), Json::Number("1e400".to_owned())),
        ]);
        assert_eq!(doc.render(), r#"{"a":"\u0000\"","b":1e400}"#);
    }
}
