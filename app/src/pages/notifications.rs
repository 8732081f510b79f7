use leptos::prelude::*;

use crate::{
    api::notify::{my_notifications, MarkNotificationsRead},
    components::*,
    CurrentUser,
};

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let CurrentUser(user) = expect_context::<CurrentUser>();
    view! {
        <PageTitle title="Notifications" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match user.await.ok().flatten() {
                    None => view! { <SignInPrompt /> }.into_any(),
                    Some(_) => view! { <Inbox /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Inbox() -> impl IntoView {
    let mark = ServerAction::<MarkNotificationsRead>::new();
    let inbox = Resource::new(move || mark.version().get(), |_| my_notifications());
    view! {
        <Card>
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match inbox.await {
                        Err(e) => view! { <ErrorBanner error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
                        Ok(i) if i.items.is_empty() => view! { <p class="text-stone-600">"Nothing yet."</p> }.into_any(),
                        Ok(i) => view! {
                            {(i.unread > 0).then(|| view! {
                                <ActionForm action=mark attr:class="mb-4">
                                    <SubmitButton label="Mark all as read" pending=mark.pending() />
                                </ActionForm>
                            })}
                            <ul class="divide-y divide-stone-200" data-testid="notifications">
                                {i.items.into_iter().map(|n| view! {
                                    <li class="py-3">
                                        <p class=if n.read { "font-medium text-stone-700" } else { "font-semibold text-stone-900" }>
                                            {(!n.read).then(|| view! { <span class="mr-2 inline-block h-2 w-2 rounded-full bg-amber-600" aria-label="unread"></span> })}
                                            {n.title.clone()}
                                        </p>
                                        <p class="text-sm text-stone-600">{n.body.clone()}</p>
                                        <p class="mt-1 text-xs text-stone-500">
                                            {n.created_at.clone()}
                                            {n.link.clone().map(|l| view! { " · " <a class="text-amber-800 underline" href=l>"Open"</a> })}
                                        </p>
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
