//! Envelope encryption of personal data at rest.
//!
//! Each value gets a fresh 256-bit data key; the value is sealed with AES-256-GCM under that key, with
//! associated data naming its table, column and row (so a ciphertext copied to another row, column or
//! table does not open). The data key is itself sealed (wrapped) with AES-256-GCM under a
//! key-encryption key (KEK) from a [`KeyProvider`], with the KEK's id and the same binding as associated
//! data. Stored form, one text column:
//!
//! `bk1:{kek id}:{wrapped data key, base64url}:{nonce ‖ ciphertext ‖ tag, base64url}`
//!
//! Rotation (`server keys rotate`) adds a KEK, makes it current and re-wraps every data key under it:
//! only the small wrapped key changes, the data is not re-encrypted. A provider backed by a cloud KMS
//! implements the same trait.

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
};

use aes_gcm::{
    aead::{Aead, Payload},
    Aes256Gcm, KeyInit, Nonce,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use rand::RngCore;
use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "bk1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("no key-encryption key with id {0:?} is configured")]
    UnknownKey(String),
    #[error("the stored value is not an envelope")]
    Malformed,
    #[error("decryption failed: the value, its key or its binding to the row was altered")]
    Tampered,
    #[error("key configuration: {0}")]
    Config(String),
}

/// Where key-encryption keys live: a local keyring here, a cloud KMS elsewhere.
pub trait KeyProvider: Send + Sync + 'static {
    /// The id of the KEK new values are wrapped with.
    fn current_id(&self) -> String;
    fn wrap(&self, kek_id: &str, data_key: &[u8; 32], aad: &[u8]) -> Result<Vec<u8>, CryptoError>;
    fn unwrap(&self, kek_id: &str, wrapped: &[u8], aad: &[u8]) -> Result<[u8; 32], CryptoError>;
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::thread_rng().fill_bytes(&mut b);
    b
}

/// AES-256-GCM with a random 96-bit nonce: returns nonce ‖ ciphertext ‖ tag.
fn seal_raw(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let nonce = random::<12>();
    let mut out = nonce.to_vec();
    // encryption with a valid key and nonce cannot fail for inputs under 64 GiB
    out.extend(cipher.encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad }).unwrap_or_default());
    out
}

fn open_raw(key: &[u8; 32], sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < 12 + 16 {
        return Err(CryptoError::Malformed);
    }
    let cipher = Aes256Gcm::new(key.into());
    cipher.decrypt(Nonce::from_slice(&sealed[..12]), Payload { msg: &sealed[12..], aad }).map_err(|_| CryptoError::Tampered)
}

/// KEKs held in configuration: `{"current": "k…", "keys": {"k…": "<32 bytes, base64url>"}}`, from the
/// `BESPOKE_KEYS` environment variable or a file (by default `data_dir/keys.json`).
#[derive(Clone, Serialize, Deserialize)]
pub struct LocalKeyring {
    pub current: String,
    keys: BTreeMap<String, String>,
}

impl std::fmt::Debug for LocalKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKeyring").field("current", &self.current).field("keys", &self.keys.keys().collect::<Vec<_>>()).finish()
    }
}

impl LocalKeyring {
    /// A keyring with one new random key.
    pub fn generate() -> Self {
        let mut k = Self { current: String::new(), keys: BTreeMap::new() };
        k.add_key();
        k
    }

    pub fn parse(json: &str) -> Result<Self, CryptoError> {
        let k: Self = serde_json::from_str(json).map_err(|e| CryptoError::Config(format!("the keyring is not valid JSON ({e})")))?;
        for (id, v) in &k.keys {
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(CryptoError::Config(format!("key id {id:?}: use letters, digits, - and _")));
            }
            if B64.decode(v).map(|b| b.len()) != Ok(32) {
                return Err(CryptoError::Config(format!("key {id:?} must be 32 bytes, base64url without padding")));
            }
        }
        if !k.keys.contains_key(&k.current) {
            return Err(CryptoError::Config(format!("the current key {:?} is not in the keyring", k.current)));
        }
        Ok(k)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Adds a new random key and makes it current; returns its id. Older keys stay, to open old values.
    pub fn add_key(&mut self) -> String {
        let id = format!("k{}", uuid::Uuid::now_v7().simple());
        self.keys.insert(id.clone(), B64.encode(random::<32>()));
        self.current = id.clone();
        id
    }

