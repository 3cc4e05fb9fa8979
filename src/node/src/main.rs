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

/// jemalloc, not glibc's malloc: the RPC workers allocate and free per request on many
/// threads, and under the ci-2core load glibc's malloc, free and chunk consolidation were
/// the largest items of their profile.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    /// Run one node from its config file (a cluster node written by `bcos init`).
    Node(NodeArgs),
    /// Write a chain CA, node keys, certificates and configs for an N-node group (a
    /// production chain: needs --admin, or --dev for a development chain).
    Init(InitArgs),
    /// Create (first time) and run a local DEVELOPMENT cluster until Ctrl-C stops all its
    /// nodes (public test-mnemonic admin and accounts).
    Up(UpArgs),
    /// Issue a node's TLS certificate again (same index and node id) from the chain CA.
    RenewCert(RenewCertArgs),
    /// Carry a user chain's settlement records to the merchant chain (high-frequency
    /// accounts, spec/settlement.md): an ordinary client; the merchant chain verifies what
    /// it submits.
    Relay(RelayArgs),
    /// The contract naming service: deploy and register, list, resolve, canary routes.
    Cns(bcos_node::cns::CnsArgs),
    /// The chain into a relational warehouse (SQLite or PostgreSQL), resumable; `etl verify`
    /// checks the warehouse against the chain's header roots (docs/etl.md).
    Etl(bcos_etl::EtlArgs),
    /// AMOP messaging: subscribe, publish, request, and a round-trip bench.
    Amop(bcos_node::amop::command::AmopArgs),
    /// An institution's own CA: create it, show what governance's addCa needs, certify a
    /// node by it (docs/governance.md).
    Ca(bcos_node::cluster::ca::CaArgs),
    /// Read a node's flow log: a transaction's or a block's timeline, or per-stage latency
    /// percentiles (docs/observability.md).
    Flow(bcos_node::flow::command::FlowArgs),
}

#[derive(Parser)]
struct RelayArgs {
    /// The user chain's JSON-RPC URL, e.g. http://127.0.0.1:8545/g/1.
    #[arg(long)]
    source: String,
    /// The merchant chain's JSON-RPC URL, e.g. http://127.0.0.1:8545/g/0.
    #[arg(long)]
    target: String,
    /// File holding the hex secret key of the account that pays for submissions on the
    /// merchant chain.
    #[arg(long)]
    key_file: PathBuf,
    /// Records submitted per round.
    #[arg(long, default_value_t = bcos_node::settlement::relay::RELAY_BATCH_MAX_DEFAULT)]
    batch_max: usize,
    /// Pause between rounds.
    #[arg(long, default_value_t = bcos_node::settlement::relay::RELAY_POLL_MS_DEFAULT)]
    poll_ms: u64,
    /// How long a round waits for its receipts before reconnecting.
    #[arg(long, default_value_t = bcos_node::settlement::relay::RELAY_CONFIRM_TIMEOUT_MS_DEFAULT)]
    confirm_timeout_ms: u64,
    #[arg(long, default_value = "info")]
    log: String,
}

#[derive(Parser)]
struct RenewCertArgs {
    /// The chain CA directory `bcos init` wrote (ca.crt, ca.key).
    #[arg(long)]
    ca: PathBuf,
    /// The node's keys directory (node.crt and node.key are replaced).
    #[arg(long)]
    keys: PathBuf,
    /// Lifetime of the new certificate.
    #[arg(long, default_value_t = bcos_net::pki::NODE_CERT_VALIDITY_DAYS_DEFAULT)]
    validity_days: u32,
}

#[derive(Parser)]
struct NodeArgs {
    /// The node's config.toml; relative paths in it are taken from its directory.
    #[arg(long)]
    config: PathBuf,
    #[arg(long, default_value = "info")]
    log: String,
}

