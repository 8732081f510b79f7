//! Building blocks shared by every page, so the look stays coherent: the navigation shell, cards,
//! form fields, buttons and status banners.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::{api::auth::SignOut, AppError, CurrentUser};

/// Reloads the whole page at `href` (used after sign-in and sign-out so every part of the page,
/// including the navigation, is rendered for the new session).
pub fn hard_navigate(href: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().set_href(href);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = href;
}

#[component]
pub fn Shell(children: Children) -> impl IntoView {
    let CurrentUser(user) = expect_context::<CurrentUser>();
    let unread = Resource::new(|| (), |_| crate::api::notify::unread_notifications());
    let in_cart = Resource::new(|| (), |_| crate::api::orders::cart_count());
    let menu_open = RwSignal::new(false);
    let sign_out = ServerAction::<SignOut>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = sign_out.value().get() {
            hard_navigate("/");
        }
    });
    let links = move || {
        Suspend::new(async move {
            let u = user.await.ok().flatten();
            let unread = unread.await.unwrap_or(0);
            let in_cart = in_cart.await.unwrap_or(0);
            let link = "block rounded-md px-3 py-2 text-sm font-medium text-stone-700 hover:bg-stone-100";
            let cart = view! {
                <A href="/cart" attr:class=link>
                    "Cart"
                    {(in_cart > 0).then(|| view! { <span class="ml-1 rounded-full bg-stone-800 px-2 py-0.5 text-xs font-semibold text-white" data-testid="cart-count">{in_cart}</span> })}
                </A>
            };
            match u {
                None => view! {
                    {cart}
                    <A href="/sign-in" attr:class=link>"Sign in"</A>
                    <A href="/sign-up" attr:class="block rounded-md bg-amber-700 px-3 py-2 text-sm font-semibold text-white hover:bg-amber-800">"Create account"</A>
                }
                .into_any(),
                Some(u) => {
                    let dealer = u.is_dealer().then(|| view! {
                        <A href="/dealer" attr:class=link>"Dealer"</A>
                        <A href="/dealer/orders" attr:class=link>"Sales"</A>
                        <A href="/dealer/requests" attr:class=link>"Custom requests"</A>
                    });
                    let admin = u.is_admin().then(|| view! { <A href="/admin" attr:class=link>"Admin"</A> });
                    view! {
                        {cart}
                        <A href="/orders" attr:class=link>"Orders"</A>
                        <A href="/requests" attr:class=link>"Requests"</A>
                        {dealer}
                        {admin}
                        <A href="/notifications" attr:class=link>
                            "Notifications"
                            {(unread > 0).then(|| view! {
                                <span class="ml-1 rounded-full bg-amber-700 px-2 py-0.5 text-xs font-semibold text-white" data-testid="unread-count">
                                    {unread}
                                </span>
                            })}
                        </A>
                        <A href="/account" attr:class=link>
                            <span data-testid="nav-user">{u.display_name.clone()}</span>
                        </A>
                        <ActionForm action=sign_out>
                            <button type="submit" class=link>"Sign out"</button>
                        </ActionForm>
                    }
                    .into_any()
                }
            }
        })
    };
    view! {
        <header class="border-b border-stone-200 bg-white">
            <nav class="mx-auto flex max-w-5xl flex-wrap items-center justify-between gap-2 px-4 py-3">
                <A href="/" attr:class="text-xl font-bold tracking-tight text-amber-800">"Bespoke"</A>
                <button
                    type="button"
                    class="rounded-md border border-stone-300 px-3 py-1 text-sm sm:hidden"
                    aria-label="Menu"
                    data-testid="menu-toggle"
                    aria-expanded=move || menu_open.get().to_string()
                    on:click=move |_| menu_open.update(|o| *o = !*o)
                >
                    "Menu"
                </button>
                <div class=move || {
                    format!(
                        "w-full flex-col gap-1 sm:flex sm:w-auto sm:flex-row sm:items-center {}",
                        if menu_open.get() { "flex" } else { "hidden" },
                    )
                }>
                    <Transition fallback=|| view! { <span class="px-3 py-2 text-sm text-stone-400">"…"</span> }>
                        {links}
                    </Transition>
                </div>
            </nav>
        </header>
        <main class="mx-auto max-w-5xl px-4 py-8">{children()}</main>
        <footer class="mx-auto max-w-5xl px-4 py-8 text-xs text-stone-500">
            "Bespoke — a marketplace with no intermediary between customers and dealers."
        </footer>
    }
}

#[component]
pub fn PageTitle(#[prop(into)] title: String, #[prop(optional, into)] subtitle: Option<String>) -> impl IntoView {
    view! {
        <leptos_meta::Title text=title.clone() />
        <div class="mb-6">
            <h1 class="text-2xl font-bold tracking-tight sm:text-3xl">{title}</h1>
            {subtitle.map(|s| view! { <p class="mt-1 text-stone-600">{s}</p> })}
        </div>
    }
}

