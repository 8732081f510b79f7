//! Sign-in with an OpenID Connect provider (Google, or any provider with discovery): the
//! authorization code flow with PKCE (S256), `state` (one use, 10 minutes, stored hashed) and
//! `nonce`; the ID token's signature is checked against the provider's JWKS (re-fetched once when a
//! key id is unknown), and its issuer, audience, expiry and nonce are verified. The first sign-in
//! links the identity to the account with the same verified email, or creates a customer account;
//! MFA still applies where the person turned it on.

use std::{sync::Arc, time::Duration};

use data_encoding::BASE64URL_NOPAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use kernel::{audit, outbox, Timestamp};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::RwLock;

use crate::{
    db, events,
    service::{random_token, token_hash, MFA_CHALLENGE_TTL},
    Accounts, AccountsError, ClientInfo, DealerStatus, Role, SignInOutcome, UserId,
};

const FLOW_TTL: Duration = Duration::from_secs(600);

/// A provider as configured: `BESPOKE_OIDC__ISSUER`, `…__CLIENT_ID`, `…__CLIENT_SECRET`, `…__NAME`.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// Shown on the button ("Sign in with Google").
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Where the provider sends people back: `{public url}/auth/oidc/callback`.
    pub redirect_uri: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    userinfo_endpoint: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub kid: Option<String>,
    pub alg: Option<String>,
    pub n: Option<String>,
    pub e: Option<String>,
    pub crv: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
}

/// What an ID token says about the person (after verification).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub nonce: Option<String>,
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: Option<bool>,
    pub name: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OidcError {
    #[error("the sign-in link expired or was already used: start again")]
    BadState,
    #[error("the identity provider refused: {0}")]
    Provider(String),
    #[error("the identity provider's answer could not be verified: {0}")]
    InvalidToken(String),
    #[error("the identity provider is unreachable: {0}")]
    Unreachable(String),
}

pub struct Oidc {
    cfg: OidcConfig,
    http: reqwest::Client,
    discovery: RwLock<Option<Discovery>>,
    jwks: RwLock<Option<Jwks>>,
}

