//! The accounts service: the only way to create, authenticate and change accounts.

use std::time::Duration;

use kernel::{audit, outbox, Db, Timestamp};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{
    db::{self, NewAccount, NewSessionRow},
    events,
    domain::*,
    password::{hash_password, verify_password, Argon2Params},
    totp, AccountsError,
};

#[derive(Debug, Clone)]
pub struct AccountsConfig {
    pub argon2: Argon2Params,
    pub session_ttl: Duration,
    /// Failed sign-ins allowed per account within `throttle_window` before it is locked for the window.
    pub max_failures_per_account: i64,
    /// Failed sign-ins allowed per client IP within `throttle_window`.
    pub max_failures_per_ip: i64,
    pub throttle_window: Duration,
    /// Shown in authenticator apps.
    pub totp_issuer: String,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            argon2: Argon2Params::default(),
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            max_failures_per_account: 5,
            max_failures_per_ip: 50,
            throttle_window: Duration::from_secs(15 * 60),
            totp_issuer: "Bespoke".into(),
        }
    }
}

#[derive(Clone)]
pub struct Accounts {
    pub(crate) db: Db,
    cfg: AccountsConfig,
    /// A decoy hash (`password::decoy_hash`): unknown emails are verified against it so that
    /// timing does not reveal which accounts exist.
    decoy_hash: std::sync::Arc<String>,
}

pub(crate) const MFA_CHALLENGE_TTL: Duration = Duration::from_secs(5 * 60);
const MFA_CHALLENGE_MAX_ATTEMPTS: i64 = 5;
/// How stale `last_seen_at` may get before an authenticated request refreshes it.
const TOUCH_INTERVAL: Duration = Duration::from_secs(60);

pub(crate) fn random_token(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut b);
    data_encoding::BASE64URL_NOPAD.encode(&b)
}

/// Tokens are high-entropy, so a plain SHA-256 is the right storage hash (no need for argon2).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn normalize_recovery_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

fn now_unix() -> u64 {
    u64::try_from(Timestamp::now().unix_seconds()).unwrap_or(0)
}

impl Accounts {
    pub fn new(db: Db, cfg: AccountsConfig) -> Self {
        let decoy = crate::password::decoy_hash(cfg.argon2);
        Self { db, cfg, decoy_hash: std::sync::Arc::new(decoy) }
    }

    async fn hash(&self, password: &Password) -> Result<String, AccountsError> {
        let pw = password.expose().to_owned();
        let params = self.cfg.argon2;
        tokio::task::spawn_blocking(move || hash_password(&pw, params))
            .await
            .map_err(|e| AccountsError::internal(e.to_string()))?
            .map_err(AccountsError::internal)
    }

    async fn verify(&self, password: &str, phc: &str) -> Result<bool, AccountsError> {
        let (pw, phc) = (password.to_owned(), phc.to_owned());
        tokio::task::spawn_blocking(move || verify_password(&pw, &phc))
            .await
            .map_err(|e| AccountsError::internal(e.to_string()))
    }

    /// Creates an account and signs it in. Dealers start pending until an admin approves them.
    #[tracing::instrument(skip_all, fields(as_dealer = input.as_dealer))]
    pub async fn sign_up(&self, input: SignUp, client: &ClientInfo) -> Result<NewSession, AccountsError> {
        let email = Email::parse(&input.email)?;
        let name = DisplayName::parse(&input.display_name)?;
        let password = Password::parse(&input.password)?;
        let (role, dealer_status) =
            if input.as_dealer { (Role::Dealer, Some(DealerStatus::Pending)) } else { (Role::Customer, None) };
        let id = self.create(&email, &name, &password, role, dealer_status).await?;
        let mut tx = self.db.begin().await?;
        let row = db::account_by_id_tx(&mut tx, id).await?.ok_or(AccountsError::NotFound)?;
        let session = self.open_session(&mut tx, &row, client).await?;
        tx.commit().await?;
        Ok(session)
    }