    pub fn ids(&self) -> Vec<String> {
        self.keys.keys().cloned().collect()
    }

    fn key(&self, id: &str) -> Result<[u8; 32], CryptoError> {
        let v = self.keys.get(id).ok_or_else(|| CryptoError::UnknownKey(id.to_owned()))?;
        B64.decode(v).ok().and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok()).ok_or_else(|| CryptoError::Config(format!("key {id:?} is damaged")))
    }
}

impl KeyProvider for LocalKeyring {
    fn current_id(&self) -> String {
        self.current.clone()
    }

    fn wrap(&self, kek_id: &str, data_key: &[u8; 32], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        Ok(seal_raw(&self.key(kek_id)?, data_key, aad))
    }

    fn unwrap(&self, kek_id: &str, wrapped: &[u8], aad: &[u8]) -> Result<[u8; 32], CryptoError> {
        let dk = open_raw(&self.key(kek_id)?, wrapped, aad)?;
        <[u8; 32]>::try_from(dk.as_slice()).map_err(|_| CryptoError::Tampered)
    }
}

/// Reloads the provider (e.g. re-reads the keyring file after another instance rotated).
pub type Reload = Box<dyn Fn() -> Result<Arc<dyn KeyProvider>, CryptoError> + Send + Sync>;

/// Seals and opens values for one deployment; cheap to share (`Arc`).
pub struct Vault {
    provider: RwLock<Arc<dyn KeyProvider>>,
    reload: Option<Reload>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("current", &self.current_id()).finish()
    }
}

struct Envelope<'a> {
    kek_id: &'a str,
    wrapped: Vec<u8>,
    sealed: Vec<u8>,
}

fn parse(stored: &str) -> Result<Envelope<'_>, CryptoError> {
    let mut parts = stored.splitn(4, ':');
    let (Some(FORMAT), Some(kek_id), Some(w), Some(s)) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(CryptoError::Malformed);
    };
    Ok(Envelope {
        kek_id,
        wrapped: B64.decode(w).map_err(|_| CryptoError::Malformed)?,
        sealed: B64.decode(s).map_err(|_| CryptoError::Malformed)?,
    })
}

/// The binding of a value to its place.
fn binding(table: &str, column: &str, row: &str) -> String {
    format!("{FORMAT}|{table}|{column}|{row}")
}

impl Vault {
    pub fn new(provider: Arc<dyn KeyProvider>, reload: Option<Reload>) -> Self {
        Self { provider: RwLock::new(provider), reload }
    }

    /// A vault with a throwaway key (tests and tools that never persist sealed values).
    pub fn ephemeral() -> Self {
        Self::new(Arc::new(LocalKeyring::generate()), None)
    }

