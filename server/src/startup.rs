//! Wiring: everything the process needs is built once here and shared through [`AppState`].

use std::{net::SocketAddr, sync::Arc, time::Duration};

use accounts::{Accounts, AccountsConfig};
use axum::{extract::FromRef, Router};
use kernel::{
    events::{BusConfig, EventBus},
    hub::Hub,
    saga::SagaEngine,
    Db,
};
use catalog::{Catalog, LocalDiskStore};
use notify::Notifications;
use orders::{
    payments::{sandbox::Sandbox, stripe::{StripeProvider, StripeSettings}, PaymentProvider},
    Orders, OrdersConfig,
};
use search::SearchIndex;
use tokio::sync::Notify;
use leptos::prelude::*;
use leptos_axum::{file_and_error_handler_with_context, LeptosRoutes};
use tokio::net::TcpListener;

use crate::{
    config::{EventsMode, Settings},
    http,
    telemetry::Metrics,
};

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub accounts: Accounts,
    pub notifications: Notifications,
    pub catalog: Catalog,
    pub search: SearchIndex,
    pub views: crate::views::ViewRecorder,
    pub bus: EventBus,
    pub hub: Hub,
    pub sagas: SagaEngine,
    pub orders: Orders,
    pub custom: customization::Customization,
    /// Live thread sockets per person on this instance.
    pub sockets: crate::http::custom_api::SocketCounts,
    /// The sandbox payment provider when it is the configured one (its card form and challenge).
    pub sandbox: Option<Sandbox>,
    pub metrics: Arc<Metrics>,
    /// Per-instance rate limits (sign-up, search, checkout).
    pub limiter: Arc<crate::http::guard::Limiter>,
    /// When this instance started (request rate on the admin dashboard).
    pub started: std::time::Instant,
    /// Sign-in with an OpenID Connect provider (`BESPOKE_OIDC__*`).
    pub oidc: Option<Arc<accounts::oidc::Oidc>>,
    /// Recommendations (signals, item space, the served model).
    pub recommend: recommend::Recommender,
    pub settings: Arc<Settings>,
}

impl AppState {
    /// The context every server function and page render gets.
    fn provide(&self) {
        provide_context(self.services());
    }

