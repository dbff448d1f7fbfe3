use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Keeps AWS IAM Identity Center in step with Active Directory through SCIM.
///
/// By default the configuration is read from AWS (SSM parameters under /IAM-IDC/ and the
/// secrets IAM-IDC/SCIM-API-Token and IAM-IDC/AD-RO-UserCreds), exactly as the Lambda does;
/// `--config FILE` reads a TOML file instead.
#[derive(Debug, Parser)]
#[command(name = "scim-sync", version, about, long_about)]
pub struct Cli {
    /// Read settings from this TOML file instead of SSM Parameter Store and Secrets Manager.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// How to print the plan and the summary.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Append every change's audit record to this file as JSON lines (for cron hosts), in
    /// addition to stderr.
    #[arg(long, global = true, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,

    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read both sides and print what a pass would change, writing nothing.
    Plan,
    /// Run a full pass: read both sides, then apply the changes.
    Apply {
        /// Apply destructive changes even beyond the mass-change guard's limits (one run).
        #[arg(long)]
        allow_mass_changes: bool,
        /// Provision on demand: apply only the operations concerning this user or group
        /// (sAMAccountName, userPrincipalName, DN, objectSid, or a group's cn or
        /// objectGUID). Repeatable.
        #[arg(long, value_name = "WHO", conflicts_with = "incremental")]
        only: Vec<String>,
        /// Sync only what changed in the directory since the stored watermark (run.stateFile,
        /// or the lease table of SCIM_SYNC_LEASE_TABLE); runs a full pass, and says why, when
        /// the watermark cannot be trusted. Needs an LDAP (Active Directory) source.
        #[arg(long)]
        incremental: bool,
    },
    /// Explain one user or group: the directory entry, its scope (the chain of groups from
    /// the sync group down to it), its mapping, its match in Identity Center and the planned
    /// actions. Writes nothing.
    Explain {
        /// sAMAccountName, userPrincipalName, DN, objectSid, or a group's cn or objectGUID.
        who: String,
    },
}

/// Output formats: text for people, JSON for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}
