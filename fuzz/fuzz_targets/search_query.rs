//! The search form's parser: any text in any field is either refused with a field named, or yields
//! a query within bounds.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut f = text.split('\u{1f}').map(str::to_owned);
    let mut next = || f.next().unwrap_or_default();
    let p = search::TextParams {
        q: next(),
        category: next(),
        min_price: next(),
        max_price: next(),
        store: next(),
        in_stock: next() == "1",
        customizable: next() == "1",
        min_rating: next(),
        sort: next(),
        page: next(),
        per_page: next(),
    };
    if let Ok(q) = search::SearchQuery::from_text(&p) {
        assert!(q.q.chars().count() <= search::MAX_QUERY_CHARS);
        assert!(q.page >= 1 && q.page <= search::MAX_PAGE);
        assert!((1..=100).contains(&q.per_page));
        if let (Some(a), Some(b)) = (q.min_price, q.max_price) {
            assert!(a <= b && a >= 0);
        }
        if let Some(r) = q.min_rating {
            assert!((0.0..=5.0).contains(&r));
        }
        // validating again changes nothing
        assert_eq!(q.clone().validate().map(|v| (v.page, v.per_page, v.q.clone())).ok(), Some((q.page, q.per_page, q.q.clone())));
    }
});
