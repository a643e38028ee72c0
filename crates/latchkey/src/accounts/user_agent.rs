//! A browser's `User-Agent` as a person recognises it ("Firefox on
//! Linux"), for the list of sessions. The header is free text a client
//! chooses: it is truncated before it is stored, only ever shown escaped,
//! and read here by a few well-known product tokens, not parsed in full.

/// The most bytes of a `User-Agent` kept with a session.
pub const MAX_STORED_BYTES: usize = 256;

/// The header as stored: trimmed, control characters dropped, cut at
/// [`MAX_STORED_BYTES`] on a character boundary; `None` when empty.
pub fn for_storage(header: &str) -> Option<String> {
    let mut kept = String::new();
    for c in header.trim().chars().filter(|c| !c.is_control()) {
        if kept.len() + c.len_utf8() > MAX_STORED_BYTES {
            break;
        }
        kept.push(c);
    }
    (!kept.is_empty()).then_some(kept)
}

/// Browser and operating system, e.g. "Chrome on Windows", "Safari on
/// iOS"; the first product's name when no browser is recognised; "Unknown
/// browser" without a header.
pub fn describe(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.filter(|ua| !ua.trim().is_empty()) else {
        return "Unknown browser".to_owned();
    };
    let browser = browser(ua);
    match (browser, operating_system(ua)) {
        (Some(browser), Some(os)) => format!("{browser} on {os}"),
        (Some(browser), None) => browser.to_owned(),
        (None, os) => {
            let product = first_product(ua);
            match os {
                Some(os) => format!("{product} on {os}"),
                None => product,
            }
        }
    }
}

/// The browser, by the tokens browsers put in their header; the order
/// matters (Edge and Opera also say "Chrome", Chrome also says "Safari").
fn browser(ua: &str) -> Option<&'static str> {
    const BROWSERS: &[(&str, &str)] = &[
        ("Edg/", "Edge"),
        ("EdgA/", "Edge"),
        ("EdgiOS/", "Edge"),
        ("OPR/", "Opera"),
        ("SamsungBrowser/", "Samsung Internet"),
        ("Vivaldi/", "Vivaldi"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Version/", "Safari"),
    ];
    BROWSERS
        .iter()
        .find(|(token, _)| ua.contains(token))
        .map(|(_, name)| *name)
        .filter(|name| *name != "Safari" || ua.contains("Safari/"))
}

fn operating_system(ua: &str) -> Option<&'static str> {
    const SYSTEMS: &[(&str, &str)] = &[
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Android", "Android"),
        ("Windows", "Windows"),
        ("CrOS", "ChromeOS"),
        ("Macintosh", "macOS"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
        ("FreeBSD", "FreeBSD"),
    ];
    SYSTEMS
        .iter()
        .find(|(token, _)| ua.contains(token))
        .map(|(_, name)| *name)
}

/// The first product token's name ("curl" of "curl/8.5.0"), at most 32
/// characters.
fn first_product(ua: &str) -> String {
    let name = ua.split(['/', ' ', '(']).next().unwrap_or_default();
    let name: String = name.chars().take(32).collect();
    if name.is_empty() {
        "Unknown browser".to_owned()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_browsers_are_named_with_their_system() {
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome on Windows",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                "Safari on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                "Safari on iOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            ("curl/8.5.0", "curl"),
        ];
        for (ua, expected) in cases {
            assert_eq!(describe(Some(ua)), expected, "{ua}");
        }
        assert_eq!(describe(None), "Unknown browser");
        assert_eq!(describe(Some("  ")), "Unknown browser");
    }

    #[test]
    fn stored_header_is_cut_on_a_character_boundary_without_controls() {
        let long = "é".repeat(200);
        let stored = for_storage(&long).unwrap();
        assert!(stored.len() <= MAX_STORED_BYTES);
        assert_eq!(stored.chars().count(), MAX_STORED_BYTES / 2);
        assert_eq!(for_storage("a\u{7}b\n").as_deref(), Some("ab"));
        assert_eq!(for_storage("   "), None);
    }

    #[test]
    fn an_unknown_product_is_named_by_its_first_token_shortened() {
        let ua = format!("{}/1.0", "x".repeat(100));
        assert_eq!(describe(Some(&ua)), "x".repeat(32));
    }
}
