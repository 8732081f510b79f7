//! The admin console at /admin: one page, one tab per job (`?tab=`): the dashboard's figures and
//! charts, users, dealer applications, listing moderation, orders and refunds, event health and the
//! audit log. Filters are plain GET forms, so every view has a link.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::{api::admin::*, components::*, CurrentUser};

const TABS: [(&str, &str); 9] = [
    ("overview", "Overview"),
    ("users", "Users"),
    ("dealers", "Dealer applications"),
    ("listings", "Listings"),
    ("orders", "Orders"),
    ("threads", "Custom requests"),
    ("events", "Events"),
    ("recommendations", "Recommendations"),
    ("audit", "Audit log"),
];

const SMALL_INPUT: &str = "rounded-md border border-stone-300 px-2 py-1 text-sm";
const SMALL_BTN: &str = "rounded-md bg-amber-700 px-3 py-1 text-sm font-semibold text-white hover:bg-amber-800 disabled:opacity-60";
const SMALL_BTN2: &str = "rounded-md border border-stone-300 px-3 py-1 text-sm hover:bg-stone-100 disabled:opacity-60";

fn q(name: &'static str) -> impl Fn() -> String + Copy {
    let query = use_query_map();
    move || query.with(|m| m.get(name).unwrap_or_default())
}

fn error_view(e: crate::AppError) -> AnyView {
    view! { <ErrorBanner error=Signal::derive(move || Some(e.clone())) /> }.into_any()
}

