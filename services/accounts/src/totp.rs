//! RFC 6238 TOTP (HMAC-based one-time passwords over time steps), written out here so that the
//! exact behaviour — step, window, replay rule — is ours and is tested against the RFC's vectors.

use hmac::{Hmac, Mac};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

pub const STEP_SECONDS: u64 = 30;
pub const DIGITS: u32 = 6;

fn hmac_digest(alg: Algorithm, key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    match alg {
        Algorithm::Sha1 => Hmac::<sha1::Sha1>::new_from_slice(key)
            .map(|mut m| {
                m.update(msg);
                m.finalize().into_bytes().to_vec()
            })
            .unwrap_or_default(),
        Algorithm::Sha256 => Hmac::<sha2::Sha256>::new_from_slice(key)
            .map(|mut m| {
                m.update(msg);
                m.finalize().into_bytes().to_vec()
            })
            .unwrap_or_default(),
        Algorithm::Sha512 => Hmac::<sha2::Sha512>::new_from_slice(key)
            .map(|mut m| {
                m.update(msg);
                m.finalize().into_bytes().to_vec()
            })
            .unwrap_or_default(),
    }
}

/// HOTP (RFC 4226) value for counter `step`, zero-padded to `digits`.
pub fn hotp(alg: Algorithm, key: &[u8], step: u64, digits: u32) -> String {
    let d = hmac_digest(alg, key, &step.to_be_bytes());
    let Some(&last) = d.last() else { return String::new() };
    let off = (last & 0x0f) as usize;
    let bin = (u32::from(d[off] & 0x7f) << 24)
        | (u32::from(d[off + 1]) << 16)
        | (u32::from(d[off + 2]) << 8)
        | u32::from(d[off + 3]);
    let code = bin % 10u32.pow(digits);
    format!("{code:0width$}", width = digits as usize)
}

pub fn step_at(unix_seconds: u64) -> u64 {
    unix_seconds / STEP_SECONDS
}

/// The step in which `code` is valid, looking one step either side of `now` for clock drift.
pub fn matching_step(key: &[u8], code: &str, unix_seconds: u64) -> Option<u64> {
    let code = code.trim().replace(' ', "");
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix_seconds);
    [now, now.saturating_sub(1), now + 1]
        .into_iter()
        .find(|&s| kernel::constant_time_eq(hotp(Algorithm::Sha1, key, s, DIGITS).as_bytes(), code.as_bytes()))
}

/// A fresh 160-bit secret (RFC 4226 recommends at least 128 bits), base32 without padding.
pub fn generate_secret() -> String {
    use rand::RngCore;
    let mut key = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut key);
    data_encoding::BASE32_NOPAD.encode(&key)
}

pub fn decode_secret(b32: &str) -> Option<Vec<u8>> {
    data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).ok()
}

fn uri_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `otpauth://` URI authenticator apps read from the QR code.
pub fn otpauth_uri(issuer: &str, account: &str, secret_b32: &str) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={}&period={}",
        uri_escape(issuer),
        uri_escape(account),
        secret_b32,
        uri_escape(issuer),
        DIGITS,
        STEP_SECONDS
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the seeds are the ASCII digits repeated to the hash's length.
    #[test]
    fn rfc6238_appendix_b_vectors() {
        let k1 = b"12345678901234567890".to_vec();
        let k256 = b"12345678901234567890123456789012".to_vec();
        let k512 = b"1234567890123456789012345678901234567890123456789012345678901234".to_vec();
        let table: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1_111_111_109, "07081804", "68084774", "25091201"),
            (1_111_111_111, "14050471", "67062674", "99943326"),
            (1_234_567_890, "89005924", "91819424", "93441116"),
            (2_000_000_000, "69279037", "90698825", "38618901"),
            (20_000_000_000, "65353130", "77737706", "47863826"),
        ];
        for (t, sha1, sha256, sha512) in table {
            let step = step_at(t);
            assert_eq!(hotp(Algorithm::Sha1, &k1, step, 8), sha1, "sha1 at {t}");
            assert_eq!(hotp(Algorithm::Sha256, &k256, step, 8), sha256, "sha256 at {t}");
            assert_eq!(hotp(Algorithm::Sha512, &k512, step, 8), sha512, "sha512 at {t}");
        }
    }

    #[test]
    fn window_and_format() {
        let key = b"12345678901234567890";
        let t = 1_111_111_111;
        let code = hotp(Algorithm::Sha1, key, step_at(t), 6);
        assert_eq!(matching_step(key, &code, t), Some(step_at(t)));
        assert_eq!(matching_step(key, &code, t + 30), Some(step_at(t)));
        assert_eq!(matching_step(key, &code, t + 90), None);
        assert_eq!(matching_step(key, "12345", t), None);
        assert_eq!(matching_step(key, "abcdef", t), None);
    }

    #[test]
    fn secrets_round_trip() {
        let s = generate_secret();
        assert_eq!(s.len(), 32);
        assert_eq!(decode_secret(&s).map(|k| k.len()), Some(20));
        let uri = otpauth_uri("Bespoke", "ana@example.com", &s);
        assert!(uri.starts_with("otpauth://totp/Bespoke:ana@example.com?secret="));
    }
}
