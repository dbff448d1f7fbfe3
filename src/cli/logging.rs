//! The log filter of the command line: what reaches an operator's stderr.

/// Crates whose warnings are about the machine the CLI runs on, not about the pass: the AWS
/// SDK warns on every run without `~/.aws/config` or `~/.aws/credentials` (or with an
/// `AWS_CONFIG_FILE` that does not exist), which is normal on a laptop that uses environment
/// credentials or a `--config` file. At the default verbosity only their errors are shown;
/// `-v` and `RUST_LOG` show everything again.
const QUIET_AT_DEFAULT: [&str; 2] = ["aws_config", "aws_runtime"];

/// The `tracing` filter directives for `-v` given `verbose` times (0: warnings, 1: info,
/// 2: debug, more: trace). `RUST_LOG`, when set, replaces them.
pub fn log_filter(verbose: u8) -> String {
    match verbose {
        0 => {
            let mut directives = vec!["warn".to_string()];
            directives.extend(QUIET_AT_DEFAULT.iter().map(|c| format!("{c}=error")));
            directives.join(",")
        }
        1 => "info".to_string(),
        2 => "debug".to_string(),
        _ => "trace".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aws_sdk_s_file_warnings_are_quiet_only_at_the_default_verbosity() {
        assert_eq!(log_filter(0), "warn,aws_config=error,aws_runtime=error");
        assert_eq!(log_filter(1), "info");
        assert_eq!(log_filter(5), "trace");
    }
}
