//! `server`: serves the marketplace when run without arguments; maintenance tasks are subcommands.

use std::process::ExitCode;

use accounts::Role;
use clap::{Parser, Subcommand};
use server::{config::Settings, startup, telemetry, Application};

/// mimalloc, not glibc's malloc: a page render allocates and frees many small strings and vectors
/// across the runtime's threads. Measured in one window, alternating builds (docs/BENCHMARKS.md,
/// "10,000 concurrent users", run 3): 1.6–1.7× the closed-loop requests per second on the page mix,
/// the same latency at 333 requests/s, ~80 MiB more resident memory. C code (SQLite) still
/// allocates with glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "server", about = "Bespoke marketplace server", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the pages, API and WebSockets (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Create the demo store (idempotent): accounts, 50 dealers with stores, and listings up to
    /// `--products`; print the demo credentials.
    Seed {
        /// How many listings the catalogue should hold (100000+ for benchmarks).
        #[arg(long, default_value_t = 10_000)]
        products: usize,
        /// The generator's seed: the same seed gives the same catalogue.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Demo shoppers with a browsing history (views, carts, purchases), on which a first
        /// recommendation model is trained; 0 = none.
        #[arg(long, default_value_t = 120)]
        shoppers: usize,
    },
    /// Account administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The event backbone: drain (serverless schedulers), dead letters, re-drive.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Encryption keys: rotate the key-encryption key, or re-wrap under the current one.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Recommendations: offline evaluation, training on the recorded signals, the stored models.
    Recommend {
        #[command(subcommand)]
        command: RecommendCommand,
    },
}

