//! The catalogue and search on both databases: listing lifecycle and its events, search freshness,
//! facet counts against the database, sort orders, permissions and bad input.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

fn listing(title: &str) -> Value {
    json!({
        "title": title,
        "description": "Turned by hand from **one piece** of wood. <script>alert(1)</script>",
        "category": "/woodwork/utensils",
        "price": "24.50",
        "stock": "3",
        "attributes": [["brand", "Test Works"], ["material", "cherry"]],
        "options": [
            { "name": "Size", "kind": "choice", "values": [["Small", ""], ["Large", "6.00"]] },
            { "name": "Engraving", "kind": "text", "required": false, "max_length": 20, "price_delta": "9.50" }
        ]
    })
}

async fn search(app: &TestApp, query: &str) -> Value {
    let res = app.get(&format!("/api/v1/search?{query}"), None).await;
    assert_eq!(res.status(), StatusCode::OK, "{query}");
    res.json().await.expect("json")
}

async fn found_within(app: &TestApp, query: &str, slug: &str, present: bool, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let v = search(app, query).await;
        let has = v["hits"].as_array().is_some_and(|h| h.iter().any(|x| x["slug"] == slug));
        if has == present {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{query}: {slug} {} after {limit:?}", if present { "not found" } else { "still found" });
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn outbox_types(app: &TestApp, aggregate: &str) -> Vec<String> {
    let db = kernel::Db::connect(&app.database_url).await.expect("db");
    let v = sqlx::query_scalar("SELECT event_type FROM outbox_event WHERE aggregate_id = $1 ORDER BY created_at")
        .bind(aggregate)
        .fetch_all(db.reader())
        .await
        .expect("events");
    db.close().await;
    v
}

both!(listing_lifecycle_with_events_and_search, |app: TestApp| async move {
    let dealer = app.approved_dealer("lifecycle").await;
    let t = Some(dealer.token.as_str());
    // no store yet: a clear error naming what to do
    let (status, body) = error_of(app.post_json("/api/v1/dealer/products", &listing("Cherry spoon"), t).await).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("store")));
    let res = app.put_json("/api/v1/dealer/store", &json!({ "name": "Spoon Works", "location": "Ghent" }), t).await;
    assert_eq!(res.status(), StatusCode::OK);

    let res = app.post_json("/api/v1/dealer/products", &listing("Zyzzyva cherry spoon"), t).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let p: Value = res.json().await.expect("json");
    let (id, slug) = (p["id"].as_str().expect("id").to_owned(), p["slug"].as_str().expect("slug").to_owned());
    assert_eq!(p["status"], "draft");
    assert_eq!(p["options"].as_array().map(|o| o.len()), Some(2));
    // a draft is not public
    assert_eq!(app.get(&format!("/api/v1/products/{slug}"), None).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/api/v1/products/{slug}"), t).await.status(), StatusCode::OK, "its dealer sees it");

    let res = app.post_json(&format!("/api/v1/dealer/products/{id}/status"), &json!({ "action": "publish" }), t).await;
    assert_eq!(res.status(), StatusCode::OK);
    let took = found_within(&app, "q=zyzzyva", &slug, true, Duration::from_secs(1)).await;
    eprintln!("published → findable in {took:?}");
    // typo tolerance
    found_within(&app, "q=zyzzyav+spon", &slug, true, Duration::from_secs(1)).await;

    // an edit is searchable by its new words
    let mut edited = listing("Zyzzyva walnut ladle");
    edited["price"] = json!("30");
    let res = app.put_json(&format!("/api/v1/dealer/products/{id}"), &edited, t).await;
    assert_eq!(res.status(), StatusCode::OK);
    found_within(&app, "q=ladle+zyzzyva", &slug, true, Duration::from_secs(1)).await;

    let res = app.post_json(&format!("/api/v1/dealer/products/{id}/status"), &json!({ "action": "unpublish" }), t).await;
    assert_eq!(res.status(), StatusCode::OK);
    found_within(&app, "q=zyzzyva", &slug, false, Duration::from_secs(1)).await;
    app.post_json(&format!("/api/v1/dealer/products/{id}/status"), &json!({ "action": "publish" }), t).await;
    found_within(&app, "q=zyzzyva", &slug, true, Duration::from_secs(1)).await;
    let res = app.post_json(&format!("/api/v1/dealer/products/{id}/status"), &json!({ "action": "archive" }), t).await;
    assert_eq!(res.status(), StatusCode::OK);
    found_within(&app, "q=zyzzyva", &slug, false, Duration::from_secs(1)).await;
    // archived is final
    let (status, _) = error_of(app.post_json(&format!("/api/v1/dealer/products/{id}/status"), &json!({ "action": "publish" }), t).await).await;
    assert_eq!(status, StatusCode::CONFLICT);

    let types = outbox_types(&app, &id).await;
    assert_eq!(
        types,
        vec![
            "catalog.ProductCreated", "catalog.ProductPublished", "catalog.ProductUpdated", "catalog.ProductUnpublished",
            "catalog.ProductPublished", "catalog.ProductArchived",
        ],
        "every change published its event"
    );
});

both!(dealers_only_touch_their_own_listings, |app: TestApp| async move {
    let a = app.approved_dealer("owner").await;
    let b = app.approved_dealer("intruder").await;
    for d in [&a, &b] {
        app.put_json("/api/v1/dealer/store", &json!({ "name": format!("Store {}", &d.user["id"].as_str().unwrap_or_default()[..8]) }), Some(&d.token)).await;
    }
    let p: Value = app.post_json("/api/v1/dealer/products", &listing("Owned spoon"), Some(&a.token)).await.json().await.expect("json");
    let id = p["id"].as_str().expect("id");
    // another dealer: as if it did not exist
    assert_eq!(app.put_json(&format!("/api/v1/dealer/products/{id}"), &listing("Stolen"), Some(&b.token)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.post_json(&format!("/api/v1/dealer/products/{id}/status"), &json!({ "action": "publish" }), Some(&b.token)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.put_json(&format!("/api/v1/dealer/products/{id}/stock"), &json!({ "stock": 0 }), Some(&b.token)).await.status(), StatusCode::NOT_FOUND);
    // a customer and a pending dealer cannot act as dealers at all
    let customer = app.sign_up(&unique_email("cust"), "customer pass", "customer").await;
    let pending = app.sign_up(&unique_email("pend"), "pending pass", "dealer").await;
    for who in [&customer, &pending] {
        assert_eq!(app.post_json("/api/v1/dealer/products", &listing("Nope"), Some(&who.token)).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.post_json(&format!("/api/v1/dealer/products/{id}/status"), &json!({ "action": "publish" }), Some(&who.token)).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.put_json("/api/v1/dealer/store", &json!({ "name": "Nope store" }), Some(&who.token)).await.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(app.post_json("/api/v1/dealer/products", &listing("Anon"), None).await.status(), StatusCode::UNAUTHORIZED);
    // mass assignment: a client cannot set the dealer, status or price fields it does not own
    let mut sneaky = listing("Sneaky spoon");
    sneaky["status"] = json!("published");
    let (status, _) = error_of(app.post_json("/api/v1/dealer/products", &sneaky, Some(&a.token)).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "unknown fields are refused");
});

both!(listing_validation_names_the_field, |app: TestApp| async move {
    let d = app.approved_dealer("valid").await;
    let t = Some(d.token.as_str());
    app.put_json("/api/v1/dealer/store", &json!({ "name": "Validation Works" }), t).await;
    let cases = [
        (json!({ "title": "", "category": "/home", "price": "1" }), "title"),
        (json!({ "title": "x".repeat(10_000), "category": "/home", "price": "1" }), "title"),
        (json!({ "title": "Good title", "category": "/nowhere", "price": "1" }), "category"),
        (json!({ "title": "Good title", "category": "/home", "price": "-1" }), "price"),
        (json!({ "title": "Good title", "category": "/home", "price": "0" }), "price"),
        (json!({ "title": "Good title", "category": "/home", "price": "1.999" }), "price"),
        (json!({ "title": "Good title", "category": "/home", "price": "1", "stock": "lots" }), "stock"),
        (json!({ "title": "Good title", "category": "/home", "price": "1", "currency": "DOGE" }), "currency"),
        (json!({ "title": "Good title", "category": "/home", "price": "1", "options": [{ "name": "Size", "kind": "choice", "values": [] }] }), "options[0].values"),
        (json!({ "title": "Good title", "category": "/home", "price": "1", "options": [{ "name": "Size", "kind": "dance" }] }), "options[0].kind"),
    ];
    for (body, field) in cases {
        let (status, v) = error_of(app.post_json("/api/v1/dealer/products", &body, t).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert_eq!(v["error"]["field"], field, "{body}: {v}");
    }
});

both!(images_are_checked_and_thumbnailed, |app: TestApp| async move {
    let d = app.approved_dealer("images").await;
    let t = d.token.clone();
    app.put_json("/api/v1/dealer/store", &json!({ "name": "Picture Works" }), Some(&t)).await;
    let p: Value = app.post_json("/api/v1/dealer/products", &listing("Pictured spoon"), Some(&t)).await.json().await.expect("json");
    let id = p["id"].as_str().expect("id");
    let png = {
        let img = image::RgbImage::from_fn(900, 600, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 120]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).expect("png");
        out.into_inner()
    };
    let upload = |bytes: Vec<u8>, name: &'static str| {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name);
        app.client.post(app.url(&format!("/api/v1/dealer/products/{id}/images"))).bearer_auth(&t).multipart(reqwest::multipart::Form::new().part("image", part)).send()
    };
    let res = upload(png, "spoon.png").await.expect("req");
    assert_eq!(res.status(), StatusCode::CREATED);
    let img: Value = res.json().await.expect("json");
    assert_eq!((img["width"].as_i64(), img["height"].as_i64()), (Some(900), Some(600)));
    let thumb = app.get(img["thumb_url"].as_str().expect("thumb"), None).await;
    assert_eq!(thumb.status(), StatusCode::OK);
    assert!(thumb.headers().get("cache-control").is_some_and(|v| v.to_str().unwrap_or("").contains("immutable")));
    let thumb_bytes = thumb.bytes().await.expect("bytes");
    assert!(thumb_bytes.starts_with(&[0xff, 0xd8, 0xff]), "the thumbnail is a JPEG");

    let (status, v) = error_of(upload(b"<svg onload=alert(1)>".to_vec(), "evil.png").await.expect("req")).await;
    assert_eq!((status, v["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("image")));
    // (its own connection: the server may answer and close before the body is all sent)
    let part = reqwest::multipart::Part::bytes(vec![0u8; 6 * 1024 * 1024]).file_name("huge.png");
    let res = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/dealer/products/{id}/images")))
        .bearer_auth(&t)
        .multipart(reqwest::multipart::Form::new().part("image", part))
        .send()
        .await;
    if let Ok(res) = res {
        let status = res.status();
        assert!(status == StatusCode::PAYLOAD_TOO_LARGE || status == StatusCode::BAD_REQUEST, "{status}");
    }
    let product: Value = app.get(&format!("/api/v1/products/{id}"), Some(&t)).await.json().await.expect("json");
    assert_eq!(product["images"].as_array().map(|i| i.len()), Some(1));
});

both!(csv_import_reports_every_row, |app: TestApp| async move {
    let d = app.approved_dealer("csv").await;
    let t = d.token.clone();
    app.put_json("/api/v1/dealer/store", &json!({ "name": "Import Works" }), Some(&t)).await;
    let csv = "title,description,category,price,currency,stock,brand,material,publish\n\
               Imported maple spoon,Nice,/woodwork/utensils,12.00,EUR,5,Import Works,maple,yes\n\
               x,Too short a title,/woodwork/utensils,12.00,EUR,5,,,no\n\
               Imported oak bowl,,/nowhere,30,EUR,,,,no\n\
               Imported ash board,,/woodwork/boards,abc,EUR,1,,,no\n\
               Imported elm box,,/woodwork/boxes,45.5,EUR,,,,no\n";
    let res = app.client.post(app.url("/api/v1/dealer/import")).bearer_auth(&t).body(csv).send().await.expect("req");
    assert_eq!(res.status(), StatusCode::OK);
    let r: Value = res.json().await.expect("json");
    assert_eq!((r["created"].as_i64(), r["failed"].as_i64()), (Some(2), Some(3)));
    let rows = r["rows"].as_array().cloned().unwrap_or_default();
    let errors: Vec<(i64, String)> = rows.iter().filter(|x| !x["error"].is_null()).map(|x| (x["line"].as_i64().unwrap_or(0), x["error"].as_str().unwrap_or("").to_owned())).collect();
    assert_eq!(errors.iter().map(|e| e.0).collect::<Vec<_>>(), vec![3, 4, 5]);
    assert!(errors[0].1.starts_with("title:"), "{errors:?}");
    assert!(errors[1].1.starts_with("category:"), "{errors:?}");
    assert!(errors[2].1.starts_with("price:"), "{errors:?}");
    let slug = rows[0]["product_id"].as_str().expect("id").to_owned();
    let p: Value = app.get(&format!("/api/v1/products/{slug}"), None).await.json().await.expect("json");
    assert_eq!(p["status"], "published", "publish=yes published it");
    let (status, _) = error_of(app.client.post(app.url("/api/v1/dealer/import")).bearer_auth(&t).body("name,cost\nx,1\n").send().await.expect("req")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a file without the needed columns");
});

both_seeded!(facet_counts_match_the_database, 400, |app: TestApp| async move {
    let db = kernel::Db::connect(&app.database_url).await.expect("db");
    let count = |sql: String| {
        let db = db.clone();
        async move { sqlx::query_scalar::<_, i64>(&sql).fetch_one(db.reader()).await.expect("count") }
    };
    let base = "FROM product p JOIN category c ON c.category_id = p.category_id JOIN store s ON s.store_id = p.store_id WHERE p.status = 'published'";
    assert_eq!(search(&app, "").await["total"].as_i64(), Some(count(format!("SELECT COUNT(*) {base}")).await));

    let cases: Vec<(&str, String)> = vec![
        ("category=/home", format!("{base} AND c.path LIKE '/home/%'")),
        ("category=/home/furniture", format!("{base} AND c.path = '/home/furniture'")),
        ("min_price=20&max_price=80", format!("{base} AND p.price_minor BETWEEN 2000 AND 8000")),
        ("in_stock=1", format!("{base} AND (p.stock IS NULL OR p.stock > 0)")),
        ("customizable=1", format!("{base} AND EXISTS (SELECT 1 FROM product_option o WHERE o.product_id = p.product_id)")),
        ("category=/jewelry&in_stock=1&max_price=100", format!("{base} AND c.path LIKE '/jewelry/%' AND (p.stock IS NULL OR p.stock > 0) AND p.price_minor <= 10000")),
    ];
    for (q, where_sql) in cases {
        let v = search(&app, &format!("{q}&per_page=1")).await;
        let expected = count(format!("SELECT COUNT(*) {where_sql}")).await;
        assert_eq!(v["total"].as_i64(), Some(expected), "{q}");
        // facet counts under the same filters
        let in_stock = count(format!("SELECT COUNT(*) {where_sql} AND (p.stock IS NULL OR p.stock > 0)")).await;
        assert_eq!(v["facets"]["in_stock"].as_i64(), Some(in_stock), "{q}: in-stock facet");
        let custom = count(format!("SELECT COUNT(*) {where_sql} AND EXISTS (SELECT 1 FROM product_option o WHERE o.product_id = p.product_id)")).await;
        assert_eq!(v["facets"]["customizable"].as_i64(), Some(custom), "{q}: customizable facet");
        for band in v["facets"]["prices"].as_array().cloned().unwrap_or_default() {
            let lo = band[0].as_i64().unwrap_or(0);
            let hi = band[1].as_i64();
            let cond = match hi { Some(h) => format!("p.price_minor >= {lo} AND p.price_minor < {h}"), None => format!("p.price_minor >= {lo}") };
            assert_eq!(band[2].as_i64(), Some(count(format!("SELECT COUNT(*) {where_sql} AND {cond}")).await), "{q}: price band {lo}");
        }
        for store in v["facets"]["stores"].as_array().cloned().unwrap_or_default().iter().take(5) {
            let slug = store[0].as_str().unwrap_or_default();
            assert_eq!(store[2].as_i64(), Some(count(format!("SELECT COUNT(*) {where_sql} AND s.slug = '{slug}'")).await), "{q}: store {slug}");
        }
        for cat in v["facets"]["categories"].as_array().cloned().unwrap_or_default() {
            let path = cat[0].as_str().unwrap_or_default();
            assert_eq!(cat[2].as_i64(), Some(count(format!("SELECT COUNT(*) {where_sql} AND (c.path = '{path}' OR c.path LIKE '{path}/%')")).await), "{q}: category {path}");
        }
    }
    db.close().await;
});

both_seeded!(every_sort_order_is_correct, 300, |app: TestApp| async move {
    let prices = |v: &Value| v["hits"].as_array().map(|h| h.iter().map(|x| x["price_minor"].as_i64().unwrap_or(0)).collect::<Vec<_>>()).unwrap_or_default();
    let asc = prices(&search(&app, "sort=price_asc&per_page=50").await);
    assert!(asc.len() == 50 && asc.windows(2).all(|w| w[0] <= w[1]), "{asc:?}");
    let desc = prices(&search(&app, "sort=price_desc&per_page=50&category=/art").await);
    assert!(!desc.is_empty() && desc.windows(2).all(|w| w[0] >= w[1]), "{desc:?}");
    // page 2 continues page 1
    let p1 = prices(&search(&app, "sort=price_asc&per_page=20&page=1").await);
    let p2 = prices(&search(&app, "sort=price_asc&per_page=20&page=2").await);
    assert!(p1.last() <= p2.first());
    let db = kernel::Db::connect(&app.database_url).await.expect("db");
    let published = |slugs: Vec<String>| {
        let db = db.clone();
        async move {
            let mut out = Vec::new();
            for s in slugs {
                let v: (Option<i64>, i64, i64) = sqlx::query_as("SELECT published_at, view_count + 20 * sales_count, rating_count FROM product WHERE slug = $1")
                    .bind(s)
                    .fetch_one(db.reader())
                    .await
                    .expect("row");
                out.push(v);
            }
            out
        }
    };
    let slugs = |v: &Value| v["hits"].as_array().map(|h| h.iter().map(|x| x["slug"].as_str().unwrap_or("").to_owned()).collect::<Vec<_>>()).unwrap_or_default();
    let newest = published(slugs(&search(&app, "sort=newest&per_page=30").await)).await;
    assert!(newest.windows(2).all(|w| w[0].0 >= w[1].0), "newest first");
    // relevance: the best match for an exact title comes first
    let first: Value = search(&app, "per_page=1&sort=newest").await;
    let title = first["hits"][0]["title"].as_str().unwrap_or_default().to_owned();
    let v = search(&app, &format!("q={}", title.replace(' ', "+"))).await;
    let top_titles: Vec<String> = v["hits"].as_array().map(|h| h.iter().take(3).map(|x| x["title"].as_str().unwrap_or("").to_owned()).collect()).unwrap_or_default();
    assert!(top_titles.contains(&title), "{title} in {top_titles:?}");
    // popular: views and sales of the last 30 days, highest first
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64 / 86_400 - 30).unwrap_or(0);
    let mut recent = Vec::new();
    for slug in slugs(&search(&app, "sort=popular&per_page=40").await) {
        let v: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(a.views + 20 * a.sales), 0) AS BIGINT) FROM product_activity_day a JOIN product p ON p.product_id = a.product_id \
             WHERE p.slug = $1 AND a.day >= $2",
        )
        .bind(&slug)
        .bind(since)
        .fetch_one(db.reader())
        .await
        .expect("activity");
        recent.push(v);
    }
    assert!(recent.windows(2).all(|w| w[0] >= w[1]) && recent[0] > 0, "popular first: {recent:?}");
    for sort in ["rating", "relevance"] {
        assert_eq!(app.get(&format!("/api/v1/search?sort={sort}"), None).await.status(), StatusCode::OK);
    }
    db.close().await;
});

both_seeded!(odd_queries_get_sensible_answers, 100, |app: TestApp| async move {
    for q in [
        "x".repeat(10_000),
        "!!!???...,,,;;;".to_owned(),
        "' OR 1=1; DROP TABLE product; --".to_owned(),
        "<script>alert(1)</script>".to_owned(),
        "木製のスプーン".to_owned(),
        "ложка".to_owned(),
        "walnut AND (board OR".to_owned(),
        "field:title title:*".to_owned(),
    ] {
        let res = app.client.get(app.url("/api/v1/search")).query(&[("q", q.as_str())]).send().await.expect("req");
        assert_eq!(res.status(), StatusCode::OK, "{}", q.chars().take(40).collect::<String>());
        let v: Value = res.json().await.expect("json");
        assert!(v["total"].is_number());
        for h in v["hits"].as_array().cloned().unwrap_or_default() {
            assert!(!h["title_html"].as_str().unwrap_or("").contains("<script"), "highlights are escaped");
        }
    }
    for (q, field) in [("min_price=50&max_price=10", "min_price"), ("page=abc", "page"), ("sort=sideways", "sort"), ("min_price=ten", "min_price"), ("page=100000", "page"), ("min_rating=9", "min_rating")] {
        let (status, v) = error_of(app.get(&format!("/api/v1/search?{q}"), None).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {v}");
        assert_eq!(v["error"]["field"], field, "{q}: {v}");
    }
    let s: Value = app.get("/api/v1/search/suggest?q=wal", None).await.json().await.expect("json");
    assert!(s["suggestions"].as_array().is_some(), "{s}");
});

both!(stored_markup_is_shown_as_text, |app: TestApp| async move {
    let d = app.approved_dealer("xss").await;
    let t = Some(d.token.as_str());
    app.put_json("/api/v1/dealer/store", &json!({ "name": "Script Kiddies" }), t).await;
    let mut body = listing("</title><script>alert('x')</script> spoon");
    body["description"] = json!("<img src=x onerror=alert(1)> [click](javascript:alert(1))");
    let p: Value = app.post_json("/api/v1/dealer/products", &body, t).await.json().await.expect("json");
    let id = p["id"].as_str().expect("id");
    app.post_json(&format!("/api/v1/dealer/products/{id}/status"), &json!({ "action": "publish" }), t).await;
    let html = app.get(&format!("/p/{}", p["slug"].as_str().unwrap_or_default()), None).await.text().await.expect("html");
    assert!(!html.contains("</title><script>"), "the title cannot break out of <title>");
    if let Some(i) = html.find("<script>alert('x')</script>") {
        panic!("raw title at {i}: …{}…", html[i.saturating_sub(600)..(i + 100).min(html.len())].replace('\n', "⏎"));
    }
    assert!(html.contains("&lt;script&gt;alert"), "the title is escaped");
    assert!(!html.contains("<img src=x"), "raw HTML in the description is text");
    assert!(!html.contains("javascript:alert"), "unsafe links are neutralised");
});

both_seeded!(a_store_gets_a_logo, 60, |app: TestApp| async move {
    let d = app.demo_dealer(3).await;
    let png = {
        let img = image::RgbImage::from_fn(300, 300, |x, _| image::Rgb([(x % 256) as u8, 80, 160]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).expect("png");
        out.into_inner()
    };
    let part = reqwest::multipart::Part::bytes(png).file_name("logo.png");
    let res = app.client.post(app.url("/api/v1/dealer/store/logo")).bearer_auth(&d.token).multipart(reqwest::multipart::Form::new().part("image", part)).send().await.expect("req");
    assert_eq!(res.status(), StatusCode::OK);
    let store: Value = res.json().await.expect("json");
    let logo = store["logo_url"].as_str().expect("logo url").to_owned();
    assert_eq!(app.get(&logo, None).await.status(), StatusCode::OK);
    assert!(app.data_dir().join("media").exists(), "stored under the data dir");
    let page: Value = app.get(&format!("/api/v1/stores/{}", store["slug"].as_str().unwrap_or_default()), None).await.json().await.expect("json");
    assert_eq!(page["store"]["logo_url"].as_str(), Some(logo.as_str()));
    // a customer has no store to put a logo on
    let c = app.sign_up(&unique_email("nologo"), "customer pass", "customer").await;
    let part = reqwest::multipart::Part::bytes(vec![1, 2, 3]).file_name("x.png");
    let res = app.client.post(app.url("/api/v1/dealer/store/logo")).bearer_auth(&c.token).multipart(reqwest::multipart::Form::new().part("image", part)).send().await.expect("req");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
});
