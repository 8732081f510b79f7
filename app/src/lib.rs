//! The Bespoke UI: routes, pages and components, rendered on the server and hydrated in the browser.
//! Server functions in `api/` are thin adapters over the service crates (feature `ssr` only).

#![recursion_limit = "256"]

pub mod api;
pub mod components;
mod error;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

pub use error::AppError;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};

use crate::{api::UserView, components::Shell, pages::*};

/// The HTML document around the app (server side only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // the integration made a nonce for this response's inline scripts: the server's security layer
    // puts it in the Content-Security-Policy header
    #[cfg(feature = "ssr")]
    if let (Some(n), Some(ro)) = (leptos::nonce::use_nonce(), use_context::<leptos_axum::ResponseOptions>()) {
        if let Ok(v) = http::HeaderValue::from_str(&n) {
            ro.insert_header(http::HeaderName::from_static("x-bespoke-csp-nonce"), v);
        }
    }
    // the stylesheet is named like the bundle (content-hashed by the build)
    let css = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="description" content="Bespoke: buy from and commission work directly from independent dealers." />
                <link rel="stylesheet" href=css />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body class="min-h-screen bg-stone-50 text-stone-900 antialiased">
                <App />
            </body>
        </html>
    }
}

/// The signed-in user, loaded once per page and shared through context.
#[derive(Clone, Copy)]
pub struct CurrentUser(pub Resource<Result<Option<UserView>, AppError>>);

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let user = Resource::new(|| (), |_| api::auth::current_user());
    provide_context(CurrentUser(user));

    view! {
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        // leptos_meta writes the title into the server-rendered <head> unescaped: angle brackets from
        // user text (a listing's title) must not be able to close the <title> element
        <Title formatter=|t: String| {
            let t = t.replace('<', "‹").replace('>', "›");
            if t.is_empty() { "Bespoke".to_owned() } else { format!("{t} · Bespoke") }
        } />
        <Router>
            <Shell>
                // the pages a CDN may keep for anonymous visitors are rendered whole before they are
                // sent (not streamed out of order), so the same data gives the same bytes and ETag
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async />
                    <Route path=path!("/sign-up") view=SignUpPage ssr=SsrMode::Async />
                    <Route path=path!("/sign-in") view=SignInPage ssr=SsrMode::Async />
                    <Route path=path!("/account") view=AccountPage />
                    <Route path=path!("/dealer") view=DealerPage />
                    <Route path=path!("/dealer/import") view=ImportPage />
                    <Route path=path!("/dealer/products/:id") view=ListingEditorPage />
                    <Route path=path!("/search") view=SearchPage ssr=SsrMode::Async />
                    <Route path=path!("/p/:slug") view=ProductPage ssr=SsrMode::Async />
                    <Route path=path!("/s/:slug") view=StorePage ssr=SsrMode::Async />
                    <Route path=path!("/admin") view=AdminPage />
                    <Route path=path!("/notifications") view=NotificationsPage />
                    <Route path=path!("/cart") view=CartPage />
                    <Route path=path!("/checkout") view=CheckoutPage />
                    <Route path=path!("/pay/:id") view=PayPage />
                    <Route path=path!("/orders") view=OrdersPage />
                    <Route path=path!("/orders/:id") view=OrderPage />
                    <Route path=path!("/dealer/orders") view=DealerOrdersPage />
                    <Route path=path!("/dealer/balance") view=BalancePage />
                    <Route path=path!("/requests") view=RequestsPage />
                    <Route path=path!("/requests/:id") view=ThreadPage />
                    <Route path=path!("/dealer/requests") view=DealerRequestsPage />
                </Routes>
            </Shell>
        </Router>
    }
}