#[derive(Parser)]
struct InitArgs {
    /// Number of validators.
    #[arg(long)]
    nodes: usize,
    /// Comma-separated host IPs: one for all nodes, or one per node.
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1")]
    hosts: Vec<std::net::IpAddr>,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Node i listens for P2P on p2p_port + i.
    #[arg(long, default_value_t = 30300)]
    p2p_port: u16,
    /// Node i serves JSON-RPC on rpc_port + i.
    #[arg(long, default_value_t = 8545)]
    rpc_port: u16,
    #[arg(long, default_value_t = 20200)]
    chain_id: u64,
    /// pbft or raft.
    #[arg(long, default_value = "pbft")]
    consensus: bcos_node::cluster::config::ConsensusKind,
    /// Only the first K nodes vote from genesis (Raft voters, PBFT validators; the others
    /// observe); the others join through a governance proposal, `setSealer` (0 = all vote).
    #[arg(long, default_value_t = 0)]
    voters: usize,
    /// The chain admin: the genesis governance committee's only member unless --committee
    /// is given (docs/governance.md). Required unless --dev.
    #[arg(long)]
    admin: Option<bcos_types::Address>,
    /// Accounts funded at genesis: a JSON (.json) or TOML file of address -> balance in wei.
    #[arg(long)]
    alloc: Option<PathBuf>,
    /// The governance committee at genesis, comma-separated ADDRESS:WEIGHT (docs/governance.md).
    /// Default: the admin alone, weight 1.
    #[arg(long, value_delimiter = ',')]
    committee: Vec<String>,
    /// Weight a proposal needs; 0: more than half of the committee's total weight.
    #[arg(long, default_value_t = 0)]
    committee_threshold: u64,
    /// Blocks a proposal stays open for votes.
    #[arg(long, default_value_t = bcos_types::governance::GOV_LIFETIME_BLOCKS_DEFAULT)]
    proposal_lifetime_blocks: u64,
    /// The regulator: blacklists accounts without a vote (docs/governance.md).
    #[arg(long)]
    regulator: Option<bcos_types::Address>,
    /// Development chain: fund the public test mnemonic's accounts and make the first the
    /// admin (unless --admin). Never for real value: everyone knows those keys.
    #[arg(long)]
    dev: bool,
    /// Comma-separated RPC bind IPs: one for all nodes, or one per node. Default: 127.0.0.1
    /// (the P2P host with --dev).
    #[arg(long, value_delimiter = ',')]
    rpc_hosts: Vec<std::net::IpAddr>,
    /// Lifetime of the node TLS certificates (renew with `bcos renew-cert`).
    #[arg(long, default_value_t = bcos_net::pki::NODE_CERT_VALIDITY_DAYS_DEFAULT)]
    cert_validity_days: u32,
    /// Lifetime of the chain CA certificate.
    #[arg(long, default_value_t = bcos_net::pki::CA_VALIDITY_DAYS_DEFAULT)]
    ca_validity_days: u32,
    #[command(flatten)]
    groups: GroupArgs,
}

/// The groups `bcos init` and `bcos up` write (spec/groups.md).
#[derive(clap::Args)]
struct GroupArgs {
    /// Groups (chains) every node takes part in: 0..G-1; group g has chain id chain_id + g.
    #[arg(long, default_value_t = 1)]
    groups: u32,
    /// A group's consensus, e.g. `--group-consensus 2=raft` (repeatable; default pbft).
    #[arg(long)]
    group_consensus: Vec<String>,
    /// A group's members as node indices, e.g. `--group-members 1=0,1,2` (repeatable;
    /// default every node).
    #[arg(long)]
    group_members: Vec<String>,
    /// Node i's admin listener (group lifecycle) is 127.0.0.1:admin_port + i; 0: none.
    #[arg(long, default_value_t = bcos_node::cluster::init::ADMIN_PORT_DEFAULT)]
    admin_port: u16,
    /// High-frequency merchant account: group 0 becomes its merchant chain and groups
    /// 1..G-1 its user chains, where its proxy account is this same address
    /// (spec/settlement.md).
    #[arg(long)]
    hf_merchant: Option<bcos_types::Address>,
    /// A user chain settles at least this often while the proxy holds something.
    #[arg(long, default_value_t = bcos_node::settlement::config::DEFAULT_SETTLE_INTERVAL_MS)]
    settle_interval_ms: u64,
    /// ...or after this many blocks since its last record, whichever comes first.
    #[arg(long, default_value_t = bcos_node::settlement::config::DEFAULT_SETTLE_EVERY_BLOCKS)]
    settle_every_blocks: u64,
    /// File with the hex secret key that sends settle() on user chains (it needs a balance
    /// there). Default with --dev: the test mnemonic's account 19; otherwise none (anyone
    /// may call settle()).
    #[arg(long)]
    settler_key_file: Option<PathBuf>,
}

