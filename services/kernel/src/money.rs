//! Money as integer minor units plus a currency: never floats.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Currency {
    EUR,
    USD,
    GBP,
}

impl Currency {
    pub fn code(self) -> &'static str {
        match self {
            Currency::EUR => "EUR",
            Currency::USD => "USD",
            Currency::GBP => "GBP",
        }
    }
    pub fn symbol(self) -> &'static str {
        match self {
            Currency::EUR => "€",
            Currency::USD => "$",
            Currency::GBP => "£",
        }
    }
    pub fn parse(s: &str) -> Result<Self, MoneyError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "EUR" => Ok(Currency::EUR),
            "USD" => Ok(Currency::USD),
            "GBP" => Ok(Currency::GBP),
            _ => Err(MoneyError::UnknownCurrency(s.chars().take(16).collect())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("unknown currency {0:?} (expected EUR, USD or GBP)")]
    UnknownCurrency(String),
    #[error("invalid amount {0:?}: expected a number with at most two decimals, like 12.50")]
    InvalidAmount(String),
    #[error("amount out of range")]
    Overflow,
    #[error("cannot combine {0} and {1}")]
    CurrencyMismatch(&'static str, &'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Parses a decimal amount such as `12`, `12.5` or `12.50` (no sign, at most two decimals).
    pub fn parse(amount: &str, currency: Currency) -> Result<Self, MoneyError> {
        let bad = || MoneyError::InvalidAmount(amount.chars().take(32).collect());
        let s = amount.trim();
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        if whole.is_empty() || whole.len() > 15 || frac.len() > 2 || (s.contains('.') && frac.is_empty()) {
            return Err(bad());
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let frac: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().map_err(|_| bad())? * 10,
            _ => frac.parse().map_err(|_| bad())?,
        };
        let minor = whole.checked_mul(100).and_then(|w| w.checked_add(frac)).ok_or(MoneyError::Overflow)?;
        Ok(Self { minor, currency })
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency.code(), other.currency.code()));
        }
        let minor = self.minor.checked_add(other.minor).ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, currency: self.currency })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        write!(f, "{sign}{}{}.{:02}", self.currency.symbol(), abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_amounts() {
        assert_eq!(Money::parse("12", Currency::EUR).map(|m| m.minor), Ok(1200));
        assert_eq!(Money::parse("12.5", Currency::EUR).map(|m| m.minor), Ok(1250));
        assert_eq!(Money::parse(" 0.07 ", Currency::EUR).map(|m| m.minor), Ok(7));
        for bad in ["", "-1", "1.234", "1e3", "abc", ".5", "1.", "１２"] {
            assert!(Money::parse(bad, Currency::EUR).is_err(), "{bad:?} should be rejected");
        }
        assert!(matches!(Money::parse("999999999999999", Currency::EUR), Ok(_)));
        assert!(Money::parse("9999999999999999", Currency::EUR).is_err());
    }

    #[test]
    fn formats_and_adds() {
        let a = Money::new(1999, Currency::EUR);
        assert_eq!(a.to_string(), "€19.99");
        assert_eq!(a.checked_add(Money::new(1, Currency::EUR)).map(|m| m.minor), Ok(2000));
        assert!(a.checked_add(Money::new(1, Currency::USD)).is_err());
    }
}