    async fn create(
        &self,
        email: &Email,
        name: &DisplayName,
        password: &Password,
        role: Role,
        dealer_status: Option<DealerStatus>,
    ) -> Result<UserId, AccountsError> {
        let hash = self.hash(password).await?;
        let id = UserId::new();
        let mut tx = self.db.begin().await?;
        let res = db::insert_account(
            &mut tx,
            &NewAccount {
                id,
                email: email.as_str(),
                display_name: name.as_str(),
                password_hash: &hash,
                role,
                dealer_status,
            },
        )
        .await;
        match res {
            Err(e) if kernel::db::is_unique_violation(&e) => return Err(AccountsError::EmailTaken),
            other => other?,
        }
        outbox::append(&mut tx, &outbox::Envelope::of(&events::UserRegistered { user_id: id, role, dealer_status })).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Bootstraps an account with any role (the `server admin create` command; trusted caller).
    pub async fn create_with_role(
        &self,
        email: &str,
        display_name: &str,
        password: &str,
        role: Role,
    ) -> Result<User, AccountsError> {
        let email = Email::parse(email)?;
        let name = DisplayName::parse(display_name)?;
        let password = Password::parse(password)?;
        let dealer_status = (role == Role::Dealer).then_some(DealerStatus::Approved);
        let id = self.create(&email, &name, &password, role, dealer_status).await?;
        self.user(id).await
    }

    pub async fn user(&self, id: UserId) -> Result<User, AccountsError> {
        db::account_by_id(self.db.reader(), id).await?.map(|r| r.to_user()).ok_or(AccountsError::NotFound)
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, AccountsError> {
        let email = Email::parse(email)?;
        Ok(db::account_by_email(self.db.reader(), email.as_str()).await?.map(|r| r.to_user()))
    }

    async fn check_throttle(&self, scope: &str, subject: &str, limit: i64) -> Result<(), AccountsError> {
        let now = Timestamp::now();
        let since = now.minus(self.cfg.throttle_window);
        let (n, oldest) = db::failures_since(self.db.reader(), scope, subject, since).await?;
        if n >= limit {
            let reopen = Timestamp(oldest.unwrap_or(now.0)).plus(self.cfg.throttle_window);
            let secs = u64::try_from((reopen.0 - now.0).max(1_000_000) / 1_000_000).unwrap_or(1);
            return Err(AccountsError::Throttled { retry_after_secs: secs });
        }
        Ok(())
    }

    async fn fail(&self, email: &str, client: &ClientInfo) -> Result<(), AccountsError> {
        db::record_failure(self.db.writer(), "account", email).await?;
        if let Some(ip) = &client.ip {
            db::record_failure(self.db.writer(), "ip", ip).await?;
        }
        Ok(())
    }

    /// Password sign-in. Throttled per account and per IP; with MFA on, returns a challenge.
    #[tracing::instrument(skip_all)]
    pub async fn sign_in(&self, email: &str, password: &str, client: &ClientInfo) -> Result<SignInOutcome, AccountsError> {
        let email = Email::parse(email)?;
        if password.is_empty() {
            return Err(AccountsError::invalid("password", "password is required"));
        }
        if password.chars().count() > Password::MAX {
            return Err(AccountsError::InvalidCredentials);
        }
        self.check_throttle("account", email.as_str(), self.cfg.max_failures_per_account).await?;
        if let Some(ip) = &client.ip {
            self.check_throttle("ip", ip, self.cfg.max_failures_per_ip).await?;
        }
        let row = db::account_by_email(self.db.reader(), email.as_str()).await?;
        let hash = row.as_ref().map(|r| r.password_hash.clone()).unwrap_or_else(|| self.decoy_hash.to_string());
        let ok = self.verify(password, &hash).await? && row.is_some();
        let Some(row) = row.filter(|_| ok) else {
            self.fail(email.as_str(), client).await?;
            tracing::info!(outcome = "failure", "sign-in");
            audit::record(&self.db, &audit::Entry::new("", "auth.sign_in_failed", email.as_str()).detail("wrong email or password")).await?;
            return Err(AccountsError::InvalidCredentials);
        };
        if row.status == "suspended" {
            audit::record(&self.db, &audit::Entry::new(&row.account_id, "auth.sign_in_refused", &row.account_id).detail("suspended")).await?;
            return Err(AccountsError::Suspended);
        }
        db::clear_failures(self.db.writer(), "account", email.as_str()).await?;
        let user = row.to_user();
        let mut tx = self.db.begin().await?;
        if row.mfa_enabled == 1 {
            let challenge = random_token(32);
            db::insert_challenge(&mut tx, user.id, &token_hash(&challenge), Timestamp::now().plus(MFA_CHALLENGE_TTL))
                .await?;
            audit::append(&mut tx, &audit::Entry::new(&row.account_id, "auth.password_ok_mfa_required", &row.account_id)).await?;
            tx.commit().await?;
            return Ok(SignInOutcome::MfaRequired { challenge });
        }
        let session = self.open_session(&mut tx, &row, client).await?;
        audit::append(&mut tx, &audit::Entry::new(&row.account_id, "auth.sign_in", &row.account_id).detail("password")).await?;
        tx.commit().await?;
        tracing::info!(user_id = %user.id, outcome = "success", "sign-in");
        Ok(SignInOutcome::SignedIn(session))
    }

    /// Second step of an MFA sign-in: a TOTP code (each usable once) or an unused recovery code.
    #[tracing::instrument(skip_all)]
    pub async fn sign_in_mfa(&self, challenge: &str, code: &str, client: &ClientInfo) -> Result<NewSession, AccountsError> {
        if code.trim().is_empty() {
            return Err(AccountsError::invalid("code", "enter the 6-digit code or a recovery code"));
        }
        let ch_hash = token_hash(challenge);
        let mut tx = self.db.begin().await?;
        let Some((account_id, attempts)) = db::bump_challenge(&mut tx, &ch_hash, Timestamp::now()).await? else {
            return Err(AccountsError::ChallengeExpired);
        };
        if attempts > MFA_CHALLENGE_MAX_ATTEMPTS {
            db::delete_challenge(&mut tx, &ch_hash).await?;
            tx.commit().await?;
            return Err(AccountsError::ChallengeExpired);
        }
        let id = UserId::parse(&account_id).map_err(|e| AccountsError::internal(e.to_string()))?;
        let row = db::account_by_id_tx(&mut tx, id).await?.ok_or(AccountsError::NotFound)?;
        if !self.check_second_factor(&mut tx, &row, code).await? {
            // keep the attempt count even though the sign-in failed
            tx.commit().await?;
            self.fail(&row.email, client).await?;
            audit::record(&self.db, &audit::Entry::new(&row.account_id, "auth.mfa_failed", &row.account_id)).await?;
            return Err(AccountsError::InvalidMfaCode);
        }
        db::delete_challenge(&mut tx, &ch_hash).await?;
        let session = self.open_session(&mut tx, &row, client).await?;
        audit::append(&mut tx, &audit::Entry::new(&row.account_id, "auth.sign_in", &row.account_id).detail("password+mfa")).await?;
        tx.commit().await?;
        Ok(session)
    }

    /// True if `code` is a valid, unused TOTP code or recovery code; consumes it.
    async fn check_second_factor(&self, tx: &mut kernel::Tx, row: &db::AccountRow, code: &str) -> Result<bool, AccountsError> {
        let id = UserId::parse(&row.account_id).map_err(|e| AccountsError::internal(e.to_string()))?;
        let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() == totp::DIGITS as usize && digits.bytes().all(|b| b.is_ascii_digit()) {
            let Some(stored) = row.mfa_secret.as_deref() else { return Ok(false) };
            let Some(key) = totp::decode_secret(&self.open_secret(&row.account_id, "mfa_secret", stored)?) else { return Ok(false) };
            let Some(step) = totp::matching_step(&key, &digits, now_unix()) else { return Ok(false) };
            return Ok(db::consume_mfa_step(tx, id, i64::try_from(step).unwrap_or(i64::MAX)).await?);
        }
        let normalized = normalize_recovery_code(code);
        if normalized.len() != 10 {
            return Ok(false);
        }
        Ok(db::use_recovery_code(tx, id, &token_hash(&normalized)).await?)
    }

    pub(crate) async fn open_session(
        &self,
        tx: &mut kernel::Tx,
        row: &db::AccountRow,
        client: &ClientInfo,
    ) -> Result<NewSession, AccountsError> {
        let user = row.to_user();
        if user.suspended {
            return Err(AccountsError::Suspended);
        }
        let token = random_token(32);
        let expires_at = Timestamp::now().plus(self.cfg.session_ttl);
        let ua = client.user_agent.as_deref().map(|s| s.chars().take(200).collect::<String>());
        db::insert_session(
            tx,
            &NewSessionRow {
                id: SessionId::new(),
                account_id: user.id,
                token_hash: &token_hash(&token),
                ip: client.ip.as_deref(),
                user_agent: ua.as_deref(),
                expires_at,
            },
        )
        .await?;
        Ok(NewSession { token, user, expires_at })
    }

    /// Resolves a session token (cookie or bearer) to its principal.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AccountsError> {
        if token.is_empty() || token.len() > 128 {
            return Err(AccountsError::Unauthenticated);
        }
        let now = Timestamp::now();
        let (row, session_id, last_seen) =
            db::account_by_session(self.db.reader(), &token_hash(token), now).await?.ok_or(AccountsError::Unauthenticated)?;
        let user = row.to_user();
        if user.suspended {
            return Err(AccountsError::Suspended);
        }
        if now.0 - last_seen > TOUCH_INTERVAL.as_micros() as i64 {
            db::touch_session(self.db.writer(), &session_id, now).await?;
        }
        let session_id = SessionId::parse(&session_id).map_err(|e| AccountsError::internal(e.to_string()))?;
        Ok(Principal { user, session_id })
    }

    /// Ends the session on the server: the token stops working at once.
    pub async fn sign_out(&self, token: &str) -> Result<(), AccountsError> {
        let mut tx = self.db.begin().await?;
        db::delete_session_by_hash(&mut tx, &token_hash(token)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends every session of the caller, including the current one.
    pub async fn sign_out_everywhere(&self, p: &Principal) -> Result<u64, AccountsError> {
        let mut tx = self.db.begin().await?;
        let n = db::delete_sessions_except(&mut tx, p.user.id, None).await?;
        tx.commit().await?;
        Ok(n)
    }

    pub async fn revoke_session(&self, p: &Principal, session: SessionId) -> Result<(), AccountsError> {
        let mut tx = self.db.begin().await?;
        let n = db::delete_session(&mut tx, p.user.id, session).await?;
        tx.commit().await?;
        if n == 0 {
            return Err(AccountsError::NotFound);
        }
        Ok(())
    }

    pub async fn sessions(&self, p: &Principal) -> Result<Vec<SessionInfo>, AccountsError> {
        Ok(db::list_sessions(self.db.reader(), p.user.id, p.session_id, Timestamp::now()).await?)
    }

    pub async fn update_profile(&self, p: &Principal, display_name: &str) -> Result<User, AccountsError> {
        let name = DisplayName::parse(display_name)?;
        let mut tx = self.db.begin().await?;
        db::update_display_name(&mut tx, p.user.id, name.as_str()).await?;
        tx.commit().await?;
        self.user(p.user.id).await
    }

    /// Changes the password after checking the current one; every other session is ended.
    pub async fn change_password(&self, p: &Principal, current: &str, new: &str) -> Result<(), AccountsError> {
        let new = Password::parse_field("new_password", new)?;
        let row = db::account_by_id(self.db.reader(), p.user.id).await?.ok_or(AccountsError::NotFound)?;
        if !self.verify(current, &row.password_hash).await? {
            return Err(AccountsError::invalid("current_password", "current password is wrong"));
        }
        let hash = self.hash(&new).await?;
        let mut tx = self.db.begin().await?;
        db::update_password(&mut tx, p.user.id, &hash).await?;
        db::delete_sessions_except(&mut tx, p.user.id, Some(p.session_id)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A TOTP secret as stored: envelope-encrypted and bound to the account row and column.
    fn seal_secret(&self, account_id: &str, column: &str, secret: &str) -> Result<String, AccountsError> {
        self.db.vault().and_then(|v| v.seal("account", column, account_id, secret)).map_err(|e| AccountsError::internal(format!("sealing the MFA secret: {e}")))
    }

    /// A stored TOTP secret in clear (one written before encryption reads as it is until `server keys rotate`).
    fn open_secret(&self, account_id: &str, column: &str, stored: &str) -> Result<String, AccountsError> {
        if !kernel::crypto::Vault::is_sealed(stored) {
            return Ok(stored.to_owned());
        }
        self.db.vault().and_then(|v| v.open("account", column, account_id, stored)).map_err(|e| AccountsError::internal(format!("opening the MFA secret: {e}")))
    }

    /// Starts MFA enrolment: a new secret, kept pending until a code from it is confirmed.
    pub async fn mfa_begin(&self, p: &Principal) -> Result<MfaSetup, AccountsError> {
        if p.user.mfa_enabled {
            return Err(AccountsError::MfaAlreadyEnabled);
        }
        let secret = totp::generate_secret();
        let sealed = self.seal_secret(&p.user.id.to_string(), "mfa_pending_secret", &secret)?;
        let mut tx = self.db.begin().await?;
        db::set_pending_mfa_secret(&mut tx, p.user.id, &sealed).await?;
        tx.commit().await?;
        let uri = totp::otpauth_uri(&self.cfg.totp_issuer, &p.user.email, &secret);
        let qr_svg = qrcode::QrCode::new(uri.as_bytes())
            .map(|q| q.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).build())
            .map_err(|e| AccountsError::internal(e.to_string()))?;
        Ok(MfaSetup { secret_base32: secret, otpauth_uri: uri, qr_svg })
    }

    /// Confirms enrolment with a code from the app; returns ten single-use recovery codes.
    pub async fn mfa_confirm(&self, p: &Principal, code: &str) -> Result<Vec<String>, AccountsError> {
        let mut tx = self.db.begin().await?;
        let row = db::account_by_id_tx(&mut tx, p.user.id).await?.ok_or(AccountsError::NotFound)?;
        if row.mfa_enabled == 1 {
            return Err(AccountsError::MfaAlreadyEnabled);
        }
        let pending = row.mfa_pending_secret.as_deref().ok_or(AccountsError::MfaNotStarted)?;
        let secret = self.open_secret(&row.account_id, "mfa_pending_secret", pending)?;
        let key = totp::decode_secret(&secret).ok_or_else(|| AccountsError::internal("bad stored secret"))?;
        let step = totp::matching_step(&key, code, now_unix()).ok_or(AccountsError::InvalidMfaCode)?;
        let sealed = self.seal_secret(&row.account_id, "mfa_secret", &secret)?;
        db::enable_mfa(&mut tx, p.user.id, &sealed, i64::try_from(step).unwrap_or(i64::MAX)).await?;
        let codes = self.new_recovery_codes(&mut tx, p.user.id).await?;
        outbox::append(&mut tx, &outbox::Envelope::of(&events::MfaEnabled { user_id: p.user.id })).await?;
        audit::append(&mut tx, &audit::Entry::new(&row.account_id, "mfa.enabled", &row.account_id)).await?;
        tx.commit().await?;
        Ok(codes)
    }

    async fn new_recovery_codes(&self, tx: &mut kernel::Tx, id: UserId) -> Result<Vec<String>, AccountsError> {
        const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
        let mut rng = rand::rngs::OsRng;
        let codes: Vec<String> = (0..10)
            .map(|_| {
                let raw: String = (0..10).map(|_| ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()] as char).collect();
                format!("{}-{}", &raw[..5], &raw[5..])
            })
            .collect();
        let hashes: Vec<String> = codes.iter().map(|c| token_hash(&normalize_recovery_code(c))).collect();
        db::replace_recovery_codes(tx, id, &hashes).await?;
        Ok(codes)
    }

    /// New recovery codes (the old ones stop working); needs a current TOTP code.
    pub async fn regenerate_recovery_codes(&self, p: &Principal, code: &str) -> Result<Vec<String>, AccountsError> {
        let mut tx = self.db.begin().await?;
        let row = db::account_by_id_tx(&mut tx, p.user.id).await?.ok_or(AccountsError::NotFound)?;
        if row.mfa_enabled != 1 || !self.check_second_factor(&mut tx, &row, code).await? {
            return Err(AccountsError::InvalidMfaCode);
        }
        let codes = self.new_recovery_codes(&mut tx, p.user.id).await?;
        audit::append(&mut tx, &audit::Entry::new(&row.account_id, "mfa.recovery_codes_replaced", &row.account_id)).await?;
        tx.commit().await?;
        Ok(codes)
    }

    pub async fn recovery_codes_left(&self, p: &Principal) -> Result<i64, AccountsError> {
        Ok(db::unused_recovery_codes(self.db.reader(), p.user.id).await?)
    }

    /// Turns MFA off; needs a valid code (TOTP or recovery).
    pub async fn mfa_disable(&self, p: &Principal, code: &str) -> Result<(), AccountsError> {
        let mut tx = self.db.begin().await?;
        let row = db::account_by_id_tx(&mut tx, p.user.id).await?.ok_or(AccountsError::NotFound)?;
        if row.mfa_enabled != 1 || !self.check_second_factor(&mut tx, &row, code).await? {
            return Err(AccountsError::InvalidMfaCode);
        }
        db::disable_mfa(&mut tx, p.user.id).await?;
        outbox::append(&mut tx, &outbox::Envelope::of(&events::MfaDisabled { user_id: p.user.id })).await?;
        audit::append(&mut tx, &audit::Entry::new(&row.account_id, "mfa.disabled", &row.account_id)).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn dealers_by_status(&self, p: &Principal, status: DealerStatus) -> Result<Vec<User>, AccountsError> {
        p.require_admin()?;
        Ok(db::list_dealers(self.db.reader(), status).await?.iter().map(|r| r.to_user()).collect())
    }

    /// Approves (or rejects, with a reason) a dealer application. Admins only.
    pub async fn decide_dealer(
        &self,
        p: &Principal,
        dealer: UserId,
        approve: bool,
        reason: Option<&str>,
    ) -> Result<User, AccountsError> {
        p.require_admin()?;
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if !approve && reason.is_none() {
            return Err(AccountsError::invalid("reason", "give a reason for the rejection"));
        }
        if reason.is_some_and(|r| r.chars().count() > 500) {
            return Err(AccountsError::invalid("reason", "reason is too long (at most 500 characters)"));
        }
        let status = if approve { DealerStatus::Approved } else { DealerStatus::Rejected };
        let mut tx = self.db.begin().await?;
        if db::set_dealer_status(&mut tx, dealer, status, reason).await? == 0 {
            return Err(AccountsError::NotFound);
        }
        let decided = events::DealerDecided { dealer_id: dealer, by: p.user.id, reason: reason.map(str::to_owned) };
        let envelope = if approve {
            outbox::Envelope::of(&events::DealerApproved(decided))
        } else {
            outbox::Envelope::of(&events::DealerRejected(decided))
        };
        outbox::append(&mut tx, &envelope).await?;
        let action = if approve { "dealer.approved" } else { "dealer.rejected" };
        audit::append(&mut tx, &audit::Entry::new(&p.user.id.to_string(), action, &dealer.to_string()).detail(reason.unwrap_or(""))).await?;
        tx.commit().await?;
        self.user(dealer).await
    }

    /// Changes a user's role from the command line. A new dealer made this way is approved.
    pub async fn set_role(&self, user: UserId, role: Role) -> Result<User, AccountsError> {
        self.apply_role("cli", user, role).await
    }

    async fn apply_role(&self, actor: &str, user: UserId, role: Role) -> Result<User, AccountsError> {
        let ds = (role == Role::Dealer).then_some(DealerStatus::Approved);
        let mut tx = self.db.begin().await?;
        let before = db::account_by_id_tx(&mut tx, user).await?.ok_or(AccountsError::NotFound)?;
        if db::set_role(&mut tx, user, role, ds).await? == 0 {
            return Err(AccountsError::NotFound);
        }
        let detail = serde_json::json!({ "from": before.role, "to": role.as_str() }).to_string();
        audit::append(&mut tx, &audit::Entry::new(actor, "user.role_changed", &user.to_string()).detail(detail)).await?;
        tx.commit().await?;
        self.user(user).await
    }

    /// An admin changes someone's role (not their own: an admin cannot lock themselves out).
    pub async fn change_role(&self, p: &Principal, user: UserId, role: Role) -> Result<User, AccountsError> {
        p.require_admin()?;
        if user == p.user.id {
            return Err(AccountsError::invalid("role", "you cannot change your own role"));
        }
        self.apply_role(&p.user.id.to_string(), user, role).await
    }

    /// Admin search over accounts by email or name (at most 100).
    pub async fn search_users(&self, p: &Principal, query: &str, role: Option<Role>, suspended: Option<bool>) -> Result<Vec<User>, AccountsError> {
        p.require_admin()?;
        let q = query.trim();
        if q.chars().count() > 200 {
            return Err(AccountsError::invalid("q", "search text is too long (at most 200 characters)"));
        }
        Ok(db::search_accounts(self.db.reader(), q, role, suspended, 100).await?.iter().map(|r| r.to_user()).collect())
    }

    /// Suspends (ending every session at once) or reinstates an account. Admins only; not themselves.
    pub async fn set_suspended(&self, p: &Principal, user: UserId, suspended: bool, reason: Option<&str>) -> Result<User, AccountsError> {
        p.require_admin()?;
        if user == p.user.id {
            return Err(AccountsError::invalid("user", "you cannot suspend yourself"));
        }
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if suspended && reason.is_none() {
            return Err(AccountsError::invalid("reason", "give a reason for the suspension"));
        }
        if reason.is_some_and(|r| r.chars().count() > 500) {
            return Err(AccountsError::invalid("reason", "reason is too long (at most 500 characters)"));
        }
        let mut tx = self.db.begin().await?;
        if db::set_account_status(&mut tx, user, suspended).await? == 0 {
            return Err(AccountsError::NotFound);
        }
        let ended = if suspended { db::delete_sessions_of(&mut tx, user).await? } else { 0 };
        let (action, event) = if suspended {
            ("user.suspended", outbox::Envelope::of(&events::UserSuspended { user_id: user, by: p.user.id, reason: reason.map(str::to_owned) }))
        } else {
            ("user.reinstated", outbox::Envelope::of(&events::UserReinstated { user_id: user, by: p.user.id }))
        };
        outbox::append(&mut tx, &event).await?;
        let detail = serde_json::json!({ "reason": reason, "sessions_ended": ended }).to_string();
        audit::append(&mut tx, &audit::Entry::new(&p.user.id.to_string(), action, &user.to_string()).detail(detail)).await?;
        tx.commit().await?;
        self.user(user).await
    }

    /// Everything the accounts service holds about the caller, for a data export.
    pub async fn export(&self, p: &Principal) -> Result<serde_json::Value, AccountsError> {
        let u = self.user(p.user.id).await?;
        let sessions = self.sessions(p).await?;
        let codes = db::unused_recovery_codes(self.db.reader(), p.user.id).await?;
        Ok(serde_json::json!({
            "id": u.id.to_string(), "email": u.email, "display_name": u.display_name, "role": u.role.as_str(),
            "dealer_status": u.dealer_status.map(|s| s.as_str().to_owned()), "mfa_enabled": u.mfa_enabled,
            "unused_recovery_codes": codes, "created_at": u.created_at.to_rfc3339(),
            "sessions": sessions,
        }))
    }

    /// Erases the caller's account (their password confirms it): the email, name, password and
    /// second factor go, every session ends, and `accounts.UserDeleted` tells the other services to
    /// erase what they hold. The id stays, so orders keep their dealer's side. Admins cannot erase
    /// themselves (another admin changes their role first).
    pub async fn delete_account(&self, p: &Principal, password: &str) -> Result<(), AccountsError> {
        if p.user.role == Role::Admin {
            return Err(AccountsError::invalid("password", "an admin account cannot delete itself: ask another admin to change your role first"));
        }
        let row = db::account_by_id(self.db.reader(), p.user.id).await?.ok_or(AccountsError::NotFound)?;
        if password.is_empty() || password.chars().count() > Password::MAX || !self.verify(password, &row.password_hash).await? {
            return Err(AccountsError::invalid("password", "the password is not right"));
        }
        let mut tx = self.db.begin().await?;
        db::erase_account(&mut tx, p.user.id).await?;
        db::delete_sessions_of(&mut tx, p.user.id).await?;
        outbox::append(&mut tx, &outbox::Envelope::of(&events::UserDeleted { user_id: p.user.id, role: p.user.role.as_str().to_owned() })).await?;
        let id = p.user.id.to_string();
        audit::append(&mut tx, &audit::Entry::new(&id, "user.deleted", &id)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Account figures for the admin dashboard: (all, dealers, suspended, new and active since `since`).
    pub async fn counts(&self, p: &Principal, since: Timestamp) -> Result<(i64, i64, i64, i64, i64), AccountsError> {
        p.require_admin()?;
        Ok(db::account_counts(self.db.reader(), since.0).await?)
    }
}