impl GroupArgs {
    fn apply(&self, o: &mut bcos_node::cluster::init::InitOptions) -> anyhow::Result<()> {
        o.groups = bcos_node::groups::config::groups_from_cli(
            self.groups,
            &self.group_consensus,
            &self.group_members,
        )?;
        o.admin_port = self.admin_port;
        if let Some(merchant) = self.hf_merchant {
            if self.groups < 2 {
                anyhow::bail!("--hf-merchant needs --groups 2 or more (group 0 is the merchant's)");
            }
            let settler_key = match (&self.settler_key_file, o.dev) {
                (Some(f), _) => read_key_file(f)?,
                (None, true) => bcos_node::settlement::relay::dev_key_hex(
                    bcos_node::settlement::relay::DEV_SETTLER_ACCOUNT,
                )?,
                (None, false) => String::new(),
            };
            o.settlement = Some(bcos_node::settlement::SettlementConfig {
                merchant,
                merchant_group: 0,
                user_groups: (1..self.groups).collect(),
                settle_interval_ms: self.settle_interval_ms,
                settle_every_blocks: self.settle_every_blocks,
                settler_key,
            });
        }
        Ok(())
    }
}

/// A hex secret key file (whitespace and a 0x prefix allowed).
fn read_key_file(path: &std::path::Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading key file {}", path.display()))?;
    let hex = text.trim().trim_start_matches("0x").to_string();
    bcos_node::settlement::settler::settler_secret(&hex)
        .with_context(|| format!("key file {}", path.display()))?;
    Ok(hex)
}

fn run_relay(a: RelayArgs) -> anyhow::Result<()> {
    let _flame = init_tracing(&a.log)?;
    let key = bcos_node::settlement::settler::settler_secret(&read_key_file(&a.key_file)?)?;
    bcos_node::settlement::relay::run(bcos_node::settlement::relay::RelayOptions {
        source: a.source,
        target: a.target,
        key,
        batch_max: a.batch_max.max(1),
        poll_ms: a.poll_ms,
        confirm_timeout_ms: a.confirm_timeout_ms,
        stop_after_seq: 0,
    })
}

