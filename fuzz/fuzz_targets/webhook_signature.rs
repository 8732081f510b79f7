//! The `Stripe-Signature` header parser and check: never panics on any header or body, accepts
//! only a header signed with one of the secrets, and a header we sign ourselves always verifies.
#![no_main]
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_790_000_000;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let header = String::from_utf8_lossy(&data[..split]);
    let body = data.get(split + 1..).unwrap_or(&[]);
    let secrets = vec!["whsec_first".to_owned(), "whsec_second".to_owned()];
    let _ = orders::payments::verify_signature(Some(&header), body, &secrets, NOW);
    let _ = orders::payments::verify_signature(None, body, &secrets, NOW);
    // our own signature over this body verifies, with either secret, inside the tolerance
    for s in &secrets {
        let good = format!("t={NOW},v1={}", orders::payments::sign(s, NOW, body));
        assert!(orders::payments::verify_signature(Some(&good), body, &secrets, NOW + 10).is_ok());
    }
    let wrong = format!("t={NOW},v1={}", orders::payments::sign("whsec_other", NOW, body));
    assert!(orders::payments::verify_signature(Some(&wrong), body, &secrets, NOW).is_err());
});
