use leptos::prelude::*;

use crate::{components::*, CurrentUser};

/// The dealer's home. Pending dealers see where their application stands.
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
                            <Card title="Your store is open">
                                <p class="text-stone-700" data-testid="dealer-status">"approved"</p>
                                <p class="mt-2 text-sm text-stone-600">"Listings, orders and custom requests will appear here."</p>
                            </Card>
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
