use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::{api::catalog::store_page, components::*, pages::RequestCustomization};

#[component]
pub fn StorePage() -> impl IntoView {
    let params = use_params_map();
    let store = Resource::new(move || params.with(|p| p.get("slug").unwrap_or_default()), store_page);
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match store.await {
                    Err(e) => view! { <ErrorBanner error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
                    Ok(s) => view! {
                        {s.logo.clone().map(|l| view! { <img src=l alt="" class="mb-3 h-20 w-20 rounded-full border border-stone-200 object-cover" data-testid="store-logo" /> })}
                        <PageTitle title=s.name.clone() subtitle=s.location.clone() />
                        {s.rating.map(|(a, n)| view! { <p class="mb-2 text-sm" data-testid="store-rating"><span class="text-amber-600">"★"</span> <strong>{format!("{a:.1}")}</strong> " from " {n} " review(s) of this maker"</p> })}
                        <p class="max-w-2xl text-stone-700">{s.description.clone()}</p>
                        <a href=format!("/search?store={}", s.slug) class="mt-2 inline-block text-sm font-semibold text-amber-800 underline">"Search this store"</a>
                        <div class="mt-3"><RequestCustomization store=s.slug.clone() own=false /></div>
                        <Rail title="Listings" cards=s.products testid="store-products" />
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