#[component]
pub fn Card(#[prop(optional, into)] title: Option<String>, children: Children) -> impl IntoView {
    view! {
        <section class="mb-6 rounded-xl border border-stone-200 bg-white p-5 shadow-sm">
            {title.map(|t| view! { <h2 class="mb-4 text-lg font-semibold">{t}</h2> })}
            {children()}
        </section>
    }
}

/// A labelled input whose error (if the last submission failed on this field) shows beneath it.
#[component]
pub fn Field(
    #[prop(into)] label: String,
    #[prop(into)] name: String,
    #[prop(default = "text".into(), into)] kind: String,
    #[prop(optional, into)] autocomplete: Option<String>,
    #[prop(optional, into)] value: Option<String>,
    #[prop(optional)] minlength: Option<u32>,
    #[prop(optional)] maxlength: Option<u32>,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(default = true)] required: bool,
) -> impl IntoView {
    let id = format!("field-{name}");
    let err_id = format!("{id}-error");
    view! {
        <div class="mb-4">
            <label for=id.clone() class="mb-1 block text-sm font-medium text-stone-700">{label}</label>
            <input
                id=id
                name=name
                type=kind
                value=value
                autocomplete=autocomplete
                minlength=minlength
                maxlength=maxlength
                required=required
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=err_id.clone()
                class="w-full rounded-md border border-stone-300 px-3 py-2 focus:border-amber-600 focus:outline-none focus:ring-2 focus:ring-amber-200"
            />
            <p id=err_id class="mt-1 text-sm text-red-700" role="alert">{move || error.get()}</p>
        </div>
    }
}

/// A password input with a show/hide toggle (a control that works only once the page hydrated).
#[component]
pub fn PasswordField(
    #[prop(into)] label: String,
    #[prop(into)] name: String,
    #[prop(into)] autocomplete: String,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(default = 8)] minlength: u32,
) -> impl IntoView {
    let shown = RwSignal::new(false);
    let id = format!("field-{name}");
    let err_id = format!("{id}-error");
    view! {
        <div class="mb-4">
            <label for=id.clone() class="mb-1 block text-sm font-medium text-stone-700">{label}</label>
            <div class="flex gap-2">
                <input
                    id=id
                    name=name
                    type=move || if shown.get() { "text" } else { "password" }
                    autocomplete=autocomplete
                    minlength=minlength
                    maxlength=128
                    required=true
                    aria-describedby=err_id.clone()
                    class="w-full rounded-md border border-stone-300 px-3 py-2 focus:border-amber-600 focus:outline-none focus:ring-2 focus:ring-amber-200"
                />
                <button
                    type="button"
                    class="rounded-md border border-stone-300 px-3 text-sm text-stone-700 hover:bg-stone-100"
                    data-testid="toggle-password"
                    on:click=move |_| shown.update(|s| *s = !*s)
                >
                    {move || if shown.get() { "Hide" } else { "Show" }}
                </button>
            </div>
            <p id=err_id class="mt-1 text-sm text-red-700" role="alert">{move || error.get()}</p>
        </div>
    }
}

#[component]
pub fn SubmitButton(#[prop(into)] label: String, #[prop(into)] pending: Signal<bool>) -> impl IntoView {
    view! {
        <button
            type="submit"
            disabled=move || pending.get()
            class="inline-flex items-center justify-center rounded-md bg-amber-700 px-4 py-2 font-semibold text-white hover:bg-amber-800 disabled:cursor-wait disabled:opacity-60"
        >
            {move || if pending.get() { "Working…".to_owned() } else { label.clone() }}
        </button>
    }
}

/// Shows an error that is not tied to one field (with the request id when the server failed).
#[component]
pub fn ErrorBanner(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    move || {
        error.get().map(|e| {
            let rid = e.request_id.clone().filter(|_| e.code == "internal");
            view! {
                <div class="mb-4 rounded-md border border-red-200 bg-red-50 px-4 py-3 text-sm text-red-800" role="alert" data-testid="error-banner">
                    {e.message.clone()}
                    {rid.map(|r| view! { <span class="block text-xs text-red-600">"Request id: " {r}</span> })}
                </div>
            }
        })
    }
}

#[component]
pub fn Notice(#[prop(into)] text: String) -> impl IntoView {
    view! {
        <div class="mb-4 rounded-md border border-emerald-200 bg-emerald-50 px-4 py-3 text-sm text-emerald-800" role="status">
            {text}
        </div>
    }
}

