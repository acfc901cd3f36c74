//! praetor: the single binary. `praetor agent` runs an agent; every other subcommand is an HTTP
//! client of one, with Consul's command names, flags, output and exit codes.

mod agent_cmd;
mod argv;
mod cli;
mod client;
mod commands;
mod table;

use std::process::ExitCode;

use clap::CommandFactory;

use cli::{
    CatalogCommand, Cli, Command, KvCommand, OperatorCommand, PluginCommand, RaftCommand,
    ServicesCommand, SnapshotCommand,
};
use commands::{
    catalog, event, info, keygen, keyring, kv, maint, members, membership, operator, plugin, rtt,
    services, snapshot, version,
};

/// Commands other than `agent` die quietly on a closed pipe (`praetor members | head -1`), as
/// Consul's Go binary does, instead of panicking in `println!`. The agent keeps Rust's default
/// (SIGPIPE ignored) so a socket closed by a peer is an error, not the end of the process.
fn die_on_closed_pipe() {
    // SAFETY: called once at start, before any thread exists; SIG_DFL is a valid disposition.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_none_or(|a| a != "agent") {
        die_on_closed_pipe();
    }
    let argv = argv::rewrite(&Cli::command(), std::env::args_os());
    let cli = match cli::parse(argv) {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => e.exit(),
        // Help and version: shown with Consul's single-dash flag spelling.
        Err(e) => {
            print!("{}", argv::single_dash_help(&e.render().to_string()));
            return ExitCode::SUCCESS;
        }
    };
    let outcome = match &cli.command {
        Command::Agent(args) => Ok(agent_cmd::run(args)),
        Command::Members(args) => members::run(args),
        Command::Join(args) => membership::join(args),
        Command::Leave(args) => membership::leave(args),
        Command::ForceLeave(args) => membership::force_leave(args),
        Command::Reload(args) => info::reload(args),
        Command::Info(args) => info::info(args),
        Command::Kv(KvCommand::Get(args)) => kv::get(args),
        Command::Kv(KvCommand::Put(args)) => kv::put(args),
        Command::Kv(KvCommand::Delete(args)) => kv::delete(args),
        Command::Catalog(CatalogCommand::Datacenters(args)) => catalog::datacenters(args),
        Command::Catalog(CatalogCommand::Nodes(args)) => catalog::nodes(args),
        Command::Catalog(CatalogCommand::Services(args)) => catalog::services(args),
        Command::Services(ServicesCommand::Register(args)) => services::register(args),
        Command::Services(ServicesCommand::Deregister(args)) => services::deregister(args),
        Command::Operator(OperatorCommand::Raft(RaftCommand::ListPeers(args))) => {
            operator::list_peers(args)
        }
        Command::Operator(OperatorCommand::Area(cmd)) => operator::area(cmd),
        Command::Operator(OperatorCommand::Autopilot(cmd)) => commands::autopilot::run(cmd),
        Command::Operator(OperatorCommand::Raft(RaftCommand::RemovePeer(args))) => {
            commands::autopilot::remove_peer(args)
        }
        Command::Operator(OperatorCommand::Raft(RaftCommand::TransferLeader(args))) => {
            commands::autopilot::transfer_leader(args)
        }
        Command::Plugin(PluginCommand::List(args)) => plugin::list(args),
        Command::Plugin(PluginCommand::Load(args)) => plugin::load(args),
        Command::Plugin(PluginCommand::Test(args)) => plugin::test(args),
        Command::Plugin(PluginCommand::New(args)) => plugin::new(args),
        Command::Keygen => keygen::run(),
        Command::Keyring(args) => keyring::run(args),
        Command::Rtt(args) => rtt::run(args),
        Command::Tls(cmd) => commands::tls::run(cmd),
        Command::Version => version::run(),
        Command::Snapshot(SnapshotCommand::Save(args)) => snapshot::save(args),
        Command::Snapshot(SnapshotCommand::Restore(args)) => snapshot::restore(args),
        Command::Snapshot(SnapshotCommand::Inspect(args)) => snapshot::inspect(args),
        Command::Event(args) => event::run(args),
        Command::Maint(args) => maint::run(args),
        Command::Monitor(args) => maint::monitor(args),
        Command::Acl(cmd) => commands::acl::run(cmd),
        Command::Config(cmd) => commands::config::run(cmd),
        Command::Intention(cmd) => commands::intention::run(cmd),
        Command::Connect(cmd) => commands::connect::run(cmd),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}
