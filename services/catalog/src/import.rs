//! CSV bulk import: one listing per row, each row validated on its own, with a report that says for
//! every row what happened (created, or the errors to fix).

use accounts::Principal;
use serde::Serialize;

use crate::{domain::*, CatalogError, Catalog};

#[derive(Debug, Clone, Serialize)]
pub struct ImportRow {
    /// The line in the file (the header is line 1).
    pub line: usize,
    pub title: String,
    pub product_id: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub created: usize,
    pub failed: usize,
    pub rows: Vec<ImportRow>,
}

pub const MAX_IMPORT_ROWS: usize = 2000;
pub const CSV_COLUMNS: &str = "title,description,category,price,currency,stock,brand,material,publish";

impl Catalog {
    /// Imports listings from CSV with the columns of [`CSV_COLUMNS`] (`publish` = yes/no).
    pub async fn import_csv(&self, p: &Principal, text: &str) -> Result<ImportReport, CatalogError> {
        p.require_dealer()?;
        let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
        let headers = reader.headers().map_err(|e| CatalogError::invalid("file", format!("the header row could not be read: {e}")))?.clone();
        let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
        let (Some(title_c), Some(price_c), Some(cat_c)) = (col("title"), col("price"), col("category")) else {
            return Err(CatalogError::invalid("file", format!("the header row needs at least title, category and price (columns: {CSV_COLUMNS})")));
        };
        let (desc_c, cur_c, stock_c, brand_c, mat_c, pub_c) = (col("description"), col("currency"), col("stock"), col("brand"), col("material"), col("publish"));
        let mut rows = Vec::new();
        let (mut created, mut failed) = (0, 0);
        for (i, record) in reader.records().enumerate() {
            let line = i + 2;
            if i >= MAX_IMPORT_ROWS {
                return Err(CatalogError::invalid("file", format!("at most {MAX_IMPORT_ROWS} rows per file")));
            }
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    failed += 1;
                    rows.push(ImportRow { line, title: String::new(), product_id: None, error: Some(format!("unreadable row: {e}")) });
                    continue;
                }
            };
            let get = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").to_owned();
            let mut attributes = Vec::new();
            for (name, c) in [("brand", brand_c), ("material", mat_c)] {
                let v = get(c);
                if !v.is_empty() {
                    attributes.push((name.to_owned(), v));
                }
            }
            let input = ProductInput {
                title: get(Some(title_c)),
                description: get(desc_c),
                category: get(Some(cat_c)),
                price: get(Some(price_c)),
                currency: Some(get(cur_c)).filter(|c| !c.is_empty()).unwrap_or_else(|| "EUR".into()),
                stock: Some(get(stock_c)),
                attributes,
                options: vec![],
            };
            let publish = matches!(get(pub_c).to_ascii_lowercase().as_str(), "yes" | "true" | "1" | "y");
            let result = match self.create_product(p, &input).await {
                Ok(prod) if publish => self.set_status(p, &prod.id, StatusAction::Publish).await,
                other => other,
            };
            match result {
                Ok(prod) => {
                    created += 1;
                    rows.push(ImportRow { line, title: prod.title, product_id: Some(prod.id), error: None });
                }
                Err(e @ CatalogError::Internal(_)) => return Err(e),
                Err(e) => {
                    failed += 1;
                    rows.push(ImportRow { line, title: input.title, product_id: None, error: Some(e.to_string()) });
                }
            }
        }
        if rows.is_empty() {
            return Err(CatalogError::invalid("file", "the file has no rows under its header"));
        }
        Ok(ImportReport { created, failed, rows })
    }
}
