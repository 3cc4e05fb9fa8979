//! `bcos`: the node's command line.
//!
//! Environment: `RUST_LOG` overrides `--log`; `BCOS_FLAME_FILE=<path>` also records the
//! node's stage spans (recover, admit, consensus, execute, commit) as folded stacks in
//! `<path>`, flushed at a clean shutdown, for `inferno-flamegraph` or the load generator's
//! report.

use anyhow::Context;
use bcos_node::{Node, NodeConfig};
use clap::{Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "bcos",
    version,
    about = "A consortium blockchain node in the FISCO BCOS mould"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a single-node development chain with funded test accounts.
    Dev(DevArgs),
}

#[derive(Parser)]
struct DevArgs {
    /// TOML config file; flags given here override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where the chain's data lives.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// JSON-RPC address (HTTP and WebSocket on one port); port 0 picks a free one.
    #[arg(long)]
    rpc_addr: Option<SocketAddr>,
    /// Number of funded accounts from the test mnemonic.
    #[arg(long)]
    accounts: Option<usize>,
    #[arg(long)]
    chain_id: Option<u64>,
    /// Block-file I/O: io_uring, plain std::fs, or auto (io_uring where the kernel allows).
    #[arg(long, value_enum)]
    io_backend: Option<IoBackendArg>,
    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    print_config: bool,
    /// Log filter, e.g. "info" or "bcos_node=debug" (RUST_LOG also works).
    #[arg(long, default_value = "info")]
    log: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum IoBackendArg {
    Auto,
    IoUring,
    Std,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Dev(args) => run_dev(args),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// Names the file of folded stacks; unset means no flamegraph layer.
const FLAME_FILE_ENV: &str = "BCOS_FLAME_FILE";

type FlameGuard = tracing_flame::FlushGuard<std::io::BufWriter<std::fs::File>>;

/// Installs the log output and, when [`FLAME_FILE_ENV`] is set, the flamegraph layer. The
/// returned guard flushes the folded stacks when dropped, so it must live until exit.
fn init_tracing(log: &str) -> anyhow::Result<Option<FlameGuard>> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| log.to_string());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter).context("bad --log filter")?;
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(filter);
    let registry = tracing_subscriber::registry().with(fmt);
    let Some(path) = std::env::var_os(FLAME_FILE_ENV) else {
        registry.init();
        return Ok(None);
    };
    let (flame, guard) = tracing_flame::FlameLayer::with_file(&path)
        .with_context(|| format!("{FLAME_FILE_ENV}: cannot create {}", path.to_string_lossy()))?;
    // Only time inside spans counts (idle threads would otherwise dominate), and only the
    // info-level spans: the node's stages, not every dependency's trace spans. The log
    // filter does not apply here, so `--log warn` still records the stages.
    let flame = flame
        .with_empty_samples(false)
        .with_file_and_line(false)
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
    registry.with(flame).init();
    Ok(Some(guard))
}

fn run_dev(args: DevArgs) -> anyhow::Result<()> {
    let flame_guard = init_tracing(&args.log)?;
    let mut config = match &args.config {
        Some(path) => NodeConfig::load(path)?,
        None => NodeConfig::default(),
    };
    if let Some(d) = args.data_dir {
        config.chain.data_dir = d;
    }
    if let Some(a) = args.rpc_addr {
        config.rpc.addr = a;
    }
    if let Some(n) = args.accounts {
        config.chain.dev_accounts = n;
    }
    if let Some(id) = args.chain_id {
        config.chain.chain_id = id;
    }
    if let Some(b) = args.io_backend {
        config.storage.io_backend = match b {
            IoBackendArg::Auto => bcos_storage::IoBackend::Auto,
            IoBackendArg::IoUring => bcos_storage::IoBackend::IoUring,
            IoBackendArg::Std => bcos_storage::IoBackend::Std,
        };
    }
    if args.print_config {
        print!("{}", config.to_toml()?);
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async move {
        let chain_id = config.chain.chain_id;
        let data_dir = config.chain.data_dir.clone();
        let mut node = Node::start(config).await?;
        print_banner(&node, chain_id, &data_dir);
        let failure = node.sealer_failure();
        let outcome = tokio::select! {
            s = shutdown_signal() => { s?; Ok(()) }
            f = failure => match f {
                Ok(msg) => Err(anyhow::anyhow!("sealer failed: {msg}")),
                Err(_) => Ok(()),
            },
        };
        eprintln!("stopping...");
        node.shutdown().await;
        eprintln!("stopped");
        outcome
    });
    if let Some(guard) = flame_guard {
        // Dropping would flush too, but silently; a truncated profile deserves a warning.
        if let Err(e) = guard.flush() {
            eprintln!("warning: {FLAME_FILE_ENV}: flushing the folded stacks failed: {e}");
        }
    }
    result
}

fn print_banner(node: &bcos_node::NodeHandle, chain_id: u64, data_dir: &std::path::Path) {
    use std::io::Write;
    let g = &node.genesis;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "bcos dev chain {chain_id}, data in {}",
        data_dir.display()
    );
    let _ = writeln!(out, "RPC: http://{}", node.rpc_addr);
    let _ = writeln!(out, "WS: ws://{}", node.rpc_addr);
    let ether = g.balance_wei / bcos_types::U256::from(1_000_000_000_000_000_000u64);
    let _ = writeln!(
        out,
        "Funded accounts ({ether} ETH each; test keys, never use them for real funds):"
    );
    for (i, (addr, key)) in g.addresses.iter().zip(&g.keys).enumerate() {
        let _ = writeln!(out, "({i}) {addr} key 0x{}", hex_key(key));
    }
    let _ = out.flush();
}

fn hex_key(key: &secp256k1::SecretKey) -> String {
    key.secret_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn shutdown_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("listening for Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}
