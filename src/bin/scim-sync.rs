//! `scim-sync`: the command-line front end (see `scim-sync --help`).

use clap::Parser;
use scim_sync::cli::{self, Cli};
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(cli::log_filter(cli.verbose)));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("could not start the async runtime: {e}");
            std::process::exit(cli::ExitCode::PassFailed as i32);
        }
    };
    let code = runtime.block_on(cli::run(cli));
    std::process::exit(code as i32);
}
