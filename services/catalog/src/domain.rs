//! Catalogue values: validated inputs and the read model pages and APIs show.

use kernel::{Currency, Money, Timestamp};
use serde::{Deserialize, Serialize};

use crate::CatalogError;

kernel::typed_id!(ProductId);
kernel::typed_id!(StoreId);
kernel::typed_id!(CategoryId);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Category {
    pub id: String,
    pub parent_id: Option<String>,
    pub slug: String,
    pub name: String,
    /// `/home/furniture/chairs`
    pub path: String,
    pub depth: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Store {
    pub id: String,
    pub dealer_id: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub location: String,
    /// The logo's thumbnail URL, if the dealer uploaded one.
    pub logo_url: Option<String>,
    pub created_at: Timestamp,
    /// The dealer's average rating from reviews (1–5), if any.
    pub rating_avg: Option<f64>,
    pub rating_count: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    Draft,
    Published,
    Unlisted,
    Archived,
}

impl ProductStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProductStatus::Draft => "draft",
            ProductStatus::Published => "published",
            ProductStatus::Unlisted => "unlisted",
            ProductStatus::Archived => "archived",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "draft" => Some(ProductStatus::Draft),
            "published" => Some(ProductStatus::Published),
            "unlisted" => Some(ProductStatus::Unlisted),
            "archived" => Some(ProductStatus::Archived),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptionKind {
    Choice,
    Text,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OptionValue {
    pub id: String,
    pub label: String,
    pub price_delta_minor: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProductOption {
    pub id: String,
    pub name: String,
    pub kind: OptionKind,
    pub required: bool,
    pub max_length: Option<i64>,
    /// Surcharge of a text option when filled in.
    pub price_delta_minor: i64,
    pub values: Vec<OptionValue>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImageRef {
    pub id: String,
    pub url: String,
    pub thumb_url: String,
    pub width: i64,
    pub height: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Product {
    pub id: String,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub description_html: String,
    pub category: Category,
    pub price: Money,
    /// `None`: made to order.
    pub stock: Option<i64>,
    pub status: ProductStatus,
    pub attributes: Vec<(String, String)>,
    pub options: Vec<ProductOption>,
    pub images: Vec<ImageRef>,
    pub store: Store,
    pub rating_avg: Option<f64>,
    pub rating_count: i64,
    pub view_count: i64,
    pub sales_count: i64,
    pub featured: bool,
    pub published_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: i64,
}

/// One chosen option: a value id for a choice, the text for a text option.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Selection {
    pub option_id: String,
    pub value: String,
}

impl Product {
    pub fn in_stock(&self) -> bool {
        self.stock.is_none_or(|s| s > 0)
    }

    /// Where the product is shown: `/p/{slug}`.
    pub fn url(&self) -> String {
        format!("/p/{}", self.slug)
    }

    /// The unit price for these option choices, recomputed from the catalogue (never from a client).
    pub fn price_for(&self, selections: &[Selection]) -> Result<Money, CatalogError> {
        let mut minor = self.price.minor;
        for (i, opt) in self.options.iter().enumerate() {
            let chosen = selections.iter().find(|s| s.option_id == opt.id);
            let field = format!("options[{i}]");
            match (opt.kind, chosen) {
                (_, None) if opt.required => {
                    return Err(CatalogError::invalid(field, format!("choose {}", opt.name.to_lowercase())))
                }
                (_, None) => {}
                (OptionKind::Choice, Some(s)) => {
                    let v = opt
                        .values
                        .iter()
                        .find(|v| v.id == s.value)
                        .ok_or_else(|| CatalogError::invalid(field, format!("{} is not one of the choices", s.value)))?;
                    minor += v.price_delta_minor;
                }
                (OptionKind::Text, Some(s)) => {
                    let n = s.value.chars().count() as i64;
                    if n == 0 && opt.required {
                        return Err(CatalogError::invalid(field, format!("fill in {}", opt.name.to_lowercase())));
                    }
                    if let Some(max) = opt.max_length.filter(|m| n > *m) {
                        return Err(CatalogError::invalid(field, format!("{} is limited to {max} characters", opt.name)));
                    }
                    if n > 0 {
                        minor += opt.price_delta_minor;
                    }
                }
            }
        }
        for s in selections {
            if !self.options.iter().any(|o| o.id == s.option_id) {
                return Err(CatalogError::invalid("options", "an option that this product does not have was chosen"));
            }
        }
        Ok(Money::new(minor, self.price.currency))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionInput {
    pub name: String,
    /// `choice` or `text`
    pub kind: String,
    #[serde(default = "yes")]
    pub required: bool,
    /// For choices: label and price delta ("4.50").
    #[serde(default)]
    pub values: Vec<(String, String)>,
    /// For text: the longest accepted text.
    #[serde(default)]
    pub max_length: Option<i64>,
    /// For text: the surcharge when filled in.
    #[serde(default)]
    pub price_delta: String,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// A category id or path (`/home/furniture`).
    pub category: String,
    /// A decimal amount: `12.50`.
    pub price: String,
    #[serde(default = "eur")]
    pub currency: String,
    /// Empty or absent: made to order.
    #[serde(default)]
    pub stock: Option<String>,
    #[serde(default)]
    pub attributes: Vec<(String, String)>,
    #[serde(default)]
    pub options: Vec<OptionInput>,
}

fn eur() -> String {
    "EUR".into()
}

pub(crate) struct ValidOption {
    pub name: String,
    pub kind: OptionKind,
    pub required: bool,
    pub values: Vec<(String, i64)>,
    pub max_length: Option<i64>,
    pub price_delta: i64,
}

pub(crate) struct ValidProduct {
    pub title: String,
    pub description: String,
    pub category: String,
    pub price: Money,
    pub stock: Option<i64>,
    pub attributes: Vec<(String, String)>,
    pub options: Vec<ValidOption>,
}

fn clean_line(field: &str, raw: &str, min: usize, max: usize, what: &str) -> Result<String, CatalogError> {
    let s = raw.trim();
    let n = s.chars().count();
    if n < min {
        return Err(CatalogError::invalid(field, if min <= 1 { format!("{what} is required") } else { format!("{what} needs at least {min} characters") }));
    }
    if n > max {
        return Err(CatalogError::invalid(field, format!("{what} is too long (at most {max} characters)")));
    }
    if s.chars().any(|c| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')) {
        return Err(CatalogError::invalid(field, format!("{what} contains control characters")));
    }
    Ok(s.to_owned())
}

fn amount(field: &str, raw: &str, currency: Currency, allow_empty: bool) -> Result<i64, CatalogError> {
    if raw.trim().is_empty() && allow_empty {
        return Ok(0);
    }
    let m = Money::parse(raw, currency).map_err(|e| CatalogError::invalid(field, e.to_string()))?;
    if m.minor > 100_000_000 {
        return Err(CatalogError::invalid(field, "amount is too large (at most 1,000,000.00)"));
    }
    Ok(m.minor)
}

impl ProductInput {
    pub(crate) fn validate(&self) -> Result<ValidProduct, CatalogError> {
        let title = clean_line("title", &self.title, 3, 140, "title")?;
        let description = self.description.trim().to_owned();
        if description.chars().count() > 10_000 {
            return Err(CatalogError::invalid("description", "description is too long (at most 10,000 characters)"));
        }
        if description.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
            return Err(CatalogError::invalid("description", "description contains control characters"));
        }
        let category = self.category.trim().to_owned();
        if category.is_empty() {
            return Err(CatalogError::invalid("category", "choose a category"));
        }
        let currency = Currency::parse(&self.currency).map_err(|e| CatalogError::invalid("currency", e.to_string()))?;
        let price = amount("price", &self.price, currency, false)?;
        if price == 0 {
            return Err(CatalogError::invalid("price", "price must be more than zero"));
        }
        let stock = match self.stock.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => match s.parse::<i64>() {
                Ok(n) if (0..=1_000_000).contains(&n) => Some(n),
                _ => return Err(CatalogError::invalid("stock", "stock must be a whole number from 0 to 1,000,000, or empty for made to order")),
            },
        };
        if self.attributes.len() > 20 {
            return Err(CatalogError::invalid("attributes", "at most 20 attributes"));
        }
        let mut attributes = Vec::new();
        for (i, (k, v)) in self.attributes.iter().enumerate() {
            if k.trim().is_empty() && v.trim().is_empty() {
                continue;
            }
            let k = clean_line(&format!("attributes[{i}].name"), k, 1, 40, "attribute name")?;
            let v = clean_line(&format!("attributes[{i}].value"), v, 1, 200, "attribute value")?;
            attributes.push((k, v));
        }
        if self.options.len() > 10 {
            return Err(CatalogError::invalid("options", "at most 10 options"));
        }
        let mut options = Vec::new();
        for (i, o) in self.options.iter().enumerate() {
            if o.name.trim().is_empty() && o.values.iter().all(|(l, _)| l.trim().is_empty()) {
                continue;
            }
            let f = |s: &str| format!("options[{i}].{s}");
            let name = clean_line(&f("name"), &o.name, 1, 60, "option name")?;
            match o.kind.trim() {
                "choice" => {
                    let mut values = Vec::new();
                    for (j, (label, delta)) in o.values.iter().enumerate() {
                        if label.trim().is_empty() {
                            continue;
                        }
                        let label = clean_line(&f(&format!("values[{j}].label")), label, 1, 60, "choice")?;
                        let delta = amount(&f(&format!("values[{j}].price_delta")), delta, currency, true)?;
                        values.push((label, delta));
                    }
                    if values.is_empty() {
                        return Err(CatalogError::invalid(f("values"), "a choice option needs at least one value"));
                    }
                    if values.len() > 30 {
                        return Err(CatalogError::invalid(f("values"), "at most 30 values"));
                    }
                    options.push(ValidOption { name, kind: OptionKind::Choice, required: o.required, values, max_length: None, price_delta: 0 });
                }
                "text" => {
                    let max = o.max_length.unwrap_or(100);
                    if !(1..=500).contains(&max) {
                        return Err(CatalogError::invalid(f("max_length"), "the text limit must be from 1 to 500 characters"));
                    }
                    let delta = amount(&f("price_delta"), &o.price_delta, currency, true)?;
                    options.push(ValidOption { name, kind: OptionKind::Text, required: o.required, values: vec![], max_length: Some(max), price_delta: delta });
                }
                other => return Err(CatalogError::invalid(f("kind"), format!("{other:?} is not choice or text"))),
            }
        }
        Ok(ValidProduct { title, description, category, price: Money::new(price, currency), stock, attributes, options })
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub location: String,
}

impl StoreInput {
    pub(crate) fn validate(&self) -> Result<(String, String, String), CatalogError> {
        let name = clean_line("name", &self.name, 2, 80, "store name")?;
        let description = self.description.trim().to_owned();
        if description.chars().count() > 2000 {
            return Err(CatalogError::invalid("description", "description is too long (at most 2,000 characters)"));
        }
        let location = if self.location.trim().is_empty() { String::new() } else { clean_line("location", &self.location, 1, 80, "location")? };
        Ok((name, description, location))
    }
}

/// A URL-safe slug: lowercase ASCII letters and digits joined by dashes.
pub fn slugify(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(|c| c.to_lowercase()) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-');
    let out: String = out.chars().take(60).collect();
    if out.is_empty() { "item".into() } else { out.trim_end_matches('-').to_owned() }
}

/// What a dealer may do to a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusAction {
    Publish,
    Unpublish,
    Archive,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product() -> ProductInput {
        ProductInput {
            title: "Oak chair".into(),
            category: "/home".into(),
            price: "120".into(),
            currency: "EUR".into(),
            options: vec![
                OptionInput { name: "Size".into(), kind: "choice".into(), required: true, values: vec![("S".into(), "".into()), ("L".into(), "15.50".into())], ..Default::default() },
                OptionInput { name: "Engraving".into(), kind: "text".into(), required: false, max_length: Some(20), price_delta: "9".into(), ..Default::default() },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn validation_names_the_field() {
        let mut p = product();
        p.title = "ab".into();
        assert_eq!(p.validate().err().and_then(|e| e.field().map(str::to_owned)).as_deref(), Some("title"));
        let mut p = product();
        p.price = "12.345".into();
        assert_eq!(p.validate().err().and_then(|e| e.field().map(str::to_owned)).as_deref(), Some("price"));
        let mut p = product();
        p.options[0].values[1].1 = "x".into();
        assert_eq!(p.validate().err().and_then(|e| e.field().map(str::to_owned)).as_deref(), Some("options[0].values[1].price_delta"));
        let mut p = product();
        p.stock = Some("-1".into());
        assert_eq!(p.validate().err().and_then(|e| e.field().map(str::to_owned)).as_deref(), Some("stock"));
        assert!(product().validate().is_ok());
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("Oak & Iron — Chair, 2"), "oak-iron-chair-2");
        assert_eq!(slugify("  !!! "), "item");
        assert_eq!(slugify("Ærø"), "r");
    }
}

/// A listing as the moderation page shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModeratedListing {
    pub id: String,
    pub slug: String,
    pub title: String,
    pub status: String,
    pub dealer_id: String,
    pub store_name: String,
    pub moderation_note: Option<String>,
}
