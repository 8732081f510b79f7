use leptos::prelude::*;

use crate::components::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <PageTitle title="Page not found" />
        <Card>
            <p class="text-stone-700">"There is nothing at this address. It may have moved, or the link may be mistyped."</p>
            <a href="/" class="mt-3 inline-block font-semibold text-amber-800 underline">"Back to the home page"</a>
        </Card>
    }
}
