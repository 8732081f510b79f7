//! What a client may send on a thread's WebSocket. Anything else is answered with a `bad_frame`
//! error and the socket stays open.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    Message { body: String },
    Typing {},
    Read { seq: i64 },
}

impl ClientFrame {
    /// Parses one text frame; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse_and_refuse() {
        assert_eq!(ClientFrame::parse(r#"{"type":"typing"}"#).ok(), Some(ClientFrame::Typing {}));
        assert_eq!(ClientFrame::parse(r#"{"type":"read","seq":4}"#).ok(), Some(ClientFrame::Read { seq: 4 }));
        assert_eq!(ClientFrame::parse(r#"{"type":"message","body":"hi"}"#).ok(), Some(ClientFrame::Message { body: "hi".into() }));
        for bad in ["", "{}", r#"{"type":"shout"}"#, r#"{"type":"read","seq":"x"}"#, r#"{"type":"message"}"#, "[1]", r#"{"type":"typing","extra":1}"#] {
            assert!(ClientFrame::parse(bad).is_err(), "{bad}");
        }
    }
}