#[derive(Parser)]
struct UpArgs {
    #[arg(long, default_value_t = 4)]
    nodes: usize,
    /// Cluster directory; created by `bcos init` semantics on first use.
    #[arg(long, default_value = "data/cluster")]
    dir: PathBuf,
    #[arg(long, default_value = "pbft")]
    consensus: bcos_node::cluster::config::ConsensusKind,
    #[arg(long, default_value_t = 30300)]
    p2p_port: u16,
    #[arg(long, default_value_t = 8545)]
    rpc_port: u16,
    #[arg(long, default_value_t = 20200)]
    chain_id: u64,
    /// Log filter passed to every node.
    #[arg(long, default_value = "info")]
    log: String,
    /// What to do when a node process dies: start it again after a short delay (doubling
    /// while it keeps dying, up to 30 s), or leave it down. The other nodes run on either way.
    #[arg(long, value_enum, default_value = "always")]
    restart: bcos_node::supervise::RestartPolicy,
    #[command(flatten)]
    groups: GroupArgs,
    /// With --hf-merchant: do not start a relayer per user chain (run `bcos relay` yourself).
    #[arg(long)]
    no_relay: bool,
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
        Command::Node(args) => run_node_cmd(args),
        Command::Init(args) => run_init(args),
        Command::Up(args) => run_up(args),
        Command::RenewCert(args) => run_renew_cert(args),
        Command::Relay(args) => run_relay(args),
        Command::Cns(args) => bcos_node::cns::run(args),
        Command::Etl(args) => bcos_etl::run(args),
        Command::Amop(args) => bcos_node::amop::command::run(args),
        Command::Ca(args) => bcos_node::cluster::ca::run(args),
        Command::Flow(args) => bcos_node::flow::command::run(args),
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
    let mut filter = tracing_subscriber::EnvFilter::try_new(&filter).context("bad --log filter")?;
    // Flow events are switched per group (bcos_node::flow), not by the log filter.
    if !std::env::var("RUST_LOG").is_ok_and(|f| f.contains(bcos_node::flow::TARGET)) {
        let flow = format!("{}=info", bcos_node::flow::TARGET);
        filter = filter.add_directive(flow.parse().context("flow log directive")?);
    }
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
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
    run_until_stopped(config, flame_guard, true)
}

fn run_node_cmd(args: NodeArgs) -> anyhow::Result<()> {
    let flame_guard = init_tracing(&args.log)?;
    let mut config = NodeConfig::load(&args.config)?;
    let base = args
        .config
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    config.resolve_paths(&base);
    run_until_stopped(config, flame_guard, false)
}

fn init_options(
    nodes: usize,
    hosts: Vec<std::net::IpAddr>,
    out: PathBuf,
    ports: (u16, u16),
    chain_id: u64,
    consensus: bcos_node::cluster::config::ConsensusKind,
    voters: usize,
) -> bcos_node::cluster::init::InitOptions {
    let mut o = bcos_node::cluster::init::InitOptions::new(nodes, hosts[0], out);
    o.hosts = hosts;
    (o.p2p_port, o.rpc_port) = ports;
    o.chain_id = chain_id;
    o.consensus = consensus;
    o.voters = voters;
    o
}

fn run_init(a: InitArgs) -> anyhow::Result<()> {
    if a.hosts.is_empty() {
        anyhow::bail!("--hosts needs at least one IP");
    }
    let mut o = init_options(
        a.nodes,
        a.hosts,
        a.out,
        (a.p2p_port, a.rpc_port),
        a.chain_id,
        a.consensus,
        a.voters,
    );
    o.dev = a.dev;
    o.admin = a.admin;
    o.rpc_hosts = a.rpc_hosts;
    o.cert_validity_days = a.cert_validity_days;
    o.ca_validity_days = a.ca_validity_days;
    a.groups.apply(&mut o)?;
    if let Some(path) = &a.alloc {
        o.alloc = bcos_node::genesis::read_alloc_file(path)?;
    }
    o.committee = a
        .committee
        .iter()
        .map(|m| bcos_node::config::CommitteeMember::parse(m))
        .collect::<anyhow::Result<_>>()?;
    o.committee_threshold = a.committee_threshold;
    o.proposal_lifetime_blocks = a.proposal_lifetime_blocks;
    o.regulator = a.regulator;
    if o.dev {
        print_dev_warning();
    }
    let dirs = bcos_node::cluster::init::init_cluster(&o)?;
    println!(
        "wrote a {}-node {:?} {} cluster to {}:",
        dirs.len(),
        o.consensus,
        if o.dev { "DEVELOPMENT" } else { "production" },
        o.out.display()
    );
    for d in &dirs {
        println!(
            "  {}  (start: bcos node --config {})",
            d.display(),
            d.join("config.toml").display()
        );
    }
    println!(
        "  {}  (the CA key: keep it offline)",
        o.out.join("ca").display()
    );
    if let Some(admin) = o.admin {
        let funded = o.alloc.iter().any(|acc| acc.address == admin);
        if !funded && !o.dev {
            println!(
                "note: the admin {admin} has no balance in --alloc; it needs one to pay for \
                 governance transactions"
            );
        }
    }
    Ok(())
}

