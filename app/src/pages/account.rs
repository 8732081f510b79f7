use leptos::prelude::*;

use crate::{
    api::{account::*, UserView},
    components::*,
    CurrentUser,
};

#[component]
pub fn AccountPage() -> impl IntoView {
    let CurrentUser(user) = expect_context::<CurrentUser>();
    view! {
        <PageTitle title="Your account" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(u)) => view! { <AccountSections user=u /> }.into_any(),
                    Ok(None) => view! { <SignInPrompt /> }.into_any(),
                    Err(e) => view! { <ErrorBanner error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AccountSections(user: UserView) -> impl IntoView {
    let profile = ServerAction::<UpdateProfile>::new();
    let password = ServerAction::<ChangePassword>::new();
    let pv = profile.value();
    let pwv = password.value();
    let role = match (user.role.as_str(), user.dealer_status.as_deref()) {
        ("dealer", Some(s)) => format!("dealer ({s})"),
        (r, _) => r.to_owned(),
    };
    view! {
        <Card title="Profile">
            <p class="mb-4 text-sm text-stone-600">
                {user.email.clone()} " · " <span data-testid="role">{role}</span>
            </p>
            <ActionForm action=profile attr:class="max-w-md">
                <ErrorBanner error=form_error(pv) />
                {move || matches!(pv.get(), Some(Ok(_))).then(|| view! { <Notice text="Profile saved." /> })}
                <Field label="Your name" name="display_name" value=user.display_name.clone() maxlength=80 error=field_error(pv, "display_name") />
                <SubmitButton label="Save" pending=profile.pending() />
            </ActionForm>
        </Card>
        <Card title="Password">
            <ActionForm action=password attr:class="max-w-md">
                <ErrorBanner error=form_error(pwv) />
                {move || matches!(pwv.get(), Some(Ok(_))).then(|| view! { <Notice text="Password changed. Your other sessions were signed out." /> })}
                <PasswordField label="Current password" name="current_password" autocomplete="current-password" minlength=1 error=field_error(pwv, "current_password") />
                <PasswordField label="New password" name="new_password" autocomplete="new-password" error=field_error(pwv, "new_password") />
                <SubmitButton label="Change password" pending=password.pending() />
            </ActionForm>
        </Card>
        <MfaSection />
        <SessionsSection />
        <DataSection />
    }
}

/// Your data: a JSON download of everything held about you, and erasing the account.
#[component]
fn DataSection() -> impl IntoView {
    let delete = ServerAction::<DeleteMyAccount>::new();
    let dv = delete.value();
    Effect::new(move |_| {
        if matches!(dv.get(), Some(Ok(()))) {
            hard_navigate("/?account=deleted");
        }
    });
    view! {
        <Card title="Your data">
            <p class="mb-3 text-sm text-stone-600">"Everything Bespoke holds about you — account, sessions, orders with their addresses, requests and messages, notifications — as one JSON file."</p>
            <a href="/api/v1/me/export" download="bespoke-my-data.json" class=BTN2 data-testid="export-data">"Download my data"</a>
            <details class="mt-6">
                <summary class="cursor-pointer text-sm font-semibold text-red-800">"Delete my account"</summary>
                <p class="my-3 text-sm text-stone-600">"Your name, email, password, addresses, messages and reference images are erased and you are signed out everywhere. Orders stay with the dealers for their books, without your personal data. This cannot be undone; it waits until none of your orders is in progress."</p>
                <ActionForm action=delete attr:class="max-w-md" attr:data-testid="delete-account">
                    <ErrorBanner error=form_error(dv) />
                    <PasswordField label="Your password" name="password" autocomplete="current-password" minlength=1 error=field_error(dv, "password") />
                    <button type="submit" class="rounded-md bg-red-700 px-4 py-2 text-sm font-semibold text-white hover:bg-red-800 disabled:opacity-60" disabled=delete.pending()>"Delete my account for good"</button>
                </ActionForm>
            </details>
        </Card>
    }
}

#[component]
fn MfaSection() -> impl IntoView {
    let begin = ServerAction::<MfaBegin>::new();
    let confirm = ServerAction::<MfaConfirm>::new();
    let disable = ServerAction::<MfaDisable>::new();
    let regen = ServerAction::<RegenerateRecoveryCodes>::new();
    let status = Resource::new(
        move || (confirm.version().get(), disable.version().get(), regen.version().get()),
        |_| mfa_status(),
    );
    let codes = move || match (confirm.value().get(), regen.value().get()) {
        (_, Some(Ok(c))) | (Some(Ok(c)), _) => Some(c),
        _ => None,
    };
    view! {
        <Card title="Two-factor authentication">
            {move || codes().map(|c| view! {
                <div class="mb-4 rounded-md border border-amber-300 bg-amber-50 p-4" data-testid="recovery-codes">
                    <p class="mb-2 text-sm font-semibold">"Your recovery codes. Keep them somewhere safe: each works once, if you lose your phone."</p>
                    <ul class="grid grid-cols-2 gap-1 font-mono text-sm">
                        {c.into_iter().map(|code| view! { <li>{code}</li> }).collect_view()}
                    </ul>
                </div>
            })}
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match status.await {
                        Err(e) => view! { <ErrorBanner error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
                        Ok(s) if s.enabled => view! {
                            <p class="mb-4 text-stone-700" data-testid="mfa-on">
                                "Two-factor authentication is on. Recovery codes left: " {s.recovery_codes_left} "."
                            </p>
                            <div class="grid gap-6 sm:grid-cols-2">
                                <ActionForm action=regen>
                                    <ErrorBanner error=form_error(regen.value()) />
                                    <Field label="Code, to get new recovery codes" name="code" autocomplete="one-time-code" error=Signal::derive(|| None::<String>) />
                                    <SubmitButton label="New recovery codes" pending=regen.pending() />
                                </ActionForm>
                                <ActionForm action=disable>
                                    <ErrorBanner error=form_error(disable.value()) />
                                    <Field label="Code, to turn two-factor off" name="code" autocomplete="one-time-code" error=Signal::derive(|| None::<String>) />
                                    <SubmitButton label="Turn off" pending=disable.pending() />
                                </ActionForm>
                            </div>
                        }.into_any(),
                        Ok(_) => view! { <MfaEnrol begin confirm /> }.into_any(),
                    }
                })}
            </Transition>
        </Card>
    }
}

