//! argon2id hashing. Hashing is CPU-heavy (tens of milliseconds by design), so callers run it
//! through `spawn_blocking`, never on an async runtime thread.

use argon2::{
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use rand::rngs::OsRng;

/// argon2id cost parameters; the defaults are OWASP's minimum (19 MiB, 2 passes, 1 lane).
#[derive(Debug, Clone, Copy)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self { memory_kib: 19_456, iterations: 2, parallelism: 1 }
    }
}

/// What every hash here is made with (and what a decoy says it was made with).
const ALGORITHM: Algorithm = Algorithm::Argon2id;
const VERSION: Version = Version::V0x13;

fn hasher(p: Argon2Params) -> Result<Argon2<'static>, argon2::Error> {
    Ok(Argon2::new(ALGORITHM, VERSION, Params::new(p.memory_kib, p.iterations, p.parallelism, None)?))
}

/// Returns the PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
pub fn hash_password(password: &str, params: Argon2Params) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    let h = hasher(params).map_err(|e| e.to_string())?;
    h.hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// A PHC string with `params`, a random salt and a random output: verifying any password against
/// it costs what verifying against a real hash costs (argon2 recomputes the hash from the salt and
/// the parameters), and it matches no password. Unknown emails are verified against it so timing
/// does not tell which accounts exist; it is made without hashing anything (a real hash is tens of
/// milliseconds of every cold start).
pub fn decoy_hash(params: Argon2Params) -> String {
    use rand::RngCore;
    let mut out = [0u8; 32];
    OsRng.fill_bytes(&mut out);
    let salt = SaltString::generate(&mut OsRng);
    let out = data_encoding::BASE64_NOPAD.encode(&out);
    format!("${}$v={}$m={},t={},p={}${}${out}", ALGORITHM.as_str(), VERSION as u32, params.memory_kib, params.iterations, params.parallelism, salt.as_str())
}

/// Verifies with the parameters stored in the PHC string itself.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_read_back_from_phc() {
        let phc = hash_password("correct horse battery", Argon2Params::default()).unwrap_or_default();
        let parsed = PasswordHash::new(&phc).ok();
        let parsed = parsed.as_ref().map(|p| {
            (
                p.algorithm.as_str().to_owned(),
                p.params.get_decimal("m"),
                p.params.get_decimal("t"),
                p.params.get_decimal("p"),
            )
        });
        assert_eq!(parsed, Some(("argon2id".to_owned(), Some(19_456), Some(2), Some(1))));
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("correct horse battery!", &phc));
        assert!(!verify_password("x", "not a phc string"));
        // salts differ, so equal passwords give different hashes
        let again = hash_password("correct horse battery", Argon2Params::default()).unwrap_or_default();
        assert_ne!(phc, again);
    }

    #[test]
    fn a_decoy_hash_costs_a_real_verification_and_matches_nothing() {
        let p = Argon2Params::default();
        let decoy = decoy_hash(p);
        let parsed = PasswordHash::new(&decoy).expect("a PHC string");
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert_eq!((parsed.params.get_decimal("m"), parsed.params.get_decimal("t"), parsed.params.get_decimal("p")), (Some(19_456), Some(2), Some(1)));
        assert_eq!(parsed.hash.map(|h| h.len()), Some(32));
        assert_ne!(decoy, decoy_hash(p), "random salt and output");
        // the same work as checking a real hash: a full argon2 computation, then no match
        let real = hash_password("pw", p).unwrap_or_default();
        let timed = |phc: &str| {
            let t = std::time::Instant::now();
            for _ in 0..3 {
                assert!(!verify_password("not it", phc));
            }
            t.elapsed()
        };
        let (d, r) = (timed(&decoy), timed(&real));
        assert!(d * 2 > r && r * 2 > d, "decoy {d:?} against real {r:?}");
    }
}