#[derive(Subcommand)]
enum RecommendCommand {
    /// Evaluate every model (NeuMF, GMF, MLP, MF-BPR, EASE^R, popularity, content) on a dataset
    /// folder — the NCF split (*.train.rating, *.test.rating, *.test.negative), RecBole files
    /// (*.item, *.test.inter) or sequences (*.txt) — and write a Markdown report with a chart.
    /// Prints one line per model: `<dataset> <model> HR@10=… NDCG@10=…`.
    Eval {
        /// The folder holding the datasets.
        #[arg(long)]
        data_dir: std::path::PathBuf,
        /// The dataset's folder inside it.
        #[arg(long)]
        dataset: String,
        /// Where the report goes (default: recommend-eval/<dataset>).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Seeds to average over where negatives are sampled (the NCF split's are fixed).
        #[arg(long, default_value_t = 5)]
        seeds: usize,
        /// At most this many epochs (early stopping usually ends sooner).
        #[arg(long)]
        epochs: Option<usize>,
        /// Only these models, comma-separated (popularity, content, ease, ials, mf-bpr, gmf, mlp, neumf, ensemble:
        /// the weighted blend of the others trained in the same run).
        #[arg(long, value_delimiter = ',')]
        models: Vec<String>,
        /// Skip precision / recall / F1 at 10 (which trains each model a second time).
        #[arg(long)]
        no_topk: bool,
    },
    /// Train a model on the recorded signals now (with a progress bar); it is served at once if it
    /// beats popularity on held-out interactions, and other instances pick it up within 30 s.
    Train,
    /// The stored models, newest first, with their validation figures.
    Models,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new key-encryption key to the keyring file, make it current, and re-wrap every data key
    /// under it (running instances pick the new key up from the file when they first meet it).
    Rotate,
    /// Re-wrap every data key under the current key (after changing BESPOKE_KEYS yourself), and seal
    /// values written before encryption was enabled.
    Rewrap,
    /// The keyring's key ids and which one is current (never the keys).
    Status,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain: exits non-zero and lists every edited, deleted or missing row.
    Verify,
    /// Print the newest entries (optionally of one actor or action).
    List {
        #[arg(long, default_value = "")]
        actor: String,
        #[arg(long, default_value = "")]
        action: String,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

#[derive(Subcommand)]
enum EventsCommand {
    /// Handle every due event delivery and saga step, then exit.
    Drain {
        /// Stop after this many seconds.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// List dead-lettered deliveries.
    DeadLetters,
    /// Put a dead letter back in the queue.
    Redrive {
        #[arg(long)]
        event_id: String,
        #[arg(long)]
        consumer: String,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account with a role (e.g. the first admin).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "admin")]
        role: String,
        #[arg(long, default_value = "Administrator")]
        name: String,
        /// The password; read from BESPOKE_ADMIN_PASSWORD when omitted.
        #[arg(long, env = "BESPOKE_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Change an existing account's role.
    SetRole {
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if server::lambda::detected() && std::env::var_os("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_none() {
        // a REST API's stage name is not part of our routes (set before any thread exists)
        std::env::set_var("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true");
    }
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init_tracing(settings.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli.command.unwrap_or(Command::Serve), settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cmd: Command, settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    match cmd {
        Command::Serve if server::lambda::detected() => {
            server::lambda::run(settings).await.map_err(|e| e.to_string())?;
        }
        Command::Serve => {
            let app = Application::build(settings).await?;
            tracing::info!(port = app.port(), backend = ?app.state.db.backend(), "listening on http://{}:{}", app.state.settings.addr.ip(), app.port());
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            let db = startup::connect_db(&settings).await?;
            startup::event_bus(&db, &kernel::hub::Hub::for_db(&db), &settings).await?;
            println!("migrations applied ({:?})", db.backend());
        }
        Command::Seed { products, seed, shoppers } => {
            let db = startup::connect_db(&settings).await?;
            // subscriptions first, so the seed's events reach every consumer
            startup::event_bus(&db, &kernel::hub::Hub::for_db(&db), &settings).await?;
            let accounts = accounts::Accounts::new(db.clone(), startup::accounts_config(&settings));
            let catalog = startup::catalog(&db, &settings);
            let started = std::time::Instant::now();
            let made = server::seed::catalogue::seed(&accounts, &catalog, products, seed).await?;
            if made > 0 {
                println!("demo catalogue: {made} listings added in {:.1} s", started.elapsed().as_secs_f64());
            }
            server::seed::run(&accounts).await?;
            if shoppers > 0 {
                let rec = recommend::Recommender::start(db.clone(), catalog.clone(), settings.recommend.clone()).await?;
                let n = server::seed::signals::seed(&accounts, &catalog, &rec, shoppers, seed).await?;
                if n > 0 {
                    println!("demo browsing history: {n} signals from {shoppers} shoppers (shopper001…@bespoke.test); training the first recommendation model");
                    let m = rec.train(Box::new(recommend::model::Bar::new("NeuMF", settings.recommend.epochs))).await?;
                    println!("recommendation model {} ({}): validation HR@10 {:.3} (popularity {:.3})", m.model_id, m.status, m.val_hr10, m.popularity_val_hr10);
                }
            }
        }
        Command::Keys { command } => {
            let db = startup::connect_db(&settings).await?;
            match command {
                KeysCommand::Status => {
                    println!("current key: {}", db.vault()?.current_id());
                }
                KeysCommand::Rotate => {
                    if settings.keys.is_some() {
                        return Err("BESPOKE_KEYS is set, so the keyring lives in your secret store: add a key there, make it current, restart, then run `server keys rewrap`".into());
                    }
                    let path = settings.keys_path();
                    let mut ring = kernel::crypto::LocalKeyring::parse(&std::fs::read_to_string(&path)?)?;
                    let old = ring.current.clone();
                    let new = ring.add_key();
                    startup::write_keyring(&path, &ring)?;
                    let db = db.with_vault(startup::vault(&settings)?);
                    let n = kernel::crypto::rotate_all(&db, db.vault()?).await?;
                    kernel::audit::record(&db, &kernel::audit::Entry::new("cli", "keys.rotate", &new).detail(format!("from {old}; {n} values re-wrapped"))).await?;
                    println!("rotated {old} -> {new}: {n} values re-wrapped ({} keys in {})", ring.ids().len(), path.display());
                }
                KeysCommand::Rewrap => {
                    let n = kernel::crypto::rotate_all(&db, db.vault()?).await?;
                    kernel::audit::record(&db, &kernel::audit::Entry::new("cli", "keys.rewrap", &db.vault()?.current_id()).detail(format!("{n} values"))).await?;
                    println!("{n} values now under {}", db.vault()?.current_id());
                }
            }
        }
        Command::Audit { command } => {
            let db = startup::connect_db(&settings).await?;
            match command {
                AuditCommand::Verify => {
                    let v = kernel::audit::verify(&db).await?;
                    for p in &v.problems {
                        eprintln!("audit: {p}");
                    }
                    if !v.ok() {
                        return Err(format!("the audit log is not intact: {} problem(s) in {} rows", v.problems.len(), v.rows).into());
                    }
                    println!("audit log intact: {} rows, chain verified", v.rows);
                }
                AuditCommand::List { actor, action, limit } => {
                    let f = kernel::audit::Filter { actor, action, ..Default::default() };
                    for r in kernel::audit::list(&db, &f, limit).await? {
                        println!("{:>6} {} {:<28} actor={} target={} ip={} request={} {}", r.seq, r.at, r.action, r.actor_id, r.target, r.ip, r.request_id, r.detail);
                    }
                }
            }
        }
        Command::Events { command } => {
            let db = startup::connect_db(&settings).await?;
            let hub = kernel::hub::Hub::for_db(&db);
            let bus = startup::event_bus(&db, &hub, &settings).await?;
            match command {
                EventsCommand::Drain { seconds } => {
                    let budget = std::time::Duration::from_secs(seconds);
                    let events = bus.drain(budget).await?;
                    let catalog = startup::catalog(&db, &settings);
                    let (provider, _) = startup::payment_provider(&db, &settings)?;
                    let orders = orders::Orders::new(db.clone(), catalog, hub.clone(), provider, startup::orders_config(&settings));
                    let sagas = startup::saga_engine(&db, &orders, &settings);
                    let mut steps = 0;
                    while let n @ 1.. = sagas.run_once().await? {
                        steps += n;
                    }
                    let more = bus.drain(budget).await?;
                    println!("handled {} event deliveries and {steps} saga runs", events + more);
                }
                EventsCommand::DeadLetters => {
                    let list = bus.dead_letters(500).await?;
                    if list.is_empty() {
                        println!("no dead letters");
                    }
                    for d in list {
                        println!(
                            "{} {} {} attempts={} error={}",
                            d.event_id,
                            d.consumer,
                            d.event_type,
                            d.attempts,
                            d.last_error.unwrap_or_default()
                        );
                    }
                }
                EventsCommand::Redrive { event_id, consumer } => {
                    if bus.redrive(&event_id, &consumer).await? {
                        println!("re-driven: {event_id} → {consumer}");
                    } else {
                        return Err("no dead letter with that event id and consumer".into());
                    }
                }
            }
        }
        Command::Recommend { command: RecommendCommand::Eval { data_dir, dataset, out, seeds, epochs, models, no_topk } } => {
            let dir = data_dir.join(&dataset);
            let opts = recommend::experiment::EvalOptions {
                seeds,
                epochs,
                models,
                topk: !no_topk,
                out: out.unwrap_or_else(|| std::path::PathBuf::from("recommend-eval").join(&dataset)),
                progress: true,
            };
            // CPU-bound: on the blocking pool, printing each model's line as it is known
            let report = tokio::task::spawn_blocking(move || recommend::experiment::evaluate_and_report(&dir, &opts, &mut |l| println!("{l}"))).await??;
            eprintln!("report: {}", report.display());
        }
        Command::Recommend { command } => {
            let db = startup::connect_db(&settings).await?;
            startup::event_bus(&db, &kernel::hub::Hub::for_db(&db), &settings).await?;
            let catalog = startup::catalog(&db, &settings);
            let rec = recommend::Recommender::start(db, catalog, settings.recommend.clone()).await?;
            match command {
                RecommendCommand::Train => {
                    let m = rec.train(Box::new(recommend::model::Bar::new("NeuMF", settings.recommend.epochs))).await?;
                    println!(
                        "model {} ({}): {} people, {} listings, {} interactions; validation HR@10 {:.4} (popularity {:.4}); {} epochs in {:.1}s",
                        m.model_id, m.status, m.users, m.items, m.interactions, m.val_hr10, m.popularity_val_hr10, m.epochs, m.seconds
                    );
                }
                RecommendCommand::Models => {
                    for m in rec.models(50).await? {
                        println!("{} {} {} HR@10={:.4} popularity={:.4} users={} items={} interactions={}", m.model_id, m.status, m.kind, m.val_hr10, m.popularity_val_hr10, m.users, m.items, m.interactions);
                    }
                }
                RecommendCommand::Eval { .. } => {}
            }
        }
        Command::Admin { command } => {
            let db = startup::connect_db(&settings).await?;
            startup::event_bus(&db, &kernel::hub::Hub::for_db(&db), &settings).await?;
            let accounts = accounts::Accounts::new(db, startup::accounts_config(&settings));
            match command {
                AdminCommand::Create { email, role, name, password } => {
                    let role = Role::parse(&role)?;
                    let u = accounts.create_with_role(&email, &name, &password, role).await?;
                    println!("created {} ({}) with id {}", u.email, u.role.as_str(), u.id);
                }
                AdminCommand::SetRole { email, role } => {
                    let role = Role::parse(&role)?;
                    let u = accounts.user_by_email(&email).await?.ok_or("no account with that email")?;
                    let u = accounts.set_role(u.id, role).await?;
                    println!("{} is now {}", u.email, u.role.as_str());
                }
            }
        }
    }
    Ok(())
}
