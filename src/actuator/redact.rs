//! Keeping secrets out of everything the actuator stores or shows: step descriptions
//! (journaled as step details, served by `/api/v1/incidents`, logged on dry runs) and step
//! results and errors (journaled, logged, put in abort notifications).
//!
//! Three tools, each a pure function of text:
//! - [`redact_url`]: one URL without its userinfo (`https://***@host`) and with every
//!   query and fragment value masked (`?token=***&x=***`). Values are masked whatever
//!   their key, because a key name says nothing reliable about what a value carries.
//! - [`redact_text`]: free text (command output, error messages) with every URL in it
//!   redacted as above and every match of the built-in secret list masked: AWS access
//!   key ids, AWS secret keys, `Bearer` tokens, `Authorization` values, and
//!   `password`/`passwd`/`secret`/`token`/`api_key` values.
//! - [`Redactor`]: the built-in list plus a step's own `redact:` patterns, and
//!   [`Redactor::output_tail`], the bounded end of a command's output, redacted.
//!
//! Every masked part becomes [`MASK`]. Redacting redacted text changes nothing, so a
//! result may safely pass through more than one of these.

use std::sync::LazyLock;

use regex::Regex;

/// What every secret is replaced with.
pub const MASK: &str = "***";

/// Why a step's own `redact:` patterns cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    #[error("redact[{index}]: {source}")]
    Pattern {
        index: usize,
        #[source]
        source: regex::Error,
    },
}

/// `scheme://userinfo@` anywhere in text. Userinfo cannot hold an unencoded `/`, `?`, `#`
/// or whitespace (RFC 3986), which bounds the match without cutting a password that holds
/// quotes or parentheses. No word boundary before the scheme: `x_https://…` is still a URL.
static USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)([a-z][a-z0-9+.\-]*://)[^\s/?#@]*@").expect("constant regex")
});

/// `scheme://userinfo@` at the start of a text known to be one (malformed) URL: there the
/// userinfo may hold anything but `/`, `?` and `#`, even spaces.
static USERINFO_LOOSE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(\s*[a-z][a-z0-9+.\-]*://)[^/?#]*@").expect("constant regex")
});

/// A URL in free text: a scheme, `://`, then up to the first character that commonly
/// delimits a URL in prose or logs (whitespace, quotes, brackets of a message).
static URL_IN_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)[a-z][a-z0-9+.\-]*://[^\s<>"'`()]+"#).expect("constant regex")
});

/// The built-in secret list: (pattern, replacement). Each pattern keeps the key it found
/// (`$1`) so the text stays readable, and masks only the value.
const BUILTIN: &[(&str, &str)] = &[
    // AWS access key ids (long-term AKIA, temporary ASIA). No word boundaries: a key glued
    // to other text is still a key, and over-masking is the safe error.
    (r"(?:AKIA|ASIA)[A-Z0-9]{16}", MASK),
    // AWS secret access keys (40 base64 characters) after their usual names, in ini
    // files, environment dumps and JSON (`"SecretAccessKey": "…"`).
    (
        r#"(?i)((?:aws_secret_access_key|secretaccesskey|secret_access_key)["']?[ \t]*[:=][ \t]*["']?)[A-Za-z0-9/+=]+"#,
        "${1}***",
    ),
    // Authorization header values (any scheme), up to the end of the line or a quote
    // that closes the value (a header given as one shell word).
    (
        r#"(?i)(authorization["']?[ \t]*[:=][ \t]*)(?:"[^"\r\n]*"?|'[^'\r\n]*'?|[^\r\n"']+)"#,
        "${1}***",
    ),
    // Bearer tokens wherever they appear (RFC 6750 b64token).
    (r"(?i)(bearer[ \t]+)[A-Za-z0-9\-._~+/]+=*", "${1}***"),
    // password=…, token: …, "secret": "…", client_secret=…, api_key=…: the key may end a
    // longer name, the value may be quoted.
    (
        r#"(?i)((?:password|passwd|secret|token|api[_-]?key)["']?[ \t]*[:=][ \t]*)(?:"[^"\r\n]*"?|'[^'\r\n]*'?|[^\s"'&,;]+)"#,
        "${1}***",
    ),
    // The same names as command-line flags with the value as the next word.
    (
        r"(?i)(--?(?:password|passwd|secret|token|api[_-]?key)[ \t]+)[^\s-][^\s]*",
        "${1}***",
    ),
];

static BUILTIN_RES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    BUILTIN
        .iter()
        .map(|(p, with)| (Regex::new(p).expect("constant regex"), *with))
        .collect()
});

