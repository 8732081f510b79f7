//! Typed, layered configuration, parsed once at start-up: defaults → optional TOML file
//! (`BESPOKE_CONFIG`, or `./bespoke.toml` when present) → environment variables. A bad value stops
//! the start with a message that names the setting.

use std::{net::SocketAddr, path::PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("setting {setting}: {message}")]
    Invalid { setting: String, message: String },
    #[error("config file {path}: {message}")]
    File { path: String, message: String },
}

/// A secret that never shows in logs or debug output.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretString(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `BESPOKE_ADDR`: where to listen (port 0 picks a free port).
    pub addr: SocketAddr,
    /// `BESPOKE_DATA_DIR`: the SQLite file and uploads live here.
    pub data_dir: PathBuf,
    /// `DATABASE_URL`: unset = SQLite in the data dir; `postgres://…` = PostgreSQL.
    pub database_url: Option<SecretString>,
    /// `BESPOKE_SITE_ROOT`: the built static site (wasm, CSS, public files); unset = Leptos.toml's
    /// `site-root`, else `target/site`.
    pub site_root: Option<PathBuf>,
    /// `BESPOKE_LOG_FORMAT`: `pretty` or `json`.
    pub log_format: LogFormat,
    /// `BESPOKE_SECURE_COOKIES`: mark the session cookie `Secure` (set it when served over TLS).
    pub secure_cookies: bool,
    /// `BESPOKE_TRUST_PROXY`: take the client IP from `X-Forwarded-For` (only behind a proxy you run).
    pub trust_proxy: bool,
    /// `BESPOKE_ACCOUNTS__MAX_FAILURES_PER_ACCOUNT` / `…_PER_IP`: sign-in throttling.
    pub max_failures_per_account: i64,
    pub max_failures_per_ip: i64,
    /// `BESPOKE_EVENTS__MODE`: `background` (dispatcher loops in the process) or `inline` (serverless:
    /// no work between requests; events are dispatched right after the request that committed them,
    /// and a scheduler calls the drain endpoint or `server events drain`).
    pub events_mode: EventsMode,
    /// `BESPOKE_EVENTS__DRAIN_SECRET`: bearer secret for `POST /internal/events/drain` (unset: disabled).
    pub drain_secret: Option<SecretString>,
    /// `BESPOKE_EVENTS__LEASE_SECONDS`: how long a claimed delivery is held before another instance may
    /// take it over (after a crash).
    pub events_lease_secs: u64,
    /// `BESPOKE_PUBLIC_URL`: how this deployment is reached (the sandbox posts its webhooks there);
    /// unset = the address it listens on.
    pub public_url: Option<String>,
    /// `BESPOKE_PAYMENTS__PROVIDER`: `sandbox` (default, offline) or `stripe`.
    pub payments: PaymentsSettings,
    /// `BESPOKE_ORDERS__COMMISSION_BPS` (basis points, default 1000 = 10 %),
    /// `BESPOKE_ORDERS__PAYOUT_HOLD_DAYS` (default 7), `BESPOKE_ORDERS__RESERVATION_MINUTES` (default 15).
    pub commission_bps: i64,
    pub payout_hold_days: i64,
    pub reservation_ttl: std::time::Duration,
    /// `BESPOKE_KEYS`: the key-encryption keyring as JSON (`{"current": id, "keys": {id: base64url}}`);
    /// wins over the file.
    pub keys: Option<SecretString>,
    /// `BESPOKE_KEYS_FILE`: the keyring file (default `data_dir/keys.json`, generated on first run).
    pub keys_file: Option<PathBuf>,
    /// `BESPOKE_LIMITS__SIGN_UP_PER_HOUR`, `…__SEARCH_PER_MINUTE`, `…__CHECKOUT_PER_MINUTE` (0 = off).
    pub limits: crate::http::guard::RateLimits,
    /// `BESPOKE_MAIL__SPOOL_DIR`: mail is dropped there as `.eml` files (unset: mail goes to the log).
    pub mail_spool_dir: Option<PathBuf>,
    /// `BESPOKE_EVENTS__MAX_ATTEMPTS` (default 8) and `BESPOKE_EVENTS__BASE_BACKOFF_MS` (default 500):
    /// how often and how patiently a failing delivery is retried before it is dead-lettered.
    pub events_max_attempts: i64,
    pub events_base_backoff_ms: u64,
    /// `BESPOKE_OIDC__ISSUER`, `…__CLIENT_ID`, `…__CLIENT_SECRET`, `…__NAME` (default "OpenID"): sign-in
    /// with an OpenID Connect provider; the redirect URI is `{BESPOKE_PUBLIC_URL}/auth/oidc/callback`.
    pub oidc: Option<accounts::oidc::OidcConfig>,
    /// `BESPOKE_RECOMMEND__WEIGHT_VIEW` / `…_CART` / `…_PURCHASE` / `…_CUSTOM` (how much each signal
    /// counts), `…__RETRAIN_AFTER` (new signals before an automatic retraining; 0 = never),
    /// `…__RETRAIN_HOURS`, `…__EPOCHS`, `…__PERSONALIZE_SEARCH`.
    pub recommend: recommend::RecSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentsProvider {
    Sandbox,
    Stripe,
}

