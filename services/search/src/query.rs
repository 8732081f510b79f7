//! Turning what a customer typed and chose into a tantivy query, and the results into hits, counts
//! and highlights.

use std::{collections::HashMap, ops::Bound};

use serde::{Deserialize, Serialize};
use tantivy::{
    collector::{Collector, Count, FacetCollector, SegmentCollector, TopDocs},
    query::{AllQuery, BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, RangeQuery, TermQuery},
    schema::{Facet, IndexRecordOption, Value},
    snippet::SnippetGenerator,
    tokenizer::TokenStream,
    DocAddress, Order, Score, SegmentOrdinal, SegmentReader, TantivyDocument, Term,
};

use crate::{text_of, SearchError, SearchIndex};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    #[default]
    Relevance,
    Popular,
    PriceAsc,
    PriceDesc,
    Newest,
    Rating,
}

impl Sort {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "" | "relevance" => Sort::Relevance,
            "popular" => Sort::Popular,
            "price_asc" => Sort::PriceAsc,
            "price_desc" => Sort::PriceDesc,
            "newest" => Sort::Newest,
            "rating" => Sort::Rating,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Relevance => "relevance",
            Sort::Popular => "popular",
            Sort::PriceAsc => "price_asc",
            Sort::PriceDesc => "price_desc",
            Sort::Newest => "newest",
            Sort::Rating => "rating",
        }
    }
}

/// A search, as a URL states it. Prices are in minor units.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SearchQuery {
    pub q: String,
    pub category: Option<String>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub store: Option<String>,
    pub in_stock: bool,
    pub customizable: bool,
    pub min_rating: Option<f64>,
    pub sort: Sort,
    pub page: usize,
    pub per_page: usize,
}

