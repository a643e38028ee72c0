//! `UserAgent`: a scripted browser over HTTP — it keeps cookies, does not
//! follow redirects by itself, and fills in the sign-in and consent forms
//! the way a person would, reading the fields from the served HTML.

use std::collections::HashMap;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

pub const ALICE: (&str, &str) = ("alice@example.com", "correct horse battery staple");

pub struct UserAgent {
    http: reqwest::Client,
    base_url: String,
    cookies: HashMap<String, String>,
}

/// A response as the user agent saw it.
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

/// Undoes HTML character references (named ones askama emits, and
/// numeric ones).
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The value of attribute `name` in one HTML tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// Every `<input type="hidden">` of a page as (name, value).
pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    html.split("<input")
        .skip(1)
        .filter_map(|rest| rest.split('>').next())
        .filter(|tag| tag.contains("type=\"hidden\""))
        .filter_map(|tag| {
            Some((
                attribute(tag, "name")?,
                attribute(tag, "value").unwrap_or_default(),
            ))
        })
        .collect()
}

/// The hidden inputs of the form of a page that posts to `action`
/// (`method="post"`).
pub fn form_inputs(html: &str, action: &str) -> Vec<(String, String)> {
    html.split("<form")
        .skip(1)
        .find(|rest| posts_to(rest, action))
        .map(|rest| hidden_inputs(rest.split("</form>").next().unwrap_or_default()))
        .unwrap_or_else(|| panic!("no form posts to {action} in:\n{html}"))
}

/// Whether the `<form` tag at the start of `rest` posts to `action`.
fn posts_to(rest: &str, action: &str) -> bool {
    rest.split('>').next().is_some_and(|tag| {
        attribute(tag, "method").is_some_and(|m| m.eq_ignore_ascii_case("post"))
            && attribute(tag, "action").is_some_and(|found| found == action)
    })
}

/// Whether a page has a form that posts to `action`.
pub fn has_form(html: &str, action: &str) -> bool {
    html.split("<form").skip(1).any(|rest| posts_to(rest, action))
}

/// The text of the element whose `id` is `id` (up to its first tag).
pub fn element_text(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[start..];
    let text = &rest[rest.find('>')? + 1..];
    Some(unescape(&text[..text.find('<')?]))
}

/// Every `href` of a page's links.
pub fn links(html: &str) -> Vec<String> {
    html.split("<a ")
        .skip(1)
        .filter_map(|rest| attribute(rest.split('>').next()?, "href"))
        .collect()
}

/// Every `<option value>` of a page.
pub fn options(html: &str) -> Vec<String> {
    html.split("<option")
        .skip(1)
        .filter_map(|rest| attribute(rest.split('>').next()?, "value"))
        .collect()
}

/// The `<option>` a browser submits when the person leaves the picker as
/// it is: the one marked `selected`, or the first.
pub fn selected_option(html: &str) -> Option<String> {
    let tags: Vec<&str> = html
        .split("<option")
        .skip(1)
        .filter_map(|rest| rest.split('>').next())
        .collect();
    let chosen = tags
        .iter()
        .find(|tag| tag.split_whitespace().any(|word| word == "selected"))
        .or(tags.first())?;
    attribute(chosen, "value")
}

impl UserAgent {
    pub fn new(base_url: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            http,
            base_url: base_url.to_owned(),
            cookies: HashMap::new(),
        }
    }

    /// A user agent that sends `user_agent` as its `User-Agent` header.
    pub fn identified_as(base_url: &str, user_agent: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(user_agent)
            .build()
            .unwrap();
        Self {
            http,
            base_url: base_url.to_owned(),
            cookies: HashMap::new(),
        }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.base_url)
        } else {
            url.to_owned()
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let cookie_header: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let request = if cookie_header.is_empty() {
            request
        } else {
            request.header(COOKIE, cookie_header.join("; "))
        };
        let response = request.send().await.unwrap();
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let headers = response.headers().clone();
        let body = response.text().await.unwrap();
        Page {
            status,
            location,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, url: &str) -> Page {
        let request = self.http.get(self.absolute(url));
        self.send(request).await
    }

    pub async fn post_form(&mut self, url: &str, fields: &[(String, String)]) -> Page {
        let request = self.http.post(self.absolute(url)).form(fields);
        self.send(request).await
    }

    /// POSTs `body` as JSON with the extra `headers`, as a page's script
    /// does.
    pub async fn post_json(&mut self, url: &str, headers: &[(&str, &str)], body: &str) -> Page {
        let mut request = self
            .http
            .post(self.absolute(url))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    /// Sets a cookie as another site sharing the domain could plant it.
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    pub fn has_cookie(&self, name: &str) -> bool {
        self.cookies.contains_key(name)
    }

    /// The value of cookie `name`, if the agent holds it.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// Submits the sign-in form of `page`.
    pub async fn sign_in(&mut self, page: &Page, email: &str, password: &str) -> Page {
        let mut fields = hidden_inputs(&page.body);
        fields.push(("email".into(), email.into()));
        fields.push(("password".into(), password.into()));
        self.post_form("/login", &fields).await
    }

    /// Follows redirects on this server until a page or a redirect elsewhere.
    pub async fn follow(&mut self, mut page: Page) -> Page {
        while let Some(location) = page.location.clone() {
            if !(location.starts_with('/') || location.starts_with(&self.base_url)) {
                break;
            }
            page = self.get(&location).await;
        }
        page
    }

    /// Opens an authorization URL as `user`, signs in if asked, and answers
    /// the consent screen if shown (choosing `organization`, or leaving the
    /// picker as it opened).
    /// Returns the final redirect to the client.
    pub async fn authorize(
        &mut self,
        url: &str,
        user: (&str, &str),
        decision: &str,
        organization: Option<&str>,
    ) -> Page {
        let first = self.get(url).await;
        let mut page = self.follow(first).await;
        if page.body.contains("name=\"password\"") {
            let signed_in = self.sign_in(&page, user.0, user.1).await;
            assert_eq!(signed_in.status, 303, "sign-in failed: {}", signed_in.body);
            page = self.follow(signed_in).await;
        }
        if page.status == 200 && page.body.contains("name=\"decision\"") {
            page = self.consent(&page, decision, organization).await;
        }
        page
    }

    /// Answers a consent page, choosing `organization` in the picker if
    /// given (otherwise leaving it as the page opened).
    pub async fn consent(&mut self, page: &Page, decision: &str, organization: Option<&str>) -> Page {
        let mut fields = hidden_inputs(&page.body);
        if let Some(shown) = selected_option(&page.body) {
            let chosen = organization.map_or(shown, str::to_owned);
            fields.push(("organization".into(), chosen));
        }
        fields.push(("decision".into(), decision.into()));
        self.post_form("/consent", &fields).await
    }
}

/// The query parameters of a redirect URL.
pub fn query_of(url: &str) -> HashMap<String, String> {
    let parsed = url::Url::parse(url).unwrap();
    parsed.query_pairs().into_owned().collect()
}
