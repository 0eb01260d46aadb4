//! The `server:` section: the listen addresses, the request limits, and the credentials
//! of the webhook and the operator API (read from files or the environment at start-up),
//! refusing a listener beyond loopback that anyone could page or fail over through.

use std::path::{Path, PathBuf};

use super::raw::{RawServer, RawWebhookAuth};
use super::{Checked, Credential, Ctx};

/// Shortest secret that does not draw a warning.
const MIN_TOKEN_BYTES: usize = 16;
/// `server.max_body_bytes` bounds: a real Alertmanager delivery needs kilobytes; more
/// than 64 MiB only helps an attacker.
const MIN_BODY_BYTES: usize = 1024;
const MAX_BODY_BYTES: usize = 64 << 20;
/// `server.max_concurrent_webhooks`: Alertmanager sends one delivery per group at a
/// time per peer; 16 bodies of `max_body_bytes` in flight bound the memory they hold.
pub const DEFAULT_CONCURRENT_WEBHOOKS: usize = 16;
const MAX_CONCURRENT_WEBHOOKS: usize = 4096;

/// The validated `server:` section.
pub(super) struct Server {
    pub listen: String,
    pub max_body_bytes: usize,
    pub max_concurrent_webhooks: usize,
    pub signal_listen: Option<String>,
    pub webhook_auth: Option<Credential>,
    pub api_token: Option<String>,
}

/// Validates `server:` (reads the secret files and variables it names).
pub(super) fn validate(ctx: &Ctx, raw: RawServer) -> Checked<Server> {
    let f = &ctx.f;
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let listen = raw
        .listen
        .clone()
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    if listen.parse::<std::net::SocketAddr>().is_err() {
        problems.push(format!(
            "{f}: server.listen: {listen:?} is not an address:port"
        ));
    }
    let mut secrets = Secrets {
        ctx,
        problems: &mut problems,
        warnings: &mut warnings,
    };
    let webhook_auth = raw
        .webhook_auth
        .as_ref()
        .and_then(|w| webhook_credential(&mut secrets, w));
    let api_token = secrets.read(
        "server.api_token_file",
        &raw.api_token_file,
        &raw.api_token_env,
    );
    if let Some(w) = &raw.webhook_auth {
        let bearer = w.bearer_token_file.is_some() || w.bearer_token_env.is_some();
        if bearer && w.basic_auth.is_some() {
            problems.push(format!(
                "{f}: server.webhook_auth: bearer token and basic_auth are exclusive: set one"
            ));
        }
    }
    warnings.extend(weak_secret_warnings(f, &webhook_auth, &api_token));
    let loopback = listen
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|a| a.ip().is_loopback());
    if !loopback && (webhook_auth.is_none() || api_token.is_none()) && !raw.allow_unauthenticated {
        problems.push(format!(
            "{f}: server.listen: {listen} is reachable beyond loopback without webhook auth and an API token; configure server.webhook_auth and server.api_token_file, or set server.allow_unauthenticated: true"
        ));
    }
    let (max_body_bytes, max_concurrent_webhooks) = limits(f, &raw, &mut problems);
    let signal_listen = raw.signal_listen;
    if let Some(sl) = &signal_listen {
        signal_listen_problems(f, sl, &listen, &mut problems);
    }
    let server = Server {
        listen,
        max_body_bytes,
        max_concurrent_webhooks,
        signal_listen,
        webhook_auth,
        api_token,
    };
    Checked {
        value: server,
        problems,
        warnings,
    }
}

/// Reads secrets from files (warning on loose permissions) or environment variables.
struct Secrets<'a> {
    ctx: &'a Ctx<'a>,
    problems: &'a mut Vec<String>,
    warnings: &'a mut Vec<String>,
}

