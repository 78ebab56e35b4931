//! `aelf-netctl`: the operator's command-line tool. Node keys for now; more commands come with
//! the operator API.

use aelf_net::crypto::{load_key_file, write_new_key_file, NodeKey};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "aelf-netctl", version, about = "aelf-net operator tool")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generate a node key. With --out, write it as a key file (mode 0600, never overwriting);
    /// without, print the private key.
    Keygen {
        /// Key file to create, e.g. data/node.key.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the public key (the node's network identity) and address of a key file.
    Pubkey {
        /// Key file to read.
        #[arg(long, default_value = "data/node.key")]
        key_file: PathBuf,
    },
}

fn print_identity(key: &NodeKey) {
    println!("pubkey: {}", key.pubkey_hex());
    println!("address: {}", key.address());
}

fn main() -> ExitCode {
    let result = match Args::parse().command {
        Command::Keygen { out: Some(path) } => write_new_key_file(&path).map(|key| {
            println!("key file: {}", path.display());
            print_identity(&key);
        }),
        Command::Keygen { out: None } => {
            let key = NodeKey::generate();
            println!("private key: {}", key.secret_hex());
            print_identity(&key);
            Ok(())
        }
        Command::Pubkey { key_file } => load_key_file(&key_file).map(|key| print_identity(&key)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aelf-netctl: {e}");
            ExitCode::FAILURE
        }
    }
}
