//! `sadoku serve`: one long-lived judge per host over HTTP (docs/SERVE.md). The lanes are
//! `sadoku review`'s, fed by one batch that never closes; what a one-shot run rebuilds (the GPUs'
//! contexts and ceilings, the module cache, the baselines' timings, the Model processes, the
//! KernelBench descriptions) lives as long as the server.

pub mod api;
pub mod metrics;
pub mod service;
pub mod store;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use sadoku_core::problem::Registry;
use sadoku_core::seeds::Seeds;

use crate::backend::{Backend, PythonPlan};
use crate::cli::ServeArgs;
use crate::lanes::{self, Batch, Gates};
use crate::progress::Progress;
use crate::{kernelbench, review, selftest};
use service::{Kernelbench, Parts, Service, Settings};

/// Run the server until SIGINT or SIGTERM: exit 0; 2 when it cannot start or its self-test fails.
pub fn run(registry: &mut Registry, args: ServeArgs, backend: &dyn Backend) -> Result<u8> {
    let token = token(&args)?;
    let listen: SocketAddr = args
        .listen
        .parse()
        .map_err(|_| anyhow!("--listen {}: give an address and port, e.g. 127.0.0.1:8421", args.listen))?;
    if token.is_none() && !listen.ip().is_loopback() {
        anyhow::bail!(
            "--listen {listen} is reachable from other machines: give a token (--token-file FILE or $SADOKU_TOKEN), or listen on 127.0.0.1"
        );
    }
    let progress = Progress::lines_only();
    let (store, earlier) = store::Store::open(&args.state)?;
    if earlier.torn > 0 {
        progress.line(&format!(
            "sadoku serve: {} incomplete line(s) in {} skipped",
            earlier.torn,
            args.state.display()
        ));
    }
    let judging = &args.judging;
    let gpus = review::gpus(backend, judging)?;
    // Each GPU opened once before anything is promised: a missing GPU or CUDA library is said now.
    let mut environment = Vec::new();
    for &gpu in &gpus {
        let device = backend.open_judge(gpu, judging.no_cache).map_err(|e| anyhow!("GPU {gpu}: {e}"))?;
        environment.push(device.info().clone());
    }
    review::describe_sandbox(&mut environment, judging, &[]);
    let bridge = kernelbench::Bridge::write()?;
    let python = kernelbench::python(args.python.as_deref());
    let plan_python = PythonPlan {
        python: python.clone(),
        bridge: bridge.path().to_path_buf(),
        device: backend.python_device().into(),
        headers: judging.torch_headers,
    };
    let seeds = Seeds::fresh();
    store.seed(seeds.master)?;
    let options = review::review_options(judging, None);
    let mut plan = review::plan(backend, judging, seeds, options.clone(), Some(plan_python));
    let gates = Arc::new(Gates::new(Ok(gpus.clone())));

    let selftest = if args.skip_selftest {
        progress.line("sadoku serve: the self-test is skipped (--skip-selftest); /healthz says so");
        selftest::Summary::skipped()
    } else {
        let suite = match &args.selftest_suite {
            Some(dir) => selftest::Suite::load(dir)?,
            None => selftest::Suite::builtin()?,
        };
        let summary = selftest::run(&suite, registry, &plan, &gates, judging.jobs, &progress)?;
        for line in &summary.lines {
            progress.line(&format!("  {line}"));
        }
        if summary.passed != Some(true) {
            progress.line(&format!(
                "sadoku serve: the self-test failed ({} of {} cases judged otherwise than they must be): not serving. First: {}",
                summary.failures.len(),
                summary.cases,
                summary.failures.first().map_or("", String::as_str)
            ));
            return Ok(2);
        }
        summary
    };

    // From here on a lane waits for candidates: it keeps a worker started for the next one.
    plan.spare_worker = true;
    let batch = Arc::new(Batch::default());
    let lanes_count = gpus.len() * usize::from(judging.jobs);
    let service = Arc::new(Service::new(Parts {
        registry: std::mem::replace(registry, Registry::empty()),
        batch: Arc::clone(&batch),
        gates: Arc::clone(&gates),
        store,
        settings: Settings {
            options,
            sanitize: judging.sanitize,
            capacity: args.queue as usize,
            build_ahead: !judging.no_cache,
        },
        environment,
        selftest,
        lanes: lanes_count,
        kernelbench: Some(Kernelbench::new(
            args.state.join("problems"),
            python,
            bridge,
            judging.sandbox,
            backend.python_device() == "cuda",
        )),
        earlier: earlier.verdicts,
    }));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the HTTP runtime")?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(listen))
        .map_err(|e| anyhow!("--listen {listen}: cannot listen: {e}"))?;
    let address = listener.local_addr()?;
    let shutting_down = std::sync::atomic::AtomicBool::new(false);
    let builders = judging.build_jobs.map_or_else(review::build_jobs, usize::from);

    let build_ahead = plan.python.is_some() && !judging.no_cache;
    if build_ahead {
        batch.add_builders(builders);
    }
    std::thread::scope(|scope| -> Result<u8> {
        let (service, plan, gates, batch, progress, shutting_down) =
            (&service, &plan, &*gates, &*batch, &progress, &shutting_down);
        let mut lanes = Vec::new();
        for &gpu in &gpus {
            for _ in 0..judging.jobs {
                lanes.push(scope.spawn(move || {
                    lanes::run(gpu, gates, plan, batch, progress, |outcome| {
                        service.outcome(outcome);
                        true
                    })
                }));
            }
        }
        if let (Some(py), true) = (plan.python.as_ref(), build_ahead) {
            // A server's candidates come over its life: none is first.
            for _ in 0..builders {
                let gpu = gpus[0];
                scope.spawn(move || lanes::build(gpu, gates, plan, py, batch, progress, usize::MAX));
            }
        }
        // When the lanes end before the server does, it says so and takes no more.
        scope.spawn(move || {
            for lane in lanes {
                let _ = lane.join();
            }
            if !shutting_down.load(std::sync::atomic::Ordering::SeqCst) {
                let why = format!(
                    "a GPU failed, or {} reviews in a row could not be reviewed; see the server's log",
                    lanes::FAILURES_IN_A_ROW
                );
                progress.line(&format!("sadoku serve: the lanes stopped ({why}); not taking submissions"));
                service.lanes_stopped(why);
            }
        });
        // What an earlier run of this state directory took and did not judge, queued again.
        if !earlier.pending.is_empty() {
            let n = earlier.pending.len();
            match service.resubmit(earlier.pending.into_iter().map(|q| q.item).collect()) {
                Ok(()) => progress.line(&format!("sadoku serve: {n} submission(s) of an earlier run queued again")),
                Err(e) => {
                    progress.line(&format!("sadoku serve: the earlier run's submissions could not be queued: {e}"))
                }
            }
        }
        let router = api::router(Arc::clone(service), token.as_deref());
        progress.line(&format!(
            "sadoku serve: listening on http://{address} ({} GPU(s), {lanes_count} lane(s), queue {}{})",
            gpus.len(),
            args.queue,
            if token.is_some() { ", token required" } else { ", no token" }
        ));
        if let Some(path) = &args.port_file {
            write_atomically(path, &format!("http://{address}\n"))?;
        }
        let served = runtime.block_on(async {
            axum::serve(listener, router).with_graceful_shutdown(shutdown()).await.context("the HTTP server failed")
        });
        shutting_down.store(true, std::sync::atomic::Ordering::SeqCst);
        progress.line("sadoku serve: stopping: the reviews under way finish; what waits stays in the queue's journal");
        batch.stop();
        served.map(|()| 0)
    })
}

/// The token: `--token-file`'s first line, else `$SADOKU_TOKEN`; never empty.
fn token(args: &ServeArgs) -> Result<Option<String>> {
    let token = match &args.token_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("--token-file {}: cannot read", path.display()))?
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_string(),
        ),
        None => std::env::var("SADOKU_TOKEN").ok().map(|t| t.trim().to_string()),
    };
    match token {
        Some(t) if t.len() < 16 => Err(anyhow!("the token is shorter than 16 characters: use a long random one")),
        t => Ok(t),
    }
}

fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("{}: cannot write", path.display()))
}

/// SIGINT or SIGTERM.
async fn shutdown() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