impl Secrets<'_> {
    /// The secret `field` names by a file or a variable (exclusive), trimmed; None and a
    /// problem when it cannot be read or is empty, None when neither is set.
    fn read(
        &mut self,
        field: &str,
        file: &Option<PathBuf>,
        env: &Option<String>,
    ) -> Option<String> {
        let f = &self.ctx.f;
        if let Some(p) = file {
            self.warnings
                .extend(loose_permissions(f, field, &self.ctx.resolve(p)));
        }
        match (file, env) {
            (Some(_), Some(_)) => {
                self.problems.push(format!(
                    "{f}: {field}: a file and an environment variable are exclusive: set one"
                ));
                None
            }
            (Some(p), _) => match std::fs::read_to_string(self.ctx.resolve(p)) {
                Ok(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                Ok(_) => {
                    self.problems
                        .push(format!("{f}: {field}: {} is empty", p.display()));
                    None
                }
                Err(e) => {
                    self.problems
                        .push(format!("{f}: {field}: cannot read {}: {e}", p.display()));
                    None
                }
            },
            (None, Some(var)) => match std::env::var(var) {
                Ok(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                _ => {
                    self.problems.push(format!(
                        "{f}: {field}: environment variable {var} is not set"
                    ));
                    None
                }
            },
            (None, None) => None,
        }
    }
}

/// The webhook's credential: basic auth, or a bearer token.
fn webhook_credential(secrets: &mut Secrets, w: &RawWebhookAuth) -> Option<Credential> {
    match &w.basic_auth {
        Some(b) => secrets
            .read(
                "server.webhook_auth.basic_auth.password_file",
                &Some(b.password_file.clone()),
                &None,
            )
            .map(|password| Credential::Basic {
                username: b.username.clone(),
                password,
            }),
        None => secrets
            .read(
                "server.webhook_auth",
                &w.bearer_token_file,
                &w.bearer_token_env,
            )
            .map(Credential::Bearer),
    }
}

/// Warnings for short secrets and for one token shared by the webhook and the API.
fn weak_secret_warnings(
    f: &str,
    webhook_auth: &Option<Credential>,
    api_token: &Option<String>,
) -> Vec<String> {
    let mut warnings = Vec::new();
    let webhook_secret = match webhook_auth {
        Some(Credential::Bearer(t)) => Some(t),
        Some(Credential::Basic { password, .. }) => Some(password),
        None => None,
    };
    for (field, token) in [
        ("server.webhook_auth", webhook_secret),
        ("server.api_token", api_token.as_ref()),
    ] {
        if let Some(t) = token {
            if t.len() < MIN_TOKEN_BYTES {
                warnings.push(format!(
                    "{f}: {field}: the secret is {} bytes; use at least {MIN_TOKEN_BYTES} random bytes",
                    t.len()
                ));
            }
        }
    }
    if let (Some(Credential::Bearer(w)), Some(a)) = (webhook_auth, api_token) {
        if w == a {
            warnings.push(format!(
                "{f}: server: the webhook and the operator API share one token: whoever can page can also fail over"
            ));
        }
    }
    warnings
}

/// `max_body_bytes` and `max_concurrent_webhooks`, within their bounds.
fn limits(f: &str, raw: &RawServer, problems: &mut Vec<String>) -> (usize, usize) {
    let max_body_bytes = raw.max_body_bytes.unwrap_or(1 << 20);
    if !(MIN_BODY_BYTES..=MAX_BODY_BYTES).contains(&max_body_bytes) {
        problems.push(format!(
            "{f}: server.max_body_bytes: {max_body_bytes} must be between {MIN_BODY_BYTES} and {MAX_BODY_BYTES}"
        ));
    }
    let max_concurrent_webhooks = raw
        .max_concurrent_webhooks
        .unwrap_or(DEFAULT_CONCURRENT_WEBHOOKS);
    if !(1..=MAX_CONCURRENT_WEBHOOKS).contains(&max_concurrent_webhooks) {
        problems.push(format!(
            "{f}: server.max_concurrent_webhooks: {max_concurrent_webhooks} must be between 1 and {MAX_CONCURRENT_WEBHOOKS}"
        ));
    }
    (max_body_bytes, max_concurrent_webhooks)
}

/// `signal_listen` must be an address of its own.
fn signal_listen_problems(f: &str, sl: &str, listen: &str, problems: &mut Vec<String>) {
    match sl.parse::<std::net::SocketAddr>() {
        Err(_) => problems.push(format!(
            "{f}: server.signal_listen: {sl:?} is not an address:port"
        )),
        Ok(a) if listen.parse::<std::net::SocketAddr>().is_ok_and(|l| l == a) => {
            problems.push(format!(
                "{f}: server.signal_listen: {sl} is server.listen's address; give it its own port"
            ))
        }
        Ok(_) => {}
    }
}

/// A warning when a secret file is readable by its group or by others.
fn loose_permissions(f: &str, field: &str, path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "{f}: {field}: {} is readable by group or others (mode {:o}): chmod 600 it",
            path.display(),
            mode & 0o777
        )
    })
}
