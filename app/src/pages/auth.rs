use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::{
    api::auth::{oidc_provider, SignIn, SignInMfa, SignInResult, SignUp},
    components::*,
};

#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    let value = action.value();
    let query = use_query_map();
    let as_dealer = move || query.with(|q| q.get("as").as_deref() == Some("dealer"));
    Effect::new(move |_| {
        if let Some(Ok(u)) = value.get() {
            hard_navigate(if u.is_dealer() { "/dealer" } else { "/" });
        }
    });
    view! {
        <PageTitle title="Create your account" subtitle="Customers can buy right away; dealers open their store once an admin approves it." />
        <Card>
            <ActionForm action=action attr:class="max-w-md" attr:data-testid="sign-up-form">
                <ErrorBanner error=form_error(value) />
                <Field label="Your name" name="display_name" autocomplete="name" maxlength=80 error=field_error(value, "display_name") />
                <Field label="Email" name="email" kind="email" autocomplete="email" maxlength=254 error=field_error(value, "email") />
                <PasswordField label="Password (8 to 128 characters)" name="password" autocomplete="new-password" error=field_error(value, "password") />
                <fieldset class="mb-4">
                    <legend class="mb-1 text-sm font-medium text-stone-700">"I want to"</legend>
                    <label class="mr-6 inline-flex items-center gap-2">
                        <input type="radio" name="account_type" value="customer" checked=move || !as_dealer() />
                        "buy and commission"
                    </label>
                    <label class="inline-flex items-center gap-2">
                        <input type="radio" name="account_type" value="dealer" checked=as_dealer />
                        "sell as a dealer"
                    </label>
                </fieldset>
                <SubmitButton label="Create account" pending=action.pending() />
            </ActionForm>
            <p class="mt-4 text-sm text-stone-600">
                "Already have an account? " <a href="/sign-in" class="font-semibold text-amber-800 underline">"Sign in"</a>
            </p>
        </Card>
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let mfa = ServerAction::<SignInMfa>::new();
    let value = action.value();
    let mfa_value = mfa.value();
    Effect::new(move |_| {
        if let Some(Ok(SignInResult::SignedIn(_))) = value.get() {
            hard_navigate("/");
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = mfa_value.get() {
            hard_navigate("/");
        }
    });
    // after a sign-in at the identity provider: `?challenge=` asks for the second factor, `?error=`
    // says why it failed
    let query = use_query_map();
    let challenge = move || match value.get() {
        Some(Ok(SignInResult::MfaRequired { challenge })) => Some(challenge),
        _ => query.with(|q| q.get("challenge")).filter(|c| !c.is_empty()),
    };
    let provider_error = move || query.with(|q| q.get("error")).filter(|e| !e.is_empty()).map(|e| crate::AppError::new("oidc", e));
    let provider = Resource::new(|| (), |_| oidc_provider());
    view! {
        <PageTitle title="Sign in" />
        <Card>
            <ErrorBanner error=Signal::derive(provider_error) />
            <Show
                when=move || challenge().is_some()
                fallback=move || {
                    view! {
                        <ActionForm action=action attr:class="max-w-md" attr:data-testid="sign-in-form">
                            <ErrorBanner error=form_error(value) />
                            <Field label="Email" name="email" kind="email" autocomplete="username" maxlength=254 error=field_error(value, "email") />
                            <PasswordField label="Password" name="password" autocomplete="current-password" minlength=1 error=field_error(value, "password") />
                            <SubmitButton label="Sign in" pending=action.pending() />
                        </ActionForm>
                        <Transition fallback=|| ()>
                            {move || Suspend::new(async move {
                                provider.await.ok().flatten().map(|name| view! {
                                    <div class="mt-6 max-w-md border-t border-stone-200 pt-4">
                                        <a href="/auth/oidc/start" rel="external" data-testid="oidc-sign-in"
                                            class="block w-full rounded-md border border-stone-300 px-4 py-2 text-center text-sm font-semibold hover:bg-stone-100">
                                            {format!("Sign in with {name}")}
                                        </a>
                                    </div>
                                })
                            })}
                        </Transition>
                    }
                }
            >
                <ActionForm action=mfa attr:class="max-w-md" attr:data-testid="mfa-form">
                    <p class="mb-4 text-stone-700">"Enter the 6-digit code from your authenticator app, or one of your recovery codes."</p>
                    <ErrorBanner error=form_error(mfa_value) />
                    <input type="hidden" name="challenge" value=challenge />
                    <Field label="Code" name="code" autocomplete="one-time-code" maxlength=20 error=field_error(mfa_value, "code") />
                    <SubmitButton label="Verify" pending=mfa.pending() />
                </ActionForm>
            </Show>
            <p class="mt-4 text-sm text-stone-600">
                "New here? " <a href="/sign-up" class="font-semibold text-amber-800 underline">"Create an account"</a>
            </p>
        </Card>
    }
}
