//! Customization: the request form on a product, the inboxes (customer and dealer), and the live
//! thread page (WebSocket: messages, typing, read receipts, quotes; reconnects resume from the last
//! message seen).

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

use crate::{api::custom::*, components::*};


/// "Request customization" on a product page (`product`), or "Request something custom" on a store
/// page (`store`): a short form, with optional reference images, that opens a thread with the maker.
#[component]
pub fn RequestCustomization(
    #[prop(optional, into)] product: String,
    #[prop(optional, into)] store: String,
    #[prop(into)] own: bool,
    /// The listing's options chosen on the product page: they go with the request.
    #[prop(optional, into)]
    choices: Option<Signal<Vec<crate::api::orders::Choice>>>,
) -> impl IntoView {
    let choices_json = move || choices.map(|c| serde_json::to_string(&c.get()).unwrap_or_default()).unwrap_or_default();
    let has_choices = move || choices.is_some_and(|c| !c.get().is_empty());
    let open = RwSignal::new(false);
    let req = ServerAction::<RequestCustomization>::new();
    let navigate = use_navigate();
    let images = NodeRef::<leptos::html::Input>::new();
    let uploading = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(id)) = req.value().get() {
            // the reference images go to the new thread, then the thread opens
            #[cfg(feature = "hydrate")]
            {
                let navigate = navigate.clone();
                let input = images.get_untracked();
                uploading.set(true);
                leptos::task::spawn_local(async move {
                    let outcome = match input {
                        Some(input) => upload_images(&id, &input).await,
                        None => Ok(()),
                    };
                    uploading.set(false);
                    let q = outcome.err().map(|e| format!("?attach_error={}", crate::api::catalog::urlencode(&e))).unwrap_or_default();
                    navigate(&format!("/requests/{id}{q}"), Default::default());
                });
            }
            #[cfg(not(feature = "hydrate"))]
            {
                let _ = (&images, uploading);
                navigate(&format!("/requests/{id}"), Default::default());
            }
        }
    });
    let v = req.value();
    let label = if store.is_empty() { "Request customization" } else { "Request something custom" };
    view! {
        <button type="button" class=BTN2 data-testid="request-customization" disabled=own on:click=move |_| open.update(|o| *o = !*o)>
            {label}
        </button>
        {move || open.get().then({
            let (product, store) = (product.clone(), store.clone());
            move || view! {
            <div class="mt-3 w-full rounded-md border border-stone-200 bg-white p-4" data-testid="request-form">
                <ErrorBanner error=form_error(v) />
                <ActionForm action=req>
                    <input type="hidden" name="product" value=product />
                    <input type="hidden" name="store" value=store />
                    <input type="hidden" name="choices" prop:value=choices_json />
                    {move || has_choices().then(|| view! { <p class="mb-2 text-sm text-stone-600" data-testid="request-choices-note">"The options you chose above go with your request."</p> })}
                    <label class="block text-sm font-medium">"What would you like?"
                        <textarea name="text" rows="3" maxlength="2000" required=true class=INPUT data-testid="request-text"></textarea>
                    </label>
                    {move || field_error(v, "text").get().map(|e| view! { <p class="text-xs text-red-700">{e}</p> })}
                    <div class="mt-2 grid gap-3 sm:grid-cols-2">
                        <label class="block text-sm font-medium">"Budget (optional)"<input name="budget" inputmode="decimal" class=INPUT data-testid="request-budget" /></label>
                        <label class="block text-sm font-medium">"Needed by (optional)"<input name="deadline" type="date" class=INPUT /></label>
                    </div>
                    {move || field_error(v, "budget").get().map(|e| view! { <p class="text-xs text-red-700">{e}</p> })}
                    // no name: the images are not part of the form's fields; they are sent once the thread exists
                    <label class="mt-2 block text-sm font-medium">"Reference images (optional: PNG, JPEG or WebP, up to 5 MB each)"
                        <input node_ref=images type="file" multiple=true accept="image/png,image/jpeg,image/webp" class="mt-1 block w-full text-sm" data-testid="request-images" />
                    </label>
                    <div class="mt-3 flex items-center gap-3">
                        <SubmitButton label="Send request" pending=req.pending() />
                        {move || uploading.get().then(|| view! { <span class="text-sm text-stone-600" data-testid="uploading">"Sending images…"</span> })}
                    </div>
                </ActionForm>
            </div>
        }})}
    }
}

#[component]
pub fn RequestsPage() -> impl IntoView {
    view! { <Inbox dealer=false /> }
}

