//! The command-line front end: `scim-sync plan`, `apply` and `explain`, for a laptop or a cron
//! host, over the same pass the Lambda runs.

mod args;
mod exit;
mod explain;
mod logging;
mod render;
mod run;

pub use args::{Cli, Command, OutputFormat};
pub use exit::ExitCode;
pub use explain::explanation_text;
pub use logging::log_filter;
pub use render::{plan_text, summary_text};
pub use run::run;