    fn provider(&self) -> Arc<dyn KeyProvider> {
        self.provider.read().map(|p| p.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    pub fn current_id(&self) -> String {
        self.provider().current_id()
    }

    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with("bk1:")
    }

    /// Seals `plaintext` for `table.column` of row `row`.
    pub fn seal(&self, table: &str, column: &str, row: &str, plaintext: &str) -> Result<String, CryptoError> {
        let p = self.provider();
        let kek_id = p.current_id();
        let bind = binding(table, column, row);
        let dk = random::<32>();
        let wrapped = p.wrap(&kek_id, &dk, format!("{kek_id}|{bind}").as_bytes())?;
        let sealed = seal_raw(&dk, plaintext.as_bytes(), bind.as_bytes());
        Ok(format!("{FORMAT}:{kek_id}:{}:{}", B64.encode(wrapped), B64.encode(sealed)))
    }

    fn data_key(&self, env: &Envelope<'_>, bind: &str) -> Result<[u8; 32], CryptoError> {
        let aad = format!("{}|{bind}", env.kek_id);
        match self.provider().unwrap(env.kek_id, &env.wrapped, aad.as_bytes()) {
            // a key this instance has not loaded yet (rotated elsewhere): reload once and retry
            Err(CryptoError::UnknownKey(id)) => {
                let Some(reload) = &self.reload else { return Err(CryptoError::UnknownKey(id)) };
                let fresh = reload()?;
                if let Ok(mut p) = self.provider.write() {
                    *p = fresh.clone();
                }
                fresh.unwrap(env.kek_id, &env.wrapped, aad.as_bytes())
            }
            other => other,
        }
    }

    /// Opens a value sealed for `table.column` of row `row`.
    pub fn open(&self, table: &str, column: &str, row: &str, stored: &str) -> Result<String, CryptoError> {
        let env = parse(stored)?;
        let bind = binding(table, column, row);
        let dk = self.data_key(&env, &bind)?;
        let plain = open_raw(&dk, &env.sealed, bind.as_bytes())?;
        String::from_utf8(plain).map_err(|_| CryptoError::Tampered)
    }

    /// The same value with its data key wrapped under the current KEK (`None`: it already is).
    pub fn rewrap(&self, table: &str, column: &str, row: &str, stored: &str) -> Result<Option<String>, CryptoError> {
        let env = parse(stored)?;
        let p = self.provider();
        let current = p.current_id();
        if env.kek_id == current {
            return Ok(None);
        }
        let bind = binding(table, column, row);
        let dk = self.data_key(&env, &bind)?;
        // check the data opens before replacing its key
        open_raw(&dk, &env.sealed, bind.as_bytes())?;
        let wrapped = p.wrap(&current, &dk, format!("{current}|{bind}").as_bytes())?;
        Ok(Some(format!("{FORMAT}:{current}:{}:{}", B64.encode(wrapped), B64.encode(&env.sealed))))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Crypto(#[from] CryptoError),
}

/// Every sealed column: (table, column, the row's key column). `server keys rotate` walks these.
pub const SEALED_COLUMNS: &[(&str, &str, &str)] = &[
    ("checkout", "shipping_address", "checkout_id"),
    ("account", "mfa_secret", "account_id"),
    ("account", "mfa_pending_secret", "account_id"),
    ("custom_thread", "request_text", "thread_id"),
    ("custom_message", "body", "message_id"),
];

/// Re-wraps every sealed value under the vault's current KEK (and seals values written before
/// encryption was enabled), in batches, each row updated only if it is unchanged since it was read (so
/// concurrent writers are never overwritten). Returns how many rows changed.
pub async fn rotate_all(db: &crate::Db, vault: &Vault) -> Result<u64, RotateError> {
    let current = vault.current_id();
    let mut n = 0u64;
    for (table, column, key) in SEALED_COLUMNS {
        let mut after = String::new();
        loop {
            let rows: Vec<(String, String)> = sqlx::query_as(&format!(
                "SELECT {key}, {column} FROM {table} WHERE {key} > $1 AND {column} IS NOT NULL AND {column} NOT LIKE $2 ORDER BY {key} LIMIT 500"
            ))
            .bind(&after)
            .bind(format!("bk1:{current}:%"))
            .fetch_all(db.reader())
            .await?;
            let Some(last) = rows.last().map(|r| r.0.clone()) else { break };
            for (row, stored) in rows {
                let fresh = if Vault::is_sealed(&stored) { vault.rewrap(table, column, &row, &stored)? } else { Some(vault.seal(table, column, &row, &stored)?) };
                if let Some(fresh) = fresh {
                    n += sqlx::query(&format!("UPDATE {table} SET {column} = $1 WHERE {key} = $2 AND {column} = $3"))
                        .bind(&fresh)
                        .bind(&row)
                        .bind(&stored)
                        .execute(db.writer())
                        .await?
                        .rows_affected();
                }
            }
            after = last;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Vault {
        Vault::ephemeral()
    }

    #[test]
    fn seals_and_opens_bound_to_the_row() {
        let v = vault();
        let s = v.seal("checkout", "shipping_address", "row-1", "9 Quay Street, Cork").expect("seal");
        assert!(s.starts_with("bk1:") && !s.contains("Quay"));
        assert_eq!(v.open("checkout", "shipping_address", "row-1", &s).as_deref(), Ok("9 Quay Street, Cork"));
        assert_ne!(v.seal("checkout", "shipping_address", "row-1", "9 Quay Street, Cork").expect("seal"), s, "fresh key and nonce each time");
        // moved to another row, column or table: refused
        for (t, c, r) in [("checkout", "shipping_address", "row-2"), ("checkout", "other", "row-1"), ("account", "shipping_address", "row-1")] {
            assert_eq!(v.open(t, c, r, &s), Err(CryptoError::Tampered), "{t}.{c}.{r}");
        }
    }

    #[test]
    fn any_altered_part_fails() {
        let v = vault();
        let s = v.seal("account", "mfa_secret", "a", "JBSWY3DPEHPK3PXP").expect("seal");
        let parts: Vec<&str> = s.split(':').collect();
        // flip one byte of the wrapped key, of the ciphertext, and of the tag (the last byte)
        let flip = |b64: &str, at: usize| {
            let mut b = B64.decode(b64).expect("b64");
            let i = at.min(b.len() - 1);
            b[i] ^= 1;
            B64.encode(b)
        };
        let wrapped_bad = format!("bk1:{}:{}:{}", parts[1], flip(parts[2], 20), parts[3]);
        let data_bad = format!("bk1:{}:{}:{}", parts[1], parts[2], flip(parts[3], 13));
        let tag_bad = format!("bk1:{}:{}:{}", parts[1], parts[2], flip(parts[3], usize::MAX));
        for bad in [wrapped_bad, data_bad, tag_bad] {
            assert_eq!(v.open("account", "mfa_secret", "a", &bad), Err(CryptoError::Tampered));
        }
        let other_key = format!("bk1:kother:{}:{}", parts[2], parts[3]);
        assert_eq!(v.open("account", "mfa_secret", "a", &other_key), Err(CryptoError::UnknownKey("kother".into())));
        assert_eq!(v.open("account", "mfa_secret", "a", "plain text"), Err(CryptoError::Malformed));
    }

    #[test]
    fn rotation_rewraps_and_old_values_still_open() {
        let mut ring = LocalKeyring::generate();
        let old = Vault::new(Arc::new(ring.clone()), None);
        let s = old.seal("custom_thread", "request_text", "t", "a walnut bowl").expect("seal");
        let first = ring.current.clone();
        ring.add_key();
        let v = Vault::new(Arc::new(LocalKeyring::parse(&ring.to_json()).expect("parse")), None);
        assert_eq!(v.open("custom_thread", "request_text", "t", &s).as_deref(), Ok("a walnut bowl"), "old KEK still in the ring");
        let fresh = v.rewrap("custom_thread", "request_text", "t", &s).expect("rewrap").expect("changed");
        assert!(fresh.starts_with(&format!("bk1:{}:", ring.current)) && ring.current != first);
        assert_eq!(v.open("custom_thread", "request_text", "t", &fresh).as_deref(), Ok("a walnut bowl"));
        assert_eq!(v.rewrap("custom_thread", "request_text", "t", &fresh), Ok(None));
    }

    #[test]
    fn keyrings_are_checked() {
        for bad in ["", "{}", r#"{"current":"a","keys":{}}"#, r#"{"current":"a","keys":{"a":"c2hvcnQ"}}"#, r#"{"current":"a b","keys":{"a b":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}"#] {
            assert!(LocalKeyring::parse(bad).is_err(), "{bad}");
        }
        let k = LocalKeyring::generate();
        assert_eq!(LocalKeyring::parse(&k.to_json()).map(|p| p.current), Ok(k.current.clone()));
        assert!(!format!("{k:?}").contains(&k.keys[&k.current]), "Debug never prints key material");
    }
}