#[component]
pub fn DealerRequestsPage() -> impl IntoView {
    view! { <Inbox dealer=true /> }
}

#[component]
fn Inbox(dealer: bool) -> impl IntoView {
    let query = use_query_map();
    let status = move || query.with(|q| q.get("status").unwrap_or_default());
    let list = Resource::new(status, my_threads);
    let base = if dealer { "/dealer/requests" } else { "/requests" };
    let filters = [("", "All"), ("new", "New"), ("in_discussion", "In discussion"), ("quoted", "Quoted"), ("accepted", "Accepted"), ("declined", "Declined"), ("expired", "Expired")];
    view! {
        <PageTitle title=if dealer { "Custom requests" } else { "Your custom requests" } subtitle="Talk with the maker, agree on a quote, then it goes through checkout." />
        <nav class="mb-4 flex flex-wrap gap-2" aria-label="Filter by status">
            {filters.into_iter().map(|(s, label)| view! {
                <a href=if s.is_empty() { base.to_owned() } else { format!("{base}?status={s}") }
                    class=move || format!("rounded-full border px-3 py-1 text-sm {}", if status() == s { "border-amber-700 bg-amber-700 text-white" } else { "border-stone-300" })>{label}</a>
            }).collect_view()}
        </nav>
        <Card>
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match list.await {
                        Err(e) if e.code == "unauthenticated" => view! { <SignInPrompt /> }.into_any(),
                        Err(e) => view! { <ErrorBanner error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
                        Ok((me, threads)) => {
                            let threads: Vec<ThreadView> = threads.into_iter().filter(|t| (t.dealer_id == me) == dealer).collect();
                            if threads.is_empty() {
                                return view! { <p class="text-stone-600" data-testid="no-requests">"No requests here yet."</p> }.into_any();
                            }
                            view! {
                                <ul class="divide-y divide-stone-200" data-testid="request-list">
                                    {threads.into_iter().map(|t| view! {
                                        <li class="py-3">
                                            <a href=format!("/requests/{}", t.id) class="flex flex-wrap items-center justify-between gap-2 hover:bg-stone-50" data-testid="request-row">
                                                <span class="min-w-0">
                                                    <span class="font-semibold">{t.product_title.clone()}</span>
                                                    <span class="block truncate text-sm text-stone-600">{t.request_text.clone()}</span>
                                                </span>
                                                <span class="flex items-center gap-2">
                                                    {(t.unread > 0).then(|| view! { <span class="rounded-full bg-amber-700 px-2 py-0.5 text-xs font-semibold text-white" data-testid="unread">{t.unread}</span> })}
                                                    <StatusBadge status=t.status.clone() label=t.status.replace('_', " ") />
                                                </span>
                                            </a>
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </Card>
    }
}

/// The live state of one thread page.
#[derive(Clone, Copy)]
struct Live {
    messages: RwSignal<Vec<MessageView>>,
    /// When the other person last typed (ms since page load), for "typing…".
    typing_at: RwSignal<Option<f64>>,
    /// The other participant's last read message.
    their_read: RwSignal<i64>,
    connected: RwSignal<bool>,
    error: RwSignal<Option<String>>,
}

impl Live {
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn last_seq(&self) -> i64 {
        self.messages.with_untracked(|m| m.last().map(|x| x.seq).unwrap_or(0))
    }

    /// Adds messages, keeping the list ordered and free of duplicates (a reconnect may overlap).
    fn merge(&self, incoming: Vec<MessageView>) {
        self.messages.update(|list| {
            for m in incoming {
                // an answer to a quote carries the quote's new status: show it on the quote itself
                if let Some(q) = &m.quote {
                    for earlier in list.iter_mut() {
                        if let Some(eq) = earlier.quote.as_mut().filter(|eq| eq.id == q.id) {
                            *eq = q.clone();
                        }
                    }
                }
                match list.binary_search_by_key(&m.seq, |x| x.seq) {
                    Ok(i) => list[i] = m,
                    Err(i) => list.insert(i, m),
                }
            }
        });
    }
}

#[component]
pub fn ThreadPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let data = Resource::new(id, thread_detail);
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) if e.code == "not_found" => view! { <PageTitle title="Conversation not found" /> }.into_any(),
                    Err(e) if e.code == "unauthenticated" => view! { <SignInPrompt /> }.into_any(),
                    Err(e) => view! { <ErrorBanner error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
                    Ok((t, messages, me)) => view! { <Thread t messages me /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Thread(t: ThreadView, messages: Vec<MessageView>, me: String) -> impl IntoView {
    let live = Live {
        messages: RwSignal::new(messages),
        typing_at: RwSignal::new(None),
        their_read: RwSignal::new(0),
        connected: RwSignal::new(false),
        error: RwSignal::new(None),
    };
    let draft = RwSignal::new(String::new());
    let other = if t.viewer_is_dealer { t.customer_id.clone() } else { t.dealer_id.clone() };
    let socket = connect(t.id.clone(), me.clone(), other.clone(), live);
    let older = ServerAction::<OlderMessages>::new();
    Effect::new(move |_| {
        if let Some(Ok(list)) = older.value().get() {
            live.merge(list);
        }
    });
    let quote = ServerAction::<OfferQuote>::new();
    let respond = ServerAction::<RespondQuote>::new();
    let decline = ServerAction::<DeclineRequest>::new();
    let counter = ServerAction::<CounterQuote>::new();
    Effect::new(move |_| {
        let answers = [
            quote.value().get().and_then(|r| r.ok()),
            respond.value().get().and_then(|r| r.ok()),
            decline.value().get().and_then(|r| r.ok()),
            counter.value().get().and_then(|r| r.ok()),
        ];
        for m in answers.into_iter().flatten() {
            live.merge(vec![m]);
        }
    });
    let fallback_post = ServerAction::<PostThreadMessage>::new();
    Effect::new(move |_| {
        if let Some(r) = fallback_post.value().get() {
            match r {
                Ok(m) => live.merge(vec![m]),
                Err(e) => live.error.set(Some(e.message)),
            }
        }
    });
    let tid = t.id.clone();
    let send_message = move || {
        let body = draft.get_untracked();
        if body.trim().is_empty() {
            return;
        }
        let frame = serde_json::json!({ "type": "message", "body": body }).to_string();
        if !socket.send(&frame) {
            fallback_post.dispatch(PostThreadMessage { id: tid.clone(), body });
        }
        draft.set(String::new());
    };
    let me2 = me.clone();
    let is_dealer = t.viewer_is_dealer;
    let read_only = t.read_only;
    let thread_id = t.id.clone();
    let qv = quote.value();
    let decline_id = t.id.clone();
    let query = use_query_map();
    let attach_action = format!("/requests/{}/attachments", t.id);
    view! {
        <PageTitle title=t.product_title.clone() subtitle=if is_dealer { "Custom request from a customer".to_owned() } else { "Your custom request".to_owned() } />
        <div class="mb-3 flex flex-wrap items-center gap-3 text-sm">
            <StatusBadge status=t.status.clone() label=t.status.replace('_', " ") />
            {t.budget.clone().map(|b| view! { <span>"Budget " <strong>{b}</strong></span> })}
            {t.deadline.clone().map(|d| view! { <span>"Needed by " <strong>{d}</strong></span> })}
            <span class=move || if live.connected.get() { "text-emerald-700" } else { "text-stone-500" } data-testid="live-status">
                {move || if live.connected.get() { "● live" } else { "○ connecting…" }}
            </span>
        </div>
        <ErrorBanner error=Signal::derive(move || live.error.get().map(|m| crate::AppError::new("error", m))) />
        <ErrorBanner error=form_error(counter.value()) />
        {move || query.with(|q| q.get("attach_error")).map(|m| view! { <div class="mb-3 rounded-md bg-red-50 px-3 py-2 text-sm text-red-800" role="alert" data-testid="attach-error">{m}</div> })}
        <Card>
            <button type="button" class="mb-3 text-sm text-amber-800 underline" data-testid="load-earlier"
                on:click={
                    let id = thread_id.clone();
                    move |_| {
                        let first = live.messages.with_untracked(|m| m.first().map(|x| x.seq).unwrap_or(1));
                        older.dispatch(OlderMessages { id: id.clone(), before: first });
                    }
                }>"Load earlier messages"</button>
            <ol class="space-y-3" data-testid="messages" aria-live="polite">
                <For each=move || live.messages.get() key=|m| (m.seq, m.quote.as_ref().map(|q| q.status.clone())) let:m>
                    <MessageBubble m=m.clone() mine=m.author_id == me2 live respond counter can_answer=!is_dealer && !read_only />
                </For>
            </ol>
            <p class="mt-2 h-5 text-xs text-stone-500" data-testid="typing">
                {move || live.typing_at.get().map(|_| "typing…")}
            </p>
            {(!read_only).then(|| view! {
                <form class="mt-2 flex gap-2" on:submit=move |ev| { ev.prevent_default(); send_message(); }>
                    <input class=INPUT placeholder="Write a message" maxlength="2000" data-testid="message-input"
                        prop:value=move || draft.get()
                        on:input=move |ev| { draft.set(event_target_value(&ev)); socket.typing(); } />
                    <button type="submit" class=BTN data-testid="send">"Send"</button>
                </form>
                // a plain form: works without JavaScript, and the other side sees the image live
                <form method="post" enctype="multipart/form-data" action=attach_action.clone() class="mt-2 flex flex-wrap items-center gap-2 text-sm" data-testid="attach-form">
                    <input type="file" name="image" accept="image/png,image/jpeg,image/webp" required=true class="min-w-0 flex-1 text-sm" data-testid="attach-input" />
                    <input name="caption" maxlength="500" placeholder="Caption (optional)" class="min-w-0 flex-1 rounded-md border border-stone-300 px-2 py-1" />
                    <button type="submit" class=BTN2 data-testid="attach-send">"Send image"</button>
                </form>
            })}
        </Card>
        {(is_dealer && !read_only).then(|| view! {
            <Card title="Send a quote">
                <ErrorBanner error=form_error(qv) />
                <ActionForm action=quote>
                    <input type="hidden" name="id" value=t.id.clone() />
                    <input type="hidden" name="valid_days" value="7" />
                    <div class="grid gap-3 sm:grid-cols-2">
                        <label class="block text-sm font-medium">"Price"<input name="price" inputmode="decimal" required=true class=INPUT data-testid="quote-price" /></label>
                        <label class="block text-sm font-medium">"Lead time (days)"<input name="lead_time_days" type="number" min="1" max="365" value="14" required=true class=INPUT data-testid="quote-days" /></label>
                    </div>
                    {move || field_error(qv, "price").get().map(|e| view! { <p class="text-xs text-red-700">{e}</p> })}
                    <label class="mt-2 block text-sm font-medium">"What you will make"<textarea name="spec" rows="2" maxlength="1000" required=true class=INPUT data-testid="quote-spec"></textarea></label>
                    <div class="mt-3"><SubmitButton label="Send quote" pending=quote.pending() /></div>
                </ActionForm>
                <ErrorBanner error=form_error(decline.value()) />
                <ActionForm action=decline attr:class="mt-4 border-t border-stone-200 pt-4">
                    <input type="hidden" name="id" value=decline_id />
                    <label class="block text-sm font-medium">"Or decline the request (optional reason)"<input name="reason" maxlength="500" class=INPUT data-testid="decline-reason" /></label>
                    <button type="submit" class=format!("{BTN2} mt-2") data-testid="decline-request">"Decline request"</button>
                </ActionForm>
            </Card>
        })}
        <Card title="The request">
            <p class="whitespace-pre-wrap text-sm text-stone-700">{t.request_text.clone()}</p>
            {(!t.choices.is_empty()).then(|| view! {
                <ul class="mt-2 flex flex-wrap gap-2 text-xs" data-testid="request-choices">
                    {t.choices.iter().map(|c| view! { <li class="rounded-full bg-stone-100 px-2 py-1">{c.clone()}</li> }).collect_view()}
                </ul>
            })}
            <p class="mt-2 flex gap-4 text-sm font-semibold">
                {t.listing_url.clone().map(|u| view! { <a href=u class="text-amber-800 underline">"The listing"</a> })}
                {t.store_url.clone().map(|u| view! { <a href=u class="text-amber-800 underline">"The maker's store"</a> })}
            </p>
        </Card>
    }
}

#[component]
fn MessageBubble(m: MessageView, mine: bool, live: Live, respond: ServerAction<RespondQuote>, counter: ServerAction<CounterQuote>, can_answer: bool) -> impl IntoView {
    let seq = m.seq;
    let countering = RwSignal::new(false);
    let side = if mine { "ml-auto bg-amber-50 border-amber-200" } else { "mr-auto bg-white border-stone-200" };
    let quote = m.quote.clone().filter(|_| m.kind == "quote");
    view! {
        <li class=format!("max-w-[85%] rounded-lg border px-3 py-2 {side}") data-testid=format!("message-{}", m.kind)>
            {match quote {
                Some(q) => {
                    let (a, d, c) = (q.id.clone(), q.id.clone(), q.id.clone());
                    let open = q.status == "offered";
                    view! {
                        <p class="text-xs font-semibold uppercase tracking-wide text-stone-500">"Quote"</p>
                        <p class="text-lg font-semibold" data-testid="quote-amount">{q.price.clone()}</p>
                        <p class="text-sm">{format!("Ready in {} days · valid until {}", q.lead_time_days, q.expires_at.get(..10).unwrap_or(""))}</p>
                        <p class="whitespace-pre-wrap text-sm">{q.spec.clone()}</p>
                        <p class="mt-1 text-xs" data-testid="quote-status">{q.status.clone()}</p>
                        {(open && can_answer).then(|| view! {
                            <div class="mt-2 flex gap-2">
                                <button type="button" class=BTN data-testid="accept-quote" on:click=move |_| { respond.dispatch(RespondQuote { quote: a.clone(), accept: true }); }>"Accept and add to cart"</button>
                                <button type="button" class=BTN2 on:click=move |_| { respond.dispatch(RespondQuote { quote: d.clone(), accept: false }); }>"Decline"</button>
                                <button type="button" class=BTN2 data-testid="counter-quote" on:click=move |_| countering.update(|c| *c = !*c)>"Counter-offer"</button>
                            </div>
                        })}
                        {move || { let c = c.clone(); (open && can_answer && countering.get()).then(move || view! {
                            <ActionForm action=counter attr:class="mt-2 space-y-2" attr:data-testid="counter-form">
                                <input type="hidden" name="quote" value=c />
                                <label class="block text-sm font-medium">"Your price"<input name="price" inputmode="decimal" required=true class=INPUT data-testid="counter-price" /></label>
                                <label class="block text-sm font-medium">"Note (optional)"<input name="note" maxlength="1000" class=INPUT data-testid="counter-note" /></label>
                                <SubmitButton label="Send counter-offer" pending=counter.pending() />
                            </ActionForm>
                        }) }}
                        {(q.status == "accepted" && can_answer).then(|| view! { <a href="/cart" class="mt-2 inline-block font-semibold text-amber-800 underline" data-testid="to-cart">"Go to the cart"</a> })}
                    }.into_any()
                }
                None => view! {
                    {m.counter.clone().map(|c| view! {
                        <p class="text-xs font-semibold uppercase tracking-wide text-stone-500">"Counter-offer"</p>
                        <p class="text-lg font-semibold" data-testid="counter-amount">{c}</p>
                    })}
                    {m.attachment.clone().map(|a| view! {
                        <a href=a.url.clone() target="_blank" rel="noopener" class="block" data-testid="attachment">
                            <img src=a.thumb_url.clone() alt="Reference image" loading="lazy" class="max-h-64 rounded-md border border-stone-200"
                                width=a.width.min(480).to_string() />
                        </a>
                    })}
                    <p class=if m.kind == "system" { "text-sm italic text-stone-600" } else { "whitespace-pre-wrap text-sm" }>{m.body.clone()}</p>
                }.into_any(),
            }}
            <p class="mt-1 text-right text-[11px] text-stone-400">
                {m.created_at.get(11..16).unwrap_or("").to_owned()}
                {move || (mine && live.their_read.get() >= seq).then_some(" · seen")}
            </p>
        </li>
    }
}

/// Sends the chosen files to a thread, one request each; the first refusal's message is the error.
#[cfg(feature = "hydrate")]
async fn upload_images(thread: &str, input: &web_sys::HtmlInputElement) -> Result<(), String> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    let Some(files) = input.files() else { return Ok(()) };
    for i in 0..files.length() {
        let Some(file) = files.get(i) else { continue };
        let fd = web_sys::FormData::new().map_err(|_| "the browser could not prepare the upload".to_owned())?;
        fd.append_with_blob_and_filename("image", &file, &file.name()).map_err(|_| "the browser could not read the file".to_owned())?;
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_body(&fd);
        let sent = JsFuture::from(window().fetch_with_str_and_init(&format!("/api/v1/threads/{thread}/attachments"), &init))
            .await
            .map_err(|_| "the images could not be sent (network)".to_owned())?;
        let resp: web_sys::Response = sent.dyn_into().map_err(|_| "unexpected answer".to_owned())?;
        if !resp.ok() {
            let text = match resp.text() {
                Ok(p) => JsFuture::from(p).await.ok().and_then(|t| t.as_string()),
                Err(_) => None,
            };
            // the error body is `{"error": {"message": ...}}`
            let msg = text
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("an image was refused ({})", resp.status()));
            return Err(format!("{}: {msg}", file.name()));
        }
    }
    Ok(())
}

/// The page's socket: send returns false when it is not open (the caller falls back to HTTP).
#[derive(Clone, Copy)]
struct Socket {
    #[cfg(feature = "hydrate")]
    inner: StoredValue<Option<leptos::__reexports::send_wrapper::SendWrapper<web_sys::WebSocket>>>,
}

impl Socket {
    fn send(&self, text: &str) -> bool {
        #[cfg(feature = "hydrate")]
        {
            return self.inner.with_value(|s| s.as_ref().is_some_and(|ws| ws.ready_state() == web_sys::WebSocket::OPEN && ws.send_with_str(text).is_ok()));
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = text;
            false
        }
    }

    fn typing(&self) {
        self.send(r#"{"type":"typing"}"#);
    }
}

/// Opens the thread's WebSocket (browser only), resuming after the last message this page has, and
/// reconnects after a drop; closes when the page goes away.
fn connect(thread_id: String, me: String, other: String, live: Live) -> Socket {
    #[cfg(feature = "hydrate")]
    {
        use leptos::__reexports::send_wrapper::SendWrapper;
        use std::{cell::Cell, rc::Rc};
        use wasm_bindgen::{closure::Closure, JsCast};

        let inner = StoredValue::new(None::<SendWrapper<web_sys::WebSocket>>);
        let alive = Rc::new(Cell::new(true));
        fn open(thread_id: String, me: String, other: String, live: Live, inner: StoredValue<Option<SendWrapper<web_sys::WebSocket>>>, alive: Rc<Cell<bool>>) {
            let loc = window().location();
            let scheme = if loc.protocol().unwrap_or_default() == "https:" { "wss" } else { "ws" };
            let url = format!("{scheme}://{}/api/v1/threads/{thread_id}/ws?after={}", loc.host().unwrap_or_default(), live.last_seq());
            let Ok(ws) = web_sys::WebSocket::new(&url) else { return };
            let on_open = Closure::<dyn FnMut()>::new(move || live.connected.set(true));
            ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
            on_open.forget();
            let (me2, other2) = (me.clone(), other.clone());
            let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                let text = ev.data().as_string().unwrap_or_default();
                let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                match v["type"].as_str() {
                    Some("message") => {
                        if let Ok(m) = serde_json::from_value::<MessageView>(v["message"].clone()) {
                            let (seq, from_other) = (m.seq, m.author_id != me2);
                            live.merge(vec![m]);
                            if from_other {
                                live.typing_at.set(None);
                                inner.with_value(|s| {
                                    if let Some(ws) = s {
                                        let _ = ws.send_with_str(&format!(r#"{{"type":"read","seq":{seq}}}"#));
                                    }
                                });
                            }
                        }
                    }
                    Some("typing") if v["user_id"].as_str() == Some(other2.as_str()) => {
                        let now = js_sys_now();
                        live.typing_at.set(Some(now));
                        set_timeout(move || {
                            if live.typing_at.get_untracked() == Some(now) {
                                live.typing_at.set(None);
                            }
                        }, std::time::Duration::from_secs(3));
                    }
                    Some("read") if v["user_id"].as_str() == Some(other2.as_str()) => {
                        let seq = v["seq"].as_i64().unwrap_or(0);
                        live.their_read.update(|r| *r = (*r).max(seq));
                    }
                    Some("error") => live.error.set(v["message"].as_str().map(str::to_owned)),
                    _ => {}
                }
            });
            ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            on_message.forget();
            let alive2 = alive.clone();
            let on_close = Closure::<dyn FnMut()>::new(move || {
                live.connected.set(false);
                if alive2.get() {
                    let (t, me, other, alive) = (thread_id.clone(), me.clone(), other.clone(), alive2.clone());
                    set_timeout(move || open(t, me, other, live, inner, alive), std::time::Duration::from_secs(1));
                }
            });
            ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
            on_close.forget();
            inner.set_value(Some(SendWrapper::new(ws)));
        }
        fn js_sys_now() -> f64 {
            window().performance().map(|p| p.now()).unwrap_or(0.0)
        }
        open(thread_id, me, other, live, inner, alive.clone());
        let alive = SendWrapper::new(alive);
        on_cleanup(move || {
            alive.set(false);
            inner.with_value(|s| {
                if let Some(ws) = s {
                    let _ = ws.close();
                }
            });
        });
        Socket { inner }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (thread_id, me, other, live);
        Socket {}
    }
}