impl Oidc {
    pub fn new(cfg: OidcConfig) -> Arc<Self> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).redirect(reqwest::redirect::Policy::none()).build().unwrap_or_default();
        Arc::new(Self { cfg, http, discovery: RwLock::new(None), jwks: RwLock::new(None) })
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    async fn discovery(&self) -> Result<Discovery, OidcError> {
        if let Some(d) = self.discovery.read().await.clone() {
            return Ok(d);
        }
        let url = format!("{}/.well-known/openid-configuration", self.cfg.issuer.trim_end_matches('/'));
        let d: Discovery = self.get_json(&url).await?;
        if d.issuer.trim_end_matches('/') != self.cfg.issuer.trim_end_matches('/') {
            return Err(OidcError::InvalidToken(format!("the discovery document names issuer {} instead of {}", d.issuer, self.cfg.issuer)));
        }
        *self.discovery.write().await = Some(d.clone());
        Ok(d)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, OidcError> {
        let res = self.http.get(url).send().await.map_err(|e| OidcError::Unreachable(e.to_string()))?;
        if !res.status().is_success() {
            return Err(OidcError::Unreachable(format!("{url} answered {}", res.status())));
        }
        res.json().await.map_err(|e| OidcError::Unreachable(format!("{url}: {e}")))
    }

    async fn jwks(&self, refresh: bool) -> Result<Jwks, OidcError> {
        if !refresh {
            if let Some(k) = self.jwks.read().await.clone() {
                return Ok(k);
            }
        }
        let d = self.discovery().await?;
        let k: Jwks = self.get_json(&d.jwks_uri).await?;
        *self.jwks.write().await = Some(k.clone());
        Ok(k)
    }

    /// Starts a sign-in: records the flow and returns the provider's authorization URL.
    pub async fn start(&self, accounts: &Accounts, return_to: &str) -> Result<String, AccountsError> {
        let d = self.discovery().await.map_err(|e| AccountsError::internal(e.to_string()))?;
        let (state, nonce, verifier) = (random_token(32), random_token(32), random_token(48));
        let challenge = BASE64URL_NOPAD.encode(&Sha256::digest(verifier.as_bytes()));
        let return_to = safe_return(return_to);
        db::insert_oidc_flow(accounts.db.writer(), &token_hash(&state), &nonce, &verifier, &return_to, Timestamp::now().plus(FLOW_TTL)).await?;
        let q = [
            ("response_type", "code"),
            ("client_id", self.cfg.client_id.as_str()),
            ("redirect_uri", self.cfg.redirect_uri.as_str()),
            ("scope", "openid email profile"),
            ("state", state.as_str()),
            ("nonce", nonce.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        let query: Vec<String> = q.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect();
        let sep = if d.authorization_endpoint.contains('?') { '&' } else { '?' };
        Ok(format!("{}{sep}{}", d.authorization_endpoint, query.join("&")))
    }

    /// Finishes a sign-in from the provider's redirect: returns the outcome and where to go next.
    pub async fn finish(&self, accounts: &Accounts, code: &str, state: &str, client: &ClientInfo) -> Result<(SignInOutcome, String), OidcFailure> {
        let flow = db::take_oidc_flow(accounts.db.writer(), &token_hash(state), Timestamp::now()).await.map_err(|e| OidcFailure::Accounts(e.into()))?;
        let Some((nonce, verifier, return_to)) = flow else { return Err(OidcFailure::Oidc(OidcError::BadState)) };
        let d = self.discovery().await?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.cfg.redirect_uri.as_str()),
            ("client_id", self.cfg.client_id.as_str()),
            ("client_secret", self.cfg.client_secret.as_str()),
            ("code_verifier", verifier.as_str()),
        ];
        let res = self.http.post(&d.token_endpoint).form(&form).send().await.map_err(|e| OidcError::Unreachable(e.to_string()))?;
        let status = res.status();
        let body: serde_json::Value = res.json().await.map_err(|e| OidcError::Provider(format!("an unreadable token answer: {e}")))?;
        if !status.is_success() {
            let why = body["error_description"].as_str().or(body["error"].as_str()).unwrap_or("no reason given").to_owned();
            return Err(OidcFailure::Oidc(OidcError::Provider(why)));
        }
        let Some(id_token) = body["id_token"].as_str() else { return Err(OidcFailure::Oidc(OidcError::Provider("no ID token in the answer".into()))) };
        let claims = match verify_id_token(id_token, &self.jwks(false).await?, &d.issuer, &self.cfg.client_id, &nonce, Timestamp::now()) {
            Err(OidcError::InvalidToken(m)) if m.starts_with("no key") => verify_id_token(id_token, &self.jwks(true).await?, &d.issuer, &self.cfg.client_id, &nonce, Timestamp::now())?,
            other => other?,
        };
        let claims = self.with_userinfo(claims, body["access_token"].as_str(), &d).await?;
        let outcome = accounts.sign_in_with_identity(&self.cfg.issuer, &claims, client).await?;
        Ok((outcome, return_to))
    }
}

