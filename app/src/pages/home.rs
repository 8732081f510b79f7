use leptos::prelude::*;

use crate::{components::*, CurrentUser};

#[component]
pub fn HomePage() -> impl IntoView {
    let CurrentUser(user) = expect_context::<CurrentUser>();
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
        <section class="rounded-2xl bg-gradient-to-br from-amber-50 to-stone-100 px-6 py-12 sm:px-10">
            <h1 class="max-w-2xl text-3xl font-bold tracking-tight sm:text-4xl">
                "Made for you, straight from the maker."
            </h1>
            <p class="mt-3 max-w-2xl text-lg text-stone-700">
                "Buy from independent dealers and commission custom work by talking with them directly — no intermediary in between."
            </p>
            <Transition fallback=Loading>{greeting}</Transition>
        </section>
        <div class="mt-8 grid gap-4 sm:grid-cols-3">
            <Card title="Browse">
                <p class="text-sm text-stone-600">"Listings from approved dealers, with their own storefronts."</p>
            </Card>
            <Card title="Commission">
                <p class="text-sm text-stone-600">"Ask a dealer for a modification or a made-to-order piece and agree on a quote."</p>
            </Card>
            <Card title="Sell">
                <p class="text-sm text-stone-600">"Apply as a dealer; an admin approves your store before it opens."</p>
            </Card>
        </div>
    }
}
