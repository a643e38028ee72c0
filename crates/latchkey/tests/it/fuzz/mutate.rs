//! The fuzzer's requests and what it does to them: a small seeded RNG
//! (xorshift64*), a request kept as parts that can be changed one at a
//! time (method, path, query pairs, headers, a form, JSON or raw body), and
//! the mutations.

use std::fmt;

use axum::body::Body as HttpBody;
use axum::http::{HeaderName, HeaderValue, Method, Request, Uri};
use percent_encoding::{AsciiSet, CONTROLS, percent_encode};
use serde_json::Value;

/// xorshift64* (Vigna): deterministic for a seed, good enough to pick
/// mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A request body in the form it was built, so mutations can work on its
/// parameters; `Raw` once bytes were changed.
#[derive(Clone, Debug)]
pub enum Body {
    Empty,
    Form(Vec<(Vec<u8>, Vec<u8>)>),
    Json(Value),
    Raw(Vec<u8>),
}

/// One request, kept in parts.
#[derive(Clone)]
pub struct Req {
    pub method: String,
    /// Already percent-encoded.
    pub path: String,
    pub query: Option<Vec<(Vec<u8>, Vec<u8>)>>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Body,
}

/// Characters escaped in a mutated path segment: besides controls, the
/// ones that would end or split it.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'?');

fn form_encode(pairs: &[(Vec<u8>, Vec<u8>)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| {
            let name: String = url::form_urlencoded::byte_serialize(name).collect();
            let value: String = url::form_urlencoded::byte_serialize(value).collect();
            format!("{name}={value}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn pairs_of(items: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    items
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

impl Req {
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: None,
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    pub fn query(mut self, items: &[(&str, &str)]) -> Self {
        self.query = Some(pairs_of(items));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.as_bytes().to_vec()));
        self
    }

    pub fn form(self, items: &[(&str, &str)]) -> Self {
        let mut request = self.header("content-type", "application/x-www-form-urlencoded");
        request.body = Body::Form(pairs_of(items));
        request
    }

    pub fn json(self, value: Value) -> Self {
        let mut request = self.header("content-type", "application/json");
        request.body = Body::Json(value);
        request
    }

    pub fn target(&self) -> String {
        match &self.query {
            Some(pairs) => format!("{}?{}", self.path, form_encode(pairs)),
            None => self.path.clone(),
        }
    }

    pub fn body_bytes(&self) -> Vec<u8> {
        match &self.body {
            Body::Empty => Vec::new(),
            Body::Form(pairs) => form_encode(pairs).into_bytes(),
            Body::Json(value) => serde_json::to_vec(value).unwrap_or_default(),
            Body::Raw(bytes) => bytes.clone(),
        }
    }

    /// The HTTP request, or `None` when the method or target is something
    /// no HTTP parser would pass on to the router. Headers that are not
    /// valid header names or values are left out for the same reason.
    pub fn to_http(&self) -> Option<Request<HttpBody>> {
        let method = Method::from_bytes(self.method.as_bytes()).ok()?;
        let uri = Uri::try_from(self.target()).ok()?;
        let mut builder = Request::builder().method(method).uri(uri);
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(value),
            ) {
                builder = builder.header(name, value);
            }
        }
        builder.body(HttpBody::from(self.body_bytes())).ok()
    }
}

/// Shown when a request fails: everything needed to send it again.
impl fmt::Display for Req {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {}", self.method, self.target())?;
        for (name, value) in &self.headers {
            writeln!(f, "{name}: {}", value.escape_ascii())?;
        }
        let body = self.body_bytes();
        let shown = &body[..body.len().min(4096)];
        write!(f, "\n{}", shown.escape_ascii())?;
        if body.len() > shown.len() {
            write!(f, "… ({} bytes in all)", body.len())?;
        }
        Ok(())
    }
}

