//! Server functions for browsing, search and the dealer's listings. The views here mirror the
//! service types (the browser side cannot depend on the service crates).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SearchParams {
    pub q: String,
    pub category: String,
    pub min_price: String,
    pub max_price: String,
    pub store: String,
    pub in_stock: bool,
    pub customizable: bool,
    pub min_rating: String,
    pub sort: String,
    pub page: usize,
    /// `off`: the engine's order, not re-ranked for the signed-in person.
    #[serde(default)]
    pub personal: String,
}

impl SearchParams {
    /// The URL of this search, so every state can be shared and rendered without JavaScript.
    pub fn url(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut push = |k: &str, v: &str| {
            if !v.is_empty() {
                parts.push(format!("{k}={}", urlencode(v)));
            }
        };
        push("q", &self.q);
        push("category", &self.category);
        push("min_price", &self.min_price);
        push("max_price", &self.max_price);
        push("store", &self.store);
        if self.in_stock {
            push("in_stock", "1");
        }
        if self.customizable {
            push("customizable", "1");
        }
        push("min_rating", &self.min_rating);
        if !self.sort.is_empty() && self.sort != "relevance" {
            push("sort", &self.sort);
        }
        if self.page > 1 {
            push("page", &self.page.to_string());
        }
        if self.personal == "off" {
            push("personal", "off");
        }
        if parts.is_empty() { "/search".into() } else { format!("/search?{}", parts.join("&")) }
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HitView {
    pub slug: String,
    pub title: String,
    pub title_html: String,
    pub snippet_html: String,
    pub price: String,
    pub store_name: String,
    pub store_slug: String,
    pub image: String,
    pub in_stock: bool,
    pub customizable: bool,
    pub rating: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FacetsView {
    pub categories: Vec<(String, String, u64)>,
    pub stores: Vec<(String, String, u64)>,
    pub prices: Vec<(String, String, String, u64)>,
    pub in_stock: u64,
    pub customizable: u64,
    pub rated_4_up: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchView {
    pub total: usize,
    pub page: usize,
    pub pages: usize,
    pub hits: Vec<HitView>,
    pub facets: FacetsView,
    pub took_ms: f64,
    pub category_name: Option<String>,
    /// Results of similar relevance were re-ordered by the person's predicted preference.
    #[serde(default)]
    pub personalized: bool,
    /// Whether personal ranking applies here at all (signed in, sorted by relevance, a model
    /// that knows the person): the page offers the switch only then.
    #[serde(default)]
    pub personal_available: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardView {
    pub slug: String,
    pub title: String,
    pub price: String,
    pub store_name: String,
    pub image: String,
    pub status: String,
    pub stock: Option<i64>,
    pub id: String,
    /// Why a recommendation is shown ("Because you viewed …").
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HomeView {
    pub featured: Vec<CardView>,
    pub newest: Vec<CardView>,
    pub trending: Vec<CardView>,
    pub categories: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionValueView {
    pub id: String,
    pub label: String,
    pub delta_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionView {
    pub id: String,
    pub name: String,
    pub text: bool,
    pub required: bool,
    pub max_length: Option<i64>,
    pub delta_minor: i64,
    pub values: Vec<OptionValueView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductView {
    pub id: String,
    pub slug: String,
    pub title: String,
    pub description_html: String,
    pub description: String,
    pub category_path: String,
    pub category_name: String,
    pub price_minor: i64,
    pub currency: String,
    pub stock: Option<i64>,
    pub status: String,
    pub attributes: Vec<(String, String)>,
    pub options: Vec<OptionView>,
    pub images: Vec<(String, String)>,
    pub store_name: String,
    pub store_slug: String,
    pub store_location: String,
    pub store_logo: Option<String>,
    pub dealer_id: String,
    pub rating: Option<(f64, i64)>,
    pub similar: Vec<CardView>,
}

/// `€12.50` from minor units (the browser computes live prices with the same rule).
pub fn format_money(minor: i64, currency: &str) -> String {
    let sym = match currency {
        "USD" => "$",
        "GBP" => "£",
        _ => "€",
    };
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{sym}{}.{:02}", minor.unsigned_abs() / 100, minor.unsigned_abs() % 100)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreView {
    pub logo: Option<String>,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub location: String,
    /// The dealer's average rating from reviews and how many.
    pub rating: Option<(f64, i64)>,
    pub products: Vec<CardView>,
}

#[cfg(feature = "ssr")]
pub(crate) fn card(c: &catalog::Catalog, r: &catalog::SummaryRow) -> CardView {
    CardView {
        slug: r.slug.clone(),
        title: r.title.clone(),
        price: format_money(r.price_minor, &r.currency),
        store_name: r.store_name.clone(),
        image: r.thumb_key.as_deref().map(|k| c.image_url(k)).unwrap_or_else(|| format!("/art/{}.svg", r.product_id)),
        status: r.status.clone(),
        stock: r.stock,
        id: r.product_id.clone(),
        reason: None,
    }
}

#[server]
pub async fn home_rails() -> Result<HomeView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let c = cx.services.catalog.clone();
    let map = |v: Vec<catalog::SummaryRow>| v.iter().map(|r| card(&c, r)).collect::<Vec<_>>();
    let featured = map(c.featured(8).await.map_err(|e| cx.internal(e))?);
    let newest = map(c.newest(8).await.map_err(|e| cx.internal(e))?);
    let trending = map(c.trending(8).await.map_err(|e| cx.internal(e))?);
    let categories = c.categories().await.map_err(|e| cx.internal(e))?.into_iter().filter(|c| c.depth == 0).map(|c| (c.path, c.name)).collect();
    Ok(HomeView { featured, newest, trending, categories })
}

#[server]
pub async fn search_products(params: SearchParams) -> Result<SearchView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let search_error = |e: search::SearchError| match e {
        search::SearchError::InvalidInput { field, message } => AppError { field: Some(field.into()), ..AppError::new("invalid_input", message) },
        other => cx.internal(other),
    };
    let q = search::SearchQuery::from_text(&search::TextParams {
        q: params.q.clone(),
        category: params.category.clone(),
        min_price: params.min_price.clone(),
        max_price: params.max_price.clone(),
        store: params.store.clone(),
        in_stock: params.in_stock,
        customizable: params.customizable,
        min_rating: params.min_rating.clone(),
        sort: params.sort.clone(),
        page: params.page.max(1).to_string(),
        per_page: String::new(),
    })
    .map_err(search_error)?;
    let index = cx.services.search.clone();
    if cx.services.inline_events {
        index.catch_up().await.map_err(|e| cx.internal(e))?;
    }
    let mut r = index.search(&q).map_err(search_error)?;
    // personalised search: results of similar relevance re-ordered by the person's preference
    let rec = &cx.services.recommend;
    let me = if rec.settings().personalize_search && q.sort == search::Sort::Relevance && !q.q.trim().is_empty() {
        cx.maybe_principal().await?.map(|p| p.user.id.to_string())
    } else {
        None
    };
    let personal_available = me.as_deref().is_some_and(|u| rec.knows(u));
    let mut personalized = false;
    if let (Some(u), true) = (&me, params.personal != "off") {
        personalized = crate::ssr::personalize_hits(rec, u, &mut r.hits);
    }
    let categories = cx.services.catalog.categories().await.map_err(|e| cx.internal(e))?;
    let category_name = q.category.as_ref().and_then(|p| categories.iter().find(|c| &c.path == p)).map(|c| c.name.clone());
    let price_label = |m: i64| format_money(m, "EUR");
    Ok(SearchView {
        total: r.total,
        page: r.page,
        pages: r.total.div_ceil(r.per_page).max(1),
        took_ms: r.took_micros as f64 / 1000.0,
        category_name,
        personalized,
        personal_available,
        hits: r
            .hits
            .into_iter()
            .map(|h| HitView {
                image: h.thumb_url.clone().unwrap_or_else(|| format!("/art/{}.svg", h.product_id)),
                slug: h.slug,
                title: h.title,
                title_html: h.title_html,
                snippet_html: h.snippet_html,
                price: format_money(h.price_minor, &h.currency),
                store_name: h.store_name,
                store_slug: h.store_slug,
                in_stock: h.in_stock,
                customizable: h.customizable,
                rating: h.rating,
            })
            .collect(),
        facets: FacetsView {
            categories: r.facets.categories,
            stores: r.facets.stores,
            prices: r
                .facets
                .prices
                .into_iter()
                .map(|(lo, hi, n)| {
                    let label = match hi {
                        Some(h) => format!("{} – {}", price_label(lo), price_label(h)),
                        None => format!("{} and up", price_label(lo)),
                    };
                    (label, format!("{}", lo / 100), hi.map(|h| format!("{}", h / 100 - 1) + ".99").unwrap_or_default(), n)
                })
                .collect(),
            in_stock: r.facets.in_stock,
            customizable: r.facets.customizable,
            rated_4_up: r.facets.rated_4_up,
        },
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuggestionView {
    pub title: String,
    pub slug: String,
}

#[server]
pub async fn suggest(q: String) -> Result<Vec<SuggestionView>, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let list = cx.services.search.suggest(&q, 8).map_err(|e| cx.internal(e))?;
    Ok(list.into_iter().map(|s| SuggestionView { title: s.title, slug: s.slug }).collect())
}

#[cfg(feature = "ssr")]
pub(crate) fn catalog_err(cx: &crate::ssr::Ctx, e: catalog::CatalogError) -> AppError {
    match e {
        catalog::CatalogError::Internal(m) => cx.internal(m),
        other => {
            let mut out = AppError::new(other.code(), match &other {
                catalog::CatalogError::InvalidInput { message, .. } => message.clone(),
                o => o.to_string(),
            });
            out.field = other.field().map(str::to_owned);
            out.request_id = cx.request_id();
            if let Some(opts) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
                opts.set_status(http::StatusCode::from_u16(out.http_status()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR));
            }
            out
        }
    }
}

#[cfg(feature = "ssr")]
fn product_view(c: &catalog::Catalog, p: catalog::Product, similar: Vec<CardView>) -> ProductView {
    let _ = c;
    ProductView {
        id: p.id.clone(),
        slug: p.slug.clone(),
        title: p.title.clone(),
        description_html: p.description_html.clone(),
        description: p.description.clone(),
        category_path: p.category.path.clone(),
        category_name: p.category.name.clone(),
        price_minor: p.price.minor,
        currency: p.price.currency.code().to_owned(),
        stock: p.stock,
        status: p.status.as_str().to_owned(),
        attributes: p.attributes.clone(),
        options: p
            .options
            .iter()
            .map(|o| OptionView {
                id: o.id.clone(),
                name: o.name.clone(),
                text: o.kind == catalog::OptionKind::Text,
                required: o.required,
                max_length: o.max_length,
                delta_minor: o.price_delta_minor,
                values: o.values.iter().map(|v| OptionValueView { id: v.id.clone(), label: v.label.clone(), delta_minor: v.price_delta_minor }).collect(),
            })
            .collect(),
        images: if p.images.is_empty() {
            vec![(format!("/art/{}.svg", p.id), format!("/art/{}.svg", p.id))]
        } else {
            p.images.iter().map(|i| (i.url.clone(), i.thumb_url.clone())).collect()
        },
        store_name: p.store.name.clone(),
        store_slug: p.store.slug.clone(),
        store_location: p.store.location.clone(),
        store_logo: p.store.logo_url.clone(),
        dealer_id: p.store.dealer_id.clone(),
        rating: p.rating_avg.map(|a| (a, p.rating_count)),
        similar,
    }
}

#[server]
pub async fn product_page(slug: String) -> Result<ProductView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let viewer = cx.maybe_principal().await?;
    let c = cx.services.catalog.clone();
    let p = c.product_for(viewer.as_ref(), &slug).await.map_err(|e| catalog_err(&cx, e))?;
    let viewer_key = viewer.as_ref().map(|v| v.user.id.to_string()).unwrap_or_else(|| "anonymous".into());
    (cx.services.views)(&p.id, &viewer_key);
    // "similar items": content neighbours (title, category, attributes, store) from the
    // recommendation service; a listing published a second ago has its vector already
    let me = viewer.as_ref().map(|v| v.user.id.to_string());
    let rec = cx.services.recommend.clone();
    let similar_ids: Vec<String> = rec.similar(&p.id, 6, me.as_deref()).into_iter().map(|s| s.product_id).collect();
    let similar = c.summaries_of(&similar_ids).await.map_err(|e| cx.internal(e))?.iter().map(|r| card(&c, r)).collect();
    let mut view = product_view(&c, p, similar);
    // the page shows the rendered description; the source is only for the dealer's editor
    view.description.clear();
    Ok(view)
}

#[server]
pub async fn store_page(slug: String) -> Result<StoreView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let c = cx.services.catalog.clone();
    let s = c.store_by_slug(&slug).await.map_err(|e| catalog_err(&cx, e))?;
    let products = c.store_products(&s.id, 60).await.map_err(|e| catalog_err(&cx, e))?;
    let rating = s.rating_avg.map(|a| (a, s.rating_count));
    Ok(StoreView { logo: s.logo_url, name: s.name, slug: s.slug, description: s.description, location: s.location, rating, products: products.iter().map(|r| card(&c, r)).collect() })
}

// ---- dealers

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct DealerOverview {
    pub store: Option<(String, String, String, String)>,
    pub logo: Option<String>,
    pub listings: Vec<CardView>,
}

#[server]
pub async fn dealer_home() -> Result<DealerOverview, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let c = cx.services.catalog.clone();
    let store = c.store_of_dealer(&p.user.id.to_string()).await.map_err(|e| catalog_err(&cx, e))?;
    let listings = if p.user.is_active_dealer() { c.dealer_products(&p).await.map_err(|e| catalog_err(&cx, e))? } else { vec![] };
    Ok(DealerOverview {
        logo: store.as_ref().and_then(|s| s.logo_url.clone()),
        store: store.map(|s| (s.name, s.slug, s.description, s.location)),
        listings: listings.iter().map(|r| card(&c, r)).collect(),
    })
}

#[server]
pub async fn save_store(name: String, description: String, location: String) -> Result<String, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let s = cx.services.catalog.save_store(&p, &catalog::StoreInput { name, description, location }).await.map_err(|e| catalog_err(&cx, e))?;
    Ok(s.slug)
}

/// The listing editor's fields. Choice values are written `Small, Medium +8, Large +15.50`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ListingForm {
    pub title: String,
    pub description: String,
    pub category: String,
    pub price: String,
    pub stock: String,
    pub brand: String,
    pub material: String,
    #[serde(default)]
    pub options: Vec<OptionForm>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct OptionForm {
    pub name: String,
    pub kind: String,
    pub values: String,
    pub max_length: String,
    pub price_delta: String,
    #[serde(default)]
    pub optional: String,
}

/// `Small, Medium +8, Large +15.50` → labels and surcharges.
pub fn parse_choice_values(s: &str) -> Vec<(String, String)> {
    s.split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| match v.rsplit_once('+') {
            Some((label, delta)) if !label.trim().is_empty() => (label.trim().to_owned(), delta.trim().to_owned()),
            _ => (v.to_owned(), String::new()),
        })
        .collect()
}

#[cfg(feature = "ssr")]
impl ListingForm {
    fn to_input(&self) -> catalog::ProductInput {
        let mut attributes = Vec::new();
        if !self.brand.trim().is_empty() {
            attributes.push(("brand".to_owned(), self.brand.clone()));
        }
        if !self.material.trim().is_empty() {
            attributes.push(("material".to_owned(), self.material.clone()));
        }
        catalog::ProductInput {
            title: self.title.clone(),
            description: self.description.clone(),
            category: self.category.clone(),
            price: self.price.clone(),
            currency: "EUR".into(),
            stock: Some(self.stock.clone()),
            attributes,
            options: self
                .options
                .iter()
                .filter(|o| !o.name.trim().is_empty())
                .map(|o| catalog::OptionInput {
                    name: o.name.clone(),
                    kind: if o.kind.is_empty() { "choice".into() } else { o.kind.clone() },
                    required: o.optional.is_empty(),
                    values: parse_choice_values(&o.values),
                    max_length: o.max_length.trim().parse().ok(),
                    price_delta: o.price_delta.clone(),
                })
                .collect(),
        }
    }
}

#[server]
pub async fn create_listing(listing: ListingForm) -> Result<String, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let prod = cx.services.catalog.create_product(&p, &listing.to_input()).await.map_err(|e| catalog_err(&cx, e))?;
    Ok(prod.id)
}

#[server]
pub async fn update_listing(id: String, listing: ListingForm) -> Result<String, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let prod = cx.services.catalog.update_product(&p, &id, &listing.to_input()).await.map_err(|e| catalog_err(&cx, e))?;
    Ok(prod.id)
}

#[server]
pub async fn listing_status(id: String, action: String) -> Result<String, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let action = match action.as_str() {
        "publish" => catalog::StatusAction::Publish,
        "unpublish" => catalog::StatusAction::Unpublish,
        "archive" => catalog::StatusAction::Archive,
        _ => return Err(AppError::new("invalid_input", "unknown action")),
    };
    let prod = cx.services.catalog.set_status(&p, &id, action).await.map_err(|e| catalog_err(&cx, e))?;
    Ok(prod.status.as_str().to_owned())
}

