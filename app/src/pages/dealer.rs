use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::{
    api::catalog::*,
    components::*,
    CurrentUser,
};

/// The dealer's home: where the application stands; for approved dealers, the store and listings.
#[component]
pub fn DealerPage() -> impl IntoView {
    let CurrentUser(user) = expect_context::<CurrentUser>();
    view! {
        <PageTitle title="Your store" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match user.await.ok().flatten() {
                    None => view! { <SignInPrompt /> }.into_any(),
                    Some(u) if !u.is_dealer() => view! {
                        <Card><p>"This page is for dealers. " <a class="font-semibold text-amber-800 underline" href="/sign-up?as=dealer">"Apply to sell"</a></p></Card>
                    }.into_any(),
                    Some(u) => match u.dealer_status.as_deref() {
                        Some("approved") => view! {
                            <p class="mb-4 text-stone-700" data-testid="dealer-status">"approved"</p>
                            <crate::pages::SalesSummary />
                            <DealerDashboard />
                        }.into_any(),
                        Some("rejected") => view! {
                            <Card title="Your application was not approved">
                                <p class="text-stone-700" data-testid="dealer-status">"rejected"</p>
                            </Card>
                        }.into_any(),
                        _ => view! {
                            <Card title="Waiting for approval">
                                <p class="text-stone-700" data-testid="dealer-status">"pending"</p>
                                <p class="mt-2 text-sm text-stone-600">"An admin reviews every new dealer. You can use your account as a customer meanwhile."</p>
                            </Card>
                        }.into_any(),
                    },
                }
            })}
        </Transition>
    }
}

