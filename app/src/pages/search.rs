use leptos::prelude::*;
use leptos_router::{components::Form, hooks::use_query_map};

use crate::{
    api::catalog::{search_products, suggest, SearchParams},
    components::*,
};

fn params_from_query() -> Memo<SearchParams> {
    let query = use_query_map();
    Memo::new(move |_| {
        query.with(|q| {
            let s = |k: &str| q.get(k).unwrap_or_default();
            SearchParams {
                q: s("q"),
                category: s("category"),
                min_price: s("min_price"),
                max_price: s("max_price"),
                store: s("store"),
                in_stock: matches!(s("in_stock").as_str(), "1" | "on" | "true"),
                customizable: matches!(s("customizable").as_str(), "1" | "on" | "true"),
                min_rating: s("min_rating"),
                sort: s("sort"),
                page: s("page").parse().unwrap_or(1),
                personal: s("personal"),
            }
        })
    })
}

#[component]
pub fn SearchPage() -> impl IntoView {
    let params = params_from_query();
    let results = Resource::new(move || params.get(), search_products);
    let typed = RwSignal::new(params.get_untracked().q);
    let focused = RwSignal::new(false);
    let suggestions = LocalResource::new(move || {
        let t = typed.get();
        async move {
            if t.trim().chars().count() < 2 {
                return Vec::new();
            }
            suggest(t).await.unwrap_or_default()
        }
    });
    let first_q = params.get_untracked().q;
    let title = move || {
        let p = params.get();
        if !p.q.is_empty() { format!("“{}”", p.q) } else { "Browse".to_owned() }
    };
    view! {
        // the server writes the <title> after the page's body, when this page's reactive values may
        // already be disposed (under load a `get` there panicked and dropped the connection): it
        // reads them with `try_get` and falls back to the query the page was rendered for
        <leptos_meta::Title text=move || {
            let q = params.try_get().map(|p| p.q).unwrap_or_else(|| first_q.clone());
            if q.is_empty() { "Browse".to_owned() } else { format!("{q} — search") }
        } />
        <Form method="GET" action="/search" attr:class="mb-6" attr:role="search" attr:data-testid="search-form">
            <input type="hidden" name="category" value=move || params.get().category />
            <input type="hidden" name="store" value=move || params.get().store />
            <div class="relative flex gap-2">
                <input name="q" type="search" aria-label="Search" placeholder="Search handmade goods" autocomplete="off"
                    prop:value=move || params.get().q
                    // typing implies focus (the focus event may have come before the page hydrated)
                    on:input=move |ev| {
                        typed.set(event_target_value(&ev));
                        focused.set(true);
                    }
                    on:focus=move |_| focused.set(true)
                    on:blur=move |_| focused.set(false)
                    class="w-full rounded-md border border-stone-300 px-3 py-2 focus:border-amber-600 focus:outline-none focus:ring-2 focus:ring-amber-200" />
                <button type="submit" class="rounded-md bg-stone-900 px-4 py-2 font-semibold text-white hover:bg-stone-700">"Search"</button>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let list = suggestions.await;
                        (!list.is_empty() && focused.get()).then(|| view! {
                            <ul class="absolute left-0 right-20 top-11 z-10 rounded-md border border-stone-200 bg-white shadow-lg" data-testid="suggestions">
                                {list.into_iter().map(|s| view! {
                                    // mousedown fires before the input's blur hides the list
                                    <li><a href=format!("/p/{}", s.slug) on:mousedown=|ev| ev.prevent_default()
                                        class="block px-3 py-2 text-sm hover:bg-amber-50">{s.title}</a></li>
                                }).collect_view()}
                            </ul>
                        })
                    })}
                </Suspense>
            </div>
            <details class="mt-3 rounded-md border border-stone-200 bg-white p-3 sm:open:block" open>
                <summary class="cursor-pointer text-sm font-medium">"Filters and sort"</summary>
                <div class="mt-3 flex flex-wrap items-end gap-3 text-sm">
                    <label class="flex flex-col">"Min price (€)"
                        <input name="min_price" inputmode="decimal" class="w-24 rounded border border-stone-300 px-2 py-1" prop:value=move || params.get().min_price /></label>
                    <label class="flex flex-col">"Max price (€)"
                        <input name="max_price" inputmode="decimal" class="w-24 rounded border border-stone-300 px-2 py-1" prop:value=move || params.get().max_price /></label>
                    <label class="flex items-center gap-1"><input type="checkbox" name="in_stock" value="1" prop:checked=move || params.get().in_stock />"In stock"</label>
                    <label class="flex items-center gap-1"><input type="checkbox" name="customizable" value="1" prop:checked=move || params.get().customizable />"Customizable"</label>
                    <label class="flex flex-col">"Rating"
                        <select name="min_rating" class="rounded border border-stone-300 px-2 py-1" prop:value=move || params.get().min_rating>
                            <option value="">"Any"</option>
                            <option value="4">"4★ and up"</option>
                            <option value="3">"3★ and up"</option>
                        </select></label>
                    <label class="flex flex-col">"Sort"
                        <select name="sort" class="rounded border border-stone-300 px-2 py-1" data-testid="sort" prop:value=move || params.get().sort>
                            <option value="">"Best match"</option>
                            <option value="popular">"Popular"</option>
                            <option value="price_asc">"Price: low to high"</option>
                            <option value="price_desc">"Price: high to low"</option>
                            <option value="newest">"Newest"</option>
                            <option value="rating">"Top rated"</option>
                        </select></label>
                    <button type="submit" class="rounded-md border border-stone-300 px-3 py-1 hover:bg-stone-100">"Apply"</button>
                </div>
            </details>
        </Form>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let p = params.get_untracked();
                match results.await {
                    Err(e) => view! { <ErrorBanner error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
                    Ok(r) => {
                        let heading = r.category_name.clone().map(|c| if p.q.is_empty() { c } else { format!("{} in {c}", title()) }).unwrap_or_else(title);
                        let with = |f: &dyn Fn(&mut SearchParams)| { let mut q = p.clone(); q.page = 1; f(&mut q); q.url() };
                        view! {
                            <h1 class="text-2xl font-bold tracking-tight">{heading}</h1>
                            <p class="mb-4 text-sm text-stone-500" data-testid="result-count">
                                {format!("{} results", r.total)} <span class="text-stone-400">{format!(" · {:.1} ms", r.took_ms)}</span>
                                {r.personal_available.then(|| if p.personal == "off" {
                                    view! { <span data-testid="personal-ranking">" · standard ranking · "<a class="text-amber-800 underline" href=with(&|q| q.personal.clear())>"rank for me"</a></span> }.into_any()
                                } else {
                                    view! { <span data-testid="personal-ranking">" · ranked for you · "<a class="text-amber-800 underline" href=with(&|q| q.personal = "off".into())>"standard ranking"</a></span> }.into_any()
                                })}
                            </p>
                            <div class="grid gap-6 md:grid-cols-[14rem_1fr]">
                                <aside class="space-y-5 text-sm" data-testid="facets">
                                    <div>
                                        <h2 class="mb-1 font-semibold">"Category"</h2>
                                        {(!p.category.is_empty()).then(|| view! { <a class="text-amber-800 underline" href=with(&|q| q.category.clear())>"All categories"</a> })}
                                        <ul>
                                            {r.facets.categories.iter().map(|(path, name, n)| {
                                                let href = with(&|q| q.category = path.clone());
                                                view! { <li><a href=href class="hover:underline" data-testid="facet-category">{name.clone()} <span class="text-stone-400">{format!(" ({n})")}</span></a></li> }
                                            }).collect_view()}
                                        </ul>
                                    </div>
                                    <div>
                                        <h2 class="mb-1 font-semibold">"Price"</h2>
                                        <ul>
                                            {r.facets.prices.iter().filter(|b| b.3 > 0).map(|(label, lo, hi, n)| {
                                                let href = with(&|q| { q.min_price = lo.clone(); q.max_price = hi.clone(); });
                                                view! { <li><a href=href class="hover:underline">{label.clone()} <span class="text-stone-400">{format!(" ({n})")}</span></a></li> }
                                            }).collect_view()}
                                        </ul>
                                    </div>
                                    <div>
                                        <h2 class="mb-1 font-semibold">"Availability"</h2>
                                        <a href=with(&|q| q.in_stock = !p.in_stock) class="block hover:underline">{if p.in_stock { "✓ " } else { "" }}"In stock " <span class="text-stone-400">{format!("({})", r.facets.in_stock)}</span></a>
                                        <a href=with(&|q| q.customizable = !p.customizable) class="block hover:underline">{if p.customizable { "✓ " } else { "" }}"Customizable " <span class="text-stone-400">{format!("({})", r.facets.customizable)}</span></a>
                                        <a href=with(&|q| q.min_rating = if p.min_rating.is_empty() { "4".into() } else { String::new() }) class="block hover:underline">{if p.min_rating.is_empty() { "" } else { "✓ " }}"Rated 4★ and up " <span class="text-stone-400">{format!("({})", r.facets.rated_4_up)}</span></a>
                                    </div>
                                    <div>
                                        <h2 class="mb-1 font-semibold">"Dealer"</h2>
                                        {(!p.store.is_empty()).then(|| view! { <a class="text-amber-800 underline" href=with(&|q| q.store.clear())>"All dealers"</a> })}
                                        <ul class="max-h-64 overflow-y-auto">
                                            {r.facets.stores.iter().map(|(slug, name, n)| {
                                                let href = with(&|q| q.store = slug.clone());
                                                view! { <li><a href=href class="hover:underline" data-testid="facet-store">{name.clone()} <span class="text-stone-400">{format!(" ({n})")}</span></a></li> }
                                            }).collect_view()}
                                        </ul>
                                    </div>
                                </aside>
                                <div>
                                    {r.hits.is_empty().then(|| view! { <Card><p data-testid="no-results">"Nothing matches. Try fewer words or fewer filters."</p></Card> })}
                                    <ul class="grid grid-cols-2 gap-3 sm:grid-cols-3" data-testid="results">
                                        {r.hits.into_iter().map(|h| view! {
                                            <li class="overflow-hidden rounded-xl border border-stone-200 bg-white shadow-sm" data-testid="hit">
                                                <a href=format!("/p/{}", h.slug) class="block">
                                                    <img src=h.image.clone() alt="" loading="lazy" class="aspect-[4/3] w-full bg-stone-100 object-cover" />
                                                    <div class="p-3">
                                                        <p class="text-sm font-medium [&_b]:bg-amber-100 [&_b]:font-semibold" inner_html=h.title_html.clone()></p>
                                                        <p class="mt-1 text-sm font-semibold" data-testid="hit-price">{h.price.clone()}</p>
                                                        <p class="text-xs text-stone-500">{h.store_name.clone()}
                                                            {(!h.in_stock).then_some(" · out of stock")}
                                                            {h.customizable.then_some(" · customizable")}</p>
                                                        <p class="mt-1 line-clamp-2 text-xs text-stone-500 [&_b]:font-semibold" inner_html=h.snippet_html.clone()></p>
                                                    </div>
                                                </a>
                                            </li>
                                        }).collect_view()}
                                    </ul>
                                    <nav class="mt-6 flex items-center justify-between text-sm" aria-label="Pages">
                                        {(r.page > 1).then(|| { let mut q = p.clone(); q.page = r.page - 1; view! { <a href=q.url() class="rounded-md border border-stone-300 px-3 py-1 hover:bg-stone-100">"← Previous"</a> } })}
                                        <span class="text-stone-500">{format!("Page {} of {}", r.page, r.pages)}</span>
                                        {(r.page < r.pages).then(|| { let mut q = p.clone(); q.page = r.page + 1; view! { <a href=q.url() class="rounded-md border border-stone-300 px-3 py-1 hover:bg-stone-100" data-testid="next-page">"Next →"</a> } })}
                                    </nav>
                                </div>
                            </div>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}