/// Values that have broken parsers before: empty, NUL, numbers out of
/// range, invalid UTF-8, markup, separators, long runs.
pub fn interesting_values() -> Vec<Vec<u8>> {
    let mut values: Vec<Vec<u8>> = [
        "",
        " ",
        "\0",
        "null",
        "-1",
        "0",
        "4294967296",
        "99999999999999999999999",
        "1e309",
        "NaN",
        "true",
        "[]",
        "{}",
        "../../etc/passwd",
        "%",
        "%zz",
        "<script>",
        "'\"",
        "\r\n",
        "é",
        "\u{202e}",
        "\u{fffd}",
        "a b",
        "+",
        "=",
        "&",
        ";",
        ",",
        "S256",
        "plain",
        "none",
        "openid",
        "code",
        "authorization_code",
        "refresh_token",
        "login consent",
        "//evil.example",
        "https://evil.example/",
        "\\\\evil",
        "/\\evil",
        "Bearer",
        "Basic",
    ]
    .iter()
    .map(|v| v.as_bytes().to_vec())
    .collect();
    values.extend([
        vec![0xff, 0xfe],
        vec![0xc3],
        vec![0xed, 0xa0, 0x80],
        vec![0xf4, 0x90, 0x80, 0x80],
    ]);
    values.push(vec![b'a'; 5000]);
    values
}

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/x-www-form-urlencoded",
    "APPLICATION/JSON; charset=utf-8",
    "application/x-www-form-urlencoded; charset=utf-16",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/json;;;",
    "",
    ";",
    "application/",
    "\u{7f}",
];

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "FOO", "get",
];

const AUTHORIZATIONS: &[&str] = &[
    "Basic",
    "Basic ",
    "Basic !!!!",
    "Basic Og==",
    "Basic YTpiOmM=",
    "Basic //79",
    "Basic JUZGOiVGRg==",
    "Bearer",
    "Bearer ",
    "Bearer a.b.c",
    "Bearer key_",
    "Bearer eyJhbGciOiJub25lIn0.e30.",
    "Digest x",
    "basic       ",
];

const EXTRA_HEADERS: &[(&str, &str)] = &[
    ("x-forwarded-for", "1.2.3.4, ::1, not-an-ip, 999.1.1.1"),
    ("x-forwarded-for", ""),
    ("accept", "application/json"),
    ("accept", "text/html, application/json;q=0.9"),
    ("x-admin-api-key", "admin_wrong-key-0123456789"),
    ("x-admin-api-key", ""),
    ("authorization", "Bearer x"),
    ("cookie", "latchkey_csrf=short"),
    ("content-length", "999999"),
    ("host", "evil.example"),
];

const BAD_UTF8: &[&[u8]] = &[&[0xff, 0xfe], &[0xc0, 0xaf], &[0xed, 0xa0, 0x80], &[0x80]];

const BROKEN_JSON: &[&[u8]] = &[
    b"{",
    b"{\"a\":",
    b"[[[[[[[[",
    b"\"\\ud800\"",
    b"{\"a\":1,\"a\":2}",
];