/// Said by `bcos up` and `bcos init --dev`, where nobody can miss it.
fn print_dev_warning() {
    eprintln!(
        "\n*** DEVELOPMENT CHAIN ***\n\
         Its admin (who may add and remove validators) and its funded accounts are the public \
         test mnemonic's ('test test ... junk'): anyone can sign as them. Never use it for \
         real value. A production chain: bcos init --nodes N --out DIR --admin 0x... --alloc \
         FILE\n"
    );
}

fn run_renew_cert(a: RenewCertArgs) -> anyhow::Result<()> {
    let not_after = bcos_node::cluster::init::renew_node_cert(&a.ca, &a.keys, a.validity_days)?;
    println!(
        "renewed {}: valid for {} days (until Unix time {not_after}); restart the node to use it",
        a.keys.join(bcos_net::pki::NODE_CERT_FILE).display(),
        a.validity_days
    );
    Ok(())
}

fn run_up(a: UpArgs) -> anyhow::Result<()> {
    use bcos_node::cluster::init::{init_cluster, node_dir};
    use bcos_node::supervise;
    let existing = (0..)
        .take_while(|i| node_dir(&a.dir, *i).join("config.toml").exists())
        .count();
    // `bcos up` is the local development cluster: dev accounts and admin, said loudly
    print_dev_warning();
    let dirs: Vec<PathBuf> = if existing == 0 {
        let mut o = init_options(
            a.nodes,
            vec![std::net::IpAddr::from([127, 0, 0, 1])],
            a.dir.clone(),
            (a.p2p_port, a.rpc_port),
            a.chain_id,
            a.consensus,
            0,
        );
        o.dev = true;
        a.groups.apply(&mut o)?;
        init_cluster(&o)?
    } else if existing == a.nodes {
        (0..existing).map(|i| node_dir(&a.dir, i)).collect()
    } else {
        anyhow::bail!(
            "{} holds a {existing}-node cluster, not {}; use --nodes {existing} or another --dir",
            a.dir.display(),
            a.nodes
        );
    };
    let exe = std::env::current_exe().context("locating the bcos binary")?;
    let mut nodes = supervise::Supervisor::start(&exe, &dirs, &a.log, a.restart)?;
    for (i, d) in dirs.iter().enumerate() {
        let cfg = NodeConfig::load(&d.join("config.toml"))?;
        println!(
            "node {i}: RPC http://{}  pid {}  log {}",
            cfg.rpc.addr,
            nodes.pid(i).unwrap_or(0),
            d.join("node.log").display()
        );
        let index = cfg.cluster.as_ref().map_or(0, |c| c.index);
        for g in cfg
            .groups
            .iter()
            .filter(|g| g.members.is_empty() || g.members.contains(&index))
        {
            println!("  group {}: http://{}/g/{}", g.id, cfg.rpc.addr, g.id);
        }
        if let Some(admin) = cfg.rpc.admin_addr {
            println!("  admin (group lifecycle): http://{admin}");
        }
    }
    let node_count = nodes.len();
    if !a.no_relay {
        start_relayers(&mut nodes, &a.dir, &dirs, &a.log)?;
    }
    println!(
        "{node_count} nodes running (--restart {}); Ctrl-C stops them all",
        match a.restart {
            supervise::RestartPolicy::Always => "always",
            supervise::RestartPolicy::Never => "never",
        }
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(async {
        let mut signal = Box::pin(shutdown_signal()?);
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(supervise::POLL_MS));
        loop {
            tokio::select! {
                s = &mut signal => { s?; return Ok(()); }
                _ = tick.tick() => {
                    for event in nodes.poll(std::time::Instant::now()) {
                        let log = match &event {
                            supervise::Event::Exited { index, .. } => nodes.log_path(*index),
                            _ => None,
                        };
                        match log {
                            Some(log) => eprintln!("{event}; see {}", log.display()),
                            None => eprintln!("{event}"),
                        }
                    }
                    if !nodes.any_alive() {
                        return Err(anyhow::anyhow!("every node has exited"));
                    }
                }
            }
        }
    });
    eprintln!("stopping {} nodes...", nodes.len());
    nodes.stop_all();
    eprintln!("stopped");
    outcome
}

