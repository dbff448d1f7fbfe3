use aws_config::{BehaviorVersion, SdkConfig};

use super::args::{Cli, Command, OutputFormat};
use super::exit::ExitCode;
use super::explain::explanation_text;
use super::render::{plan_text, summary_text};
use crate::audit::{AuditSink, JsonLines, Tee, TextLines};
use crate::config::{self, AwsNames, LeaseConfig, Settings};
use crate::lease::{self, Acquired, Lease, LeaseTable};
use crate::pass::{PassError, PassOptions, PassReport, Session};
use crate::state::WatermarkStore;

/// Runs the command and says how the process should exit. Everything meant for a person goes
/// to stdout (the plan, the summary) or stderr (errors, logs); nothing here panics on bad
/// input.
pub async fn run(cli: Cli) -> ExitCode {
    let (settings, sdk) = match load_settings(&cli).await {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::Configuration;
        }
    };
    let sdk_for_lease = sdk.clone();
    let mut session = match Session::new(settings, sdk) {
        Ok(session) => session,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::Configuration;
        }
    };
    let mut opts = match &cli.command {
        Command::Plan => PassOptions {
            dry_run: true,
            ..PassOptions::default()
        },
        Command::Apply {
            allow_mass_changes,
            only,
            incremental,
        } => PassOptions {
            allow_mass_changes: *allow_mass_changes,
            only: only.clone(),
            incremental: *incremental,
            ..PassOptions::default()
        },
        Command::Explain { who } => return explain(&session, who, cli.output).await,
    };
    opts.watermarks = match watermark_store(&session, sdk_for_lease.clone()).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    let sink = match audit_sink(&cli) {
        Ok(sink) => sink,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::Configuration;
        }
    };
    let held = if opts.dry_run || session.settings().run.dry_run {
        None // a dry run writes nothing, so it may run beside a pass
    } else {
        match take_lease(&session, sdk_for_lease).await {
            Ok(None) => None,
            Ok(Some(Acquired::Held(lease))) => {
                opts.stop_starting_at =
                    Some(lease.stop_writes_at(session.settings().run.deadline_margin));
                Some(lease)
            }
            Ok(Some(Acquired::Busy(holder))) => {
                eprintln!("{holder}");
                return ExitCode::Busy;
            }
            Err(code) => return code,
        }
    };
    let outcome = session.run_audited(&opts, &sink).await;
    release(held).await;
    match outcome {
        Ok(report) => {
            print_report(&report, cli.output);
            ExitCode::for_summary(&report.summary)
        }
        Err(e) => {
            print_error(&e, cli.output);
            exit_for(&e)
        }
    }
}

/// With `SCIM_SYNC_LEASE_TABLE` set, takes the lease on this Identity Center for
/// `SCIM_SYNC_LEASE_SECONDS` (the Lambda's lease table, so CLI and Lambda passes never
/// overlap); `Ok(None)` without a table. `Err` is the exit code of a lease that cannot be
/// taken.
async fn take_lease(
    session: &Session,
    sdk: Option<SdkConfig>,
) -> Result<Option<Acquired>, ExitCode> {
    let lease = match LeaseConfig::from_env() {
        Ok(Some(lease)) => lease,
        Ok(None) => return Ok(None),
        Err(e) => {
            eprintln!("configuration error: {e}");
            return Err(ExitCode::Configuration);
        }
    };
    let sdk = match sdk {
        Some(sdk) => sdk,
        None => aws_config::defaults(BehaviorVersion::latest()).load().await,
    };
    let table = LeaseTable::new(&sdk, lease.table);
    let end = std::time::SystemTime::now() + lease.duration;
    match table
        .acquire(
            session.settings().scim.base_url.as_str(),
            &lease::cli_owner(),
            end,
        )
        .await
    {
        Ok(acquired) => Ok(Some(acquired)),
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::PassFailed)
        }
    }
}