#[component]
fn DealerDashboard() -> impl IntoView {
    let save = ServerAction::<SaveStore>::new();
    let home = Resource::new(move || save.version().get(), |_| dealer_home());
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match home.await {
                    Err(e) => view! { <ErrorBanner error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
                    Ok(h) => {
                        let (name, slug, description, location) = h.store.clone().unwrap_or_default();
                        let has_store = h.store.is_some();
                        view! {
                            <Card title=if has_store { "Storefront" } else { "Set up your store" }>
                                {has_store.then(|| view! { <p class="mb-3 text-sm">"Your public page: " <a class="text-amber-800 underline" href=format!("/s/{slug}")>{format!("/s/{slug}")}</a></p> })}
                                <ActionForm action=save attr:class="max-w-xl" attr:data-testid="store-form">
                                    <ErrorBanner error=form_error(save.value()) />
                                    {move || matches!(save.value().get(), Some(Ok(_))).then(|| view! { <Notice text="Store saved." /> })}
                                    <Field label="Store name" name="name" value=name.clone() maxlength=80 error=field_error(save.value(), "name") />
                                    <Field label="Location" name="location" value=location.clone() maxlength=80 required=false error=field_error(save.value(), "location") />
                                    <label class="mb-4 block text-sm font-medium text-stone-700">"About the store"
                                        <textarea name="description" rows="3" maxlength="2000" class="mt-1 w-full rounded-md border border-stone-300 px-3 py-2">{description.clone()}</textarea>
                                    </label>
                                    <SubmitButton label="Save store" pending=save.pending() />
                                </ActionForm>
                            </Card>
                            {has_store.then(|| view! {
                                <Card title="Logo">
                                    {h.logo.clone().map(|l| view! { <img src=l alt="Your logo" class="mb-3 h-20 w-20 rounded-full object-cover" data-testid="logo" /> })}
                                    <LogoNotice />
                                    <form method="post" enctype="multipart/form-data" action="/dealer/store/logo" class="flex flex-wrap items-center gap-2">
                                        <input type="file" name="image" accept="image/png,image/jpeg,image/webp" required class="text-sm" />
                                        <button type="submit" class="rounded-md bg-stone-900 px-3 py-1 text-sm font-semibold text-white">"Upload logo"</button>
                                    </form>
                                </Card>
                            })}
                            {has_store.then(|| view! {
                                <Card title="Listings">
                                    <div class="mb-4 flex flex-wrap gap-2">
                                        <a href="/dealer/products/new" class="rounded-md bg-amber-700 px-4 py-2 text-sm font-semibold text-white hover:bg-amber-800" data-testid="new-listing">"New listing"</a>
                                        <a href="/dealer/import" class="rounded-md border border-stone-300 px-4 py-2 text-sm font-semibold hover:bg-stone-100">"Import from CSV"</a>
                                    </div>
                                    {h.listings.is_empty().then(|| view! { <p class="text-stone-600">"No listings yet."</p> })}
                                    <ul class="divide-y divide-stone-200" data-testid="listings">
                                        {h.listings.iter().map(|l| view! {
                                            <li class="flex flex-wrap items-center justify-between gap-2 py-2 text-sm">
                                                <a href=format!("/dealer/products/{}", l.id) class="font-medium hover:underline">{l.title.clone()}</a>
                                                <span class="text-stone-500">{l.price.clone()} " · " {l.status.clone()} " · "
                                                    {l.stock.map(|s| format!("{s} in stock")).unwrap_or_else(|| "made to order".into())}</span>
                                            </li>
                                        }).collect_view()}
                                    </ul>
                                </Card>
                            })}
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn LogoNotice() -> impl IntoView {
    let query = use_query_map();
    move || {
        query.with(|q| {
            if let Some(e) = q.get("logo_error") {
                Some(view! { <div class="mb-3 rounded-md bg-red-50 px-3 py-2 text-sm text-red-800" role="alert">{e}</div> }.into_any())
            } else {
                q.get("logo").map(|_| view! { <Notice text="Logo updated." /> }.into_any())
            }
        })
    }
}

/// New listing (`/dealer/products/new`) or edit (`/dealer/products/{id}`).
#[component]
pub fn ListingEditorPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id")).filter(|i| i != "new");
    let listing = Resource::new(id, |id| async move {
        match id {
            Some(id) => my_listing(id).await.map(Some),
            None => Ok(None),
        }
    });
    let cats = Resource::new(|| (), |_| category_choices());
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let cats = cats.await.unwrap_or_default();
                match listing.await {
                    Err(e) => view! { <ErrorBanner error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
                    Ok(existing) => view! { <ListingEditor existing cats /> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn options_text(o: &OptionView) -> String {
    o.values
        .iter()
        .map(|v| if v.delta_minor != 0 { format!("{} +{}.{:02}", v.label, v.delta_minor / 100, v.delta_minor % 100) } else { v.label.clone() })
        .collect::<Vec<_>>()
        .join(", ")
}

#[component]
fn ListingEditor(existing: Option<ProductView>, cats: Vec<(String, String)>) -> impl IntoView {
    let create = ServerAction::<CreateListing>::new();
    let update = ServerAction::<UpdateListing>::new();
    let status = ServerAction::<ListingStatus>::new();
    let query = use_query_map();
    Effect::new(move |_| {
        if let Some(Ok(id)) = create.value().get() {
            hard_navigate(&format!("/dealer/products/{id}?created=1"));
        }
    });
    let e = existing.clone();
    let get = move |f: fn(&ProductView) -> String| e.as_ref().map(f).unwrap_or_default();
    let attr = |p: &ProductView, k: &str| p.attributes.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let title = get(|p| p.title.clone());
    let description = get(|p| p.description.clone());
    let category = get(|p| p.category_path.clone());
    let price = get(|p| format!("{}.{:02}", p.price_minor / 100, p.price_minor % 100));
    let stock = get(|p| p.stock.map(|s| s.to_string()).unwrap_or_default());
    let brand = existing.as_ref().map(|p| attr(p, "brand")).unwrap_or_default();
    let material = existing.as_ref().map(|p| attr(p, "material")).unwrap_or_default();
    let existing_options = existing.as_ref().map(|p| p.options.clone()).unwrap_or_default();
    let shown_options = RwSignal::new(existing_options.len().max(1));
    let is_new = existing.is_none();
    let errors = Signal::derive(move || create.value().get().and_then(|r| r.err()).or_else(|| update.value().get().and_then(|r| r.err())));
    let fe = move |f: &'static str| Signal::derive(move || errors.get().and_then(|e| e.field_error(&format!("listing[{f}]")).or_else(|| e.field_error(f))));
    let option_rows = move || {
        (0..5)
            .map(|i| {
                let o = existing_options.get(i).cloned();
                let name = o.as_ref().map(|o| o.name.clone()).unwrap_or_default();
                let kind = o.as_ref().map(|o| if o.text { "text" } else { "choice" }).unwrap_or("choice");
                let values = o.as_ref().map(options_text).unwrap_or_default();
                let max_length = o.as_ref().and_then(|o| o.max_length).map(|m| m.to_string()).unwrap_or_default();
                let delta = o.as_ref().filter(|o| o.delta_minor > 0).map(|o| format!("{}.{:02}", o.delta_minor / 100, o.delta_minor % 100)).unwrap_or_default();
                let optional = o.as_ref().is_some_and(|o| !o.required);
                view! {
                    <fieldset class=move || if i < shown_options.get() { "mb-3 grid gap-2 rounded-md border border-stone-200 p-3 sm:grid-cols-2" } else { "hidden" } data-testid=format!("option-row-{i}")>
                        <input name=format!("listing[options][{i}][name]") value=name placeholder="Option name, e.g. Size" maxlength="60" class="rounded border border-stone-300 px-2 py-1" aria-label="Option name" />
                        <select name=format!("listing[options][{i}][kind]") class="rounded border border-stone-300 px-2 py-1" aria-label="Option kind">
                            <option value="choice" selected=kind == "choice">"Choice from a list"</option>
                            <option value="text" selected=kind == "text">"Free text (e.g. engraving)"</option>
                        </select>
                        <input name=format!("listing[options][{i}][values]") value=values placeholder="Choices: Small, Medium +8, Large +15.50" class="rounded border border-stone-300 px-2 py-1 sm:col-span-2" aria-label="Choices" />
                        <input name=format!("listing[options][{i}][max_length]") value=max_length placeholder="Text limit (characters)" inputmode="numeric" class="rounded border border-stone-300 px-2 py-1" aria-label="Text limit" />
                        <input name=format!("listing[options][{i}][price_delta]") value=delta placeholder="Text surcharge, e.g. 9.50" inputmode="decimal" class="rounded border border-stone-300 px-2 py-1" aria-label="Text surcharge" />
                        <label class="flex items-center gap-2 text-sm"><input type="checkbox" name=format!("listing[options][{i}][optional]") value="1" checked=optional />"Optional"</label>
                    </fieldset>
                }
            })
            .collect_view()
    };
    let fields = view! {
        <ErrorBanner error=Signal::derive(move || errors.get().filter(|e| e.field.as_deref().is_none_or(|f| f.starts_with("options")))) />
        <Field label="Title" name="listing[title]" value=title maxlength=140 error=fe("title") />
        <label class="mb-4 block text-sm font-medium text-stone-700">"Description (Markdown: **bold**, lists, links)"
            <textarea name="listing[description]" rows="6" maxlength="10000" class="mt-1 w-full rounded-md border border-stone-300 px-3 py-2">{description}</textarea>
            <p class="mt-1 text-sm text-red-700">{move || fe("description").get()}</p>
        </label>
        <label class="mb-4 block text-sm font-medium text-stone-700">"Category"
            <select name="listing[category]" class="mt-1 w-full rounded-md border border-stone-300 px-3 py-2" data-testid="category">
                {cats.into_iter().map(|(path, name)| { let sel = path == category; view! { <option value=path selected=sel>{name}</option> } }).collect_view()}
            </select>
        </label>
        <div class="grid gap-x-4 sm:grid-cols-2">
            <Field label="Price (€)" name="listing[price]" value=price error=fe("price") />
            <Field label="Stock (empty = made to order)" name="listing[stock]" value=stock required=false error=fe("stock") />
            <Field label="Brand" name="listing[brand]" value=brand required=false maxlength=200 error=fe("attributes") />
            <Field label="Material" name="listing[material]" value=material required=false maxlength=200 error=Signal::derive(|| None::<String>) />
        </div>
        <h2 class="mb-2 mt-2 font-semibold">"Customization options"</h2>
        {option_rows}
        <button type="button" class="mb-4 rounded-md border border-stone-300 px-3 py-1 text-sm hover:bg-stone-100" data-testid="add-option"
            on:click=move |_| shown_options.update(|n| *n = (*n + 1).min(5))>"Add another option"</button>
    };
    view! {
        <PageTitle title=if is_new { "New listing" } else { "Edit listing" } />
        {move || query.with(|q| q.get("created").is_some()).then(|| view! { <Notice text="Listing created as a draft. Add pictures, then publish it." /> })}
        {match existing.clone() {
            None => view! {
                <Card>
                    <ActionForm action=create attr:data-testid="listing-form">
                        {fields}
                        <SubmitButton label="Create draft" pending=create.pending() />
                    </ActionForm>
                </Card>
            }.into_any(),
            Some(p) => {
                let id = p.id.clone();
                let id2 = p.id.clone();
                let id3 = p.id.clone();
                let status_now = Signal::derive({ let s = p.status.clone(); move || status.value().get().and_then(|r| r.ok()).unwrap_or_else(|| s.clone()) });
                view! {
                    <Card title="Status">
                        <p class="mb-3 text-sm">"This listing is " <strong data-testid="listing-status">{move || status_now.get()}</strong> "."
                            " " <a class="text-amber-800 underline" href=format!("/p/{}", p.slug)>"View it"</a></p>
                        <ErrorBanner error=form_error(status.value()) />
                        <div class="flex flex-wrap gap-2">
                            {["publish", "unpublish", "archive"].into_iter().map(|a| {
                                let id = id3.clone();
                                view! {
                                    <ActionForm action=status>
                                        <input type="hidden" name="id" value=id />
                                        <input type="hidden" name="action" value=a />
                                        <button type="submit" class="rounded-md border border-stone-300 px-3 py-1 text-sm capitalize hover:bg-stone-100">{a}</button>
                                    </ActionForm>
                                }
                            }).collect_view()}
                        </div>
                    </Card>
                    <Card title="Pictures">
                        {move || query.with(|q| q.get("image_error")).map(|m| view! { <div class="mb-3 rounded-md bg-red-50 px-3 py-2 text-sm text-red-800" role="alert" data-testid="image-error">{m}</div> })}
                        {move || query.with(|q| q.get("image").is_some()).then(|| view! { <Notice text="Picture added." /> })}
                        <div class="mb-3 flex flex-wrap gap-2" data-testid="pictures">
                            {p.images.iter().filter(|i| !i.0.starts_with("/art/")).map(|i| view! { <img src=i.1.clone() alt="" class="h-20 w-24 rounded-md object-cover" /> }).collect_view()}
                        </div>
                        // a plain multipart form: works with or without JavaScript
                        <form method="post" enctype="multipart/form-data" action=format!("/dealer/products/{id}/images") class="flex flex-wrap items-center gap-2">
                            <input type="file" name="image" accept="image/png,image/jpeg,image/webp" required data-testid="image-input" class="text-sm" />
                            <button type="submit" class="rounded-md bg-stone-900 px-3 py-1 text-sm font-semibold text-white">"Upload"</button>
                            <span class="text-xs text-stone-500">"PNG, JPEG or WebP, up to 5 MB"</span>
                        </form>
                    </Card>
                    <Card title="Details">
                        {move || matches!(update.value().get(), Some(Ok(_))).then(|| view! { <Notice text="Listing saved." /> })}
                        <ActionForm action=update attr:data-testid="listing-form">
                            <input type="hidden" name="id" value=id2 />
                            {fields}
                            <SubmitButton label="Save" pending=update.pending() />
                        </ActionForm>
                    </Card>
                }.into_any()
            }
        }}
    }
}

#[component]
pub fn ImportPage() -> impl IntoView {
    let import = ServerAction::<ImportListings>::new();
    view! {
        <PageTitle title="Import listings" subtitle="One listing per row. Columns: title, description, category (e.g. /home/furniture), price, currency, stock, brand, material, publish (yes/no)." />
        <Card>
            <ActionForm action=import>
                <ErrorBanner error=form_error(import.value()) />
                <label class="mb-4 block text-sm font-medium">"CSV"
                    <textarea name="csv" rows="10" class="mt-1 w-full rounded-md border border-stone-300 px-3 py-2 font-mono text-xs" data-testid="csv"
                        placeholder="title,category,price,stock,publish&#10;Walnut spoon,/woodwork/utensils,18.50,12,yes"></textarea>
                </label>
                <SubmitButton label="Import" pending=import.pending() />
            </ActionForm>
        </Card>
        {move || import.value().get().and_then(|r| r.ok()).map(|(created, failed, rows)| view! {
            <Card title=format!("{created} created, {failed} with errors")>
                <table class="w-full text-left text-sm" data-testid="import-report">
                    <thead><tr><th class="py-1">"Line"</th><th>"Title"</th><th>"Result"</th></tr></thead>
                    <tbody>
                        {rows.into_iter().map(|r| view! {
                            <tr class=if r.ok { "" } else { "text-red-700" }><td class="py-1">{r.line}</td><td>{r.title}</td><td>{r.message}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </Card>
        })}
    }
}
