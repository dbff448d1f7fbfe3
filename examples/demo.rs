//! The local demo: a full pass with no AWS account and no root.
//!
//! Starts the Identity Center emulator in-process, reads the bundled sample directory from
//! `examples/sample-directory.ldif` (settings in `examples/local.toml`), prints the plan,
//! applies it, then runs a second pass to show that an unchanged directory makes no writes.
//!
//! ```sh
//! cargo run --example demo
//! ```

use std::path::Path;
use std::process::ExitCode;

use idc_emulator::{Emulator, EmulatorConfig};
use scim_sync::cli::{plan_text, summary_text};
use scim_sync::config;
use scim_sync::identity_center::ScimEndpoint;
use scim_sync::pass::{PassOptions, Session};
use serde_json::json;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // A fresh random token each run, handed over through the environment variable that
    // examples/local.toml names, exactly as an operator would.
    let token = format!("demo-{:016x}", rand::random::<u64>());
    let emulator = Emulator::start(EmulatorConfig::new(token.clone())).await?;
    // A user made by hand in the console: not ours (no externalId), so never touched.
    emulator.insert_user(&json!({
        "userName": "breakglass@example.test",
        "name": {"givenName": "Break", "familyName": "Glass"},
        "displayName": "Break-glass administrator",
        "emails": [{"value": "breakglass@example.test", "type": "work", "primary": true}],
        "active": true
    }))?;
    println!(
        "Identity Center emulator listening at {}\n",
        emulator.base_url()
    );

    std::env::set_var("SCIM_SYNC_TOKEN", &token);
    let config_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/local.toml");
    let mut settings = config::load_from_file(&config_path, None).await?;
    settings.scim.base_url = ScimEndpoint::parse(&emulator.base_url())?;
    let mut session = Session::new(settings, None)?;

    println!("== 1. plan (dry run: nothing is written)");
    let dry = session
        .run(&PassOptions {
            dry_run: true,
            ..PassOptions::default()
        })
        .await?;
    println!("{}", plan_text(&dry.plan, &dry.user_names));

    println!("== 2. apply");
    let first = session.run(&PassOptions::default()).await?;
    println!("{}", summary_text(&first.summary));

    println!("== 3. apply again over the unchanged directory");
    let second = session.run(&PassOptions::default()).await?;
    println!("{}", plan_text(&second.plan, &second.user_names));
    println!("{}", summary_text(&second.summary));

    let state = emulator.dump();
    println!(
        "Identity Center now holds {} users and {} groups; the second pass made {} SCIM writes.",
        state.users.len(),
        state.groups.len(),
        second.summary.scim_writes
    );
    emulator.shutdown().await;
    if second.summary.scim_writes != 0 || !first.summary.failures.is_empty() {
        return Err("the second pass should have made no writes and the first no failures".into());
    }
    Ok(())
}
