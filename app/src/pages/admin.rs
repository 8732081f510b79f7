use leptos::prelude::*;

use crate::{api::admin::*, components::*, CurrentUser};

#[component]
pub fn AdminPage() -> impl IntoView {
    let CurrentUser(user) = expect_context::<CurrentUser>();
    view! {
        <PageTitle title="Admin" subtitle="Dealer applications waiting for a decision." />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match user.await.ok().flatten() {
                    None => view! { <SignInPrompt /> }.into_any(),
                    Some(u) if !u.is_admin() => view! { <Card><p>"Only admins can see this page."</p></Card> }.into_any(),
                    Some(_) => view! { <PendingDealers /> }.into_any(),
                }
            })}
        </Transition>
    }
}

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
                        Err(e) => view! { <ErrorBanner error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
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
                                                <input name="reason" placeholder="Reason" maxlength=500 class="w-32 rounded-md border border-stone-300 px-2 py-1 text-sm" />
                                                <button type="submit" class="rounded-md border border-stone-300 px-3 py-1 text-sm hover:bg-stone-100">"Reject"</button>
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