/// The listing for its editor (the dealer's own, any status).
#[server]
pub async fn my_listing(id: String) -> Result<ProductView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let c = cx.services.catalog.clone();
    let prod = c.product(&id).await.map_err(|e| catalog_err(&cx, e))?;
    if prod.store.dealer_id != p.user.id.to_string() {
        return Err(AppError::new("not_found", "not found"));
    }
    Ok(product_view(&c, prod, vec![]))
}

#[server]
pub async fn category_choices() -> Result<Vec<(String, String)>, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let cats = cx.services.catalog.categories().await.map_err(|e| cx.internal(e))?;
    Ok(cats.into_iter().map(|c| (c.path.clone(), if c.depth == 0 { c.name } else { format!("— {}", c.name) })).collect())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportRowView {
    pub line: usize,
    pub title: String,
    pub ok: bool,
    pub message: String,
}

#[server]
pub async fn import_listings(csv: String) -> Result<(usize, usize, Vec<ImportRowView>), AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let r = cx.services.catalog.import_csv(&p, &csv).await.map_err(|e| catalog_err(&cx, e))?;
    Ok((
        r.created,
        r.failed,
        r.rows
            .into_iter()
            .map(|row| ImportRowView { line: row.line, title: row.title, ok: row.error.is_none(), message: row.error.unwrap_or_else(|| "created".into()) })
            .collect(),
    ))
}