impl Oidc {
    /// Providers that keep the ID token minimal (the spec's default for the code flow) give the
    /// email and name at the userinfo endpoint; its `sub` must be the ID token's.
    async fn with_userinfo(&self, mut claims: IdClaims, access_token: Option<&str>, d: &Discovery) -> Result<IdClaims, OidcError> {
        let (Some(token), Some(url)) = (access_token, d.userinfo_endpoint.as_deref()) else { return Ok(claims) };
        if claims.email.is_some() {
            return Ok(claims);
        }
        let res = self.http.get(url).bearer_auth(token).send().await.map_err(|e| OidcError::Unreachable(e.to_string()))?;
        if !res.status().is_success() {
            return Err(OidcError::Provider(format!("the userinfo endpoint answered {}", res.status())));
        }
        let info: serde_json::Value = res.json().await.map_err(|e| OidcError::Provider(format!("unreadable userinfo: {e}")))?;
        if info["sub"].as_str() != Some(claims.sub.as_str()) {
            return Err(OidcError::InvalidToken("the userinfo answer is about someone else".into()));
        }
        claims.email = info["email"].as_str().map(str::to_owned);
        claims.email_verified = info["email_verified"].as_bool();
        claims.name = claims.name.or_else(|| info["name"].as_str().map(str::to_owned));
        Ok(claims)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OidcFailure {
    #[error(transparent)]
    Oidc(#[from] OidcError),
    #[error(transparent)]
    Accounts(#[from] AccountsError),
}

/// Only local paths: never an open redirect.
fn safe_return(p: &str) -> String {
    if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') && p.len() <= 300 && !p.chars().any(char::is_control) {
        p.to_owned()
    } else {
        "/".to_owned()
    }
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Checks an ID token: a signature by one of the provider's keys (RS256/384/512, PS*, ES256/384;
/// never `none` or HMAC), then issuer, audience, expiry (60 s leeway) and nonce.
pub fn verify_id_token(token: &str, jwks: &Jwks, issuer: &str, client_id: &str, nonce: &str, now: Timestamp) -> Result<IdClaims, OidcError> {
    let bad = |m: String| OidcError::InvalidToken(m);
    let header = jsonwebtoken::decode_header(token).map_err(|e| bad(format!("not a signed token: {e}")))?;
    let alg = header.alg;
    if !matches!(alg, Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 | Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512 | Algorithm::ES256 | Algorithm::ES384) {
        return Err(bad(format!("the {alg:?} algorithm is not accepted")));
    }
    let key = jwks
        .keys
        .iter()
        .find(|k| header.kid.is_none() || k.kid == header.kid)
        .ok_or_else(|| bad(format!("no key {} in the provider's key set", header.kid.clone().unwrap_or_default())))?;
    let decoding = match key.kty.as_str() {
        "RSA" => DecodingKey::from_rsa_components(key.n.as_deref().unwrap_or(""), key.e.as_deref().unwrap_or("")).map_err(|e| bad(e.to_string()))?,
        "EC" => DecodingKey::from_ec_components(key.x.as_deref().unwrap_or(""), key.y.as_deref().unwrap_or("")).map_err(|e| bad(e.to_string()))?,
        other => return Err(bad(format!("key type {other} is not supported"))),
    };
    let mut v = Validation::new(alg);
    v.set_issuer(&[issuer]);
    v.set_audience(&[client_id]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v.leeway = 60;
    // checked below against our clock (tests pass theirs)
    v.validate_exp = false;
    let data = jsonwebtoken::decode::<serde_json::Value>(token, &decoding, &v).map_err(|e| bad(e.to_string()))?;
    let exp = data.claims["exp"].as_i64().ok_or_else(|| bad("no expiry".into()))?;
    if exp + 60 < now.0 / 1_000_000 {
        return Err(bad("the token has expired".into()));
    }
    let claims: IdClaims = serde_json::from_value(data.claims).map_err(|e| bad(e.to_string()))?;
    if claims.nonce.as_deref() != Some(nonce) {
        return Err(bad("the nonce does not match this sign-in".into()));
    }
    Ok(claims)
}

impl Accounts {
    /// Signs in the person an identity belongs to: linked before, or linked now to the account with
    /// the same (provider-verified) email, or a new customer account. MFA applies as for passwords.
    pub async fn sign_in_with_identity(&self, provider: &str, c: &IdClaims, client: &ClientInfo) -> Result<SignInOutcome, AccountsError> {
        let email = c.email.as_deref().map(str::trim).map(str::to_lowercase).filter(|e| !e.is_empty());
        let verified = c.email_verified.unwrap_or(false);
        let mut tx = self.db.begin().await?;
        let linked = db::identity_account(&mut tx, provider, &c.sub).await?;
        let (row, how) = match linked {
            Some(id) => (db::account_by_id_tx(&mut tx, id).await?.ok_or(AccountsError::NotFound)?, "oidc"),
            None => {
                let Some(email) = email.filter(|_| verified) else {
                    return Err(AccountsError::invalid("email", "the identity provider did not give a verified email address"));
                };
                let existing = db::account_by_email_tx(&mut tx, &email).await?;
                let row = match existing {
                    Some(r) => r,
                    None => {
                        let id = UserId::new();
                        let name: String = c.name.clone().unwrap_or_else(|| email.split('@').next().unwrap_or("New customer").to_owned()).chars().take(80).collect();
                        db::insert_account(
                            &mut tx,
                            &db::NewAccount { id, email: &email, display_name: &name, password_hash: "!", role: Role::Customer, dealer_status: None::<DealerStatus> },
                        )
                        .await?;
                        outbox::append(&mut tx, &outbox::Envelope::of(&events::UserRegistered { user_id: id, role: Role::Customer, dealer_status: None })).await?;
                        db::account_by_id_tx(&mut tx, id).await?.ok_or(AccountsError::NotFound)?
                    }
                };
                let id = UserId::parse(&row.account_id).map_err(|e| AccountsError::internal(e.to_string()))?;
                db::insert_identity(&mut tx, provider, &c.sub, id, &email).await?;
                audit::append(&mut tx, &audit::Entry::new(&row.account_id, "auth.identity_linked", &row.account_id).detail(provider)).await?;
                (row, "oidc-first")
            }
        };
        if row.status == "suspended" {
            tx.commit().await?;
            audit::record(&self.db, &audit::Entry::new(&row.account_id, "auth.sign_in_refused", &row.account_id).detail("suspended")).await?;
            return Err(AccountsError::Suspended);
        }
        let user = row.to_user();
        if row.mfa_enabled == 1 {
            let challenge = random_token(32);
            db::insert_challenge(&mut tx, user.id, &token_hash(&challenge), Timestamp::now().plus(MFA_CHALLENGE_TTL)).await?;
            audit::append(&mut tx, &audit::Entry::new(&row.account_id, "auth.password_ok_mfa_required", &row.account_id).detail(how)).await?;
            tx.commit().await?;
            return Ok(SignInOutcome::MfaRequired { challenge });
        }
        let session = self.open_session(&mut tx, &row, client).await?;
        audit::append(&mut tx, &audit::Entry::new(&row.account_id, "auth.sign_in", &row.account_id).detail(format!("{how}:{provider}"))).await?;
        tx.commit().await?;
        Ok(SignInOutcome::SignedIn(session))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};

    // two test-only RSA keys (2048 bit): the provider's, and a forger's
    const KEY: &str = include_str!("../tests/keys/provider.pem");
    const FORGER: &str = include_str!("../tests/keys/forger.pem");
    const N: &str = include_str!("../tests/keys/provider.n");

    fn jwks() -> Jwks {
        Jwks { keys: vec![Jwk { kty: "RSA".into(), kid: Some("k1".into()), alg: Some("RS256".into()), n: Some(N.trim().into()), e: Some("AQAB".into()), crv: None, x: None, y: None }] }
    }

    fn token(pem: &str, alg: Algorithm, claims: serde_json::Value) -> String {
        let mut h = Header::new(alg);
        h.kid = Some("k1".into());
        encode(&h, &claims, &EncodingKey::from_rsa_pem(pem.as_bytes()).expect("pem")).expect("token")
    }

    fn claims(now: i64) -> serde_json::Value {
        serde_json::json!({ "iss": "https://id.example", "aud": "bespoke", "sub": "u1", "exp": now + 300, "iat": now, "nonce": "n1", "email": "a@b.test", "email_verified": true })
    }

    #[test]
    fn only_a_genuine_fresh_token_for_us_passes() {
        let now = Timestamp::now();
        let secs = now.0 / 1_000_000;
        let ok = verify_id_token(&token(KEY, Algorithm::RS256, claims(secs)), &jwks(), "https://id.example", "bespoke", "n1", now).expect("valid");
        assert_eq!((ok.sub.as_str(), ok.email.as_deref(), ok.email_verified), ("u1", Some("a@b.test"), Some(true)));
        let fails = |t: String, what: &str| {
            let e = verify_id_token(&t, &jwks(), "https://id.example", "bespoke", "n1", now).expect_err(what);
            assert!(matches!(e, OidcError::InvalidToken(_)), "{what}: {e:?}");
        };
        fails(token(FORGER, Algorithm::RS256, claims(secs)), "signed by another key");
        let mut c = claims(secs);
        c["nonce"] = "other".into();
        fails(token(KEY, Algorithm::RS256, c), "a wrong nonce");
        let mut c = claims(secs);
        c["aud"] = "someone-else".into();
        fails(token(KEY, Algorithm::RS256, c), "another audience");
        let mut c = claims(secs);
        c["iss"] = "https://evil.example".into();
        fails(token(KEY, Algorithm::RS256, c), "another issuer");
        let mut c = claims(secs);
        c["exp"] = (secs - 3600).into();
        fails(token(KEY, Algorithm::RS256, c), "expired");
        // an unsigned token and an HMAC token keyed with public material are refused outright
        let parts: Vec<&str> = token(KEY, Algorithm::RS256, claims(secs)).split('.').map(str::to_owned).collect::<Vec<_>>().leak().iter().map(String::as_str).collect();
        let none = format!("{}.{}.", BASE64URL_NOPAD.encode(br#"{"alg":"none","kid":"k1"}"#), parts[1]);
        fails(none, "alg none");
        let hs = encode(&Header { kid: Some("k1".into()), ..Header::new(Algorithm::HS256) }, &claims(secs), &EncodingKey::from_secret(N.trim().as_bytes())).expect("hs");
        fails(hs, "HS256");
        // a tampered payload breaks the signature
        let mut c = claims(secs);
        c["sub"] = "admin".into();
        let forged_payload = BASE64URL_NOPAD.encode(c.to_string().as_bytes());
        fails(format!("{}.{}.{}", parts[0], forged_payload, parts[2]), "tampered claims");
    }

    #[test]
    fn return_paths_stay_on_this_site() {
        assert_eq!(safe_return("/orders?x=1"), "/orders?x=1");
        for bad in ["https://evil.example", "//evil.example", "/\\evil", "javascript:alert(1)", ""] {
            assert_eq!(safe_return(bad), "/", "{bad}");
        }
    }
}