pub const MAX_QUERY_CHARS: usize = 200;
pub const MAX_TERMS: usize = 12;
pub const MAX_PAGE: usize = 200;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Hit {
    pub product_id: String,
    pub slug: String,
    pub title: String,
    /// The title with matches in `<b>`; everything else escaped.
    pub title_html: String,
    pub snippet_html: String,
    pub price_minor: i64,
    pub currency: String,
    pub store_name: String,
    pub store_slug: String,
    pub thumb_url: Option<String>,
    pub in_stock: bool,
    pub customizable: bool,
    pub rating: f64,
    /// BM25 relevance when sorted by relevance (0 otherwise).
    #[serde(default)]
    pub score: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Facets {
    /// Sub-categories of the current category (or the top level): path, name, count.
    pub categories: Vec<(String, String, u64)>,
    /// Stores: slug, name, count.
    pub stores: Vec<(String, String, u64)>,
    /// Price bands in minor units: lower bound (inclusive), upper bound (exclusive, None = open), count.
    pub prices: Vec<(i64, Option<i64>, u64)>,
    pub in_stock: u64,
    pub customizable: u64,
    /// Count of results rated at least 4.
    pub rated_4_up: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SearchResults {
    pub total: usize,
    pub page: usize,
    pub per_page: usize,
    pub hits: Vec<Hit>,
    pub facets: Facets,
    /// The words the query was understood as (after tokenizing and stemming).
    pub terms: Vec<String>,
    pub took_micros: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Suggestion {
    pub title: String,
    pub slug: String,
}

const PRICE_BANDS: [i64; 6] = [0, 2_500, 5_000, 10_000, 25_000, 50_000];

/// A search as text, the way a URL or a form states it. Both the JSON API and the pages parse it
/// with [`SearchQuery::from_text`], so they accept and refuse the same things.
#[derive(Debug, Clone, Default)]
pub struct TextParams {
    pub q: String,
    pub category: String,
    /// Amounts like `25` or `25.50`.
    pub min_price: String,
    pub max_price: String,
    pub store: String,
    pub in_stock: bool,
    pub customizable: bool,
    pub min_rating: String,
    pub sort: String,
    pub page: String,
    pub per_page: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> SearchError {
    SearchError::InvalidInput { field, message: message.into() }
}

fn amount(field: &'static str, v: &str) -> Result<Option<i64>, SearchError> {
    match v.trim() {
        "" => Ok(None),
        s => kernel::Money::parse(s, kernel::Currency::EUR)
            .map(|m| Some(m.minor))
            .map_err(|_| invalid(field, format!("{} must be an amount like 25 or 25.50", field.replace('_', " ")))),
    }
}

fn number<T: std::str::FromStr>(field: &'static str, v: &str) -> Result<Option<T>, SearchError> {
    match v.trim() {
        "" => Ok(None),
        s => s.parse().map(Some).map_err(|_| invalid(field, format!("{field} must be a number"))),
    }
}

impl SearchQuery {
    /// Parses and validates a search stated as text.
    pub fn from_text(p: &TextParams) -> Result<Self, SearchError> {
        let sort = Sort::parse(p.sort.trim())
            .ok_or_else(|| invalid("sort", "sort must be relevance, popular, price_asc, price_desc, newest or rating"))?;
        SearchQuery {
            q: p.q.clone(),
            category: Some(p.category.clone()).filter(|c| !c.is_empty()),
            min_price: amount("min_price", &p.min_price)?,
            max_price: amount("max_price", &p.max_price)?,
            store: Some(p.store.clone()).filter(|s| !s.is_empty()),
            in_stock: p.in_stock,
            customizable: p.customizable,
            min_rating: number("min_rating", &p.min_rating)?,
            sort,
            page: number("page", &p.page)?.unwrap_or(1),
            per_page: number("per_page", &p.per_page)?.unwrap_or(24),
        }
        .validate()
    }

    /// Checks the parts a person could get wrong; the text itself is always accepted (it is cut to
    /// a sane length, and punctuation-only text means "everything").
    pub fn validate(mut self) -> Result<Self, SearchError> {
        if self.q.chars().count() > MAX_QUERY_CHARS {
            self.q = self.q.chars().take(MAX_QUERY_CHARS).collect();
        }
        if let (Some(a), Some(b)) = (self.min_price, self.max_price) {
            if a > b {
                return Err(SearchError::InvalidInput { field: "min_price", message: "the minimum price is above the maximum".into() });
            }
        }
        if self.min_price.is_some_and(|p| p < 0) || self.max_price.is_some_and(|p| p < 0) {
            return Err(SearchError::InvalidInput { field: "min_price", message: "prices cannot be negative".into() });
        }
        if self.min_rating.is_some_and(|r| !(0.0..=5.0).contains(&r) || r.is_nan()) {
            return Err(SearchError::InvalidInput { field: "min_rating", message: "rating must be between 0 and 5".into() });
        }
        if self.page == 0 {
            self.page = 1;
        }
        if self.page > MAX_PAGE {
            return Err(SearchError::InvalidInput { field: "page", message: format!("page must be at most {MAX_PAGE}") });
        }
        if self.per_page == 0 {
            self.per_page = 24;
        }
        self.per_page = self.per_page.min(100);
        if let Some(c) = &self.category {
            if !c.starts_with('/') || c.len() > 200 {
                return Err(SearchError::InvalidInput { field: "category", message: "category must be a path like /home/furniture".into() });
            }
        }
        Ok(self)
    }
}

impl SearchIndex {
    /// The query's words as the index's analyzer sees them (lowercased, stemmed).
    fn terms(&self, text: &str) -> Vec<String> {
        let Ok(mut analyzer) = self.inner.index.tokenizer_for_field(self.inner.fields.title) else { return vec![] };
        let mut stream = analyzer.token_stream(text);
        let mut out: Vec<String> = Vec::new();
        while stream.advance() {
            let t = stream.token().text.clone();
            if !t.is_empty() && t.chars().count() <= 40 && !out.contains(&t) {
                out.push(t);
            }
            if out.len() >= MAX_TERMS {
                break;
            }
        }
        out
    }

    fn text_query(&self, terms: &[String], prefix_last: bool) -> Box<dyn Query> {
        let f = self.inner.fields;
        if terms.is_empty() {
            return Box::new(AllQuery);
        }
        let mut musts: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (i, t) in terms.iter().enumerate() {
            let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for (field, boost) in [(f.title, 3.0), (f.store_name, 2.0), (f.attributes, 1.5), (f.description, 1.0)] {
                let term = Term::from_field_text(field, t);
                should.push((Occur::Should, Box::new(BoostQuery::new(Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)), boost))));
            }
            let n = t.chars().count();
            // typo tolerance: one edit from 4 characters, two from 8; only on the fields people name things by
            let distance = if n >= 8 { 2 } else if n >= 4 { 1 } else { 0 };
            let is_last = i + 1 == terms.len();
            for (field, boost) in [(f.title, 1.0), (f.attributes, 0.5), (f.store_name, 0.5)] {
                let term = Term::from_field_text(field, t);
                if distance > 0 {
                    should.push((Occur::Should, Box::new(BoostQuery::new(Box::new(FuzzyTermQuery::new(term.clone(), distance, true)), boost))));
                }
                if prefix_last && is_last && n >= 2 {
                    should.push((Occur::Should, Box::new(BoostQuery::new(Box::new(FuzzyTermQuery::new_prefix(term, 0, true)), boost))));
                }
            }
            musts.push((Occur::Must, Box::new(BooleanQuery::new(should))));
        }
        Box::new(BooleanQuery::new(musts))
    }

    fn filters(&self, q: &SearchQuery) -> Vec<(Occur, Box<dyn Query>)> {
        let f = self.inner.fields;
        let mut out: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if let Some(c) = &q.category {
            out.push((Occur::Must, Box::new(TermQuery::new(Term::from_facet(f.category, &Facet::from(c.as_str())), IndexRecordOption::Basic))));
        }
        if q.min_price.is_some() || q.max_price.is_some() {
            let lo = q.min_price.map_or(Bound::Unbounded, |v| Bound::Included(Term::from_field_i64(f.price, v)));
            let hi = q.max_price.map_or(Bound::Unbounded, |v| Bound::Included(Term::from_field_i64(f.price, v)));
            out.push((Occur::Must, Box::new(RangeQuery::new(lo, hi))));
        }
        if let Some(s) = &q.store {
            out.push((Occur::Must, Box::new(TermQuery::new(Term::from_field_text(f.store_slug, s), IndexRecordOption::Basic))));
        }
        if q.in_stock {
            out.push((Occur::Must, Box::new(TermQuery::new(Term::from_field_u64(f.in_stock, 1), IndexRecordOption::Basic))));
        }
        if q.customizable {
            out.push((Occur::Must, Box::new(TermQuery::new(Term::from_field_u64(f.customizable, 1), IndexRecordOption::Basic))));
        }
        if let Some(r) = q.min_rating {
            out.push((Occur::Must, Box::new(RangeQuery::new(Bound::Included(Term::from_field_f64(f.rating, r)), Bound::Unbounded))));
        }
        out
    }

    /// Runs a search. CPU-bound but short (milliseconds); callers on an async runtime should use
    /// [`SearchIndex::search_blocking`] for large indexes.
    pub fn search(&self, q: &SearchQuery) -> Result<SearchResults, SearchError> {
        let started = std::time::Instant::now();
        let q = q.clone().validate()?;
        let f = self.inner.fields;
        let terms = self.terms(&q.q);
        let text = self.text_query(&terms, false);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text.box_clone())];
        clauses.extend(self.filters(&q));
        let query = BooleanQuery::new(clauses);
        let searcher = self.inner.reader.searcher();
        let offset = (q.page - 1) * q.per_page;
        let top = TopDocs::with_limit(q.per_page).and_offset(offset);
        let mut facet_root = q.category.clone().unwrap_or_else(|| "/".into());
        if facet_root.is_empty() {
            facet_root = "/".into();
        }
        let mut facet_collector = FacetCollector::for_field("category");
        facet_collector.add_facet(Facet::from(facet_root.as_str()));
        let counts_collector = FacetCounts;
        let sort_by_score = q.sort == Sort::Relevance && !terms.is_empty();
        let (addresses, total, facet_counts, counts): (Vec<(f32, DocAddress)>, usize, _, Counts) = if sort_by_score {
            let (docs, total, fc, c) = searcher.search(&query, &(top.order_by_score(), Count, facet_collector, counts_collector))?;
            (docs, total, fc, c)
        } else {
            macro_rules! by {
                ($t:ty, $field:expr, $order:expr) => {{
                    let (docs, total, fc, c) =
                        searcher.search(&query, &(top.order_by_fast_field::<$t>($field, $order), Count, facet_collector, counts_collector))?;
                    (docs.into_iter().map(|(_, a)| (0.0, a)).collect(), total, fc, c)
                }};
            }
            match q.sort {
                Sort::PriceAsc => by!(i64, "price", Order::Asc),
                Sort::PriceDesc => by!(i64, "price", Order::Desc),
                Sort::Rating => by!(f64, "rating", Order::Desc),
                Sort::Popular => by!(f64, "popularity", Order::Desc),
                Sort::Newest | Sort::Relevance => by!(i64, "published_at", Order::Desc),
            }
        };
        let title_snippets = SnippetGenerator::create(&searcher, &*text, f.title).ok();
        let desc_snippets = SnippetGenerator::create(&searcher, &*text, f.description).ok().map(|mut g| {
            g.set_max_num_chars(160);
            g
        });
        let mut hits = Vec::with_capacity(addresses.len());
        for (score, a) in addresses {
            let doc: TantivyDocument = searcher.doc(a)?;
            let title = text_of(&doc, f.title);
            let title_html = match &title_snippets {
                Some(g) if !terms.is_empty() => {
                    let s = g.snippet_from_doc(&doc);
                    if s.is_empty() { escape(&title) } else { s.to_html() }
                }
                _ => escape(&title),
            };
            let snippet_html = match &desc_snippets {
                Some(g) if !terms.is_empty() => g.snippet_from_doc(&doc).to_html(),
                _ => escape(&text_of(&doc, f.description).chars().take(160).collect::<String>()),
            };
            let num = |field| doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0);
            hits.push(Hit {
                product_id: text_of(&doc, f.id),
                slug: text_of(&doc, f.slug),
                title,
                title_html,
                snippet_html,
                price_minor: doc.get_first(f.price).and_then(|v| v.as_i64()).unwrap_or(0),
                currency: text_of(&doc, f.currency),
                store_name: text_of(&doc, f.store_name),
                store_slug: text_of(&doc, f.store_slug),
                thumb_url: doc.get_first(f.thumb).and_then(|v| v.as_str()).map(str::to_owned),
                in_stock: num(f.in_stock) == 1,
                customizable: num(f.customizable) == 1,
                rating: doc.get_first(f.rating).and_then(|v| v.as_f64()).unwrap_or(0.0),
                score,
            });
        }
        let names = self.inner.category_names.read().map(|m| m.clone()).unwrap_or_default();
        let categories = facet_counts
            .get(facet_root.as_str())
            .map(|(facet, n)| {
                let path = facet.to_path_string();
                (path.clone(), names.get(&path).cloned().unwrap_or_else(|| path.rsplit('/').next().unwrap_or("").to_owned()), n)
            })
            .collect();
        let store_names = self.inner.store_names.read().map(|m| m.clone()).unwrap_or_default();
        let mut stores: Vec<(String, String, u64)> =
            counts.stores.into_iter().map(|(slug, n)| (store_names.get(&slug).cloned().unwrap_or_else(|| slug.clone()), slug, n)).map(|(name, slug, n)| (slug, name, n)).collect();
        stores.sort_by(|a, b| b.2.cmp(&a.2).then(a.1.cmp(&b.1)));
        stores.truncate(30);
        let prices = PRICE_BANDS
            .iter()
            .enumerate()
            .map(|(i, lo)| (*lo, PRICE_BANDS.get(i + 1).copied(), counts.prices[i]))
            .collect();
        Ok(SearchResults {
            total,
            page: q.page,
            per_page: q.per_page,
            hits,
            facets: Facets { categories, stores, prices, in_stock: counts.in_stock, customizable: counts.customizable, rated_4_up: counts.rated_4_up },
            terms,
            took_micros: started.elapsed().as_micros() as u64,
        })
    }

    /// Titles completing what is being typed (the last word as a prefix, earlier words fuzzy).
    pub fn suggest(&self, text: &str, limit: usize) -> Result<Vec<Suggestion>, SearchError> {
        let text: String = text.chars().take(MAX_QUERY_CHARS).collect();
        let terms = self.terms(&text);
        if terms.is_empty() {
            return Ok(vec![]);
        }
        // the last word is probably unfinished: match it as typed (unstemmed) as a prefix
        let mut terms = terms;
        if let Some(last) = text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).last() {
            if let Some(t) = terms.last_mut() {
                *t = last.to_lowercase();
            }
        }
        let query = self.text_query(&terms, true);
        let searcher = self.inner.reader.searcher();
        let docs = searcher.search(&*query, &TopDocs::with_limit(limit.clamp(1, 20) * 2).order_by_score())?;
        let mut out: Vec<Suggestion> = Vec::new();
        for (_, a) in docs {
            let doc: TantivyDocument = searcher.doc(a)?;
            let title = text_of(&doc, self.inner.fields.title);
            if !out.iter().any(|s| s.title == title) {
                out.push(Suggestion { title, slug: text_of(&doc, self.inner.fields.slug) });
            }
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Counts over every matching document, from the fast fields: stores, price bands, stock,
/// customizable, rating.
struct FacetCounts;

#[derive(Default)]
pub(crate) struct Counts {
    stores: HashMap<String, u64>,
    prices: [u64; PRICE_BANDS.len()],
    in_stock: u64,
    customizable: u64,
    rated_4_up: u64,
}

struct SegmentCounts {
    store: Option<tantivy::columnar::StrColumn>,
    store_ords: HashMap<u64, u64>,
    price: tantivy::columnar::Column<i64>,
    in_stock: tantivy::columnar::Column<u64>,
    customizable: tantivy::columnar::Column<u64>,
    rating: tantivy::columnar::Column<f64>,
    counts: Counts,
}

impl Collector for FacetCounts {
    type Fruit = Counts;
    type Child = SegmentCounts;

    fn for_segment(&self, _: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<SegmentCounts> {
        let ff = reader.fast_fields();
        Ok(SegmentCounts {
            store: ff.str("store_slug")?,
            store_ords: HashMap::new(),
            price: ff.i64("price")?,
            in_stock: ff.u64("in_stock")?,
            customizable: ff.u64("customizable")?,
            rating: ff.f64("rating")?,
            counts: Counts::default(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Counts>) -> tantivy::Result<Counts> {
        let mut out = Counts::default();
        for c in fruits {
            for (k, v) in c.stores {
                *out.stores.entry(k).or_default() += v;
            }
            for (i, v) in c.prices.iter().enumerate() {
                out.prices[i] += v;
            }
            out.in_stock += c.in_stock;
            out.customizable += c.customizable;
            out.rated_4_up += c.rated_4_up;
        }
        Ok(out)
    }
}

impl SegmentCollector for SegmentCounts {
    type Fruit = Counts;

    fn collect(&mut self, doc: u32, _: Score) {
        if let Some(col) = &self.store {
            for ord in col.term_ords(doc) {
                *self.store_ords.entry(ord).or_default() += 1;
            }
        }
        if let Some(p) = self.price.first(doc) {
            let band = PRICE_BANDS.iter().rposition(|lo| p >= *lo).unwrap_or(0);
            self.counts.prices[band] += 1;
        }
        if self.in_stock.first(doc) == Some(1) {
            self.counts.in_stock += 1;
        }
        if self.customizable.first(doc) == Some(1) {
            self.counts.customizable += 1;
        }
        if self.rating.first(doc).is_some_and(|r| r >= 4.0) {
            self.counts.rated_4_up += 1;
        }
    }

    fn harvest(mut self) -> Counts {
        if let Some(col) = &self.store {
            for (ord, n) in self.store_ords {
                let mut s = String::new();
                if col.ord_to_str(ord, &mut s).unwrap_or(false) {
                    *self.counts.stores.entry(s).or_default() += n;
                }
            }
        }
        self.counts
    }
}
