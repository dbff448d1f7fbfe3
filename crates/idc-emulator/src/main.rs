//! `idc-emulator`: serve the IAM Identity Center SCIM emulator by hand, for demos, manual
//! testing and benchmarks. Prints the base URL, then serves until Ctrl-C.

use clap::Parser;
use idc_emulator::{Behaviour, Emulator, EmulatorConfig, Faults, PutGroupAnswer};
use std::net::SocketAddr;

/// Command-line flags; every switch and fault of the library is reachable here.
#[derive(Debug, Parser)]
#[command(
    name = "idc-emulator",
    about = "AWS IAM Identity Center SCIM endpoint emulator"
)]
struct Cli {
    /// Address to bind (loopback only).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Initial bearer token accepted on /scim/v2/.
    #[arg(long, env = "IDC_EMULATOR_TOKEN")]
    token: String,
    /// Token the /admin/ API requires (default: none required).
    #[arg(long, env = "IDC_EMULATOR_ADMIN_TOKEN")]
    admin_token: Option<String>,
    /// Tenant id in the URL: serve `/<tenant>/scim/v2/` (default: plain `/scim/v2/`).
    #[arg(long)]
    tenant: Option<String>,
    /// A wrong tenant gets 404 "TENANT does not exist." instead of 401.
    #[arg(long)]
    wrong_tenant_not_found: bool,
    /// `replace` on members is a silent 204 no-op (April 2024) instead of 400.
    #[arg(long)]
    legacy_replace_members_noop: bool,
    /// Seed for all random decisions (faults, short pages, ids).
    #[arg(long)]
    seed: Option<u64>,

    /// Uniqueness and eq filters are case-sensitive (default: case-insensitive).
    #[arg(long)]
    case_sensitive: bool,
    /// Send Retry-After on 429.
    #[arg(long)]
    retry_after: bool,
    /// Adding an existing member is a 400 (default: no-op).
    #[arg(long)]
    duplicate_member_add_is_error: bool,
    /// Removing a non-member is a 400 (default: no-op).
    #[arg(long)]
    remove_non_member_is_error: bool,
    /// Do not echo group externalId on reads.
    #[arg(long)]
    no_echo_group_external_id: bool,
    /// Reject string booleans such as "true" (default: accepted, like AWS).
    #[arg(long)]
    strict_booleans: bool,
    /// Make cursor pages short sometimes.
    #[arg(long)]
    short_pages: bool,
    /// Shuffle non-cursor list results.
    #[arg(long)]
    shuffle_unpaged: bool,
    /// Answer to PUT /Groups/{id}: bad-request, not-found or method-not-allowed.
    #[arg(long, default_value = "bad-request")]
    put_group: String,
    /// Hand out legacy `<10 hex>-<uuid>` ids.
    #[arg(long)]
    legacy_ids: bool,

    /// Added latency per SCIM request (ms).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Throttle above this many requests per second (429).
    #[arg(long)]
    throttle_rps: Option<f64>,
    /// Token-bucket burst for the throttle.
    #[arg(long)]
    throttle_burst: Option<u32>,
    /// Per-API throttle: each read API (ListUsers, ListGroups, ...) gets its own bucket at this
    /// rate. Combines with --throttle-rps (collective): one, the other or both.
    #[arg(long)]
    api_read_rps: Option<f64>,
    /// Per-API throttle for each write API (CreateUser, PatchGroup, ...).
    #[arg(long)]
    api_write_rps: Option<f64>,
    /// Burst of each per-API bucket (default: its rate).
    #[arg(long)]
    api_burst: Option<u32>,
    /// Probability of a 429 at any rate (with `Retry-After: 1` under --retry-after-on-429).
    #[arg(long, default_value_t = 0.0)]
    throttle_rate: f64,
    /// Probability of a 500.
    #[arg(long, default_value_t = 0.0)]
    error_500_rate: f64,
    /// Probability of a 503.
    #[arg(long, default_value_t = 0.0)]
    error_503_rate: f64,
    /// Probability of closing the connection without answering (request not applied).
    #[arg(long, default_value_t = 0.0)]
    drop_connection_rate: f64,
    /// Probability of applying a write and then closing the connection.
    #[arg(long, default_value_t = 0.0)]
    lost_response_rate: f64,
    /// Probability of a 200 with an invalid JSON body.
    #[arg(long, default_value_t = 0.0)]
    malformed_body_rate: f64,
    /// New objects become readable only after this many ms.
    #[arg(long, default_value_t = 0)]
    visibility_delay_ms: u64,
}

fn put_group_answer(s: &str) -> Result<PutGroupAnswer, String> {
    match s {
        "bad-request" | "400" => Ok(PutGroupAnswer::BadRequest),
        "not-found" | "404" => Ok(PutGroupAnswer::NotFound),
        "method-not-allowed" | "405" => Ok(PutGroupAnswer::MethodNotAllowed),
        other => Err(format!(
            "--put-group {other}: use bad-request, not-found or method-not-allowed"
        )),
    }
}

fn config(cli: Cli) -> Result<EmulatorConfig, String> {
    if !cli.listen.ip().is_loopback() {
        return Err(format!(
            "--listen {}: the emulator binds loopback addresses only",
            cli.listen
        ));
    }
    let behaviour = Behaviour {
        case_insensitive_uniqueness: !cli.case_sensitive,
        retry_after_on_429: cli.retry_after,
        duplicate_member_add_is_error: cli.duplicate_member_add_is_error,
        remove_non_member_is_error: cli.remove_non_member_is_error,
        echo_group_external_id: !cli.no_echo_group_external_id,
        lenient_booleans: !cli.strict_booleans,
        short_pages: cli.short_pages,
        shuffle_unpaged: cli.shuffle_unpaged,
        put_group: put_group_answer(&cli.put_group)?,
        legacy_ids: cli.legacy_ids,
        wrong_tenant_not_found: cli.wrong_tenant_not_found,
        legacy_replace_members_noop: cli.legacy_replace_members_noop,
        ..Behaviour::default()
    };
    let faults = Faults {
        latency_ms: cli.latency_ms,
        throttle_rps: cli.throttle_rps,
        throttle_burst: cli.throttle_burst,
        api_read_rps: cli.api_read_rps,
        api_write_rps: cli.api_write_rps,
        api_burst: cli.api_burst,
        throttle_rate: cli.throttle_rate,
        error_500_rate: cli.error_500_rate,
        error_503_rate: cli.error_503_rate,
        drop_connection_rate: cli.drop_connection_rate,
        lost_response_rate: cli.lost_response_rate,
        malformed_body_rate: cli.malformed_body_rate,
        visibility_delay_ms: cli.visibility_delay_ms,
    };
    Ok(EmulatorConfig {
        listen: cli.listen,
        token: cli.token,
        behaviour,
        faults,
        seed: cli.seed,
        admin_token: cli.admin_token,
        tenant: cli.tenant,
    })
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cfg = match config(Cli::parse()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("idc-emulator: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let emu = match Emulator::start(cfg).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("idc-emulator: cannot listen: {e} (is the port free?)");
            return std::process::ExitCode::FAILURE;
        }
    };
    // One line on stdout so scripts can read the chosen port.
    println!("{}", emu.base_url());
    eprintln!("idc-emulator: admin API at {}", emu.admin_url());
    let _ = tokio::signal::ctrl_c().await;
    emu.shutdown().await;
    std::process::ExitCode::SUCCESS
}