/// Masks the values of `k=v&…` pairs; a bare item (`?abcdef`) may itself be a token, so it
/// is masked whole. Empty values stay empty: there is nothing to hide.
fn mask_pairs(q: &str) -> String {
    q.split('&')
        .map(|p| match p.split_once('=') {
            Some((k, "")) => format!("{k}="),
            Some((k, _)) => format!("{k}={MASK}"),
            None if p.is_empty() => String::new(),
            None => MASK.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `url` without userinfo secrets and with query (and fragment) values masked:
/// `https://user:pass@host/p?token=abc&x=1` → `https://***@host/p?token=***&x=***`.
/// Text the URL parser rejects is masked by pattern instead (userinfo, then every value
/// after the first `?`), so no input comes back unredacted.
pub fn redact_url(url: &str) -> String {
    let Ok(mut u) = reqwest::Url::parse(url) else {
        return redact_unparsed_url(url);
    };
    if (!u.username().is_empty() || u.password().is_some())
        && (u.set_username(MASK).is_err() || u.set_password(None).is_err())
    {
        return redact_unparsed_url(url);
    }
    if let Some(q) = u.query().map(mask_pairs) {
        u.set_query(Some(&q));
    }
    if let Some(f) = u.fragment().map(mask_pairs) {
        u.set_fragment(Some(&f));
    }
    u.to_string()
}

/// The pattern fallback of [`redact_url`].
fn redact_unparsed_url(url: &str) -> String {
    let url = USERINFO_LOOSE.replace(url, "${1}***@");
    let url = USERINFO.replace_all(&url, "${1}***@");
    match url.split_once('?') {
        Some((head, rest)) => {
            let (query, fragment) = match rest.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (rest, None),
            };
            let mut out = format!("{head}?{}", mask_pairs(query));
            if let Some(f) = fragment {
                out.push('#');
                out.push_str(&mask_pairs(f));
            }
            out
        }
        None => url.into_owned(),
    }
}

/// Every URL in `text` redacted with [`redact_url`].
fn redact_urls_in(text: &str) -> String {
    // Userinfo first, over the whole text: a password holding a quote or a parenthesis
    // would otherwise end the URL match before its `@`.
    let text = USERINFO.replace_all(text, "${1}***@");
    URL_IN_TEXT
        .replace_all(&text, |c: &regex::Captures| redact_url(&c[0]))
        .into_owned()
}

/// `text` with every URL redacted and every match of the built-in secret list masked.
pub fn redact_text(text: &str) -> String {
    let mut out = redact_urls_in(text);
    for (re, with) in BUILTIN_RES.iter() {
        if let std::borrow::Cow::Owned(s) = re.replace_all(&out, *with) {
            out = s;
        }
    }
    out
}

/// How much of a command's output is searched for secrets before its tail is kept. The
/// output is cut at a line start inside this window, so no secret is cut in half (which
/// could leave its value without the key that marks it).
const SCAN_WINDOW: usize = 64 * 1024;

/// The built-in secret list plus a step's own `redact:` patterns.
#[derive(Debug, Default)]
pub struct Redactor {
    extra: Vec<Regex>,
}

impl Redactor {
    /// The built-in list plus `patterns` (regexes; each match is replaced by [`MASK`]).
    pub fn new(patterns: &[String]) -> Result<Self, RedactError> {
        let extra = patterns
            .iter()
            .enumerate()
            .map(|(index, p)| {
                Regex::new(p).map_err(|source| RedactError::Pattern { index, source })
            })
            .collect::<Result<_, _>>()?;
        Ok(Redactor { extra })
    }

    /// Problems with `patterns` as `{at}.redact[i]: …`, for a step's `validate`.
    pub fn validate(at: &str, patterns: &[String]) -> Vec<String> {
        match Redactor::new(patterns) {
            Ok(_) => Vec::new(),
            Err(e) => vec![format!("{at}.{e}")],
        }
    }

    /// `text` with the step's patterns masked (first: they are written against the raw
    /// text), then [`redact_text`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for re in &self.extra {
            if let std::borrow::Cow::Owned(s) = re.replace_all(&out, MASK) {
                out = s;
            }
        }
        redact_text(&out)
    }

    /// The last `max` bytes (at most) of a command's output, redacted. Redaction runs
    /// before the cut, on whole lines, so the cut never exposes part of a secret.
    pub fn output_tail(&self, bytes: &[u8], max: usize) -> String {
        let start = bytes.len().saturating_sub(SCAN_WINDOW);
        let mut window = &bytes[start..];
        if start > 0 {
            match window.iter().position(|&b| b == b'\n') {
                Some(nl) => window = &window[nl + 1..],
                // The window is the middle of one huge line: whatever marks a secret in
                // it may lie before the window, so none of it is shown.
                None => return "(last output line too long to show)".into(),
            }
        }
        let clean = self.redact(&String::from_utf8_lossy(window));
        let clean = clean.trim();
        let mut cut = clean.len().saturating_sub(max);
        while !clean.is_char_boundary(cut) {
            cut += 1;
        }
        clean[cut..].trim().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_patterns_compile() {
        assert_eq!(BUILTIN_RES.len(), BUILTIN.len());
        LazyLock::force(&USERINFO);
        LazyLock::force(&USERINFO_LOOSE);
        LazyLock::force(&URL_IN_TEXT);
    }

    #[test]
    fn redact_url_masks_userinfo_and_query_values() {
        assert_eq!(
            redact_url("https://user:pass@host.example/p?token=abc&x=1"),
            "https://***@host.example/p?token=***&x=***"
        );
        assert_eq!(
            redact_url("https://user@host/p"),
            "https://***@host/p",
            "a username alone may be a token (GitHub style)"
        );
        assert_eq!(redact_url("https://:pw@host/"), "https://***@host/");
        assert_eq!(
            redact_url("http://127.0.0.1:8080/hook"),
            "http://127.0.0.1:8080/hook",
            "nothing to hide: unchanged"
        );
        assert_eq!(
            redact_url("https://h/x?sig&a=&b=2#access_token=t"),
            "https://h/x?***&a=&b=***#access_token=***"
        );
        assert_eq!(
            redact_url("https://h/x?token=abc"),
            redact_url(&redact_url("https://h/x?token=abc")),
            "idempotent"
        );
    }

    #[test]
    fn redact_url_falls_back_to_patterns_for_unparseable_text() {
        assert_eq!(
            redact_url("https://user:pa ss@ho st/x?token=abc&y=2"),
            "https://***@ho st/x?token=***&y=***"
        );
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(redact_url("/relative?token=abc"), "/relative?token=***");
    }

    #[test]
    fn urls_inside_text_are_redacted_in_place() {
        let t = redact_text("error sending request for url (http://u:p@h:1/x?token=abc): refused");
        // The `token=` rule may also take the `):` that follows: masking too much is the
        // safe error, since a value may hold those characters.
        assert!(
            t.starts_with("error sending request for url (http://***@h:1/x?token=***")
                && t.ends_with(" refused"),
            "{t}"
        );
        assert_eq!(
            redact_text("see 'https://bob:pa(ss@h/'"),
            "see 'https://***@h/'"
        );
    }

    #[test]
    fn builtin_list_masks_known_secret_shapes() {
        let cases = [
            ("key AKIAABCDEFGHIJKLMNOP ok", "key *** ok"),
            ("id=ASIA0123456789ABCDEF", "id=***"),
            (
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "aws_secret_access_key = ***",
            ),
            (
                r#"{"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "x": 1}"#,
                r#"{"SecretAccessKey": "***", "x": 1}"#,
            ),
            (
                "Authorization: Basic dXNlcjpwYXNz\nnext",
                "Authorization: ***\nnext",
            ),
            (
                "curl -H 'authorization: token abc' x",
                "curl -H 'authorization: ***' x",
            ),
            ("got Bearer eyJhbGciOi.J9x-_ more", "got Bearer *** more"),
            ("PASSWORD=hunter2 user=bob", "PASSWORD=*** user=bob"),
            ("db_passwd: 'hunter 2'", "db_passwd: ***"),
            ("client_secret=s3cr3t&grant=x", "client_secret=***&grant=x"),
            (r#""token": "abc.def""#, r#""token": ***"#),
            ("--password hunter2 --user bob", "--password *** --user bob"),
            ("api-key=k1", "api-key=***"),
        ];
        for (input, want) in cases {
            assert_eq!(redact_text(input), want, "input: {input}");
            assert_eq!(redact_text(want), want, "idempotent on: {want}");
        }
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "exit 0: synced 3 records in us-east-1",
            "HTTP 200 OK",
            "max_tokens=5 tokens: 10",
            "authorization failed for role x",
            "exec /opt/dr.sh with SLOGUARD_INCIDENT=7 SLOGUARD_FROM=us-east-1",
            "commit 0123456789abcdef0123456789abcdef01234567",
        ] {
            assert_eq!(redact_text(text), text);
        }
    }

    #[test]
    fn step_patterns_are_masked_first_and_bad_ones_are_named() {
        let r = Redactor::new(&["acct-[0-9]+".into(), "PIN [0-9]{4}".into()]).expect("valid");
        assert_eq!(
            r.redact("acct-1234 PIN 9876 password=x"),
            "*** *** password=***"
        );
        let errs = Redactor::validate("runbook[2]", &["ok".into(), "(".into()]);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("runbook[2].redact[1]: "), "{errs:?}");
    }

    #[test]
    fn output_tail_is_bounded_and_never_cuts_a_secret() {
        let r = Redactor::default();
        assert_eq!(r.output_tail(b"  ok\n", 300), "ok");
        // A secret right at the cut point: redaction happens before the cut.
        let mut out = "x".repeat(1000).into_bytes();
        out.extend_from_slice(b"\npassword=hunter2hunter2 and AKIAABCDEFGHIJKLMNOP\n");
        let tail = r.output_tail(&out, 20);
        assert!(tail.len() <= 20, "{tail}");
        assert!(
            !tail.contains("hunter") && !tail.contains("KLMNOP"),
            "{tail}"
        );
        // Longer than the scan window: cut at a line start, never mid-line.
        let mut big = b"Authorization: Basic ".to_vec();
        big.extend(std::iter::repeat_n(b'A', SCAN_WINDOW));
        big.extend_from_slice(b"\nfine\n");
        assert_eq!(r.output_tail(&big, 300), "fine");
        let one_line = vec![b'z'; SCAN_WINDOW + 10];
        assert!(!r.output_tail(&one_line, 300).contains('z'));
        // Multi-byte characters at the cut do not panic.
        let t = r.output_tail("ééééé".as_bytes(), 3);
        assert!(t.len() <= 3 && t.chars().all(|c| c == 'é'), "{t}");
    }

    /// Whether any 6 consecutive characters of `secret` (ASCII) are in `text`: a secret
    /// masked only in part has survived too.
    fn leaks(secret: &str, text: &str) -> bool {
        (0..=secret.len().saturating_sub(6))
            .any(|i| text.contains(&secret[i..(i + 6).min(secret.len())]))
    }

    /// Random secrets of each shape, embedded in random text: no part of one survives.
    #[test]
    fn random_secrets_never_survive() {
        const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const WORD: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.~";
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        fn pick(rng: &mut fastrand::Rng, set: &[u8], n: usize) -> String {
            (0..n)
                .map(|_| set[rng.usize(..set.len())] as char)
                .collect()
        }
        let filler = [
            "", " ", "\n", "log: ", "x", "(", "\t", "=", "\"", "ok;", "error: ",
        ];
        for _ in 0..2000 {
            let secret_b64 = pick(&mut rng, B64, 40);
            let word = {
                let n = 8 + rng.usize(..24);
                pick(&mut rng, WORD, n)
            };
            let key_id = format!(
                "{}{}",
                ["AKIA", "ASIA"][rng.usize(..2)],
                pick(&mut rng, UPPER_ALNUM, 16)
            );
            let key = [
                "password",
                "PASSWD",
                "Secret",
                "token",
                "db_password",
                "API_KEY",
            ][rng.usize(..6)];
            let sep = ["=", ": ", " = ", "\": \""][rng.usize(..4)];
            let (shape, secret) = match rng.usize(..7) {
                0 => (key_id.clone(), key_id),
                1 => (
                    format!("aws_secret_access_key={secret_b64}"),
                    secret_b64.clone(),
                ),
                2 => (format!("\"SecretAccessKey\": \"{secret_b64}\""), secret_b64),
                3 => (format!("Authorization: Bearer {word}"), word),
                4 => (format!("{key}{sep}{word}"), word),
                5 => (format!("https://user:{word}@host.example/x"), word),
                _ => (format!("https://h.example/x?a=1&token={word}"), word),
            };
            let before = filler[rng.usize(..filler.len())];
            let after = [" ", "\n", "", " more text", ";"][rng.usize(..5)];
            let n = rng.usize(..5);
            let text = format!(
                "{}{before}{shape}{after}{}",
                pick(&mut rng, WORD, n),
                pick(&mut rng, WORD, 3)
            );
            let clean = redact_text(&text);
            assert!(
                !leaks(&secret, &clean),
                "{secret:?} survived in {clean:?} (from {text:?})"
            );
            let tail = Redactor::default().output_tail(text.as_bytes(), 300);
            assert!(
                !leaks(&secret, &tail),
                "{secret:?} survived in the tail {tail:?}"
            );
        }
    }
}
