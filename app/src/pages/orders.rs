//! Cart, checkout, payment, order tracking (live), the dealer's order queue and balance.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

use crate::{api::orders::*, components::*};


fn err_view(e: crate::AppError) -> AnyView {
    if e.code == "unauthenticated" {
        return view! { <SignInPrompt /> }.into_any();
    }
    view! { <ErrorBanner error=Signal::derive(move || Some(e.clone())) /> }.into_any()
}

#[component]
pub fn CartPage() -> impl IntoView {
    let set_qty = ServerAction::<SetCartQuantity>::new();
    let remove = ServerAction::<RemoveCartItem>::new();
    let cart = Resource::new(move || (set_qty.version().get(), remove.version().get()), |_| get_cart());
    let action_error = Signal::derive(move || {
        set_qty.value().get().and_then(|r| r.err()).or_else(|| remove.value().get().and_then(|r| r.err()))
    });
    view! {
        <PageTitle title="Your cart" />
        <ErrorBanner error=action_error />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match cart.await {
                    Err(e) => err_view(e),
                    Ok(c) if c.groups.is_empty() => view! {
                        <Card><p class="text-stone-600" data-testid="cart-empty">"Your cart is empty."</p>
                            <a href="/search" class="mt-3 inline-block font-semibold text-amber-800 underline">"Browse the catalogue"</a></Card>
                    }.into_any(),
                    Ok(c) => view! {
                        {c.problem.clone().map(|p| view! { <div class="mb-4 rounded-md bg-amber-100 px-4 py-3 text-sm" role="status">{p}</div> })}
                        {c.groups.into_iter().map(|g| view! {
                            <Card title=format!("From {}", g.store_name)>
                                <ul class="divide-y divide-stone-200" data-testid="cart-group">
                                    {g.lines.into_iter().map(|l| {
                                        let id = l.id.clone();
                                        let id2 = l.id.clone();
                                        view! {
                                            <li class="flex flex-wrap items-center gap-3 py-3" data-testid="cart-line">
                                                {l.thumb_url.clone().map(|t| view! { <img src=t alt="" class="h-14 w-14 rounded-md object-cover" /> })}
                                                <div class="min-w-0 flex-1">
                                                    <a href=format!("/p/{}", l.product_slug) class="font-medium hover:underline">{l.title.clone()}</a>
                                                    <p class="text-xs text-stone-500">{l.options_label.clone()}</p>
                                                    {l.problem.clone().map(|p| view! { <p class="text-xs font-semibold text-red-700">{p}</p> })}
                                                </div>
                                                <label class="text-sm">"Qty "
                                                    <select class="rounded-md border border-stone-300 px-2 py-1" aria-label="Quantity" data-testid="cart-qty"
                                                        on:change=move |ev| {
                                                            let q = event_target_value(&ev).parse().unwrap_or(1);
                                                            set_qty.dispatch(SetCartQuantity { item: id.clone(), quantity: q });
                                                        }>
                                                        {(1..=20).map(|n| view! { <option value=n.to_string() selected=n == l.quantity>{n}</option> }).collect_view()}
                                                    </select>
                                                </label>
                                                <span class="w-24 text-right font-semibold">{l.line_total.display.clone()}</span>
                                                <button type="button" class="text-sm text-stone-500 underline" on:click=move |_| { remove.dispatch(RemoveCartItem { item: id2.clone() }); }>"Remove"</button>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                                <p class="mt-2 text-right text-sm text-stone-600">"Subtotal " {g.subtotal.display.clone()}</p>
                            </Card>
                        }).collect_view()}
                        <div class="flex flex-wrap items-center justify-end gap-4">
                            <p class="text-lg">"Total " <strong data-testid="cart-total">{c.total.map(|t| t.display).unwrap_or_default()}</strong></p>
                            {if c.can_check_out {
                                view! { <a href="/checkout" class=BTN data-testid="go-checkout">"Check out"</a> }.into_any()
                            } else {
                                view! { <button type="button" disabled=true class=BTN>"Check out"</button> }.into_any()
                            }}
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
pub fn CheckoutPage() -> impl IntoView {
    let form = Resource::new(|| (), |_| checkout_form());
    let place = ServerAction::<PlaceOrder>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = place.value().get() {
            navigate(&format!("/pay/{id}"), Default::default());
        }
    });
    let v = place.value();
    view! {
        <PageTitle title="Checkout" subtitle="One payment; each maker receives their own order." />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match form.await {
                    Err(e) => err_view(e),
                    Ok((cart, _)) if cart.groups.is_empty() => view! { <Card><p>"Your cart is empty."</p></Card> }.into_any(),
                    Ok((cart, key)) => view! {
                        <div class="grid gap-6 md:grid-cols-[1fr_18rem]">
                            <Card title="Shipping address">
                                <ErrorBanner error=form_error(v) />
                                <ActionForm action=place>
                                    <input type="hidden" name="idempotency_key" value=key />
                                    <Field label="Full name" name="name" autocomplete="name" error=field_error(v, "shipping_address.name") />
                                    <Field label="Street address" name="line1" autocomplete="address-line1" error=field_error(v, "shipping_address.line1") />
                                    <Field label="Apartment, suite (optional)" name="line2" autocomplete="address-line2" required=false error=field_error(v, "shipping_address.line2") />
                                    <div class="grid gap-x-4 sm:grid-cols-2">
                                        <Field label="City" name="city" autocomplete="address-level2" error=field_error(v, "shipping_address.city") />
                                        <Field label="Postal code" name="postal_code" autocomplete="postal-code" error=field_error(v, "shipping_address.postal_code") />
                                    </div>
                                    <Field label="Country (two letters, e.g. DE)" name="country" autocomplete="country" maxlength=2 error=field_error(v, "shipping_address.country") />
                                    <SubmitButton label="Place order and pay" pending=place.pending() />
                                </ActionForm>
                            </Card>
                            <Card title="Summary">
                                {cart.groups.iter().map(|g| view! {
                                    <p class="mt-2 text-sm font-semibold">{g.store_name.clone()}</p>
                                    <ul class="text-sm text-stone-600">
                                        {g.lines.iter().map(|l| view! { <li>{l.quantity} " × " {l.title.clone()} " — " {l.line_total.display.clone()}</li> }).collect_view()}
                                    </ul>
                                }).collect_view()}
                                <p class="mt-4 border-t border-stone-200 pt-3 text-lg">"Total " <strong>{cart.total.clone().map(|t| t.display).unwrap_or_default()}</strong></p>
                                <p class="mt-1 text-xs text-stone-500">"Shipping and taxes: included by the makers."</p>
                            </Card>
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
pub fn PayPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let tick = RwSignal::new(0u64);
    let pay = ServerAction::<SandboxPay>::new();
    let auth = ServerAction::<SandboxAuthenticate>::new();
    let cancel = ServerAction::<CancelCheckout>::new();
    let status = Resource::new(
        move || (id(), tick.get(), pay.version().get(), auth.version().get(), cancel.version().get()),
        |(id, ..)| checkout_status(id),
    );
    let config = Resource::new(|| (), |_| payment_config());
    // true while the page waits for the provider (not for the person's input): only then does it refresh
    let waiting = RwSignal::new(false);
    let card = RwSignal::new(String::new());
    // the confirmation arrives by webhook: follow it live, with a slow poll as a safety net
    on_push(move |_| {
        if waiting.get_untracked() {
            tick.update(|t| *t += 1);
        }
    });
    poll_while(waiting, tick);
    Effect::new(move |_| {
        // after a card was submitted, follow the outcome
        if pay.version().get() > 0 || auth.version().get() > 0 {
            waiting.set(true);
        }
    });
    let action_error = Signal::derive(move || {
        pay.value().get().and_then(|r| r.err()).or_else(|| auth.value().get().and_then(|r| r.err())).or_else(|| cancel.value().get().and_then(|r| r.err()))
    });
    view! {
        <PageTitle title="Payment" />
        <ErrorBanner error=action_error />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let provider = config.await.map(|c| c.0).unwrap_or_else(|_| "sandbox".into());
                match status.await {
                    Err(e) => err_view(e),
                    Ok(c) => {
                        let checkout_id = c.id.clone();
                        let settled = c.status != "pending_payment" || c.payment.status == "requires_action"
                            || (c.payment.status == "requires_payment" && pay.version().get_untracked() == 0);
                        waiting.set(!settled);
                        let summary = view! {
                            <p class="text-lg">"Total " <strong data-testid="pay-total">{c.total.display.clone()}</strong></p>
                            <ul class="mt-2 text-sm text-stone-600">
                                {c.orders.iter().map(|o| view! { <li>{o.number.clone()} " · " {o.store_name.clone()} " · " {o.total.display.clone()}</li> }).collect_view()}
                            </ul>
                        };
                        let body = match (c.status.as_str(), c.payment.status.as_str()) {
                            ("paid", _) => view! {
                                <div class="rounded-md bg-emerald-50 px-4 py-3 text-emerald-900" role="status" data-testid="pay-result">"Payment received — thank you!"</div>
                                <ul class="mt-4 space-y-1">
                                    {c.orders.iter().map(|o| view! { <li><a class="font-semibold text-amber-800 underline" href=format!("/orders/{}", o.id)>"Track order " {o.number.clone()} " from " {o.store_name.clone()}</a></li> }).collect_view()}
                                </ul>
                            }.into_any(),
                            ("pending_payment", "succeeded" | "processing") => view! {
                                <p class="text-stone-600" role="status" data-testid="pay-waiting">"Payment accepted, confirming your order…"</p>
                            }.into_any(),
                            ("pending_payment", "requires_action") if provider == "sandbox" => {
                                let (a, b) = (checkout_id.clone(), checkout_id.clone());
                                view! {
                                    <div class="rounded-md border border-sky-200 bg-sky-50 p-4" data-testid="challenge">
                                        <p class="font-semibold">"Your bank asks you to confirm this payment (sandbox 3-D Secure)."</p>
                                        <div class="mt-3 flex gap-3">
                                            <button type="button" class=BTN on:click=move |_| { auth.dispatch(SandboxAuthenticate { checkout: a.clone(), approve: true }); }>"Complete authentication"</button>
                                            <button type="button" class=BTN2 on:click=move |_| { auth.dispatch(SandboxAuthenticate { checkout: b.clone(), approve: false }); }>"Fail authentication"</button>
                                        </div>
                                    </div>
                                }.into_any()
                            }
                            ("pending_payment", _) if provider == "sandbox" => {
                                let cid = checkout_id.clone();
                                let cid2 = checkout_id.clone();
                                view! {
                                    <form class="max-w-sm" on:submit=move |ev| { ev.prevent_default(); pay.dispatch(SandboxPay { checkout: cid.clone(), card_number: card.get_untracked() }); }>
                                        <label class="block text-sm font-medium">"Card number"
                                            <input class=INPUT inputmode="numeric" autocomplete="cc-number" placeholder="4242 4242 4242 4242" data-testid="card-number"
                                                prop:value=move || card.get() on:input=move |ev| card.set(event_target_value(&ev)) />
                                        </label>
                                        <p class="mt-1 text-xs text-stone-500">"Sandbox test cards: 4242 4242 4242 4242 succeeds · 4000 0000 0000 0002 is declined · 4000 0025 0000 3155 asks for authentication."</p>
                                        <div class="mt-4 flex flex-wrap gap-3">
                                            <button type="submit" class=BTN disabled=move || pay.pending().get() data-testid="pay-button">{move || if pay.pending().get() { "Paying…" } else { "Pay now" }}</button>
                                            <button type="button" class=BTN2 on:click=move |_| { cancel.dispatch(CancelCheckout { id: cid2.clone() }); }>"Cancel"</button>
                                        </div>
                                    </form>
                                }.into_any()
                            }
                            ("pending_payment", _) => {
                                // Stripe: the Payment Element collects the card in Stripe's own frame
                                let pk = config.get().and_then(|c| c.ok()).and_then(|c| c.1).unwrap_or_default();
                                let secret = c.payment.client_secret.clone().unwrap_or_default();
                                let script = format!(
                                    "(function(){{var s=document.createElement('script');s.src='https://js.stripe.com/v3/';s.onload=function(){{var st=Stripe({pk:?});var el=st.elements({{clientSecret:{secret:?}}});el.create('payment').mount('#payment-element');document.getElementById('stripe-pay').onclick=function(){{st.confirmPayment({{elements:el,confirmParams:{{return_url:location.href}}}}).then(function(r){{if(r.error){{document.getElementById('stripe-error').textContent=r.error.message;}}}});}};}};document.head.appendChild(s);}})();"
                                );
                                view! {
                                    <div id="payment-element" class="mb-3"></div>
                                    <p id="stripe-error" class="mb-2 text-sm text-red-700" role="alert"></p>
                                    <button type="button" id="stripe-pay" class=BTN>"Pay now"</button>
                                    <script nonce=leptos::nonce::use_nonce() inner_html=script></script>
                                }.into_any()
                            }
                            (status, _) => view! {
                                <div class="rounded-md bg-red-50 px-4 py-3 text-red-900" role="alert" data-testid="pay-result">
                                    {match status { "expired" => "The payment was not completed in time.".to_owned(), "cancelled" => "You cancelled this checkout.".to_owned(), _ => format!("The payment failed: {}", c.payment.failure_reason.clone().unwrap_or_default()) }}
                                    " Your items are back in stock for everyone, and still in your cart."
                                </div>
                                <a href="/cart" class="mt-3 inline-block font-semibold text-amber-800 underline">"Back to the cart"</a>
                            }.into_any(),
                        };
                        view! { <Card>{summary}</Card><Card title="Pay">{body}</Card> }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn OrderList(orders: Vec<OrderSummary>, #[prop(optional)] dealer: bool) -> impl IntoView {
    if orders.is_empty() {
        return view! { <p class="text-stone-600" data-testid="no-orders">"No orders here yet."</p> }.into_any();
    }
    view! {
        <ul class="divide-y divide-stone-200" data-testid="order-list">
            {orders.into_iter().map(|o| view! {
                <li class="py-3">
                    <a href=format!("/orders/{}", o.id) class="flex flex-wrap items-center justify-between gap-2 hover:bg-stone-50" data-testid="order-row">
                        <span>
                            <span class="font-semibold">{o.number.clone()}</span>
                            <span class="text-sm text-stone-600">" · " {if dealer { o.customer_name.clone() } else { o.store_name.clone() }} " · " {o.item_count} " item(s): " {o.first_title.clone()}</span>
                        </span>
                        <span class="flex items-center gap-3"><StatusBadge status=o.status.clone() label=o.status_label.clone() /><span class="font-semibold">{o.total.display.clone()}</span></span>
                    </a>
                </li>
            }).collect_view()}
        </ul>
    }.into_any()
}

#[component]
pub fn OrdersPage() -> impl IntoView {
    let list = Resource::new(|| (), |_| my_orders());
    view! {
        <PageTitle title="Your orders" />
        <Card>
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match list.await {
                        Err(e) => err_view(e),
                        Ok(o) => view! { <OrderList orders=o /> }.into_any(),
                    }
                })}
            </Transition>
        </Card>
    }
}

#[component]
pub fn OrderPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let tick = RwSignal::new(0u64);
    let act = ServerAction::<OrderAction>::new();
    let review = ServerAction::<SaveReview>::new();
    let order = Resource::new(move || (id(), tick.get(), act.version().get(), review.version().get()), |(id, ..)| order_detail(id));
    // the tracking page follows the order live: every push about it reloads it
    on_push(move |msg| {
        if msg.contains("\"order\"") || msg == "{}" {
            tick.update(|t| *t += 1);
        }
    });
    let av = act.value();
    let carrier = RwSignal::new(String::new());
    let tracking = RwSignal::new(String::new());
    view! {
        <ErrorBanner error=form_error(av) />
        <ErrorBanner error=form_error(review.value()) />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match order.await {
                    Err(e) if e.code == "not_found" => view! { <PageTitle title="Order not found" /> }.into_any(),
                    Err(e) => err_view(e),
                    Ok(o) => view! { <OrderDetail o act review carrier tracking /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn OrderDetail(
    o: OrderView,
    act: ServerAction<OrderAction>,
    review: ServerAction<SaveReview>,
    carrier: RwSignal<String>,
    tracking: RwSignal<String>,
) -> impl IntoView {
    let id = o.id.clone();
    let acts = o.actions.clone();
    let has = move |a: &str| acts.iter().any(|x| x == a);
    let sid = id.clone();
    let simple = move |action: &'static str, label: &'static str, primary: bool| {
        let id = sid.clone();
        view! {
            <button type="button" class=if primary { BTN } else { BTN2 } data-testid=format!("action-{action}") disabled=move || act.pending().get()
                on:click=move |_| { act.dispatch(OrderAction { id: id.clone(), action: action.into(), carrier: String::new(), tracking_number: String::new(), reason: String::new() }); }>
                {label}
            </button>
        }
    };
    let ship_id = id.clone();
    let av = act.value();
    let can_review = has("review");
    let (has_accept, has_start_production, has_ship, has_deliver) = (has("accept"), has("start_production"), has("ship"), has("deliver"));
    let (has_decline, has_cancel, has_confirm_receipt) = (has("decline"), has("cancel"), has("confirm_receipt"));
    let no_actions = o.actions.is_empty();
    let title = format!("Order {}", o.number);
    view! {
        <PageTitle title=title subtitle=if o.viewer_is_dealer { format!("For {}", o.shipping_address.name) } else { format!("From {}", o.store_name) } />
        <div class="mb-4 flex flex-wrap items-center gap-3">
            <StatusBadge status=o.status.clone() label=o.status_label.clone() />
            <span class="text-sm text-stone-500" data-testid="order-status">{o.status.clone()}</span>
        </div>
        <div class="grid gap-6 md:grid-cols-[1fr_18rem]">
            <div>
                <Card title="Items">
                    <ul class="divide-y divide-stone-200">
                        {o.lines.iter().map(|l| {
                            let line_id = l.id.clone();
                            let order_id = o.id.clone();
                            view! {
                                <li class="py-3" data-testid="order-line">
                                    <div class="flex flex-wrap justify-between gap-2">
                                        <span><a href=format!("/p/{}", l.product_slug) class="font-medium hover:underline">{l.title.clone()}</a>
                                            <span class="text-sm text-stone-500">" × " {l.quantity}</span>
                                            <span class="block text-xs text-stone-500">{l.options_label.clone()}{l.made_to_order.then_some(" · made to order")}</span></span>
                                        <span class="font-semibold">{l.line_total.display.clone()}</span>
                                    </div>
                                    {o.viewer_is_dealer.then(|| view! { <p class="text-xs text-stone-500">"Commission " {l.commission.display.clone()}</p> })}
                                    {l.review.clone().map(|r| view! {
                                        <p class="mt-2 text-sm" data-testid="my-review">{"★".repeat(r.product_rating as usize)} " " {r.body.clone()}</p>
                                    })}
                                    {(can_review && l.review.as_ref().is_none_or(|r| r.editable)).then(|| view! { <ReviewForm order_id line_id review existing=l.review.clone() /> })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                    <dl class="mt-3 grid grid-cols-[1fr_auto] gap-y-1 text-sm">
                        <dt>"Subtotal"</dt><dd>{o.subtotal.display.clone()}</dd>
                        <dt>"Shipping"</dt><dd>{o.shipping.display.clone()}</dd>
                        <dt>"Tax"</dt><dd>{o.tax.display.clone()}</dd>
                        <dt class="font-semibold">"Total"</dt><dd class="font-semibold">{o.total.display.clone()}</dd>
                        {o.viewer_is_dealer.then(|| view! { <dt>"Platform commission"</dt><dd>"−" {o.commission.display.clone()}</dd><dt class="font-semibold">"You receive"</dt><dd class="font-semibold">{o.net.display.clone()}</dd> })}
                    </dl>
                </Card>
                <Card title="Tracking">
                    {o.tracking_number.clone().map(|t| view! { <p class="mb-3 text-sm" data-testid="tracking">"Shipped with " <strong>{o.carrier.clone().unwrap_or_default()}</strong> " · tracking number " <strong>{t}</strong></p> })}
                    <ol class="relative ml-2 border-l border-stone-300" data-testid="timeline">
                        {o.timeline.iter().map(|t| view! {
                            <li class="mb-3 ml-4">
                                <span class="absolute -left-1.5 mt-1.5 h-3 w-3 rounded-full bg-amber-600"></span>
                                <p class="text-sm font-semibold">{t.label.clone()}</p>
                                <p class="text-xs text-stone-500">{t.at.clone()}{(!t.note.is_empty()).then(|| format!(" · {}", t.note))}</p>
                            </li>
                        }).collect_view()}
                    </ol>
                </Card>
            </div>
            <div>
                <Card title="Actions">
                    <div class="flex flex-col gap-2">
                        {has_accept.then(|| simple("accept", "Accept order", true))}
                        {has_start_production.then(|| simple("start_production", "Start production", false))}
                        {has_ship.then(|| view! {
                            <form class="rounded-md border border-stone-200 p-3" on:submit=move |ev| {
                                ev.prevent_default();
                                act.dispatch(OrderAction { id: ship_id.clone(), action: "ship".into(), carrier: carrier.get_untracked(), tracking_number: tracking.get_untracked(), reason: String::new() });
                            }>
                                <label class="block text-sm font-medium">"Carrier"<input class=INPUT data-testid="carrier" prop:value=move || carrier.get() on:input=move |ev| carrier.set(event_target_value(&ev)) /></label>
                                {move || field_error(av, "carrier").get().map(|e| view! { <p class="text-xs text-red-700">{e}</p> })}
                                <label class="mt-2 block text-sm font-medium">"Tracking number"<input class=INPUT data-testid="tracking-number" prop:value=move || tracking.get() on:input=move |ev| tracking.set(event_target_value(&ev)) /></label>
                                {move || field_error(av, "tracking_number").get().map(|e| view! { <p class="text-xs text-red-700">{e}</p> })}
                                <button type="submit" class=format!("{BTN} mt-3") data-testid="action-ship">"Mark shipped"</button>
                            </form>
                        })}
                        {has_deliver.then(|| simple("deliver", "Mark delivered", true))}
                        {has_decline.then(|| simple("decline", "Decline and refund", false))}
                        {has_cancel.then(|| simple("cancel", "Cancel order (full refund)", false))}
                        {has_confirm_receipt.then(|| simple("confirm_receipt", "I received it", true))}
                        {no_actions.then(|| view! { <p class="text-sm text-stone-500">"Nothing to do right now."</p> })}
                    </div>
                </Card>
                <Card title="Ship to">
                    <p class="text-sm">{o.shipping_address.name.clone()}<br />{o.shipping_address.line1.clone()}<br />
                        {(!o.shipping_address.line2.is_empty()).then(|| view! { {o.shipping_address.line2.clone()}<br /> })}
                        {o.shipping_address.postal_code.clone()} " " {o.shipping_address.city.clone()}<br />{o.shipping_address.country.clone()}</p>
                    <p class="mt-2 text-xs text-stone-500">"Payment: " {o.payment_status.clone()}</p>
                </Card>
            </div>
        </div>
    }
}

#[component]
fn ReviewForm(order_id: String, line_id: String, review: ServerAction<SaveReview>, existing: Option<ReviewView>) -> impl IntoView {
    let product = RwSignal::new(existing.as_ref().map(|r| r.product_rating).unwrap_or(5));
    let dealer = RwSignal::new(existing.as_ref().map(|r| r.dealer_rating).unwrap_or(5));
    let body = RwSignal::new(existing.as_ref().map(|r| r.body.clone()).unwrap_or_default());
    let stars = |sig: RwSignal<i64>, label: &'static str, testid: &'static str| view! {
        <label class="mr-4 text-sm">{label} " "
            <select class="rounded-md border border-stone-300 px-2 py-1" data-testid=testid on:change=move |ev| sig.set(event_target_value(&ev).parse().unwrap_or(5))>
                {(1..=5).rev().map(|n| view! { <option value=n.to_string() selected=move || sig.get() == n>{"★".repeat(n as usize)}</option> }).collect_view()}
            </select>
        </label>
    };
    view! {
        <form class="mt-2 rounded-md bg-stone-50 p-3" data-testid="review-form" on:submit=move |ev| {
            ev.prevent_default();
            review.dispatch(SaveReview { order: order_id.clone(), line: line_id.clone(), product_rating: product.get_untracked(), dealer_rating: dealer.get_untracked(), body: body.get_untracked() });
        }>
            <p class="mb-1 text-sm font-semibold">{if existing.is_some() { "Edit your review" } else { "Review this item" }}</p>
            {stars(product, "Product", "review-product")}
            {stars(dealer, "Maker", "review-dealer")}
            <textarea class=format!("{INPUT} mt-2") rows="2" maxlength="2000" placeholder="What did you think?" data-testid="review-body"
                prop:value=move || body.get() on:input=move |ev| body.set(event_target_value(&ev))></textarea>
            <button type="submit" class=format!("{BTN} mt-2") data-testid="review-submit">{if existing.is_some() { "Save changes" } else { "Publish review" }}</button>
        </form>
    }
}

#[component]
pub fn DealerOrdersPage() -> impl IntoView {
    let query = use_query_map();
    let status = move || query.with(|q| q.get("status").unwrap_or_default());
    let tick = RwSignal::new(0u64);
    on_push(move |msg| {
        if msg.contains("\"order\"") {
            tick.update(|t| *t += 1);
        }
    });
    let list = Resource::new(move || (status(), tick.get()), |(s, _)| dealer_queue(s));
    let filters = [("", "All"), ("paid", "New"), ("accepted", "Accepted"), ("in_production", "In production"), ("shipped", "Shipped"), ("delivered", "Delivered"), ("completed", "Completed"), ("refunded", "Refunded")];
    view! {
        <PageTitle title="Orders" subtitle="Your queue: accept, produce, ship and deliver." />
        <nav class="mb-4 flex flex-wrap gap-2" aria-label="Filter by status">
            {filters.into_iter().map(|(s, label)| view! {
                <a href=if s.is_empty() { "/dealer/orders".to_owned() } else { format!("/dealer/orders?status={s}") }
                    class=move || format!("rounded-full border px-3 py-1 text-sm {}", if status() == s { "border-amber-700 bg-amber-700 text-white" } else { "border-stone-300" })>{label}</a>
            }).collect_view()}
            <a href="/dealer/balance" class="ml-auto text-sm font-semibold text-amber-800 underline">"Balance"</a>
        </nav>
        <Card>
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match list.await {
                        Err(e) => err_view(e),
                        Ok(o) => view! { <OrderList orders=o dealer=true /> }.into_any(),
                    }
                })}
            </Transition>
        </Card>
    }
}

#[component]
pub fn BalancePage() -> impl IntoView {
    let b = Resource::new(|| (), |_| dealer_balance());
    view! {
        <PageTitle title="Balance" subtitle="Each order's amount after commission is pending until delivery plus the hold period, then available." />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match b.await {
                    Err(e) => err_view(e),
                    Ok(b) => view! {
                        <div class="mb-6 grid gap-4 sm:grid-cols-2">
                            <Card title="Available"><p class="text-3xl font-semibold" data-testid="balance-available">{b.available.display.clone()}</p></Card>
                            <Card title="Pending"><p class="text-3xl font-semibold" data-testid="balance-pending">{b.pending.display.clone()}</p></Card>
                        </div>
                        <Card title="History">
                            {if b.entries.is_empty() {
                                view! { <p class="text-stone-600">"No sales yet."</p> }.into_any()
                            } else {
                                view! {
                                    <div class="overflow-x-auto">
                                        <table class="w-full text-left text-sm">
                                            <thead><tr class="text-stone-500"><th class="py-1">"Order"</th><th>"Gross"</th><th>"Commission"</th><th>"Net"</th><th>"State"</th></tr></thead>
                                            <tbody>
                                                {b.entries.into_iter().map(|e| view! {
                                                    <tr class="border-t border-stone-200">
                                                        <td class="py-1"><a class="underline" href=format!("/orders/{}", e.order_id)>{e.order_number.clone()}</a></td>
                                                        <td>{e.gross.display.clone()}</td><td>{e.commission.display.clone()}</td><td class="font-semibold">{e.net.display.clone()}</td>
                                                        <td>{e.state.clone()}{e.available_at.clone().filter(|_| e.state == "pending").map(|a| format!(" until {}", a.get(..10).unwrap_or("")))}</td>
                                                    </tr>
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    </div>
                                }.into_any()
                            }}
                        </Card>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

/// "Add to cart" on the product page: the chosen options and a quantity; the price is the server's.
#[component]
pub fn AddToCartButton(product: String, chosen: Signal<Vec<Choice>>, #[prop(into)] disabled: bool) -> impl IntoView {
    let add = ServerAction::<AddToCart>::new();
    let qty = RwSignal::new(1i64);
    let v = add.value();
    view! {
        <div class="flex flex-wrap items-center gap-3">
            <label class="text-sm">"Quantity "
                <input type="number" min="1" max="99" class="w-20 rounded-md border border-stone-300 px-2 py-2" data-testid="quantity"
                    prop:value=move || qty.get().to_string() on:input=move |ev| qty.set(event_target_value(&ev).parse().unwrap_or(1)) />
            </label>
            <button type="button" class=BTN disabled=move || disabled || add.pending().get() data-testid="add-to-cart"
                on:click=move |_| { add.dispatch(AddToCart { product: product.clone(), options: chosen.get_untracked(), quantity: qty.get_untracked() }); }>
                {move || if add.pending().get() { "Adding…" } else { "Add to cart" }}
            </button>
            {move || match v.get() {
                Some(Ok(c)) => view! { <span class="text-sm text-emerald-700" role="status" data-testid="added">"Added · " <a href="/cart" class="font-semibold underline">{format!("Cart ({})", c.item_count)}</a></span> }.into_any(),
                Some(Err(e)) => view! { <span class="text-sm text-red-700" role="alert" data-testid="add-error">{e.message.clone()}</span> }.into_any(),
                None => ().into_any(),
            }}
        </div>
    }
}

/// The reviews under a product.
#[component]
pub fn ReviewsSection(product_id: String, rating: Option<(f64, i64)>) -> impl IntoView {
    let reviews = Resource::new(move || product_id.clone(), product_reviews);
    view! {
        <Card title="Reviews">
            {rating.map(|(a, n)| view! { <p class="mb-3 text-sm" data-testid="rating-summary"><strong>{format!("{a:.1}")}</strong> " out of 5 · " {n} " review(s)"</p> })}
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match reviews.await {
                        Err(e) => err_view(e),
                        Ok(list) if list.is_empty() => view! { <p class="text-sm text-stone-600">"No reviews yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="divide-y divide-stone-200" data-testid="reviews">
                                {list.into_iter().map(|r| view! {
                                    <li class="py-2">
                                        <p class="text-sm"><span class="text-amber-600" aria-label=format!("{} stars", r.product_rating)>{"★".repeat(r.product_rating as usize)}</span>
                                            " " <span class="font-medium">{r.author.clone()}</span> " · " <span class="text-xs text-stone-500">{r.created_at.get(..10).unwrap_or("").to_owned()}</span></p>
                                        <p class="text-sm text-stone-700">{r.body.clone()}</p>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                    }
                })}
            </Transition>
        </Card>
    }
}

/// The dealer dashboard's sales box: balance (pending / available) and the way to the queue.
#[component]
pub fn SalesSummary() -> impl IntoView {
    let b = Resource::new(|| (), |_| dealer_balance());
    let new_orders = Resource::new(|| (), |_| dealer_new_order_count());
    view! {
        <Card title="Sales">
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    let n = new_orders.await.unwrap_or(0);
                    match b.await {
                        Err(e) => err_view(e),
                        Ok(b) => view! {
                            <div class="flex flex-wrap items-center gap-6">
                                <p><span class="block text-xs text-stone-500">"Available"</span><strong class="text-xl">{b.available.display.clone()}</strong></p>
                                <p><span class="block text-xs text-stone-500">"Pending"</span><strong class="text-xl">{b.pending.display.clone()}</strong></p>
                                <a href="/dealer/orders?status=paid" class=BTN data-testid="new-orders">{format!("{n} new order(s)")}</a>
                                <a href="/dealer/balance" class="text-sm font-semibold text-amber-800 underline">"Balance history"</a>
                            </div>
                        }.into_any(),
                    }
                })}
            </Transition>
        </Card>
    }
}