#[component]
fn MfaEnrol(begin: ServerAction<MfaBegin>, confirm: ServerAction<MfaConfirm>) -> impl IntoView {
    let setup = move || begin.value().get();
    view! {
        <p class="mb-4 text-stone-700">"Protect your account with a code from an authenticator app at each sign-in."</p>
        {move || match setup() {
            None => view! {
                <ActionForm action=begin>
                    <SubmitButton label="Set up two-factor authentication" pending=begin.pending() />
                </ActionForm>
            }.into_any(),
            Some(Err(e)) => view! { <ErrorBanner error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
            Some(Ok(s)) => view! {
                <div class="grid gap-6 sm:grid-cols-2">
                    <div>
                        <p class="mb-2 text-sm text-stone-700">"1. Scan this code with your authenticator app:"</p>
                        <div class="w-52 rounded-md border border-stone-200 bg-white p-2" inner_html=s.qr_svg.clone()></div>
                        <p class="mt-2 text-sm text-stone-700">"or enter this key: "</p>
                        <code class="break-all rounded bg-stone-100 px-2 py-1 text-sm" data-testid="mfa-secret">{s.secret.clone()}</code>
                    </div>
                    <ActionForm action=confirm>
                        <p class="mb-2 text-sm text-stone-700">"2. Enter the 6-digit code it shows:"</p>
                        <ErrorBanner error=form_error(confirm.value()) />
                        <Field label="Code" name="code" autocomplete="one-time-code" maxlength=6 error=Signal::derive(|| None::<String>) />
                        <SubmitButton label="Turn on" pending=confirm.pending() />
                    </ActionForm>
                </div>
            }.into_any(),
        }}
    }
}

#[component]
fn SessionsSection() -> impl IntoView {
    let revoke = ServerAction::<RevokeSession>::new();
    let everywhere = ServerAction::<SignOutEverywhere>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = everywhere.value().get() {
            hard_navigate("/sign-in");
        }
    });
    let sessions = Resource::new(move || revoke.version().get(), |_| list_sessions());
    view! {
        <Card title="Where you're signed in">
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Err(e) => view! { <ErrorBanner error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
                        Ok(list) => view! {
                            <ul class="divide-y divide-stone-200" data-testid="sessions">
                                {list.into_iter().map(|s| {
                                    let id = s.id.clone();
                                    view! {
                                        <li class="flex flex-wrap items-center justify-between gap-2 py-3 text-sm">
                                            <div>
                                                <p class="font-medium">{s.user_agent.clone().unwrap_or_else(|| "Unknown device".into())}</p>
                                                <p class="text-stone-500">
                                                    {s.ip.clone().unwrap_or_default()} " · last active " {s.last_seen_at.clone()}
                                                    {s.current.then_some(" · this device")}
                                                </p>
                                            </div>
                                            {(!s.current).then(|| view! {
                                                <ActionForm action=revoke>
                                                    <input type="hidden" name="id" value=id />
                                                    <button type="submit" class="rounded-md border border-stone-300 px-3 py-1 hover:bg-stone-100">"Sign out"</button>
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
            <ActionForm action=everywhere attr:class="mt-4">
                <SubmitButton label="Sign out everywhere" pending=everywhere.pending() />
            </ActionForm>
        </Card>
    }
}
