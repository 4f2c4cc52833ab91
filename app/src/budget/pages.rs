//! The account's spending page (`/account`): the month against the budget, by project
//! (with each project's cap), by provider and by day.

use super::api::{get_month_spend, get_project_budget, SetProjectCap};
use super::{dollars, Line, MonthSpend, Prices, ProjectSpend};
use crate::components::{error_text, AppHeader};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{lazy_route, LazyRoute};

/// The project's prices for the estimates on its buttons, fetched in the browser once
/// the page has come alive: the first paint shows plain labels, so the server and the
/// browser render alike.
///
/// Not a `LocalResource`: read on the server inside a `Suspense`, a local resource makes
/// that `Suspense` give up and write its fallback ("Loading…") in place of the step,
/// since it takes it for data the server can never have. The browser, which has the
/// step's data, then failed to hydrate the page, and the step stayed dead. Whether the
/// server gave up was a race, so a reload failed about one time in two.
pub fn use_prices(project: uuid::Uuid) -> Signal<Prices> {
    let prices = RwSignal::new(Prices::default());
    // An effect runs only in the browser, after hydration.
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            if let Ok(budget) = get_project_budget(project.to_string()).await {
                // The page may have moved on meanwhile.
                prices.try_set(budget.prices);
            }
        });
    });
    prices.into()
}

/// `/account` as a route whose code the browser fetches when the page is first shown: it
/// is a part of the bundle of its own (split by `.ci/build-site.sh`), which the log-in
/// page and the dashboard do not load.
pub struct AccountRoute;

#[lazy_route]
impl LazyRoute for AccountRoute {
    fn data() -> Self {
        Self
    }

