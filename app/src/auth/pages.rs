//! The log-in and sign-up pages.

use super::api::{LogIn, SignUp};
use super::{safe_next_path, MIN_PASSWORD_CHARS};
use crate::components::{reload_at, Brand, FormError};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

fn error_message(value: Option<Result<(), AppError>>) -> Option<String> {
    value.and_then(Result::err).map(|error| error.to_string())
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<LogIn>::new();
    let query = use_query_map();
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            reload_at(&safe_next_path(
                query.read_untracked().get("next").as_deref(),
            ));
        }
    });
    let error = Signal::derive(move || error_message(action.value().get()));
    let pending = action.pending();

    view! {
        <Title text="Log in · Reelsmith" />
        <main class="auth-page">
            <section class="auth-card" aria-labelledby="auth-title">
                <Brand />
                <h1 id="auth-title">"Welcome back"</h1>
                <p class="muted">"Log in to pick up your projects where you left them."</p>
                <ActionForm action=action>
                    <div class="form-stack">
                        <label class="field">
                            <span class="field-label">"Email"</span>
                            <input type="email" name="email" autocomplete="email" required />
                        </label>
                        <label class="field">
                            <span class="field-label">"Password"</span>
                            <input
                                type="password"
                                name="password"
                                autocomplete="current-password"
                                required
                            />
                        </label>
                        <FormError message=error />
                        <button type="submit" class="btn btn-primary btn-block" disabled=pending>
                            {move || if pending.get() { "Logging in…" } else { "Log in" }}
                        </button>
                    </div>
                </ActionForm>
                <p class="auth-switch">"New to Reelsmith? " <a href="/signup">"Create an account"</a></p>
            </section>
        </main>
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            reload_at("/");
        }
    });
    let error = Signal::derive(move || error_message(action.value().get()));
    let pending = action.pending();

    view! {
        <Title text="Create your account · Reelsmith" />
        <main class="auth-page">
            <section class="auth-card" aria-labelledby="auth-title">
                <Brand />
                <h1 id="auth-title">"Create your account"</h1>
                <p class="muted">"From a product brief to a finished 30-second ad."</p>
                <ActionForm action=action>
                    <div class="form-stack">
                        <label class="field">
                            <span class="field-label">"Email"</span>
                            <input type="email" name="email" autocomplete="email" required />
                        </label>
                        <label class="field">
                            <span class="field-label">"Password"</span>
                            <input
                                type="password"
                                name="password"
                                autocomplete="new-password"
                                minlength=MIN_PASSWORD_CHARS.to_string()
                                aria-describedby="password-hint"
                                required
                            />
                            <span class="field-hint" id="password-hint">
                                {format!("At least {MIN_PASSWORD_CHARS} characters.")}
                            </span>
                        </label>
                        <FormError message=error />
                        <button type="submit" class="btn btn-primary btn-block" disabled=pending>
                            {move || if pending.get() { "Creating account…" } else { "Create account" }}
                        </button>
                    </div>
                </ActionForm>
                <p class="auth-switch">"Already have an account? " <a href="/login">"Log in"</a></p>
            </section>
        </main>
    }
}
