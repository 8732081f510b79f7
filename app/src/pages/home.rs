use leptos::prelude::*;

use crate::{api::catalog::home_rails, components::*, CurrentUser};

#[component]
pub fn HomePage() -> impl IntoView {
    let CurrentUser(user) = expect_context::<CurrentUser>();
    let rails = Resource::new(|| (), |_| home_rails());
    // created here, not inside the rails' Suspend (which may run twice): one resource per render
    let picks = Resource::new(|| (), |_| crate::api::recommend::recommended_for_you());
    let greeting = move || {
        Suspend::new(async move {
            match user.await.ok().flatten() {
                Some(u) => view! {
                    <p class="mt-4 text-stone-700" data-testid="welcome">"Welcome back, " {u.display_name} "."</p>
                }
                .into_any(),
                None => view! {
                    <div class="mt-6 flex flex-wrap gap-3">
                        <a href="/sign-up" class="rounded-md bg-amber-700 px-4 py-2 font-semibold text-white hover:bg-amber-800">"Create an account"</a>
                        <a href="/sign-up?as=dealer" class="rounded-md border border-stone-300 bg-white px-4 py-2 font-semibold text-stone-800 hover:bg-stone-100">"Sell as a dealer"</a>
                    </div>
                }
                .into_any(),
            }
        })
    };
    view! {
        <leptos_meta::Title text="" />
        <section class="rounded-2xl bg-gradient-to-br from-amber-50 to-stone-100 px-6 py-10 sm:px-10">
            <h1 class="max-w-2xl text-3xl font-bold tracking-tight sm:text-4xl">
                "Made for you, straight from the maker."
            </h1>
            <p class="mt-3 max-w-2xl text-lg text-stone-700">
                "Buy from independent dealers and commission custom work by talking with them directly — no intermediary in between."
            </p>
            <form method="get" action="/search" class="mt-6 flex max-w-xl gap-2" role="search">
                <input name="q" type="search" placeholder="Search handmade goods" aria-label="Search"
                    class="w-full rounded-md border border-stone-300 px-3 py-2 focus:border-amber-600 focus:outline-none focus:ring-2 focus:ring-amber-200" />
                <button type="submit" class="rounded-md bg-stone-900 px-4 py-2 font-semibold text-white hover:bg-stone-700">"Search"</button>
            </form>
            <Transition fallback=Loading>{greeting}</Transition>
        </section>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match rails.await {
                    Err(e) => view! { <ErrorBanner error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
                    Ok(h) => view! {
                        <nav class="mt-6 flex flex-wrap gap-2" aria-label="Categories">
                            {h.categories.into_iter().map(|(path, name)| view! {
                                <a href=format!("/search?category={path}") class="rounded-full border border-stone-300 bg-white px-3 py-1 text-sm hover:bg-stone-100">{name}</a>
                            }).collect_view()}
                        </nav>
                        <Rail title="Featured" cards=h.featured testid="rail-featured" />
                        <Recommended picks />
                        <Rail title="New in" cards=h.newest testid="rail-new" />
                        <Rail title="Trending" cards=h.trending testid="rail-trending" />
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

/// "Recommended for you": personal picks (the person's signals, this session's views) with the
/// reason for each; popular listings for someone new.
#[component]
fn Recommended(picks: Resource<Result<crate::api::recommend::RecommendedView, crate::AppError>>) -> impl IntoView {
    view! {
        <Transition fallback=|| view! { <section class="mt-10" aria-busy="true"><h2 class="mb-3 text-xl font-bold tracking-tight">"Recommended for you"</h2><Loading /></section> }>
            {move || Suspend::new(async move {
                match picks.await {
                    Ok(r) => {
                        let title = if r.personal { "Recommended for you" } else { "Popular with our customers" };
                        view! { <Rail title=title cards=r.cards testid="rail-recommended" /> }.into_any()
                    }
                    Err(e) => view! { <section class="mt-10"><ErrorBanner error=Signal::derive(move || Some(e.clone())) /></section> }.into_any(),
                }
            })}
        </Transition>
    }
}