#[derive(Debug, Clone)]
pub struct PaymentsSettings {
    pub provider: PaymentsProvider,
    /// `BESPOKE_PAYMENTS__SANDBOX_WEBHOOK_SECRET`: what the sandbox signs its webhooks with.
    pub sandbox_webhook_secret: SecretString,
    /// `BESPOKE_PAYMENTS__STRIPE_SECRET_KEY`, `…__STRIPE_PUBLISHABLE_KEY`, `…__STRIPE_WEBHOOK_SECRETS`
    /// (comma-separated: several during a rotation), `…__STRIPE_API_BASE` (a stand-in, for tests).
    pub stripe_secret_key: Option<SecretString>,
    pub stripe_publishable_key: Option<String>,
    pub stripe_webhook_secrets: Vec<SecretString>,
    pub stripe_api_base: Option<String>,
}

impl Default for PaymentsSettings {
    fn default() -> Self {
        Self {
            provider: PaymentsProvider::Sandbox,
            sandbox_webhook_secret: SecretString::new("whsec_bespoke_sandbox_local"),
            stripe_secret_key: None,
            stripe_publishable_key: None,
            stripe_webhook_secrets: Vec::new(),
            stripe_api_base: None,
        }
    }
}

fn parse_range(setting: &str, v: &str, min: i64, max: i64) -> Result<i64, ConfigError> {
    match v.trim().parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(invalid(setting, format!("{v:?} is not a whole number from {min} to {max}"))),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventsMode {
    Background,
    Inline,
}

fn parse_events_mode(setting: &str, v: &str) -> Result<EventsMode, ConfigError> {
    match v.trim() {
        "background" => Ok(EventsMode::Background),
        "inline" => Ok(EventsMode::Inline),
        _ => Err(invalid(setting, format!("{v:?} is not background or inline"))),
    }
}

impl Settings {
    /// Where the keyring file is (when `BESPOKE_KEYS` is not set).
    /// Whether the site is served over TLS (secure cookies, or an https public URL): turns on HSTS.
    pub fn serves_tls(&self) -> bool {
        self.secure_cookies || self.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
    }

    pub fn keys_path(&self) -> PathBuf {
        self.keys_file.clone().unwrap_or_else(|| self.data_dir.join("keys.json"))
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            site_root: None,
            log_format: LogFormat::Pretty,
            secure_cookies: false,
            trust_proxy: false,
            max_failures_per_account: 5,
            max_failures_per_ip: 50,
            events_mode: EventsMode::Background,
            drain_secret: None,
            events_lease_secs: 30,
            public_url: None,
            payments: PaymentsSettings::default(),
            commission_bps: 1000,
            payout_hold_days: 7,
            reservation_ttl: std::time::Duration::from_secs(15 * 60),
            keys: None,
            keys_file: None,
            limits: crate::http::guard::RateLimits::default(),
            mail_spool_dir: None,
            events_max_attempts: 8,
            events_base_backoff_ms: 500,
            oidc: None,
            recommend: recommend::RecSettings::default(),
        }
    }
}

/// The file layer: every key optional, unknown keys refused (a typo should not pass silently).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLayer {
    addr: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    site_root: Option<PathBuf>,
    log_format: Option<String>,
    secure_cookies: Option<bool>,
    trust_proxy: Option<bool>,
    accounts: Option<AccountsLayer>,
    events: Option<EventsLayer>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsLayer {
    mode: Option<String>,
    drain_secret: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountsLayer {
    max_failures_per_account: Option<i64>,
    max_failures_per_ip: Option<i64>,
}

fn invalid(setting: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { setting: setting.to_owned(), message: message.into() }
}

fn parse_addr(setting: &str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.trim().parse().map_err(|_| invalid(setting, format!("{v:?} is not an address like 127.0.0.1:3000")))
}

fn parse_bool(setting: &str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(invalid(setting, format!("{v:?} is not true or false"))),
    }
}