/// Helpers to split a submission's error into "this field" and "the whole form".
pub fn field_error<T, S>(value: S, field: &'static str) -> Signal<Option<String>>
where
    T: Clone + Send + Sync + 'static,
    S: Get<Value = Option<Result<T, AppError>>> + Clone + Send + Sync + 'static,
{
    Signal::derive(move || value.get().and_then(|r| r.err()).and_then(|e| e.field_error(field)))
}

pub fn form_error<T, S>(value: S) -> Signal<Option<AppError>>
where
    T: Clone + Send + Sync + 'static,
    S: Get<Value = Option<Result<T, AppError>>> + Clone + Send + Sync + 'static,
{
    Signal::derive(move || value.get().and_then(|r| r.err()).filter(|e| e.field.is_none()))
}

/// Shown where a page needs a signed-in user.
#[component]
pub fn SignInPrompt() -> impl IntoView {
    view! {
        <Card>
            <p class="text-stone-700">"You need to sign in to see this page."</p>
            <a href="/sign-in" class="mt-3 inline-block font-semibold text-amber-800 underline">"Sign in"</a>
        </Card>
    }
}

#[component]
pub fn Loading() -> impl IntoView {
    view! { <p class="animate-pulse text-stone-500" aria-busy="true">"Loading…"</p> }
}

/// A listing in a grid: picture, title, price, store.
#[component]
pub fn ProductCard(card: crate::api::catalog::CardView) -> impl IntoView {
    let href = format!("/p/{}", card.slug);
    view! {
        <a href=href class="group block overflow-hidden rounded-xl border border-stone-200 bg-white shadow-sm hover:shadow-md" data-testid="product-card">
            <img src=card.image.clone() alt="" loading="lazy" class="aspect-[4/3] w-full bg-stone-100 object-cover" />
            <div class="p-3">
                <p class="line-clamp-2 text-sm font-medium text-stone-900 group-hover:text-amber-800">{card.title.clone()}</p>
                <p class="mt-1 text-sm font-semibold">{card.price.clone()}</p>
                <p class="text-xs text-stone-500">{card.store_name.clone()}</p>
                {card.reason.clone().map(|r| view! { <p class="mt-1 line-clamp-2 text-xs text-amber-800" data-testid="reason">{r}</p> })}
            </div>
        </a>
    }
}

/// A titled row of product cards.
#[component]
pub fn Rail(#[prop(into)] title: String, cards: Vec<crate::api::catalog::CardView>, #[prop(optional, into)] testid: String) -> impl IntoView {
    (!cards.is_empty()).then(|| {
        view! {
            <section class="mt-10" data-testid=testid>
                <h2 class="mb-3 text-xl font-bold tracking-tight">{title}</h2>
                <div class="grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-4">
                    {cards.into_iter().map(|c| view! { <ProductCard card=c /> }).collect_view()}
                </div>
            </section>
        }
    })
}

/// Calls `f` with each realtime push for the signed-in person (server-sent events from
/// `/api/v1/me/stream`, fed by the realtime hub) and once when the stream (re)connects, until the
/// component goes away. Browser only; a no-op while rendering on the server.
pub fn on_push(f: impl Fn(String) + 'static) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::__reexports::send_wrapper::SendWrapper;
        use wasm_bindgen::{closure::Closure, JsCast};
        let Ok(es) = web_sys::EventSource::new("/api/v1/me/stream") else { return };
        let cb = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            f(ev.data().as_string().unwrap_or_default());
        });
        let _ = es.add_event_listener_with_callback("push", cb.as_ref().unchecked_ref());
        let _ = es.add_event_listener_with_callback("ready", cb.as_ref().unchecked_ref());
        let keep = SendWrapper::new((es, cb));
        on_cleanup(move || {
            keep.0.close();
            drop(keep);
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = f;
}

/// A status pill for orders.
#[component]
pub fn StatusBadge(#[prop(into)] status: String, #[prop(into)] label: String) -> impl IntoView {
    let color = match status.as_str() {
        "paid" | "accepted" | "in_production" => "bg-sky-100 text-sky-800",
        "shipped" => "bg-indigo-100 text-indigo-800",
        "delivered" | "completed" => "bg-emerald-100 text-emerald-800",
        "declined" | "cancelled" | "refunded" => "bg-stone-200 text-stone-700",
        _ => "bg-amber-100 text-amber-800",
    };
    view! { <span class=format!("inline-block rounded-full px-2.5 py-0.5 text-xs font-semibold {color}") data-testid="status-badge">{label}</span> }
}

/// The primary and secondary button and the text input styles shared by the pages.
pub const BTN: &str = "rounded-md bg-amber-700 px-4 py-2 text-sm font-semibold text-white hover:bg-amber-800 disabled:opacity-60";
pub const BTN2: &str = "rounded-md border border-stone-300 px-4 py-2 text-sm font-semibold text-stone-800 hover:bg-stone-100 disabled:opacity-60";
pub const INPUT: &str = "w-full rounded-md border border-stone-300 px-3 py-2";

/// In the browser, bumps `tick` once a second while `flag` is set (a page following something the
/// server does on its own: a payment's outcome, a training run).
pub fn poll_while(flag: RwSignal<bool>, tick: RwSignal<u64>) {
    #[cfg(feature = "hydrate")]
    {
        let poll = move || {
            if flag.get_untracked() {
                tick.update(|t| *t += 1);
            }
        };
        if let Ok(h) = leptos::prelude::set_interval_with_handle(poll, std::time::Duration::from_secs(1)) {
            on_cleanup(move || h.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (flag, tick);
}