/// Where watermarks are kept: `run.stateFile` when set, else the lease table of
/// `SCIM_SYNC_LEASE_TABLE`, else nowhere (full passes keep none; `--incremental` is refused).
async fn watermark_store(
    session: &Session,
    sdk: Option<SdkConfig>,
) -> Result<Option<WatermarkStore>, ExitCode> {
    if let Some(path) = &session.settings().run.state_file {
        return Ok(Some(WatermarkStore::File(path.clone())));
    }
    match LeaseConfig::from_env() {
        Ok(Some(lease)) => {
            let sdk = match sdk {
                Some(sdk) => sdk,
                None => aws_config::defaults(BehaviorVersion::latest()).load().await,
            };
            Ok(Some(WatermarkStore::table(&sdk, lease.table)))
        }
        Ok(None) => Ok(None),
        Err(e) => {
            eprintln!("configuration error: {e}");
            Err(ExitCode::Configuration)
        }
    }
}

fn exit_for(e: &PassError) -> ExitCode {
    match e {
        PassError::Config(_) | PassError::NotFound(_) | PassError::Incremental(_) => {
            ExitCode::Configuration
        }
        _ => ExitCode::PassFailed,
    }
}

/// `scim-sync explain WHO`.
async fn explain(session: &Session, who: &str, output: OutputFormat) -> ExitCode {
    match crate::explain::explain(session, who).await {
        Ok(explanation) => {
            match output {
                OutputFormat::Json => match serde_json::to_string_pretty(&explanation) {
                    Ok(json) => println!("{json}"),
                    Err(e) => eprintln!("could not encode the explanation as JSON: {e}"),
                },
                OutputFormat::Text => print!("{}", explanation_text(&explanation)),
            }
            ExitCode::Success
        }
        Err(e) => {
            print_error(&e, output);
            exit_for(&e)
        }
    }
}

async fn release(held: Option<Lease>) {
    if let Some(lease) = held {
        if let Err(e) = lease.release().await {
            eprintln!("warning: {e}; the lease expires on its own");
        }
    }
}

/// Audit records go to stderr (JSON lines with `--output json`, readable lines otherwise)
/// and, with `--audit-log FILE`, are appended to that file as JSON lines.
fn audit_sink(cli: &Cli) -> std::io::Result<Tee> {
    let mut sinks: Vec<Box<dyn AuditSink>> = Vec::new();
    match cli.output {
        OutputFormat::Json => sinks.push(Box::new(JsonLines::new(std::io::stderr()))),
        OutputFormat::Text => sinks.push(Box::new(TextLines::new(std::io::stderr()))),
    }
    if let Some(path) = &cli.audit_log {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot open the audit log {}: {e}", path.display()),
                )
            })?;
        sinks.push(Box::new(JsonLines::new(file)));
    }
    Ok(Tee(sinks))
}

/// Settings from the file when one is given, else from SSM and Secrets Manager. The AWS SDK
/// configuration is kept when the token lives in Secrets Manager, to re-read it after a 401.
async fn load_settings(cli: &Cli) -> Result<(Settings, Option<SdkConfig>), config::ConfigError> {
    match &cli.config {
        Some(path) => {
            let settings = config::load_from_file(path, None).await?;
            let sdk = match settings.scim.token_secret_id {
                Some(_) => Some(aws_config::defaults(BehaviorVersion::latest()).load().await),
                None => None,
            };
            Ok((settings, sdk))
        }
        None => {
            let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
            let settings = config::load_from_aws(&sdk, &AwsNames::from_env()).await?;
            Ok((settings, Some(sdk)))
        }
    }
}

fn print_report(report: &PassReport, output: OutputFormat) {
    match output {
        OutputFormat::Json => match serde_json::to_string_pretty(report) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("could not encode the report as JSON: {e}"),
        },
        OutputFormat::Text => {
            print!("{}", plan_text(&report.plan, &report.user_names));
            println!();
            print!("{}", summary_text(&report.summary));
        }
    }
}

fn print_error(e: &PassError, output: OutputFormat) {
    match output {
        OutputFormat::Json => {
            let body = serde_json::json!({
                "error": e.to_string(),
                "tokenRejected": e.is_token_rejected(),
            });
            println!("{body}");
        }
        OutputFormat::Text => eprintln!("error: {e}"),
    }
}