    fn view(_route: Self) -> AnyView {
        view! { <AccountPage /> }.into_any()
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let set_cap = ServerAction::<SetProjectCap>::new();
    let month = Resource::new(move || set_cap.version().get(), |_| get_month_spend());
    let cap_error = Signal::derive(move || {
        set_cap
            .value()
            .get()
            .and_then(Result::err)
            .map(|error| error_text(&error))
    });
    view! {
        <Title text="Spending · Reelsmith" />
        <AppHeader />
        <main class="container">
            <div class="page-head">
                <h1>"Spending"</h1>
                <p class="muted">
                    "What your projects cost this month, and what is left of your budget. Work that would pass a budget is refused before anything is paid for."
                </p>
            </div>
            <Transition fallback=|| view! { <p class="muted" aria-live="polite">"Loading your spending…"</p> }>
                {move || {
                    month
                        .get()
                        .map(|result| match result {
                            Ok(month) => {
                                view! {
                                    <div class="spend-sections">
                                        <Month month set_cap cap_error />
                                    </div>
                                }
                                    .into_any()
                            }
                            Err(error) => {
                                view! { <p class="form-error" role="alert">{error_text(&error)}</p> }
                                    .into_any()
                            }
                        })
                }}
            </Transition>
        </main>
    }
}

#[component]
fn Month(
    month: MonthSpend,
    set_cap: ServerAction<SetProjectCap>,
    cap_error: Signal<Option<String>>,
) -> impl IntoView {
    let used = month.spent_microusd + month.reserved_microusd;
    let percent = if month.budget_microusd > 0 {
        (used as f64 / month.budget_microusd as f64 * 100.0).clamp(0.0, 100.0)
    } else {
        100.0
    };
    let left = month.left_microusd();
    let meter_class = if percent >= 90.0 {
        "meter-fill meter-full"
    } else {
        "meter-fill"
    };
    view! {
        <section class="card" aria-labelledby="month-title">
            <div class="card-head">
                <h2 id="month-title" class="card-title">{month.month.clone()}</h2>
                <span class="badge">{format!("Budget {}", dollars(month.budget_microusd))}</span>
            </div>
            {month.offline.then(|| view! {
                <p class="offline-note" role="note">
                    <strong>"Offline preview. "</strong>
                    "Everything is made on this machine and costs nothing."
                </p>
            })}
            <dl class="spend-figures">
                <div><dt>"Spent"</dt><dd>{dollars(month.spent_microusd)}</dd></div>
                <div><dt>"Reserved for work under way"</dt><dd>{dollars(month.reserved_microusd)}</dd></div>
                <div><dt>"Left"</dt><dd>{dollars(left)}</dd></div>
            </dl>
            <div
                class="meter"
                role="meter"
                aria-label="Budget used this month"
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=format!("{percent:.0}")
                aria-valuetext=format!("{} of {} used", dollars(used), dollars(month.budget_microusd))
            >
                <div class=meter_class style=format!("width: {percent:.1}%")></div>
            </div>
        </section>
        <section class="card" aria-labelledby="projects-spend-title">
            <h2 id="projects-spend-title" class="card-title">"By project"</h2>
            <p class="muted">
                "A project's cap limits what it may spend over its whole life; leave it empty for none."
            </p>
            {move || cap_error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            {if month.projects.is_empty() {
                view! { <p class="muted">"No projects yet."</p> }.into_any()
            } else {
                view! {
                    <table class="spend-table">
                        <thead>
                            <tr>
                                <th scope="col">"Project"</th>
                                <th scope="col" class="num">"This month"</th>
                                <th scope="col" class="num">"All time"</th>
                                <th scope="col">"Cap"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {month
                                .projects
                                .into_iter()
                                .map(|project| view! { <ProjectRow project set_cap /> })
                                .collect_view()}
                        </tbody>
                    </table>
                }
                    .into_any()
            }}
        </section>
        <div class="spend-columns">
            <Breakdown title="By provider" id="providers-title" lines=month.providers />
            <Breakdown title="By day" id="days-title" lines=month.days />
        </div>
    }
}

#[component]
fn ProjectRow(project: ProjectSpend, set_cap: ServerAction<SetProjectCap>) -> impl IntoView {
    let cap = project
        .cap_microusd
        .map(|cap| format!("{:.2}", cap as f64 / 1_000_000.0));
    let cap_form = project.id.map(|id| {
        let label = format!("Cap for {}", project.name);
        let save = format!("Save the cap of {}", project.name);
        view! {
            <ActionForm action=set_cap attr:class="cap-form">
                <input type="hidden" name="project" value=id.to_string() />
                <label class="sr-only" for=format!("cap-{id}")>{label.clone()}</label>
                <span class="cap-input">
                    "$"
                    <input
                        id=format!("cap-{id}")
                        type="text"
                        inputmode="decimal"
                        name="dollars"
                        size="7"
                        placeholder="none"
                        value=cap.clone().unwrap_or_default()
                    />
                </span>
                <button type="submit" class="btn btn-ghost btn-small" aria-label=save>
                    "Save"
                </button>
            </ActionForm>
        }
    });
    view! {
        <tr>
            <th scope="row">
                {match project.id {
                    Some(id) => view! { <a href=format!("/projects/{id}")>{project.name.clone()}</a> }.into_any(),
                    None => view! { <span class="muted">{project.name.clone()}</span> }.into_any(),
                }}
            </th>
            <td class="num" data-label="This month">{dollars(project.month_microusd)}</td>
            <td class="num" data-label="All time">{dollars(project.total_microusd)}</td>
            <td data-label="Cap">{cap_form}</td>
        </tr>
    }
}

#[component]
fn Breakdown(title: &'static str, id: &'static str, lines: Vec<Line>) -> impl IntoView {
    let most = lines.iter().map(|l| l.microusd).max().unwrap_or(0).max(1);
    view! {
        <section class="card" aria-labelledby=id>
            <h2 id=id class="card-title">{title}</h2>
            {if lines.is_empty() {
                view! { <p class="muted">"Nothing spent this month."</p> }.into_any()
            } else {
                view! {
                    <ul class="spend-bars">
                        {lines
                            .into_iter()
                            .map(|line| {
                                let width = line.microusd as f64 / most as f64 * 100.0;
                                view! {
                                    <li>
                                        <span class="spend-label">{line.label}</span>
                                        <span class="spend-bar" aria-hidden="true">
                                            <span style=format!("width: {width:.1}%")></span>
                                        </span>
                                        <span class="num">{dollars(line.microusd)}</span>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
                    .into_any()
            }}
        </section>
    }
}
