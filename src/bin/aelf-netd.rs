//! `aelf-netd`: the aelf-net node daemon. Parses the command line, loads the config, sets up
//! logging and signals, and hands over to the library.

use aelf_net::config::{Config, ConfigError};
use aelf_net::daemon::{self, SignalThread};
use aelf_net::node::Node;
use aelf_net::types::SystemClock;
use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Exit status for a config that does not load or validate.
const EXIT_CONFIG: u8 = 2;

#[derive(Parser, Debug)]
#[command(name = "aelf-netd", version, about = "aelf peer-to-peer network node")]
struct Args {
    /// Config file.
    #[arg(long, default_value = "conf/aelf-netd.toml")]
    config: PathBuf,
    /// Overrides `[node] data_dir`.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Validate the config file and exit.
    #[arg(long)]
    check_config: bool,
}

fn load(path: &Path, data_dir: Option<&Path>) -> Result<Config, ConfigError> {
    let mut config = Config::load(path)?;
    if let Some(dir) = data_dir {
        config.node.data_dir = dir.to_owned();
    }
    Ok(config)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match load(&args.config, args.data_dir.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("aelf-netd: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if args.check_config {
        println!("{}: configuration is valid", args.config.display());
        return ExitCode::SUCCESS;
    }
    if let Err(e) = aelf_net::logging::init(config.log.level, config.log.file.as_deref()) {
        eprintln!("aelf-netd: cannot set up logging: {e}");
        return ExitCode::FAILURE;
    }
    log::info!(
        "aelf-netd {} starting with {}",
        env!("CARGO_PKG_VERSION"),
        args.config.display()
    );
    let (signals, control) = match SignalThread::start() {
        Ok(started) => started,
        Err(e) => {
            log::error!("cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let node = match Node::start(config, Arc::new(SystemClock)) {
        Ok(node) => node,
        Err(e) => {
            log::error!("cannot start: {e}");
            signals.stop();
            return ExitCode::FAILURE;
        }
    };
    log::info!("node started");
    daemon::serve(node, &control, || {
        load(&args.config, args.data_dir.as_deref())
    });
    signals.stop();
    log::info!("aelf-netd exited cleanly");
    ExitCode::SUCCESS
}