/// Applies one random mutation to `request`; returns what it did.
pub fn mutate(request: &mut Req, rng: &mut Rng, secrets: &[String]) -> String {
    let values = interesting_values();
    match rng.below(17) {
        0 => {
            let mut bytes = request.body_bytes();
            if bytes.is_empty() {
                bytes.push(rng.next() as u8);
            } else {
                let at = rng.below(bytes.len());
                bytes[at] ^= 1 << rng.below(8);
            }
            request.body = Body::Raw(bytes);
            "flipped a body bit".into()
        }
        1 => {
            let mut bytes = request.body_bytes();
            let keep = rng.below(bytes.len() + 1);
            bytes.truncate(keep);
            request.body = Body::Raw(bytes);
            format!("truncated the body to {keep} bytes")
        }
        2 => with_parameter(request, rng, "repeated", |list, at, _| {
            let pair = list[at].clone();
            list.push(pair);
        }),
        3 => {
            let size = *rng.pick(&[300, 5_000, 70_000]);
            let huge = vec![b'A'; size];
            with_parameter(request, rng, &format!("made {size} bytes long"), |list, at, _| {
                list[at].1 = huge.clone();
            })
        }
        4 => with_parameter(request, rng, "made invalid UTF-8", |list, at, rng| {
            let bad = *rng.pick(BAD_UTF8);
            list[at].1.extend_from_slice(bad);
        }),
        5 => {
            let content_type = *rng.pick(CONTENT_TYPES);
            request
                .headers
                .retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
            request
                .headers
                .push(("content-type".into(), content_type.as_bytes().to_vec()));
            format!("set the content type to {content_type:?}")
        }
        6 => {
            request.method = (*rng.pick(METHODS)).to_owned();
            format!("changed the method to {}", request.method)
        }
        7 if !request.headers.is_empty() => {
            let (name, _) = request.headers.remove(rng.below(request.headers.len()));
            format!("removed the {name} header")
        }
        8 if !request.headers.is_empty() => {
            let (name, _) = request.headers[rng.below(request.headers.len())].clone();
            let (_, value) = request.headers[rng.below(request.headers.len())].clone();
            request.headers.push((name.clone(), value));
            format!("repeated the {name} header")
        }
        9 => with_parameter(request, rng, "removed", |list, at, _| {
            list.remove(at);
        }),
        10 => {
            let value = rng.pick(&values).clone();
            with_parameter(request, rng, "replaced with an odd value", |list, at, _| {
                list[at].1 = value.clone();
            })
        }
        11 => mutate_path(request, rng),
        12 => mutate_json(request, rng),
        13 => {
            let value = *rng.pick(AUTHORIZATIONS);
            request
                .headers
                .retain(|(name, _)| !name.eq_ignore_ascii_case("authorization"));
            request
                .headers
                .push(("authorization".into(), value.as_bytes().to_vec()));
            format!("set Authorization to {value:?}")
        }
        14 => {
            let cookie = match rng.below(4) {
                0 => "latchkey_session=ses_garbage".to_owned(),
                1 => format!("latchkey_csrf={}", "c".repeat(40)),
                2 => "latchkey_session=; latchkey_session=x; =; ;;".to_owned(),
                _ => format!("latchkey_session={}", "s".repeat(9000)),
            };
            request.headers.push(("cookie".into(), cookie.into_bytes()));
            "added an odd cookie".into()
        }
        15 => {
            let (name, value) = *rng.pick(EXTRA_HEADERS);
            request.headers.push((name.to_owned(), value.as_bytes().to_vec()));
            format!("added {name}: {value:?}")
        }
        _ if !secrets.is_empty() => {
            // Another credential of the fixture where this one was expected.
            let secret = rng.pick(secrets).as_bytes().to_vec();
            with_parameter(request, rng, "swapped for another credential", |list, at, _| {
                list[at].1 = secret.clone();
            })
        }
        _ => "left unchanged".into(),
    }
}

/// Changes one parameter of the query, form or JSON body; adds one to the
/// query when the request has none.
fn with_parameter(
    request: &mut Req,
    rng: &mut Rng,
    what: &str,
    change: impl FnOnce(&mut Vec<(Vec<u8>, Vec<u8>)>, usize, &mut Rng),
) -> String {
    let Body::Json(Value::Object(object)) = &request.body else {
        return parameter_in_lists(request, rng, what, change);
    };
    if object.is_empty() || rng.chance(4) {
        return parameter_in_lists(request, rng, what, change);
    }
    // A JSON object is changed as a list of pairs and written back as text,
    // so repeated names and invalid UTF-8 reach the parser.
    let mut list: Vec<(Vec<u8>, Vec<u8>)> = object
        .iter()
        .map(|(k, v)| {
            let value = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            (k.as_bytes().to_vec(), value.into_bytes())
        })
        .collect();
    let at = rng.below(list.len());
    let name = String::from_utf8_lossy(&list[at].0).into_owned();
    change(&mut list, at, rng);
    let mut bytes = b"{".to_vec();
    for (i, (key, value)) in list.iter().enumerate() {
        if i > 0 {
            bytes.push(b',');
        }
        bytes.extend(serde_json::to_vec(&String::from_utf8_lossy(key)).unwrap_or_default());
        bytes.push(b':');
        match std::str::from_utf8(value) {
            Ok(text) => bytes.extend(serde_json::to_vec(text).unwrap_or_default()),
            Err(_) => {
                bytes.push(b'"');
                bytes.extend(value.iter().filter(|b| !matches!(**b, b'"' | b'\\')));
                bytes.push(b'"');
            }
        }
    }
    bytes.push(b'}');
    request.body = Body::Raw(bytes);
    format!("JSON field {name}: {what}")
}

