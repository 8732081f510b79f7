//! Money parsing: any text is an amount or an error (never a panic or an overflow), and an amount
//! printed and parsed again is the same amount.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = kernel::Currency::parse(&text);
    if let Ok(m) = kernel::Money::parse(&text, kernel::Currency::EUR) {
        assert!(m.minor >= 0);
        let printed = m.to_string();
        let digits = printed.trim_start_matches(kernel::Currency::EUR.symbol());
        assert_eq!(kernel::Money::parse(digits, kernel::Currency::EUR).ok(), Some(m), "{text:?} → {printed}");
    }
});