/// `bcos up --hf-merchant`: one supervised `bcos relay` per user chain, each with its own
/// dev account, talking to node `g mod n`.
fn start_relayers(
    sup: &mut bcos_node::supervise::Supervisor,
    cluster_dir: &std::path::Path,
    dirs: &[PathBuf],
    log: &str,
) -> anyhow::Result<()> {
    use bcos_node::settlement::relay::{dev_key_hex, dev_relayer_account};
    let first = NodeConfig::load(&dirs[0].join("config.toml"))?;
    let Some(s) = first.settlement else {
        return Ok(());
    };
    for &g in &s.user_groups {
        let Some(account) = dev_relayer_account(g) else {
            eprintln!("no dev relayer account for group {g}: run `bcos relay` for it yourself");
            continue;
        };
        let node = NodeConfig::load(&dirs[g as usize % dirs.len()].join("config.toml"))?;
        let dir = cluster_dir.join(format!("relayer-g{g}"));
        std::fs::create_dir_all(&dir)?;
        let key_file = dir.join("relayer.key");
        std::fs::write(&key_file, dev_key_hex(account)?)?;
        let args: Vec<std::ffi::OsString> = vec![
            "relay".into(),
            "--source".into(),
            format!("http://{}/g/{g}", node.rpc.addr).into(),
            "--target".into(),
            format!("http://{}/g/{}", node.rpc.addr, s.merchant_group).into(),
            "--key-file".into(),
            key_file.into_os_string(),
            "--log".into(),
            log.into(),
        ];
        let at = sup.add(
            format!("relayer of group {g}"),
            &dir,
            args,
            dir.join("relay.log"),
        )?;
        println!(
            "relayer of group {g} -> group {}: pid {}  log {}",
            s.merchant_group,
            sup.pid(at).unwrap_or(0),
            dir.join("relay.log").display()
        );
    }
    Ok(())
}

fn run_until_stopped(
    config: NodeConfig,
    flame_guard: Option<FlameGuard>,
    banner: bool,
) -> anyhow::Result<()> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if config.runtime.worker_threads > 0 {
        builder.worker_threads(config.runtime.worker_threads);
    }
    let runtime = builder.enable_all().build()?;
    let result = runtime.block_on(async move {
        let chain_id = config.chain.chain_id;
        let data_dir = config.chain.data_dir.clone();
        let cluster = config.cluster.as_ref().map(|c| (c.index, c.members.len()));
        let mut node = Node::start(config).await?;
        let stop = shutdown_signal()?;
        match cluster {
            Some((i, n)) if !banner => {
                println!(
                    "bcos node {i} of {n}, chain {chain_id}, data in {}",
                    data_dir.display()
                );
                println!("RPC: http://{}", node.rpc_addr);
                println!("WS: ws://{}", node.rpc_addr);
            }
            _ => print_banner(&node, chain_id, &data_dir),
        }
        let failure = node.sealer_failure();
        let outcome = tokio::select! {
            s = stop => { s?; Ok(()) }
            f = failure => match f {
                Ok(msg) => Err(anyhow::anyhow!("consensus failed: {msg}")),
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

/// Registers SIGINT and SIGTERM handlers now (so a signal that arrives right after the
/// banner is printed is not lost) and returns the future that completes on either.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = anyhow::Result<()>>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("listening for Ctrl-C")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        Ok(())
    })
}
