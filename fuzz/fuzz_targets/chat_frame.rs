//! The live chat's client frames: any text is a frame or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(customization::ClientFrame::Message { body }) = customization::ClientFrame::parse(&text) {
        // a message frame round-trips its body
        let again = serde_json::json!({ "type": "message", "body": body }).to_string();
        assert!(matches!(customization::ClientFrame::parse(&again), Ok(customization::ClientFrame::Message { .. })));
    }
});