fn parse_log_format(setting: &str, v: &str) -> Result<LogFormat, ConfigError> {
    match v.trim() {
        "pretty" => Ok(LogFormat::Pretty),
        "json" => Ok(LogFormat::Json),
        _ => Err(invalid(setting, format!("{v:?} is not pretty or json"))),
    }
}

fn parse_count(setting: &str, v: &str) -> Result<i64, ConfigError> {
    match v.trim().parse::<i64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(invalid(setting, format!("{v:?} is not a whole number of at least 1"))),
    }
}

fn check_db_url(setting: &str, v: &str) -> Result<SecretString, ConfigError> {
    let v = v.trim();
    if v.starts_with("postgres://") || v.starts_with("postgresql://") || v.starts_with("sqlite:") {
        Ok(SecretString::new(v))
    } else {
        Err(invalid(setting, "expected a postgres://… or sqlite://… url"))
    }
}

impl Settings {
    /// Loads the layers from the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        Self::load_from(|k| std::env::var(k).ok())
    }

    /// Loads the layers with `env` as the environment (tests pass a map).
    pub fn load_from(env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut s = Settings::default();
        let path = env("BESPOKE_CONFIG").map(PathBuf::from).or_else(|| {
            let p = PathBuf::from("bespoke.toml");
            p.exists().then_some(p)
        });
        if let Some(path) = path {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| ConfigError::File { path: path.display().to_string(), message: e.to_string() })?;
            let f: FileLayer = toml::from_str(&text)
                .map_err(|e| ConfigError::File { path: path.display().to_string(), message: e.to_string() })?;
            s.apply_file(f)?;
        }
        if let Some(v) = env("BESPOKE_ADDR") {
            s.addr = parse_addr("BESPOKE_ADDR", &v)?;
        }
        if let Some(v) = env("BESPOKE_DATA_DIR") {
            if v.trim().is_empty() {
                return Err(invalid("BESPOKE_DATA_DIR", "must not be empty"));
            }
            s.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("DATABASE_URL").filter(|v| !v.trim().is_empty()) {
            s.database_url = Some(check_db_url("DATABASE_URL", &v)?);
        }
        if let Some(v) = env("BESPOKE_SITE_ROOT").or_else(|| env("LEPTOS_SITE_ROOT")) {
            s.site_root = Some(PathBuf::from(v));
        }
        if let Some(v) = env("BESPOKE_LOG_FORMAT") {
            s.log_format = parse_log_format("BESPOKE_LOG_FORMAT", &v)?;
        }
        if let Some(v) = env("BESPOKE_SECURE_COOKIES") {
            s.secure_cookies = parse_bool("BESPOKE_SECURE_COOKIES", &v)?;
        }
        if let Some(v) = env("BESPOKE_TRUST_PROXY") {
            s.trust_proxy = parse_bool("BESPOKE_TRUST_PROXY", &v)?;
        }
        if let Some(v) = env("BESPOKE_ACCOUNTS__MAX_FAILURES_PER_ACCOUNT") {
            s.max_failures_per_account = parse_count("BESPOKE_ACCOUNTS__MAX_FAILURES_PER_ACCOUNT", &v)?;
        }
        if let Some(v) = env("BESPOKE_EVENTS__MODE") {
            s.events_mode = parse_events_mode("BESPOKE_EVENTS__MODE", &v)?;
        }
        if let Some(v) = env("BESPOKE_EVENTS__LEASE_SECONDS") {
            s.events_lease_secs = u64::try_from(parse_count("BESPOKE_EVENTS__LEASE_SECONDS", &v)?).unwrap_or(30);
        }
        if let Some(v) = env("BESPOKE_EVENTS__DRAIN_SECRET") {
            if v.len() < 16 {
                return Err(invalid("BESPOKE_EVENTS__DRAIN_SECRET", "must be at least 16 characters"));
            }
            s.drain_secret = Some(SecretString::new(v));
        }
        if let Some(v) = env("BESPOKE_ACCOUNTS__MAX_FAILURES_PER_IP") {
            s.max_failures_per_ip = parse_count("BESPOKE_ACCOUNTS__MAX_FAILURES_PER_IP", &v)?;
        }
        if let Some(v) = env("BESPOKE_KEYS").filter(|v| !v.trim().is_empty()) {
            kernel::crypto::LocalKeyring::parse(&v).map_err(|e| invalid("BESPOKE_KEYS", &e.to_string()))?;
            s.keys = Some(SecretString::new(v));
        }
        if let Some(v) = env("BESPOKE_KEYS_FILE").filter(|v| !v.trim().is_empty()) {
            s.keys_file = Some(PathBuf::from(v));
        }
        if let Some(v) = env("BESPOKE_PUBLIC_URL").filter(|v| !v.trim().is_empty()) {
            let v = v.trim().trim_end_matches('/').to_owned();
            if !(v.starts_with("http://") || v.starts_with("https://")) {
                return Err(invalid("BESPOKE_PUBLIC_URL", "expected an http:// or https:// url"));
            }
            s.public_url = Some(v);
        }
        for (name, slot) in [
            ("BESPOKE_LIMITS__SIGN_UP_PER_HOUR", &mut s.limits.sign_up_per_hour),
            ("BESPOKE_LIMITS__SEARCH_PER_MINUTE", &mut s.limits.search_per_minute),
            ("BESPOKE_LIMITS__CHECKOUT_PER_MINUTE", &mut s.limits.checkout_per_minute),
        ] {
            if let Some(v) = env(name) {
                *slot = u32::try_from(parse_range(name, &v, 0, 1_000_000)?).unwrap_or(0);
            }
        }
        if let Some(v) = env("BESPOKE_MAIL__SPOOL_DIR").filter(|v| !v.trim().is_empty()) {
            s.mail_spool_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = env("BESPOKE_EVENTS__MAX_ATTEMPTS") {
            s.events_max_attempts = parse_range("BESPOKE_EVENTS__MAX_ATTEMPTS", &v, 1, 100)?;
        }
        if let Some(v) = env("BESPOKE_EVENTS__BASE_BACKOFF_MS") {
            s.events_base_backoff_ms = u64::try_from(parse_range("BESPOKE_EVENTS__BASE_BACKOFF_MS", &v, 10, 600_000)?).unwrap_or(500);
        }
        if let Some(issuer) = env("BESPOKE_OIDC__ISSUER").filter(|v| !v.trim().is_empty()) {
            let issuer = issuer.trim().trim_end_matches('/').to_owned();
            if !(issuer.starts_with("https://") || issuer.starts_with("http://127.0.0.1") || issuer.starts_with("http://localhost")) {
                return Err(invalid("BESPOKE_OIDC__ISSUER", "expected an https:// issuer URL"));
            }
            let need = |k: &str| env(k).filter(|v| !v.trim().is_empty()).ok_or_else(|| invalid(k, "is required with BESPOKE_OIDC__ISSUER"));
            let client_id = need("BESPOKE_OIDC__CLIENT_ID")?;
            let client_secret = need("BESPOKE_OIDC__CLIENT_SECRET")?;
            let base = s.public_url.clone().unwrap_or_else(|| format!("http://{}", s.addr));
            s.oidc = Some(accounts::oidc::OidcConfig {
                name: env("BESPOKE_OIDC__NAME").filter(|v| !v.trim().is_empty()).unwrap_or_else(|| "OpenID".into()),
                issuer,
                client_id,
                client_secret,
                redirect_uri: format!("{base}/auth/oidc/callback"),
            });
        }
        let r = &mut s.recommend;
        for (key, slot) in [
            ("BESPOKE_RECOMMEND__WEIGHT_VIEW", &mut r.weight_view),
            ("BESPOKE_RECOMMEND__WEIGHT_CART", &mut r.weight_cart),
            ("BESPOKE_RECOMMEND__WEIGHT_PURCHASE", &mut r.weight_purchase),
            ("BESPOKE_RECOMMEND__WEIGHT_CUSTOM", &mut r.weight_custom),
        ] {
            if let Some(v) = env(key) {
                *slot = match v.trim().parse::<f32>() {
                    Ok(w) if (0.0..=100.0).contains(&w) => w,
                    _ => return Err(invalid(key, format!("{v:?} is not a number from 0 to 100"))),
                };
            }
        }
        if let Some(v) = env("BESPOKE_RECOMMEND__RETRAIN_AFTER") {
            r.retrain_after = parse_range("BESPOKE_RECOMMEND__RETRAIN_AFTER", &v, 0, 100_000_000)?;
        }
        if let Some(v) = env("BESPOKE_RECOMMEND__RETRAIN_HOURS") {
            r.retrain_hours = u64::try_from(parse_range("BESPOKE_RECOMMEND__RETRAIN_HOURS", &v, 1, 24 * 365)?).unwrap_or(24);
        }
        if let Some(v) = env("BESPOKE_RECOMMEND__EPOCHS") {
            r.epochs = usize::try_from(parse_range("BESPOKE_RECOMMEND__EPOCHS", &v, 1, 200)?).unwrap_or(15);
        }
        if let Some(v) = env("BESPOKE_RECOMMEND__PERSONALIZE_SEARCH") {
            r.personalize_search = parse_bool("BESPOKE_RECOMMEND__PERSONALIZE_SEARCH", &v)?;
        }
        if let Some(v) = env("BESPOKE_ORDERS__COMMISSION_BPS") {
            s.commission_bps = parse_range("BESPOKE_ORDERS__COMMISSION_BPS", &v, 0, 5000)?;
        }
        if let Some(v) = env("BESPOKE_ORDERS__PAYOUT_HOLD_DAYS") {
            s.payout_hold_days = parse_range("BESPOKE_ORDERS__PAYOUT_HOLD_DAYS", &v, 0, 90)?;
        }
        if let Some(v) = env("BESPOKE_ORDERS__RESERVATION_MINUTES") {
            let m = parse_range("BESPOKE_ORDERS__RESERVATION_MINUTES", &v, 1, 1440)?;
            s.reservation_ttl = std::time::Duration::from_secs(u64::try_from(m).unwrap_or(15) * 60);
        }
        let p = &mut s.payments;
        if let Some(v) = env("BESPOKE_PAYMENTS__PROVIDER") {
            p.provider = match v.trim() {
                "sandbox" => PaymentsProvider::Sandbox,
                "stripe" => PaymentsProvider::Stripe,
                _ => return Err(invalid("BESPOKE_PAYMENTS__PROVIDER", format!("{v:?} is not sandbox or stripe"))),
            };
        }
        if let Some(v) = env("BESPOKE_PAYMENTS__SANDBOX_WEBHOOK_SECRET") {
            if v.len() < 16 {
                return Err(invalid("BESPOKE_PAYMENTS__SANDBOX_WEBHOOK_SECRET", "must be at least 16 characters"));
            }
            p.sandbox_webhook_secret = SecretString::new(v);
        }
        if let Some(v) = env("BESPOKE_PAYMENTS__STRIPE_SECRET_KEY").filter(|v| !v.is_empty()) {
            if !(v.starts_with("sk_") || v.starts_with("rk_")) {
                return Err(invalid("BESPOKE_PAYMENTS__STRIPE_SECRET_KEY", "a Stripe secret key starts with sk_ (or rk_ for a restricted key)"));
            }
            p.stripe_secret_key = Some(SecretString::new(v));
        }
        if let Some(v) = env("BESPOKE_PAYMENTS__STRIPE_PUBLISHABLE_KEY").filter(|v| !v.is_empty()) {
            if !v.starts_with("pk_") {
                return Err(invalid("BESPOKE_PAYMENTS__STRIPE_PUBLISHABLE_KEY", "a Stripe publishable key starts with pk_"));
            }
            p.stripe_publishable_key = Some(v);
        }
        if let Some(v) = env("BESPOKE_PAYMENTS__STRIPE_WEBHOOK_SECRETS") {
            p.stripe_webhook_secrets = v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(SecretString::new).collect();
        }
        if let Some(v) = env("BESPOKE_PAYMENTS__STRIPE_API_BASE").filter(|v| !v.is_empty()) {
            p.stripe_api_base = Some(v);
        }
        if p.provider == PaymentsProvider::Stripe {
            if p.stripe_secret_key.is_none() {
                return Err(invalid("BESPOKE_PAYMENTS__STRIPE_SECRET_KEY", "is required when the payments provider is stripe"));
            }
            if p.stripe_publishable_key.is_none() {
                return Err(invalid("BESPOKE_PAYMENTS__STRIPE_PUBLISHABLE_KEY", "is required when the payments provider is stripe"));
            }
            if p.stripe_webhook_secrets.is_empty() {
                return Err(invalid("BESPOKE_PAYMENTS__STRIPE_WEBHOOK_SECRETS", "is required when the payments provider is stripe (whsec_…)"));
            }
        }
        Ok(s)
    }

    fn apply_file(&mut self, f: FileLayer) -> Result<(), ConfigError> {
        if let Some(v) = f.addr {
            self.addr = parse_addr("addr", &v)?;
        }
        if let Some(v) = f.data_dir {
            self.data_dir = v;
        }
        if let Some(v) = f.database_url {
            self.database_url = Some(check_db_url("database_url", &v)?);
        }
        if let Some(v) = f.site_root {
            self.site_root = Some(v);
        }
        if let Some(v) = f.log_format {
            self.log_format = parse_log_format("log_format", &v)?;
        }
        if let Some(v) = f.secure_cookies {
            self.secure_cookies = v;
        }
        if let Some(v) = f.trust_proxy {
            self.trust_proxy = v;
        }
        if let Some(e) = f.events {
            if let Some(v) = e.mode {
                self.events_mode = parse_events_mode("events.mode", &v)?;
            }
            if let Some(v) = e.drain_secret {
                if v.len() < 16 {
                    return Err(invalid("events.drain_secret", "must be at least 16 characters"));
                }
                self.drain_secret = Some(SecretString::new(v));
            }
        }
        if let Some(a) = f.accounts {
            if let Some(n) = a.max_failures_per_account {
                self.max_failures_per_account = parse_count("accounts.max_failures_per_account", &n.to_string())?;
            }
            if let Some(n) = a.max_failures_per_ip {
                self.max_failures_per_ip = parse_count("accounts.max_failures_per_ip", &n.to_string())?;
            }
        }
        Ok(())
    }

    /// The database url in force: `DATABASE_URL`, or the SQLite file in the data dir.
    pub fn effective_database_url(&self) -> std::io::Result<String> {
        match &self.database_url {
            Some(u) => Ok(u.expose().to_owned()),
            None => kernel::Db::sqlite_url_in(&self.data_dir),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::load_from(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_then_env() {
        let s = load(&[]).map_err(|e| e.to_string());
        assert_eq!(s.as_ref().map(|s| s.addr.to_string()), Ok("127.0.0.1:3000".to_owned()));
        let s = load(&[("BESPOKE_ADDR", "0.0.0.0:8080"), ("DATABASE_URL", "postgres://u@h/db")]);
        let s = s.map_err(|e| e.to_string());
        assert_eq!(s.as_ref().map(|s| s.addr.port()), Ok(8080));
        assert!(s.is_ok_and(|s| s.database_url.is_some()));
    }

    #[test]
    fn bad_values_name_the_setting() {
        let e = load(&[("BESPOKE_ADDR", "nope")]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.starts_with("setting BESPOKE_ADDR:"), "{e}");
        let e = load(&[("DATABASE_URL", "mysql://x")]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.starts_with("setting DATABASE_URL:"), "{e}");
        let e = load(&[("BESPOKE_SECURE_COOKIES", "maybe")]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("BESPOKE_SECURE_COOKIES"), "{e}");
    }

    #[test]
    fn file_layer_is_below_env() {
        let dir = std::env::temp_dir().join(format!("bespoke-cfg-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("bespoke.toml");
        let _ = std::fs::write(&path, "addr = \"127.0.0.1:4000\"\ndata_dir = \"/tmp/x\"\n[accounts]\nmax_failures_per_ip = 9\n");
        let p = path.display().to_string();
        let s = load(&[("BESPOKE_CONFIG", &p)]).map_err(|e| e.to_string());
        assert_eq!(s.as_ref().map(|s| (s.addr.port(), s.max_failures_per_ip)), Ok((4000, 9)));
        let s = load(&[("BESPOKE_CONFIG", &p), ("BESPOKE_ADDR", "127.0.0.1:5000")]).map_err(|e| e.to_string());
        assert_eq!(s.map(|s| s.addr.port()), Ok(5000));
        let _ = std::fs::write(&path, "adress = \"typo\"\n");
        let e = load(&[("BESPOKE_CONFIG", &p)]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("adress"), "{e}");
    }
}