#[component]
pub fn AdminPage() -> impl IntoView {
    let CurrentUser(user) = expect_context::<CurrentUser>();
    let tab = q("tab");
    view! {
        <PageTitle title="Admin" subtitle="Keep the marketplace safe: people, listings, orders and the system's health." />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match user.await.ok().flatten() {
                    None => view! { <SignInPrompt /> }.into_any(),
                    Some(u) if !u.is_admin() => view! { <Card><p>"Only admins can see this page."</p></Card> }.into_any(),
                    Some(_) => view! {
                        <nav class="mb-5 flex flex-wrap gap-2" aria-label="Admin sections">
                            {TABS.iter().map(|(key, label)| view! {
                                <a href=format!("/admin?tab={key}")
                                    class=move || { let cur = tab(); let on = cur == *key || (cur.is_empty() && *key == "overview");
                                        format!("rounded-full border px-3 py-1 text-sm {}", if on { "border-amber-700 bg-amber-700 text-white" } else { "border-stone-300 bg-white" }) }>
                                    {*label}
                                </a>
                            }).collect_view()}
                        </nav>
                        {move || match tab().as_str() {
                            "users" => view! { <Users /> }.into_any(),
                            "dealers" => view! { <PendingDealers /> }.into_any(),
                            "listings" => view! { <Listings /> }.into_any(),
                            "orders" => view! { <Orders /> }.into_any(),
                            "threads" => view! { <Threads /> }.into_any(),
                            "events" => view! { <Events /> }.into_any(),
                            "recommendations" => view! { <Recommendations /> }.into_any(),
                            "audit" => view! { <Audit /> }.into_any(),
                            _ => view! { <Overview /> }.into_any(),
                        }}
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

// ---- overview -----------------------------------------------------------------------------

#[component]
fn Overview() -> impl IntoView {
    let days = q("days");
    let period = move || days().parse::<i64>().ok().filter(|d| [7, 30, 90].contains(d)).unwrap_or(30);
    let kpis = Resource::new(period, admin_kpis);
    view! {
        <div class="mb-4 flex flex-wrap items-center gap-2 text-sm">
            <span class="text-stone-600">"Period:"</span>
            {[7, 30, 90].into_iter().map(|d| view! {
                <a href=format!("/admin?tab=overview&days={d}")
                    class=move || format!("rounded-full border px-3 py-1 {}", if period() == d { "border-stone-800 bg-stone-800 text-white" } else { "border-stone-300 bg-white" })>
                    {format!("{d} days")}
                </a>
            }).collect_view()}
        </div>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match kpis.await {
                    Err(e) => error_view(e),
                    Ok(k) => view! { <KpiBoard k /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Tile(#[prop(into)] label: String, #[prop(into)] value: String, #[prop(optional, into)] note: String) -> impl IntoView {
    view! {
        <div class="rounded-xl border border-stone-200 bg-white p-4 shadow-sm" data-testid="kpi">
            <p class="text-xs uppercase tracking-wide text-stone-500">{label}</p>
            <p class="mt-1 text-2xl font-bold">{value}</p>
            {(!note.is_empty()).then(|| view! { <p class="text-xs text-stone-500">{note.clone()}</p> })}
        </div>
    }
}

#[component]
fn KpiBoard(k: Kpis) -> impl IntoView {
    let conversion = k.conversion_pct.map(|c| format!("{c:.1} %")).unwrap_or_else(|| "—".into());
    let orders: Vec<(String, i64)> = k.series.iter().map(|r| (r.date.clone(), r.orders)).collect();
    let gmv: Vec<(String, i64)> = k.series.iter().map(|r| (r.date.clone(), r.gmv_minor / 100)).collect();
    let listings: Vec<(String, i64)> = k.series.iter().map(|r| (r.date.clone(), r.new_listings)).collect();
    let checkouts: Vec<(String, i64)> = k.series.iter().map(|r| (r.date.clone(), r.checkouts_started)).collect();
    view! {
        <div class="mb-6 grid grid-cols-2 gap-3 sm:grid-cols-4">
            <Tile label="Paid orders" value=k.orders.to_string() />
            <Tile label="Gross merchandise value" value=k.gmv.clone() />
            <Tile label="Checkout conversion" value=conversion note="paid / started" />
            <Tile label="New listings" value=k.new_listings.to_string() />
            <Tile label="Active users" value=k.active_users.to_string() note=format!("{} new", k.new_users) />
            <Tile label="Accounts" value=k.users.to_string() note=format!("{} dealers · {} suspended", k.dealers, k.suspended) />
            <Tile label="Requests" value=format!("{:.2}/s", k.requests_per_second) note=format!("{} since start", k.requests) />
            <Tile label="Latency p95 · errors" value=format!("≤ {:.0} ms", k.p95_ms) note=format!("{:.2} % server errors", k.error_rate_pct) />
        </div>
        <div class="grid gap-4 md:grid-cols-2">
            <Card title="Paid orders per day"><BarChart points=orders label="orders" /></Card>
            <Card title="Gross merchandise value per day (whole units)"><BarChart points=gmv label="value" /></Card>
            <Card title="Checkouts started per day"><BarChart points=checkouts label="checkouts" /></Card>
            <Card title="New listings per day"><BarChart points=listings label="listings" /></Card>
        </div>
    }
}

/// A bar per day, as inline SVG (no script, no styles outside the stylesheet: the CSP holds).
#[component]
fn BarChart(points: Vec<(String, i64)>, #[prop(into)] label: String) -> impl IntoView {
    let n = points.len().max(1) as f64;
    let max = points.iter().map(|p| p.1).max().unwrap_or(0).max(1) as f64;
    let (w, h) = (600.0_f64, 160.0_f64);
    let bw = w / n;
    let first = points.first().map(|p| p.0.clone()).unwrap_or_default();
    let last = points.last().map(|p| p.0.clone()).unwrap_or_default();
    let total: i64 = points.iter().map(|p| p.1).sum();
    view! {
        <figure data-testid="kpi-chart">
            <svg viewBox=format!("0 0 {w} {}", h + 2.0) class="h-40 w-full" role="img" aria-label=format!("{label} per day, {total} in all, highest {max}")>
                <line x1="0" y1=h.to_string() x2=w.to_string() y2=h.to_string() class="stroke-stone-300" stroke-width="1" />
                {points.into_iter().enumerate().map(|(i, (date, v))| {
                    let bh = (v as f64 / max) * (h - 4.0);
                    view! {
                        <rect x=format!("{:.1}", i as f64 * bw + bw * 0.15) y=format!("{:.1}", h - bh) width=format!("{:.1}", bw * 0.7) height=format!("{bh:.1}") class="fill-amber-600">
                            <title>{format!("{date}: {v}")}</title>
                        </rect>
                    }
                }).collect_view()}
            </svg>
            <figcaption class="mt-1 flex justify-between text-xs text-stone-500"><span>{first}</span><span>{format!("max {max}")}</span><span>{last}</span></figcaption>
        </figure>
    }
}

// ---- users --------------------------------------------------------------------------------

#[component]
fn Users() -> impl IntoView {
    let (qq, role, status) = (q("q"), q("role"), q("status"));
    let suspend = ServerAction::<SuspendUser>::new();
    let reinstate = ServerAction::<ReinstateUser>::new();
    let set_role = ServerAction::<ChangeRole>::new();
    let list = Resource::new(
        move || (qq(), role(), status(), suspend.version().get(), reinstate.version().get(), set_role.version().get()),
        |(q, role, status, ..)| admin_users(q, role, status),
    );
    view! {
        <Card>
            <form method="get" action="/admin" class="flex flex-wrap items-end gap-2" data-testid="user-search">
                <input type="hidden" name="tab" value="users" />
                <label class="flex-1 text-sm">"Email or name"
                    <input name="q" value=qq maxlength=200 class=INPUT placeholder="e.g. carmen" /></label>
                <label class="text-sm">"Role"
                    <select name="role" class="block rounded-md border border-stone-300 px-2 py-2">
                        {[("", "Any"), ("customer", "Customer"), ("dealer", "Dealer"), ("admin", "Admin")].into_iter().map(|(v, l)| view! { <option value=v selected=move || role() == v>{l}</option> }).collect_view()}
                    </select></label>
                <label class="text-sm">"Status"
                    <select name="status" class="block rounded-md border border-stone-300 px-2 py-2">
                        {[("", "Any"), ("active", "Active"), ("suspended", "Suspended")].into_iter().map(|(v, l)| view! { <option value=v selected=move || status() == v>{l}</option> }).collect_view()}
                    </select></label>
                <button type="submit" class=BTN>"Search"</button>
            </form>
        </Card>
        <ErrorBanner error=form_error(suspend.value()) />
        <ErrorBanner error=form_error(reinstate.value()) />
        <ErrorBanner error=form_error(set_role.value()) />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match list.await {
                    Err(e) => error_view(e),
                    Ok(v) if v.is_empty() => view! { <Card><p class="text-stone-600">"Nobody matches."</p></Card> }.into_any(),
                    Ok(v) => view! {
                        <ul class="divide-y divide-stone-200 rounded-xl border border-stone-200 bg-white" data-testid="users">
                            {v.into_iter().map(|u| view! { <UserRow u suspend reinstate set_role /> }).collect_view()}
                        </ul>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn UserRow(u: AdminUser, suspend: ServerAction<SuspendUser>, reinstate: ServerAction<ReinstateUser>, set_role: ServerAction<ChangeRole>) -> impl IntoView {
    let (id, id2, id3) = (u.id.clone(), u.id.clone(), u.id.clone());
    let role = u.role.clone();
    view! {
        <li class="flex flex-wrap items-center justify-between gap-3 p-3" data-testid="user-row" data-email=u.email.clone()>
            <div class="min-w-0">
                <p class="font-medium">{u.display_name.clone()}
                    {u.suspended.then(|| view! { <span class="ml-2 rounded-full bg-red-100 px-2 py-0.5 text-xs font-semibold text-red-800" data-testid="suspended">"suspended"</span> })}
                </p>
                <p class="truncate text-sm text-stone-500">{u.email.clone()} " · " {u.role.clone()}
                    {u.dealer_status.clone().map(|s| format!(" ({s})"))} {u.mfa_enabled.then_some(" · MFA")} " · joined " {u.created_at.chars().take(10).collect::<String>()}</p>
            </div>
            <div class="flex flex-wrap items-center gap-2">
                <ActionForm action=set_role attr:class="flex gap-1">
                    <input type="hidden" name="user_id" value=id3 />
                    <select name="role" class=SMALL_INPUT aria-label="Role">
                        {["customer", "dealer", "admin"].into_iter().map(|r| view! { <option value=r selected=role == r>{r}</option> }).collect_view()}
                    </select>
                    <button type="submit" class=SMALL_BTN2>"Set role"</button>
                </ActionForm>
                {if u.suspended {
                    view! {
                        <ActionForm action=reinstate>
                            <input type="hidden" name="user_id" value=id />
                            <button type="submit" class=SMALL_BTN2>"Reinstate"</button>
                        </ActionForm>
                    }.into_any()
                } else {
                    view! {
                        <ActionForm action=suspend attr:class="flex gap-1">
                            <input type="hidden" name="user_id" value=id2 />
                            <input name="reason" required maxlength=500 placeholder="Reason" class=SMALL_INPUT aria-label="Reason for the suspension" />
                            <button type="submit" class="rounded-md bg-red-700 px-3 py-1 text-sm font-semibold text-white hover:bg-red-800">"Suspend"</button>
                        </ActionForm>
                    }.into_any()
                }}
            </div>
        </li>
    }
}

// ---- dealer applications ------------------------------------------------------------------

#[component]
fn PendingDealers() -> impl IntoView {
    let decide = ServerAction::<DecideDealer>::new();
    let list = Resource::new(move || decide.version().get(), |_| pending_dealers());
    view! {
        <Card title="Pending dealers">
            <ErrorBanner error=form_error(decide.value()) />
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match list.await {
                        Err(e) => error_view(e),
                        Ok(v) if v.is_empty() => view! { <p class="text-stone-600" data-testid="no-pending">"No applications are waiting."</p> }.into_any(),
                        Ok(v) => view! {
                            <ul class="divide-y divide-stone-200" data-testid="pending-dealers">
                                {v.into_iter().map(|d| { let id2 = d.id.clone(); view! {
                                    <li class="flex flex-wrap items-center justify-between gap-3 py-3">
                                        <div>
                                            <p class="font-medium">{d.display_name.clone()}</p>
                                            <p class="text-sm text-stone-500">{d.email.clone()} " · applied " {d.created_at.clone()}</p>
                                        </div>
                                        <div class="flex flex-wrap gap-2">
                                            <ActionForm action=decide>
                                                <input type="hidden" name="dealer_id" value=d.id.clone() />
                                                <input type="hidden" name="approve" value="true" />
                                                <button type="submit" class="rounded-md bg-emerald-700 px-3 py-1 text-sm font-semibold text-white hover:bg-emerald-800">"Approve"</button>
                                            </ActionForm>
                                            <ActionForm action=decide attr:class="flex gap-2">
                                                <input type="hidden" name="dealer_id" value=id2 />
                                                <input type="hidden" name="approve" value="false" />
                                                <input name="reason" placeholder="Reason" maxlength=500 class=format!("w-32 {SMALL_INPUT}") />
                                                <button type="submit" class=SMALL_BTN2>"Reject"</button>
                                            </ActionForm>
                                        </div>
                                    </li>
                                }}).collect_view()}
                            </ul>
                        }.into_any(),
                    }
                })}
            </Transition>
        </Card>
    }
}

// ---- listings -----------------------------------------------------------------------------

#[component]
fn Listings() -> impl IntoView {
    let (qq, moderated) = (q("q"), q("moderated"));
    let act = ServerAction::<ModerateListing>::new();
    let list = Resource::new(move || (qq(), moderated() == "true", act.version().get()), |(q, m, _)| admin_listings(q, m));
    view! {
        <Card>
            <form method="get" action="/admin" class="flex flex-wrap items-end gap-2">
                <input type="hidden" name="tab" value="listings" />
                <label class="flex-1 text-sm">"Title"<input name="q" value=qq maxlength=200 class=INPUT /></label>
                <label class="flex items-center gap-2 text-sm"><input type="checkbox" name="moderated" value="true" checked=move || moderated() == "true" />"Moderated only"</label>
                <button type="submit" class=BTN>"Search"</button>
            </form>
        </Card>
        <ErrorBanner error=form_error(act.value()) />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match list.await {
                    Err(e) => error_view(e),
                    Ok(v) if v.is_empty() => view! { <Card><p class="text-stone-600">"No listing matches."</p></Card> }.into_any(),
                    Ok(v) => view! {
                        <ul class="divide-y divide-stone-200 rounded-xl border border-stone-200 bg-white" data-testid="listings">
                            {v.into_iter().map(|l| { let id = l.id.clone(); view! {
                                <li class="flex flex-wrap items-center justify-between gap-3 p-3" data-testid="listing-row">
                                    <div class="min-w-0">
                                        <a href=format!("/p/{}", l.slug) class="font-medium underline">{l.title.clone()}</a>
                                        <p class="text-sm text-stone-500">{l.store_name.clone()} " · " {l.status.clone()}
                                            {l.moderation_note.clone().map(|n| view! { <span class="text-red-700">{format!(" · unlisted: {n}")}</span> })}</p>
                                    </div>
                                    {if l.moderation_note.is_some() {
                                        view! {
                                            <ActionForm action=act>
                                                <input type="hidden" name="id" value=id />
                                                <input type="hidden" name="restore" value="true" />
                                                <button type="submit" class=SMALL_BTN2>"Restore to draft"</button>
                                            </ActionForm>
                                        }.into_any()
                                    } else {
                                        view! {
                                            <ActionForm action=act attr:class="flex gap-1">
                                                <input type="hidden" name="id" value=id />
                                                <input name="reason" required maxlength=500 placeholder="Reason (the dealer is told)" class=SMALL_INPUT aria-label="Reason" />
                                                <button type="submit" class="rounded-md bg-red-700 px-3 py-1 text-sm font-semibold text-white hover:bg-red-800">"Unlist"</button>
                                            </ActionForm>
                                        }.into_any()
                                    }}
                                </li>
                            }}).collect_view()}
                        </ul>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

// ---- orders -------------------------------------------------------------------------------

#[component]
fn Orders() -> impl IntoView {
    let (qq, status) = (q("q"), q("status"));
    let refund = ServerAction::<AdminRefund>::new();
    let list = Resource::new(move || (status(), qq(), refund.version().get()), |(s, q, _)| admin_orders(s, q));
    view! {
        <Card>
            <form method="get" action="/admin" class="flex flex-wrap items-end gap-2">
                <input type="hidden" name="tab" value="orders" />
                <label class="flex-1 text-sm">"Order number"<input name="q" value=qq maxlength=40 class=INPUT /></label>
                <label class="text-sm">"Status"
                    <select name="status" class="block rounded-md border border-stone-300 px-2 py-2">
                        {[("", "Any"), ("placed", "Placed"), ("paid", "Paid"), ("accepted", "Accepted"), ("in_production", "In production"), ("shipped", "Shipped"), ("delivered", "Delivered"), ("completed", "Completed"), ("cancelled", "Cancelled"), ("refunded", "Refunded")]
                            .into_iter().map(|(v, l)| view! { <option value=v selected=move || status() == v>{l}</option> }).collect_view()}
                    </select></label>
                <button type="submit" class=BTN>"Search"</button>
            </form>
        </Card>
        <ErrorBanner error=form_error(refund.value()) />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match list.await {
                    Err(e) => error_view(e),
                    Ok(v) if v.is_empty() => view! { <Card><p class="text-stone-600">"No order matches."</p></Card> }.into_any(),
                    Ok(v) => view! {
                        <ul class="divide-y divide-stone-200 rounded-xl border border-stone-200 bg-white" data-testid="admin-orders">
                            {v.into_iter().map(|o| {
                                let refundable = ["paid", "accepted", "in_production", "shipped", "delivered", "completed"].contains(&o.status.as_str());
                                let id = o.id.clone();
                                view! {
                                    <li class="flex flex-wrap items-center justify-between gap-3 p-3">
                                        <div>
                                            <a href=format!("/orders/{}", o.id) class="font-medium underline">{o.number.clone()}</a>
                                            " " <StatusBadge status=o.status.clone() label=o.status_label.clone() />
                                            <p class="text-sm text-stone-500">{o.store_name.clone()} " · " {o.customer_name.clone()} " · " {o.total.display.clone()} " · " {o.created_at.chars().take(10).collect::<String>()}</p>
                                        </div>
                                        {refundable.then(|| view! {
                                            <ActionForm action=refund attr:class="flex gap-1">
                                                <input type="hidden" name="order_id" value=id />
                                                <input name="reason" required maxlength=500 placeholder="Reason" class=SMALL_INPUT aria-label="Reason for the refund" />
                                                <button type="submit" class=SMALL_BTN2>"Refund in full"</button>
                                            </ActionForm>
                                        })}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

// ---- events -------------------------------------------------------------------------------

#[component]
fn Events() -> impl IntoView {
    let act = ServerAction::<Redrive>::new();
    let view_ = Resource::new(move || act.version().get(), |_| admin_events());
    view! {
        <ErrorBanner error=form_error(act.value()) />
        {move || act.value().get().and_then(|r| r.ok()).map(|done| view! {
            <Notice text=if done { "Re-driven: the consumer will try it again now." } else { "That dead letter was already re-driven." } />
        })}
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match view_.await {
                    Err(e) => error_view(e),
                    Ok(ev) => view! {
                        <Card title="Outbox">
                            <p data-testid="outbox-lag">{format!("Oldest undelivered event: {:.1} s behind", ev.lag_seconds)}</p>
                        </Card>
                        <Card title="Dead letters">
                            {if ev.dead_letters.is_empty() {
                                view! { <p class="text-stone-600" data-testid="no-dead-letters">"None: every event reached every consumer."</p> }.into_any()
                            } else {
                                view! {
                                    <ul class="divide-y divide-stone-200" data-testid="dead-letters">
                                        {ev.dead_letters.into_iter().map(|d| view! {
                                            <li class="flex flex-wrap items-center justify-between gap-3 py-3" data-testid="dead-letter">
                                                <div class="min-w-0">
                                                    <p class="font-medium">{d.event_type.clone()} " → " {d.consumer.clone()}</p>
                                                    <p class="break-all text-xs text-stone-500">{format!("about {}", d.aggregate_id)}</p>
                                                    <p class="break-all text-sm text-stone-500">{format!("{} attempts · {} · {}", d.attempts, d.updated_at, d.last_error.clone().unwrap_or_default())}</p>
                                                </div>
                                                <ActionForm action=act>
                                                    <input type="hidden" name="event_id" value=d.event_id.clone() />
                                                    <input type="hidden" name="consumer" value=d.consumer.clone() />
                                                    <button type="submit" class=SMALL_BTN>"Re-drive"</button>
                                                </ActionForm>
                                            </li>
                                        }).collect_view()}
                                    </ul>
                                }.into_any()
                            }}
                        </Card>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

// ---- recommendations ----------------------------------------------------------------------

#[component]
fn Recommendations() -> impl IntoView {
    let train = ServerAction::<AdminTrainModel>::new();
    let tick = RwSignal::new(0u64);
    let view_ = Resource::new(move || (train.version().get(), tick.get()), |_| admin_recommendations());
    // while a training runs, follow its progress once a second
    let running = RwSignal::new(false);
    poll_while(running, tick);
    Effect::new(move |_| {
        if let Some(Ok(v)) = view_.get() {
            running.set(v.training.running);
        } else if train.value().get().is_some_and(|r| r.unwrap_or(false)) {
            running.set(true);
        }
    });
    view! {
        <ErrorBanner error=form_error(train.value()) />
        {move || train.value().get().and_then(|r| r.ok()).filter(|started| !started).map(|_| view! {
            <Notice text="A training run is already going on: its progress is below." />
        })}
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match view_.await {
                    Err(e) => error_view(e),
                    Ok(v) => {
                        let t = v.training.clone();
                        let pct = (t.done * 100.0).round() as i64;
                        let serving_text = match &v.serving {
                            Some(id) => format!("Serving model {id}"),
                            None => "No model yet: recommendations use popularity and each visitor's recent views.".to_owned(),
                        };
                        let serving = v.serving.clone();
                        view! {
                            <Card title="Served model">
                                <p data-testid="rec-serving">{serving_text}</p>
                                <p class="mt-1 text-sm text-stone-600" data-testid="rec-new-signals">{format!(
                                    "{} new signals since the last training{}",
                                    v.new_signals,
                                    if v.retrain_after > 0 { format!(" (retrains by itself after {})", v.retrain_after) } else { " (automatic retraining is off)".to_owned() }
                                )}</p>
                                <ActionForm action=train attr:class="mt-3">
                                    <button type="submit" class=SMALL_BTN disabled=move || running.get() data-testid="rec-train">"Train now"</button>
                                </ActionForm>
                            </Card>
                            {(t.running || t.phase == "done" || t.phase == "failed").then(|| view! {
                                <Card title="Training">
                                    <div data-testid="rec-training">
                                        <p class="text-sm">{if t.running {
                                            format!("{} · epoch {}/{} · loss {:.4}{}", t.phase, t.epoch, t.epochs, t.loss, t.val_hr10.map(|h| format!(" · validation HR@10 {h:.3}")).unwrap_or_default())
                                        } else if let Some(e) = &t.error {
                                            format!("The last training failed: {e}")
                                        } else {
                                            format!("The last training finished: model {}{}", t.model_id.clone().unwrap_or_default(), t.val_hr10.map(|h| format!(" · validation HR@10 {h:.3}")).unwrap_or_default())
                                        }}</p>
                                        <div class="mt-2 h-3 w-full overflow-hidden rounded-full bg-stone-200" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=pct.to_string()>
                                            <div class=if t.error.is_some() { "h-3 bg-red-600" } else { "h-3 bg-amber-700" } style=format!("width: {pct}%")></div>
                                        </div>
                                    </div>
                                </Card>
                            })}
                            <Card title="Stored models">
                                {if v.models.is_empty() {
                                    view! { <p class="text-stone-600">"None trained yet."</p> }.into_any()
                                } else {
                                    view! {
                                        <div class="overflow-x-auto">
                                            <table class="w-full text-left text-sm" data-testid="rec-models">
                                                <thead class="text-xs uppercase text-stone-500"><tr>
                                                    <th class="py-1 pr-3">"Trained"</th><th class="pr-3">"Status"</th><th class="pr-3">"People"</th><th class="pr-3">"Listings"</th>
                                                    <th class="pr-3">"Signals"</th><th class="pr-3">"Validation HR@10"</th><th class="pr-3">"Popularity"</th><th class="pr-3">"Epochs"</th><th>"Time"</th>
                                                </tr></thead>
                                                <tbody class="divide-y divide-stone-200">
                                                    {v.models.into_iter().map(|m| {
                                                        let served = serving.as_deref() == Some(m.model_id.as_str());
                                                        view! {
                                                            <tr data-testid="rec-model">
                                                                <td class="py-1 pr-3 whitespace-nowrap">{m.trained.clone()}</td>
                                                                <td class="pr-3">{if served { format!("{} · served", m.status) } else { m.status.clone() }}</td>
                                                                <td class="pr-3">{m.users}</td><td class="pr-3">{m.items}</td><td class="pr-3">{m.interactions}</td>
                                                                <td class="pr-3">{format!("{:.3}", m.val_hr10)}</td><td class="pr-3">{format!("{:.3}", m.popularity_val_hr10)}</td>
                                                                <td class="pr-3">{m.epochs}</td><td>{format!("{:.1} s", m.seconds)}</td>
                                                            </tr>
                                                        }
                                                    }).collect_view()}
                                                </tbody>
                                            </table>
                                        </div>
                                    }.into_any()
                                }}
                            </Card>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

// ---- audit log ----------------------------------------------------------------------------

#[component]
fn Audit() -> impl IntoView {
    let (actor, action, target, before) = (q("actor"), q("action"), q("target"), q("before"));
    let rows = Resource::new(
        move || (actor(), action(), target(), before().parse::<i64>().unwrap_or(0)),
        |(a, ac, t, b)| audit_log(a, ac, t, b),
    );
    view! {
        <Card>
            <form method="get" action="/admin" class="grid gap-2 sm:grid-cols-4 sm:items-end">
                <input type="hidden" name="tab" value="audit" />
                <label class="text-sm">"Actor id"<input name="actor" value=actor class=INPUT /></label>
                <label class="text-sm">"Action"<input name="action" value=action class=INPUT placeholder="e.g. user.suspended" /></label>
                <label class="text-sm">"Target"<input name="target" value=target class=INPUT /></label>
                <button type="submit" class=BTN>"Filter"</button>
            </form>
        </Card>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match rows.await {
                    Err(e) => error_view(e),
                    Ok(v) if v.is_empty() => view! { <Card><p class="text-stone-600">"No entry matches."</p></Card> }.into_any(),
                    Ok(v) => {
                        let oldest = v.last().map(|r| r.seq).unwrap_or(0);
                        let more = v.len() >= 100;
                        let next = format!("/admin?tab=audit&actor={}&action={}&target={}&before={oldest}",
                            crate::api::catalog::urlencode(&actor()), crate::api::catalog::urlencode(&action()), crate::api::catalog::urlencode(&target()));
                        view! {
                            <div class="overflow-x-auto rounded-xl border border-stone-200 bg-white">
                                <table class="min-w-full text-left text-sm" data-testid="audit">
                                    <thead class="bg-stone-100 text-xs uppercase text-stone-600"><tr>
                                        <th class="px-3 py-2">"#"</th><th class="px-3 py-2">"When"</th><th class="px-3 py-2">"Action"</th>
                                        <th class="px-3 py-2">"Actor"</th><th class="px-3 py-2">"Target"</th><th class="px-3 py-2">"IP · request"</th><th class="px-3 py-2">"Detail"</th>
                                    </tr></thead>
                                    <tbody class="divide-y divide-stone-100">
                                        {v.into_iter().map(|r| view! {
                                            <tr data-testid="audit-row">
                                                <td class="px-3 py-2 text-stone-500">{r.seq}</td>
                                                <td class="whitespace-nowrap px-3 py-2">{r.at.chars().take(19).collect::<String>().replace('T', " ")}</td>
                                                <td class="px-3 py-2 font-medium">{r.action.clone()}</td>
                                                <td class="break-all px-3 py-2">{r.actor_id.clone()}</td>
                                                <td class="break-all px-3 py-2">{r.target.clone()}</td>
                                                <td class="break-all px-3 py-2 text-stone-500">{format!("{} · {}", r.ip, r.request_id)}</td>
                                                <td class="break-all px-3 py-2 text-stone-600">{r.detail.clone()}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            {more.then(|| view! { <a href=next class="mt-3 inline-block text-sm font-semibold text-amber-800 underline">"Older entries"</a> })}
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

// ---- custom requests ----------------------------------------------------------------------

/// Every customization thread; opening one is read-only for an admin and recorded in the audit log.
#[component]
fn Threads() -> impl IntoView {
    let status = q("status");
    let list = Resource::new(status, admin_threads);
    view! {
        <Card>
            <p class="text-sm text-stone-600">"Private conversations between customers and dealers. You can read them (read-only); every opening is recorded in the audit log with your name."</p>
        </Card>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match list.await {
                    Err(e) => error_view(e),
                    Ok(v) if v.is_empty() => view! { <Card><p class="text-stone-600">"No requests yet."</p></Card> }.into_any(),
                    Ok(v) => view! {
                        <ul class="divide-y divide-stone-200 rounded-xl border border-stone-200 bg-white" data-testid="admin-threads">
                            {v.into_iter().map(|t| view! {
                                <li class="flex flex-wrap items-center justify-between gap-3 p-3">
                                    <div class="min-w-0">
                                        <a href=format!("/requests/{}", t.id) class="font-medium underline">{t.product_title.clone()}</a>
                                        <p class="text-sm text-stone-500">{t.status.replace('_', " ")} " · " {format!("{} messages", t.last_seq)} " · " {t.updated_at.chars().take(10).collect::<String>()}</p>
                                    </div>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