fn parameter_in_lists(
    request: &mut Req,
    rng: &mut Rng,
    what: &str,
    change: impl FnOnce(&mut Vec<(Vec<u8>, Vec<u8>)>, usize, &mut Rng),
) -> String {
    let query_has_some = request.query.as_ref().is_some_and(|q| !q.is_empty());
    let form_has_some = matches!(&request.body, Body::Form(pairs) if !pairs.is_empty());
    let use_form = form_has_some && (!query_has_some || rng.chance(2));
    let list = match &mut request.body {
        Body::Form(pairs) if use_form => pairs,
        _ => request.query.get_or_insert_with(Vec::new),
    };
    if list.is_empty() {
        list.push((b"extra".to_vec(), b"1".to_vec()));
    }
    let at = rng.below(list.len());
    let name = String::from_utf8_lossy(&list[at].0).into_owned();
    change(list, at, rng);
    format!("parameter {name}: {what}")
}

fn mutate_path(request: &mut Req, rng: &mut Rng) -> String {
    let mut segments: Vec<String> = request.path.split('/').map(str::to_owned).collect();
    match rng.below(5) {
        0 => {
            segments.pop();
        }
        1 => segments.push("x".into()),
        2 => {
            let at = rng.below(segments.len());
            let bytes = rng.pick(&interesting_values()).clone();
            segments[at] = percent_encode(&bytes, SEGMENT).to_string();
        }
        3 => segments.insert(rng.below(segments.len()) + 1, "..".into()),
        _ => {
            let at = rng.below(segments.len());
            segments[at] = segments[at].to_uppercase();
        }
    }
    request.path = segments.join("/");
    if !request.path.starts_with('/') {
        request.path.insert(0, '/');
    }
    format!("changed the path to {}", request.path)
}

fn mutate_json(request: &mut Req, rng: &mut Rng) -> String {
    match &mut request.body {
        Body::Json(Value::Object(object)) if !object.is_empty() => {
            let keys: Vec<String> = object.keys().cloned().collect();
            let key = rng.pick(&keys).clone();
            let replacement = match rng.below(7) {
                0 => Value::Null,
                1 => Value::from(rng.next() as i64),
                2 => Value::from(1e300),
                3 => serde_json::json!(["a", 1]),
                4 => serde_json::json!({"nested": {"deeper": [null]}}),
                5 => Value::from(true),
                _ => {
                    object.insert(format!("{key}_unknown"), Value::from("x"));
                    return format!("JSON: added the field {key}_unknown");
                }
            };
            object.insert(key.clone(), replacement);
            format!("JSON: changed the type of {key}")
        }
        Body::Form(pairs) => {
            // The same parameters as a JSON object of strings.
            let object: serde_json::Map<String, Value> = pairs
                .iter()
                .map(|(n, v)| {
                    (
                        String::from_utf8_lossy(n).into_owned(),
                        Value::from(String::from_utf8_lossy(v).into_owned()),
                    )
                })
                .collect();
            request.body = Body::Json(Value::Object(object));
            request
                .headers
                .retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
            request
                .headers
                .push(("content-type".into(), b"application/json".to_vec()));
            "sent the form as JSON".into()
        }
        Body::Json(value) => {
            let nested = (0..64).fold(value.clone(), |inner, _| serde_json::json!([inner]));
            request.body = Body::Json(if rng.chance(2) {
                nested
            } else {
                Value::from("just a string")
            });
            "JSON: replaced the whole body".into()
        }
        Body::Empty | Body::Raw(_) => {
            let bytes = *rng.pick(BROKEN_JSON);
            request.body = Body::Raw(bytes.to_vec());
            "sent broken JSON".into()
        }
    }
}