    /// The services as the app crate's server functions see them (the JSON API shares a few
    /// operations with them: export, account deletion).
    pub fn services(&self) -> app::ssr::Services {
        app::ssr::Services {
            accounts: self.accounts.clone(),
            notifications: self.notifications.clone(),
            catalog: self.catalog.clone(),
            orders: self.orders.clone(),
            custom: self.custom.clone(),
            sandbox: self.sandbox.clone(),
            search: self.search.clone(),
            views: {
                let v = self.views.clone();
                Arc::new(move |product: &str, viewer: &str| v.record(product, viewer))
            },
            inline_events: self.settings.events_mode == EventsMode::Inline,
            secure_cookies: self.settings.secure_cookies,
            oidc: self.oidc.clone(),
            recommend: self.recommend.clone(),
            bus: self.bus.clone(),
            hub: self.hub.clone(),
            db: self.db.clone(),
            http_figures: {
                let (m, started) = (self.metrics.clone(), self.started);
                Arc::new(move || {
                    let (requests, errors, p95) = m.summary();
                    app::ssr::HttpFigures {
                        requests,
                        per_second: requests as f64 / started.elapsed().as_secs_f64().max(1.0),
                        p95_ms: p95 * 1e3,
                        error_rate: if requests == 0 { 0.0 } else { errors as f64 / requests as f64 },
                    }
                })
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("could not open the database: {0}")]
    Db(#[from] kernel::DbError),
    #[error("could not prepare the data dir {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("could not build the search index: {0}")]
    Search(String),
    #[error("could not list the page routes: {0}")]
    Routes(String),
    #[error("payments: {0}")]
    Payments(String),
    #[error("encryption keys: {0}")]
    Keys(String),
    #[error("could not listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    pub state: AppState,
}

pub async fn connect_db(settings: &Settings) -> Result<Db, StartError> {
    let url = settings
        .effective_database_url()
        .map_err(|source| StartError::DataDir { path: settings.data_dir.display().to_string(), source })?;
    let db = Db::connect(&url).await?;
    db.migrate().await?;
    Ok(db.with_vault(vault(settings)?))
}

/// The keyring source: `BESPOKE_KEYS`, else the keyring file.
fn read_keyring(settings: &Settings) -> Result<Option<kernel::crypto::LocalKeyring>, kernel::crypto::CryptoError> {
    use kernel::crypto::{CryptoError, LocalKeyring};
    if let Some(k) = &settings.keys {
        return LocalKeyring::parse(k.expose()).map(Some);
    }
    let path = settings.keys_path();
    match std::fs::read_to_string(&path) {
        Ok(text) => LocalKeyring::parse(&text).map(Some).map_err(|e| CryptoError::Config(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CryptoError::Config(format!("{}: {e}", path.display()))),
    }
}

/// Writes a keyring file readable by its owner only.
pub fn write_keyring(path: &std::path::Path, ring: &kernel::crypto::LocalKeyring) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(ring.to_json().as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(tmp, path)
}

/// The vault sealing personal data: keys from configuration; a first run without any generates a
/// keyring file and says so loudly (losing it makes the sealed data unreadable).
pub fn vault(settings: &Settings) -> Result<Arc<kernel::crypto::Vault>, StartError> {
    use kernel::crypto::{KeyProvider, LocalKeyring, Vault};
    let ring = match read_keyring(settings).map_err(|e| StartError::Keys(e.to_string()))? {
        Some(r) => r,
        None => {
            let r = LocalKeyring::generate();
            let path = settings.keys_path();
            write_keyring(&path, &r).map_err(|e| StartError::Keys(format!("could not write {}: {e}", path.display())))?;
            tracing::warn!(
                path = %path.display(),
                "!!! NO ENCRYPTION KEYS WERE CONFIGURED: a new key-encryption key was generated and written to this file. \
                 Back it up and keep it secret: without it the encrypted personal data (addresses, MFA secrets, custom requests) \
                 cannot be read. In production set BESPOKE_KEYS or BESPOKE_KEYS_FILE (docs/OPERATIONS.md) !!!"
            );
            r
        }
    };
    let s = settings.clone();
    // another instance may rotate: a value under a key this one has not seen makes it re-read the source
    let reload: kernel::crypto::Reload = Box::new(move || {
        read_keyring(&s)?
            .map(|r| Arc::new(r) as Arc<dyn KeyProvider>)
            .ok_or_else(|| kernel::crypto::CryptoError::Config("the keyring disappeared".into()))
    });
    Ok(Arc::new(Vault::new(Arc::new(ring), Some(reload))))
}

/// The event bus with every consumer of this binary, its subscriptions recorded in the database.
pub async fn event_bus(db: &Db, hub: &Hub, settings: &Settings) -> Result<EventBus, StartError> {
    let cfg = BusConfig {
        lease: Duration::from_secs(settings.events_lease_secs),
        max_attempts: settings.events_max_attempts,
        base_backoff: Duration::from_millis(settings.events_base_backoff_ms),
        ..BusConfig::default()
    };
    let mailer: Arc<dyn notify::Mailer> = match &settings.mail_spool_dir {
        Some(dir) => Arc::new(notify::SpoolMailer { dir: dir.clone() }),
        None => Arc::new(notify::LogMailer),
    };
    let mut consumers = notify::consumers(hub.clone(), mailer);
    consumers.push(Arc::new(catalog::inventory::RatingsConsumer));
    consumers.push(Arc::new(catalog::inventory::ErasureConsumer));
    consumers.push(Arc::new(orders::ErasureConsumer { db: db.clone() }));
    consumers.push(Arc::new(customization::ErasureConsumer { db: db.clone(), files: catalog::LocalDiskStore::new(settings.data_dir.join("private")) }));
    consumers.push(Arc::new(recommend::service::SignalsConsumer));
    consumers.push(Arc::new(recommend::service::ErasureConsumer));
    let bus = EventBus::new(db.clone(), cfg, consumers);
    bus.install().await.map_err(|e| StartError::Db(e.into()))?;
    Ok(bus)
}

/// The saga runner with every saga this binary defines (orders' checkout and refund), attached to
/// the orders service that starts them.
pub fn saga_engine(db: &Db, orders: &Orders, settings: &Settings) -> SagaEngine {
    let engine = SagaEngine::new(db.clone(), orders.saga_defs(), Duration::from_secs(settings.events_lease_secs));
    orders.attach(engine.clone());
    engine
}

pub fn orders_config(settings: &Settings) -> OrdersConfig {
    OrdersConfig {
        commission_bps: settings.commission_bps,
        payout_hold: Duration::from_secs(u64::try_from(settings.payout_hold_days).unwrap_or(7) * 86_400),
        reservation_ttl: settings.reservation_ttl,
        ..OrdersConfig::default()
    }
}

/// The payment provider the configuration names (and the sandbox handle when it is the sandbox).
pub fn payment_provider(db: &Db, settings: &Settings) -> Result<(Arc<dyn PaymentProvider>, Option<Sandbox>), StartError> {
    let p = &settings.payments;
    match p.provider {
        crate::config::PaymentsProvider::Sandbox => {
            let sandbox = Sandbox::new(db.clone(), p.sandbox_webhook_secret.expose().to_owned());
            Ok((Arc::new(sandbox.clone()), Some(sandbox)))
        }
        crate::config::PaymentsProvider::Stripe => {
            let provider = StripeProvider::new(StripeSettings {
                secret_key: p.stripe_secret_key.as_ref().map(|k| k.expose().to_owned()).unwrap_or_default(),
                publishable_key: p.stripe_publishable_key.clone().unwrap_or_default(),
                webhook_secrets: p.stripe_webhook_secrets.iter().map(|s| s.expose().to_owned()).collect(),
                api_base: p.stripe_api_base.clone(),
            })
            .map_err(StartError::Payments)?;
            Ok((Arc::new(provider), None))
        }
    }
}

/// The catalogue with images on local disk under the data dir (`/media/…`).
pub fn catalog(db: &Db, settings: &Settings) -> Catalog {
    Catalog::new(db.clone(), LocalDiskStore::new(settings.data_dir.join("media")))
}

pub fn accounts_config(settings: &Settings) -> AccountsConfig {
    AccountsConfig {
        max_failures_per_account: settings.max_failures_per_account,
        max_failures_per_ip: settings.max_failures_per_ip,
        ..AccountsConfig::default()
    }
}

/// Leptos' options: `Leptos.toml` in the working directory when present (the deployed binary's
/// runtime configuration), else built-in defaults; our settings override the site root and address.
fn leptos_options(settings: &Settings) -> LeptosOptions {
    let from_file = std::path::Path::new("Leptos.toml")
        .exists()
        .then(|| leptos::config::get_configuration(Some("Leptos.toml")))
        .and_then(|r| r.map_err(|e| tracing::warn!(error = %e, "Leptos.toml ignored")).ok())
        .map(|c| c.leptos_options);
    let mut opts = from_file.unwrap_or_else(|| {
        LeptosOptions::builder().output_name("bespoke").site_root("target/site").site_pkg_dir("pkg").build()
    });
    if let Some(root) = &settings.site_root {
        opts.site_root = root.display().to_string().into();
    }
    // the build names the bundle after a hash of its content (`bespoke-<hash>.js`, `_bg.wasm`,
    // `.css`) and writes that name here, so the files can be cached for ever
    let bundle = std::path::Path::new(opts.site_root.as_ref()).join("bundle.txt");
    if let Ok(name) = std::fs::read_to_string(&bundle) {
        let name = name.trim();
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            opts.output_name = name.to_owned().into();
        }
    }
    opts.site_addr = settings.addr;
    opts
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let started = std::time::Instant::now();
        let db = connect_db(&settings).await?;
        tracing::info!(ms = started.elapsed().as_secs_f64() * 1e3, "database open and migrated");
        Self::build_with_db(settings, db).await
    }

    pub async fn build_with_db(settings: Settings, db: Db) -> Result<Self, StartError> {
        let started = std::time::Instant::now();
        let listener = TcpListener::bind(settings.addr)
            .await
            .map_err(|source| StartError::Bind { addr: settings.addr, source })?;
        let local = listener.local_addr().unwrap_or(settings.addr);
        let (state, router) = assemble_and_route(settings, db, Some(local)).await?;
        tracing::info!(ms = started.elapsed().as_secs_f64() * 1e3, "services assembled and router built");
        Ok(Self { listener, router, state })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until SIGINT/SIGTERM. In background mode the event dispatcher, the saga runner and (on
    /// PostgreSQL) the LISTEN connection run beside the server and stop with it.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let stop = Arc::new(Notify::new());
        let first = FirstAnswer::default();
        let tasks = spawn_background(&self.state, &stop, first.clone());
        let service = first.around(self.router).into_make_service_with_connect_info::<SocketAddr>();
        let res = axum::serve(self.listener, service).with_graceful_shutdown(shutdown_signal()).await;
        stop.notify_waiters();
        self.state.views.flush().await;
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        res
    }
}

/// [`assemble`] and the router over it; the page routes are listed on a blocking thread meanwhile
/// (see [`page_routes`]).
pub async fn assemble_and_route(settings: Settings, db: Db, local: Option<SocketAddr>) -> Result<(AppState, Router), StartError> {
    let routes = tokio::task::spawn_blocking(page_routes);
    let state = assemble(settings, db, local).await?;
    let routes = routes.await.map_err(|e| StartError::Routes(e.to_string()))?;
    Ok((state.clone(), router_with(state, routes)))
}

/// Every service of the process wired together. `local` is the address this process listens on
/// (none under AWS Lambda, where the public URL must name the deployment).
pub async fn assemble(settings: Settings, db: Db, local: Option<SocketAddr>) -> Result<AppState, StartError> {
    let accounts = Accounts::new(db.clone(), accounts_config(&settings));
    let hub = Hub::for_db(&db);
    let catalog = catalog(&db, &settings);
    // the search index and the recommendations' item space are built side by side (each on a
    // blocking thread), while the event bus checks its subscriptions and the category tree (reference
    // data every deployment has; idempotent) is checked: a cold start waits for the slowest of them,
    // not their sum
    let started = std::time::Instant::now();
    let checks = async {
        let (bus, ()) = tokio::join!(event_bus(&db, &hub, &settings), db.warm_readers(4));
        let bus = bus?;
        let t = std::time::Instant::now();
        crate::seed::catalogue::ensure_categories(&catalog).await.map_err(|e| StartError::Search(e.to_string()))?;
        tracing::info!(ms = started.elapsed().as_secs_f64() * 1e3, categories_ms = t.elapsed().as_secs_f64() * 1e3, "event subscriptions and category tree checked");
        // the home page's "trending" ranking (kept for a minute) is worked out now, not in the
        // first visitor's request
        let t = std::time::Instant::now();
        if let Err(e) = catalog.trending(8).await {
            tracing::warn!(error = %e, "could not work out the trending listings ahead");
        }
        tracing::info!(ms = t.elapsed().as_secs_f64() * 1e3, "trending listings worked out");
        Ok::<_, StartError>(bus)
    };
    let (bus, search, recommend) = tokio::join!(
        checks,
        SearchIndex::start(db.clone(), catalog.clone()),
        recommend::Recommender::start(db.clone(), catalog.clone(), settings.recommend.clone())
    );
    let bus = bus?;
    let (search, stats) = search.map_err(|e| StartError::Search(e.to_string()))?;
    tracing::info!(documents = stats.documents, ms = stats.took.as_secs_f64() * 1e3, from_snapshot = stats.from_snapshot, "search index ready");
    let recommend = recommend.map_err(|e| StartError::Search(e.to_string()))?;
    tracing::info!(ms = started.elapsed().as_secs_f64() * 1e3, model = recommend.model_id().as_deref().unwrap_or("none"), "search and recommendations ready");
    let (provider, sandbox) = payment_provider(&db, &settings)?;
    let orders = Orders::new(db.clone(), catalog.clone(), hub.clone(), provider, orders_config(&settings));
    let sagas = saga_engine(&db, &orders, &settings);
    if let Some(sb) = &sandbox {
        let base = settings.public_url.clone().unwrap_or_else(|| {
            let addr = local.unwrap_or(settings.addr);
            let host = if addr.ip().is_unspecified() { "127.0.0.1".to_owned() } else { addr.ip().to_string() };
            format!("http://{host}:{}", addr.port())
        });
        sb.set_webhook_endpoint(format!("{base}/api/v1/payments/webhooks/sandbox"));
    }
    // reference images in private threads live outside the public media folder
    let custom = customization::Customization::new(db.clone(), hub.clone(), catalog.clone(), orders.clone(), catalog::LocalDiskStore::new(settings.data_dir.join("private")));
    let state = AppState {
        leptos_options: leptos_options(&settings),
        hub,
        sagas,
        orders,
        custom,
        sockets: Default::default(),
        sandbox,
        notifications: Notifications::new(db.clone()),
        views: crate::views::ViewRecorder::new(catalog.clone()),
        catalog,
        search,
        db,
        accounts,
        bus,
        metrics: Arc::new(Metrics::default()),
        limiter: Arc::new(crate::http::guard::Limiter::new(settings.limits)),
        started: std::time::Instant::now(),
        recommend,
        oidc: settings.oidc.clone().map(|mut c| {
            // without a public URL the provider sends people back to the address we listen on
            if let (None, Some(addr)) = (&settings.public_url, local) {
                c.redirect_uri = format!("http://{}:{}/auth/oidc/callback", addr.ip(), addr.port());
            }
            accounts::oidc::Oidc::new(c)
        }),
        settings: Arc::new(settings),
    };
    Ok(state)
}

/// How long the loops beside the server wait for the first answer before they start anyway.
pub const HOUSEKEEPING_AFTER: Duration = Duration::from_secs(1);

/// Set once this process has answered its first request. The loops beside the server wait for it
/// (or for [`HOUSEKEEPING_AFTER`]): a cold start's first visitor does not share the cores and the
/// database with their first rounds (on PostgreSQL the dispatcher's first `ANALYZE` alone took
/// 27 ms of a 36 ms first request).
#[derive(Clone)]
pub struct FirstAnswer(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for FirstAnswer {
    fn default() -> Self {
        Self(Arc::new(tokio::sync::watch::Sender::new(false)))
    }
}

impl FirstAnswer {
    /// Records that a request was answered (cheap after the first: one read of a flag).
    pub fn answered(&self) {
        if !*self.0.borrow() {
            self.0.send_replace(true);
        }
    }

    /// Waits until a request was answered, or at most `at_most`.
    pub async fn wait(&self, at_most: Duration) {
        let mut rx = self.0.subscribe();
        let _ = tokio::time::timeout(at_most, rx.wait_for(|answered| *answered)).await;
    }

    /// The router with this marker set after each answer's head.
    pub fn around(&self, router: Router) -> Router {
        let me = self.clone();
        router.layer(axum::middleware::from_fn(move |req: axum::extract::Request, next: axum::middleware::Next| {
            let me = me.clone();
            async move {
                let res = next.run(req).await;
                me.answered();
                res
            }
        }))
    }
}

/// The loops that run beside the server and stop with `stop`: in background mode the event
/// dispatcher and the saga runner; always the search index and the recommendations following the
/// catalogue, the view recorder, the sandbox's webhooks, the minute sweep and (on PostgreSQL) the
/// hub's LISTEN connection. Under AWS Lambda they run while an invocation keeps the instance awake.
///
/// The LISTEN connection starts now (it carries chat and tracking pushes); the others once `first`
/// says a request was answered, or after [`HOUSEKEEPING_AFTER`]. A start has caught up with the
/// outbox before it serves, so nothing they do is needed for the first answer.
pub fn spawn_background(st: &AppState, stop: &Arc<Notify>, first: FirstAnswer) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    // the hub needs the listener in both modes
    if let Some(t) = kernel::hub::spawn_pg_listener(&st.db, st.hub.clone(), stop.clone()) {
        tasks.push(t);
    }
    let (st, stop) = (st.clone(), stop.clone());
    tasks.push(tokio::spawn(async move {
        tokio::select! {
            _ = first.wait(HOUSEKEEPING_AFTER) => {}
            _ = stop.notified() => return,
        }
        let mut loops = Vec::new();
        if st.settings.events_mode == EventsMode::Background {
            loops.push(tokio::spawn(st.bus.clone().run(stop.clone())));
            loops.push(tokio::spawn(st.sagas.clone().run(stop.clone(), Duration::from_secs(5))));
        }
        loops.push(tokio::spawn(st.search.clone().follow(stop.clone())));
        loops.push(tokio::spawn(st.recommend.clone().follow(stop.clone())));
        loops.push(tokio::spawn(st.views.clone().run(stop.clone())));
        if let Some(sb) = &st.sandbox {
            loops.push(tokio::spawn(sb.clone().run(stop.clone())));
        }
        loops.push(tokio::spawn(sweep(st.orders.clone(), st.custom.clone(), stop.clone())));
        for t in loops {
            let _ = t.await;
        }
    }));
    tasks
}

/// The app's page routes. Listing them walks the app (a few milliseconds), so a start does it on a
/// blocking thread while its services load: without them in context, a server function a resource
/// calls on the way gets an error ("not inside a request"), not a panic, and nothing is rendered.
pub fn page_routes() -> Vec<leptos_axum::AxumRouteListing> {
    leptos_axum::generate_route_list_with_exclusions_and_ssg_and_context(app::App, None, || ()).0
}

/// The router over `routes` (from [`page_routes`]).
pub fn router_with(state: AppState, routes: Vec<leptos_axum::AxumRouteListing>) -> Router {
    let ctx_state = state.clone();
    let ctx = move || ctx_state.provide();
    let shell_opts = state.leptos_options.clone();
    let fallback_state = state.clone();
    let pages = Router::new()
        .leptos_routes_with_context(&state, routes, ctx.clone(), move || app::shell(shell_opts.clone()))
        .fallback(file_and_error_handler_with_context::<AppState, _>(move || fallback_state.provide(), app::shell))
        .with_state(state.clone());
    // a page GET whose render is stuck is rendered again alongside (`http::cache::hedged`)
    let pages = Router::new().fallback_service(tower::service_fn(move |req: axum::extract::Request| {
        let pages = pages.clone();
        async move { Ok::<_, std::convert::Infallible>(http::cache::hedged(pages, req).await) }
    }));
    http::routes(state.clone())
        .merge(pages)
        .layer(axum::middleware::from_fn_with_state(state.clone(), http::guard::guard))
        .layer(axum::middleware::from_fn(http::cache::cache))
        .layer(axum::middleware::from_fn_with_state(state, http::middleware::observe))
        // Brotli or gzip for what the client accepts (not images, not event streams; the bundle's
        // precompressed copies pass through as they are)
        .layer(tower_http::compression::CompressionLayer::new())
}

/// Every minute: completes delivered orders whose payout hold ended, and expires quotes.
async fn sweep(orders: Orders, custom: customization::Customization, stop: Arc<Notify>) {
    loop {
        if let Err(e) = orders.sweep().await {
            tracing::warn!(error = %e, "order sweep failed");
        }
        if let Err(e) = custom.expire_due().await {
            tracing::warn!(error = %e, "quote expiry sweep failed");
        }
        tokio::select! {
            _ = stop.notified() => break,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use axum::{body::Body, http::Request, routing::get, Router};
    use tower::ServiceExt;

    use super::FirstAnswer;

    #[tokio::test]
    async fn the_loops_wait_for_the_first_answer_or_at_most_their_limit() {
        // nothing answered: the wait ends at its limit, not before
        let first = FirstAnswer::default();
        let t = Instant::now();
        first.wait(Duration::from_millis(150)).await;
        assert!(t.elapsed() >= Duration::from_millis(150), "returned after {:?}", t.elapsed());

        // the first answer's head ends a long wait at once, for waiters before and after it
        let waiting = tokio::spawn({
            let first = first.clone();
            async move {
                let t = Instant::now();
                first.wait(Duration::from_secs(30)).await;
                t.elapsed()
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let app = first.around(Router::new().route("/", get(|| async { "hello" })));
        let res = app.oneshot(Request::get("/").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(res.status(), 200);
        let waited = waiting.await.unwrap();
        assert!(waited < Duration::from_secs(10), "the answer did not end the wait ({waited:?})");
        let t = Instant::now();
        first.wait(Duration::from_secs(30)).await;
        assert!(t.elapsed() < Duration::from_secs(10), "a wait after the answer waited {:?}", t.elapsed());
    }
}
