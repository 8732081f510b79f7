use std::collections::HashMap;

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::{
    api::catalog::{format_money, product_page, ProductView},
    api::orders::Choice,
    components::*,
    pages::{AddToCartButton, RequestCustomization, ReviewsSection},
};

#[component]
pub fn ProductPage() -> impl IntoView {
    let params = use_params_map();
    let product = Resource::new(move || params.with(|p| p.get("slug").unwrap_or_default()), product_page);
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match product.await {
                    Ok(p) => view! { <ProductDetail p /> }.into_any(),
                    Err(e) if e.code == "not_found" => view! { <NotFoundNotice /> }.into_any(),
                    Err(e) => view! { <ErrorBanner error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn NotFoundNotice() -> impl IntoView {
    view! {
        <PageTitle title="Listing not found" />
        <Card><p>"This listing does not exist or is no longer for sale."</p>
            <a href="/search" class="mt-3 inline-block font-semibold text-amber-800 underline">"Browse the catalogue"</a></Card>
    }
}

#[component]
fn ProductDetail(p: ProductView) -> impl IntoView {
    let current_image = RwSignal::new(0usize);
    // option id → chosen value id (choices) or text
    let chosen: RwSignal<HashMap<String, String>> = RwSignal::new(
        p.options.iter().filter(|o| !o.text && o.required).filter_map(|o| o.values.first().map(|v| (o.id.clone(), v.id.clone()))).collect(),
    );
    let chosen_list = Signal::derive(move || chosen.get().into_iter().filter(|(_, v)| !v.trim().is_empty()).map(|(option_id, value)| Choice { option_id, value }).collect::<Vec<_>>());
    let options = p.options.clone();
    let base = p.price_minor;
    let currency = p.currency.clone();
    // the same rule the server applies at checkout; shown live as choices change
    let live_price = Memo::new(move |_| {
        let c = chosen.get();
        let mut total = base;
        for o in &options {
            match c.get(&o.id) {
                Some(v) if o.text => {
                    if !v.trim().is_empty() {
                        total += o.delta_minor;
                    }
                }
                Some(v) => total += o.values.iter().find(|x| &x.id == v).map(|x| x.delta_minor).unwrap_or(0),
                None => {}
            }
        }
        total
    });
    let cur = currency.clone();
    let images = p.images.clone();
    let stock_text = match p.stock {
        None => "Made to order".to_owned(),
        Some(0) => "Out of stock".to_owned(),
        Some(n) if n < 5 => format!("Only {n} left"),
        Some(n) => format!("{n} in stock"),
    };
    view! {
        <leptos_meta::Title text=p.title.clone() />
        <nav class="mb-3 text-sm text-stone-500" aria-label="Breadcrumb">
            <a href="/search" class="hover:underline">"Catalogue"</a> " / "
            <a href=format!("/search?category={}", p.category_path) class="hover:underline">{p.category_name.clone()}</a>
        </nav>
        {(p.status != "published").then(|| view! { <div class="mb-3 rounded-md bg-amber-100 px-3 py-2 text-sm">"Preview: this listing is " {p.status.clone()} " and only you can see it."</div> })}
        <div class="grid gap-8 md:grid-cols-2">
            <div>
                <img src=move || images.get(current_image.get()).map(|i| i.0.clone()).unwrap_or_default() alt=p.title.clone()
                    class="aspect-[4/3] w-full rounded-xl border border-stone-200 bg-stone-100 object-cover" data-testid="main-image" />
                {(p.images.len() > 1).then(|| view! {
                    <div class="mt-2 flex gap-2 overflow-x-auto">
                        {p.images.iter().enumerate().map(|(i, img)| view! {
                            <button type="button" on:click=move |_| current_image.set(i) aria-label=format!("Picture {}", i + 1)
                                class=move || format!("h-16 w-20 shrink-0 overflow-hidden rounded-md border-2 {}", if current_image.get() == i { "border-amber-600" } else { "border-transparent" })>
                                <img src=img.1.clone() alt="" class="h-full w-full object-cover" />
                            </button>
                        }).collect_view()}
                    </div>
                })}
            </div>
            <div>
                <h1 class="text-2xl font-bold tracking-tight sm:text-3xl" data-testid="product-title">{p.title.clone()}</h1>
                <p class="mt-1 text-sm text-stone-500">
                    "by " <a href=format!("/s/{}", p.store_slug) class="font-medium text-amber-800 hover:underline">{p.store_name.clone()}</a>
                    {p.rating.map(|(a, n)| format!(" · {a:.1}★ ({n} reviews)"))}
                </p>
                <p class="mt-4 text-3xl font-semibold" data-testid="live-price">{move || format_money(live_price.get(), &cur)}</p>
                <p class=format!("mt-1 text-sm {}", if p.stock == Some(0) { "text-red-700" } else { "text-emerald-700" }) data-testid="stock">{stock_text}</p>
                <div class="mt-5 space-y-4">
                    {p.options.iter().map(|o| {
                        let id = o.id.clone();
                        let label = format!("{}{}", o.name, if o.required { "" } else { " (optional)" });
                        if o.text {
                            let id2 = id.clone();
                            let hint = if o.delta_minor > 0 { format!(" +{}", format_money(o.delta_minor, &currency)) } else { String::new() };
                            view! {
                                <label class="block text-sm font-medium">{label}{hint}
                                    <input type="text" maxlength=o.max_length.unwrap_or(100) data-testid=format!("option-{}", o.name)
                                        class="mt-1 w-full rounded-md border border-stone-300 px-3 py-2"
                                        on:input=move |ev| { let v = event_target_value(&ev); chosen.update(|c| { c.insert(id2.clone(), v); }); } />
                                </label>
                            }.into_any()
                        } else {
                            let values = o.values.clone();
                            let cur2 = currency.clone();
                            view! {
                                <label class="block text-sm font-medium">{label}
                                    <select class="mt-1 w-full rounded-md border border-stone-300 px-3 py-2" data-testid=format!("option-{}", o.name)
                                        on:change=move |ev| { let v = event_target_value(&ev); chosen.update(|c| { c.insert(id.clone(), v); }); }>
                                        {(!o.required).then(|| view! { <option value="">"—"</option> })}
                                        {values.into_iter().map(|v| {
                                            let extra = if v.delta_minor != 0 { format!(" (+{})", format_money(v.delta_minor, &cur2)) } else { String::new() };
                                            view! { <option value=v.id.clone()>{v.label.clone()}{extra}</option> }
                                        }).collect_view()}
                                    </select>
                                </label>
                            }.into_any()
                        }
                    }).collect_view()}
                </div>
                <div class="mt-6">
                    <AddToCartButton product=p.id.clone() disabled=p.stock == Some(0) || p.status != "published" chosen=chosen_list />
                </div>
                <div class="mt-3 flex flex-wrap gap-3">
                    <RequestCustomization product=p.id.clone() own=false choices=chosen_list />
                </div>
                {(!p.attributes.is_empty()).then(|| view! {
                    <dl class="mt-6 grid grid-cols-[8rem_1fr] gap-y-1 text-sm">
                        {p.attributes.iter().map(|(k, v)| view! { <dt class="capitalize text-stone-500">{k.clone()}</dt><dd>{v.clone()}</dd> }).collect_view()}
                    </dl>
                })}
                <div class="prose prose-stone mt-6 max-w-none text-sm [&_li]:ml-5 [&_li]:list-disc [&_p]:mb-3" inner_html=p.description_html.clone() data-testid="description"></div>
                <Card title="The maker">
                    {p.store_logo.clone().map(|l| view! { <img src=l alt="" class="mb-2 h-12 w-12 rounded-full object-cover" /> })}
                    <p class="font-medium">{p.store_name.clone()}</p>
                    <p class="text-sm text-stone-500">{p.store_location.clone()}</p>
                    <a href=format!("/s/{}", p.store_slug) class="mt-2 inline-block text-sm font-semibold text-amber-800 underline">"Visit the store"</a>
                </Card>
            </div>
        </div>
        <div class="mt-8"><ReviewsSection product_id=p.id.clone() rating=p.rating /></div>
        <Rail title="Similar items" cards=p.similar.clone() testid="similar" />
        <AlsoBought product_id=p.id.clone() />
    }
}

/// "Customers also bought", loaded beside the page; and, once in the browser, this listing goes
/// first in the session's recent views (which steer "Recommended for you").
#[component]
fn AlsoBought(product_id: String) -> impl IntoView {
    let id = product_id.clone();
    let list = Resource::new(move || id.clone(), crate::api::recommend::also_bought);
    let noted = product_id.clone();
    Effect::new(move |_| {
        let id = noted.clone();
        leptos::task::spawn_local(async move {
            let _ = crate::api::recommend::note_view(id).await;
        });
    });
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(cards) => view! { <Rail title="Customers also bought" cards testid="also-bought" /> }.into_any(),
                    // a side rail: its failure must not hide the listing
                    Err(_) => ().into_any(),
                }
            })}
        </Transition>
    }
}
