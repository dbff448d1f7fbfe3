//! Whole-pass benchmark: how close a pass comes to what the network physically allows.
//!
//! Run it through `scripts/bench.sh` (which also starts the Samba fixture for the LDAP part,
//! runs `benches/plan.rs` and builds with the `perf` profile), or alone:
//! `cargo bench --profile perf --bench pass` (env: `BENCH_SIZES=1k,10k,100k`, `BENCH_FULL=1`,
//! `BENCH_ONLY=no-op:api40/25,no-op:coll20` to run only some rows of that plan).
//!
//! What it does, per directory size (users U, U/10 groups of 50-150 members, ~10U memberships):
//! - generates the directory as an AD-style LDIF export (and a "small change" variant: 0.5 %
//!   new users, 0.5 % renamed, 0.5 % leavers), and computes from the two datasets alone (not
//!   from the code under test) the minimum SCIM traffic of each pass: listing pages (100 per
//!   page: users, groups, and one paged member listing per owned group) and exactly one write
//!   per difference (one POST per user or group created, one PATCH per update or disable,
//!   ⌈membership changes / 100⌉ PATCHes per group, except that a new group carries its first
//!   100 members inside its POST, so only ⌈(members − 100) / 100⌉ PATCHes follow);
//! - runs an initial load (empty Identity Center), a no-op pass and a small-change pass
//!   against the in-process emulator with injected latency (30 ms) with and without a throttle
//!   (20 requests/s; the client is then paced at the same rate, as it would be configured);
//! - runs each pass in a child process (this binary with `--child`), so its peak RSS (VmHWM)
//!   is the pass's own and not the emulator's or another pass's;
//! - prints wall time, the phases, requests by kind from the client's and the emulator's
//!   counters, the physical bound and the ratio to it.
//!
//! The bound: with a throttle T, total requests ÷ T. With latency L and concurrency C, the
//! longest chain of requests that must follow one another (the cursor pages of the user
//! listing; or the group listing then one group's member pages; then a create; then the
//! membership PATCH that needs its id), or total requests ÷ C, whichever is larger, times L.
//!
//! The child mirrors `Session::run_once` (src/pass/session.rs) step by step, to time the
//! phases and read the client's per-kind counters, which `Session` does not expose.
//!
//! Optional parts, driven by environment variables that `scripts/bench.sh` sets:
//! `BENCH_LDAP_*` (directory read against Samba vs `ldapsearch -E pr=1000/noprompt`) and
//! `BENCH_LAMBDA_BIN` (cold start of the Lambda binary up to its first `/next` request).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{BufWriter, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use idc_emulator::{Emulator, EmulatorConfig, Faults, RunningEmulator};
use scim_sync::apply::{execute, ExecuteOptions};
use scim_sync::config::{DirectorySource, RunConfig, Settings};
use scim_sync::directory::sid::{guid_from_string, sid_from_string};
use scim_sync::directory::{read_ldap, LdapSettings, Scope};
use scim_sync::identity_center::{read_state, ScimClient, ScimClientConfig};
use scim_sync::model::settings::{CaBundle, LdapUrl};
use scim_sync::model::{
    DirectoryAttributes, DirectoryGroup, DirectorySnapshot, DirectoryUser, SharedStrings, Summary,
};
use scim_sync::pass::read_directory;
use scim_sync::plan::{self, GuardSettings, Policy};
use scim_sync::secret::Secret;
use serde::{Deserialize, Serialize};

const TOKEN: &str = "bench-token";
const LATENCY_MS: u64 = 30;
const THROTTLE_RPS: u32 = 20;
/// The per-API profile: every read API 40 requests/s, every write API 25.
const API_READ_RPS: u32 = 40;
const API_WRITE_RPS: u32 = 25;
/// The collective bucket of the "both" profile.
const BOTH_COLLECTIVE_RPS: u32 = 30;
const PER_API_TARGET: f64 = 1.15;
/// The client's default concurrency (`scim.concurrency`).
const CONCURRENCY: usize = 8;
/// Items per SCIM list page (Identity Center's maximum).
const PAGE: u64 = 100;
/// Client-side pacing when the service is not throttled: effectively none.
const UNPACED_RPS: u32 = 1_000_000;
const RSS_TARGET_MB: f64 = 256.0;
const INITIAL_TARGET: f64 = 1.05;
const NOOP_READS_TARGET: f64 = 1.2;
const LDAP_TARGET: f64 = 1.2;
const LAMBDA_INIT_TARGET_MS: f64 = 100.0;

// ---------------------------------------------------------------- the synthetic directory

/// Which version of a size's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Variant {
    /// Every user in the sync group, all enabled.
    Base,
    /// Base plus 0.5 % new users (each in 3 groups), 0.5 % renamed, 0.5 % left the sync group.
    Changed,
}

struct Dataset {
    /// User numbers with an entry in the export; `display_name` by number.
    display: BTreeMap<usize, String>,
    /// Users in the sync group.
    in_scope: BTreeSet<usize>,
    /// Direct members of each group `aws-gNNNNN` (users only, no nesting).
    groups: Vec<BTreeSet<usize>>,
}

/// The bench directory's domain (the export has no domain entry: it comes from the setting).
const DOMAIN_SID: &str = "S-1-5-21-1004336348-1177238915-682003330";

fn sid(n: usize) -> String {
    format!("{DOMAIN_SID}-{}", 10_000 + n)
}

fn user_guid(n: usize) -> String {
    format!("a0000000-0000-4000-8000-{n:012x}")
}

fn group_guid(g: usize) -> String {
    format!("b0000000-0000-4000-8000-{g:012x}")
}

fn sam(n: usize) -> String {
    format!("u{n:06}")
}

/// Every user carries the three attributes the default mapping syncs (title, department,
/// company), as a real directory's users do, so the memory and request figures include them.
const COMPANY: &str = "Example Bench Corporation";

/// One of 40 job titles, as a directory of this size repeats them.
fn title(n: usize) -> String {
    format!("Job Title {:02}", n % 40)
}

/// One of 25 departments.
fn department(n: usize) -> String {
    format!("Department {:02}", n % 25)
}

fn user_dn(n: usize) -> String {
    format!("CN={},OU=Users,DC=bench,DC=test", sam(n))
}

fn group_name(g: usize) -> String {
    format!("aws-g{g:05}")
}

/// The same LCG as `scripts/bench-ldif.py`, so the LDAP and in-process directories match.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % bound.max(1)
    }
}

impl Dataset {
    fn generate(users: usize, variant: Variant) -> Self {
        let group_count = (users / 10).max(1);
        let mut rng = Lcg(42);
        let mut groups: Vec<BTreeSet<usize>> = (0..group_count)
            .map(|g| {
                let size = 50 + (g * 37) % 101;
                (0..size).map(|_| rng.next(users)).collect()
            })
            .collect();
        let mut display: BTreeMap<usize, String> = (0..users)
            .map(|n| (n, format!("Given{n} Family{n}")))
            .collect();
        let mut in_scope: BTreeSet<usize> = (0..users).collect();
        if variant == Variant::Changed {
            let changes = (users / 200).max(1);
            for n in users..users + changes {
                display.insert(n, format!("Given{n} Family{n}"));
                in_scope.insert(n);
                for j in 0..3 {
                    groups[(n * 13 + j * 101) % group_count].insert(n);
                }
            }
            for n in (0..users).filter(|n| n % 200 == 1) {
                display.insert(n, format!("Renamed{n} Family{n}"));
            }
            for n in (0..users).filter(|n| n % 200 == 2) {
                in_scope.remove(&n);
            }
        }
        Self {
            display,
            in_scope,
            groups,
        }
    }

    /// What each group's membership should be in Identity Center.
    fn desired_members(&self, g: usize) -> BTreeSet<usize> {
        self.groups[g]
            .intersection(&self.in_scope)
            .copied()
            .collect()
    }

    fn write_ldif(&self, path: &Path) {
        let b64 = |b: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(b);
        let mut w = BufWriter::new(std::fs::File::create(path).expect("create the LDIF file"));
        let mut out = String::new();
        for (n, display) in &self.display {
            let s = sam(*n);
            out.clear();
            let _ = write!(
                out,
                "dn: {}\nobjectClass: top\nobjectClass: person\nobjectClass: user\ncn: {s}\n\
                 sAMAccountName: {s}\nuserPrincipalName: {s}@bench.example.test\n\
                 givenName: Given{n}\nsn: Family{n}\ndisplayName: {display}\n\
                 mail: {s}@bench.example.test\nuserAccountControl: 512\n\
                 title: {}\ndepartment: {}\ncompany: {COMPANY}\n\
                 objectSid:: {}\nobjectGUID:: {}\n\n",
                user_dn(*n),
                title(*n),
                department(*n),
                b64(sid_from_string(&sid(*n)).expect("valid SID")),
                b64(guid_from_string(&user_guid(*n)).expect("valid GUID")),
            );
            w.write_all(out.as_bytes()).expect("write LDIF");
        }
        let mut group = |dn: &str, name: &str, guid: &str, members: &BTreeSet<usize>| {
            let mut out = format!(
                "dn: {dn}\nobjectClass: top\nobjectClass: group\ncn: {name}\n\
                 sAMAccountName: {name}\nobjectGUID:: {}\n",
                b64(guid_from_string(guid).expect("valid GUID"))
            );
            for n in members {
                let _ = writeln!(out, "member: {}", user_dn(*n));
            }
            out.push('\n');
            w.write_all(out.as_bytes()).expect("write LDIF");
        };
        group(
            "CN=sync-all,OU=Sync,DC=bench,DC=test",
            "sync-all",
            "c0000000-0000-4000-8000-000000000000",
            &self.in_scope,
        );
        for (g, members) in self.groups.iter().enumerate() {
            let name = group_name(g);
            group(
                &format!("CN={name},OU=AWS,DC=bench,DC=test"),
                &name,
                &group_guid(g),
                members,
            );
        }
        w.flush().expect("write LDIF");
    }

    /// The snapshot the LDIF reader produces from [`Self::write_ldif`]'s file.
    fn snapshot(&self) -> DirectorySnapshot {
        // Names and values shared as the reader shares them.
        let shared = SharedStrings::default();
        let users = self
            .in_scope
            .iter()
            .map(|n| {
                let s = sam(*n);
                DirectoryUser {
                    object_sid: sid(*n).into(),
                    object_guid: user_guid(*n),
                    dn: user_dn(*n),
                    user_principal_name: Some(format!("{s}@bench.example.test")),
                    mail: Some(format!("{s}@bench.example.test")),
                    sam_account_name: s,
                    given_name: Some(format!("Given{n}")),
                    surname: Some(format!("Family{n}")),
                    display_name: self.display.get(n).cloned(),
                    enabled: true,
                    account_expires: None,
                    attributes: DirectoryAttributes::from_iter([
                        (shared.share("title"), Some(shared.share(&title(*n)))),
                        (
                            shared.share("department"),
                            Some(shared.share(&department(*n))),
                        ),
                        (shared.share("company"), Some(shared.share(COMPANY))),
                    ]),
                }
            })
            .collect();
        let groups = (0..self.groups.len())
            .map(|g| DirectoryGroup {
                object_guid: group_guid(g),
                object_sid: None,
                dn: format!("CN={},OU=AWS,DC=bench,DC=test", group_name(g)),
                name: group_name(g),
                account_name: None,
                description: None,
                member_sids: self
                    .desired_members(g)
                    .into_iter()
                    .map(|m| sid(m).into())
                    .collect(),
                members_partial: None,
            })
            .collect();
        DirectorySnapshot {
            users,
            groups,
            skipped: Vec::new(),
            domain_sids: vec![DOMAIN_SID.to_string()],
            read_at: None,
            excluded: Vec::new(),
        }
    }
}

// ---------------------------------------------------------------- the minimum and the bound

/// What a pass cannot avoid, computed from the datasets alone.
#[derive(Debug, Clone, Default)]
struct Minimum {
    reads: u64,
    writes: u64,
    /// Requests that must follow one another (see the module doc).
    chain: u64,
    detail: BTreeMap<&'static str, u64>,
}

fn pages(items: usize) -> u64 {
    (items as u64).div_ceil(PAGE).max(1)
}

/// Minimum traffic of a pass from Identity Center converged on `before` (or empty) to `after`;
/// `stale_users` are users Identity Center still lists beyond `before`'s (disabled leavers).
fn minimum(before: Option<&Dataset>, stale_users: usize, after: &Dataset) -> Minimum {
    let empty = BTreeSet::new();
    let users_before = before.map_or(&empty, |d| &d.in_scope);
    let groups_before = before.map_or(0, |d| d.groups.len());
    let member_pages: Vec<u64> = (0..after.groups.len().min(groups_before))
        .map(|g| pages(before.map_or(0, |d| d.desired_members(g).len())))
        .collect();
    let list_users = pages(users_before.len() + stale_users);
    let list_groups = pages(groups_before);
    let list_members: u64 = member_pages.iter().sum();

    let create_users = after.in_scope.difference(users_before).count() as u64;
    let create_groups = after.groups.len().saturating_sub(groups_before) as u64;
    let update_users = users_before
        .intersection(&after.in_scope)
        .filter(|n| before.and_then(|d| d.display.get(n)) != after.display.get(n))
        .count() as u64;
    let disable_users = users_before.difference(&after.in_scope).count() as u64;
    // A new group carries its first 100 members in its create (AWS's CreateGroup limit); only
    // the rest need PATCHes of 100.
    let patch_members: u64 = (0..after.groups.len())
        .map(|g| {
            let new = after.desired_members(g);
            match before {
                Some(d) if g < d.groups.len() => {
                    let old = d.desired_members(g);
                    (old.symmetric_difference(&new).count() as u64).div_ceil(PAGE)
                }
                _ => (new.len() as u64).saturating_sub(PAGE).div_ceil(PAGE),
            }
        })
        .sum();

    let reads = list_users + list_groups + list_members;
    let writes = create_users + create_groups + update_users + disable_users + patch_members;
    let read_chain = list_users.max(list_groups + member_pages.iter().copied().max().unwrap_or(0));
    // A user's create, then the create of a new group naming it (then that group's PATCHes
    // beyond its first 100 members), or a user's create then a PATCH adding it.
    let big_new_group =
        (groups_before..after.groups.len()).any(|g| after.desired_members(g).len() > PAGE as usize);
    let write_chain = if create_users > 0 && create_groups > 0 && big_new_group {
        3
    } else if (create_users > 0 && create_groups > 0)
        || (create_users + create_groups > 0 && patch_members > 0)
    {
        2
    } else {
        u64::from(writes > 0)
    };
    let detail = [
        ("list_users", list_users),
        ("list_groups", list_groups),
        ("list_members", list_members),
        ("create_user", create_users),
        ("create_group", create_groups),
        ("update_user", update_users + disable_users),
        ("patch_members", patch_members),
    ]
    .into_iter()
    .filter(|(_, v)| *v > 0)
    .collect();
    Minimum {
        reads,
        writes,
        chain: read_chain + write_chain,
        detail,
    }
}

/// Fault profile of the emulator, and the client pacing that goes with it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Profile {
    name: &'static str,
    latency_ms: u64,
    /// One bucket for every SCIM request (AWS's "20 TPS for the SCIM APIs").
    collective_rps: Option<u32>,
    /// One bucket per read API / per write API (AWS's per-API limits).
    api_read_rps: Option<u32>,
    api_write_rps: Option<u32>,
}

const NO_FAULTS: Profile = Profile {
    name: "none",
    latency_ms: 0,
    collective_rps: None,
    api_read_rps: None,
    api_write_rps: None,
};
const LATENCY: Profile = Profile {
    name: "30ms",
    latency_ms: LATENCY_MS,
    ..NO_FAULTS
};
const COLLECTIVE: Profile = Profile {
    name: "coll20",
    collective_rps: Some(THROTTLE_RPS),
    ..LATENCY
};
const PER_API: Profile = Profile {
    name: "api40/25",
    api_read_rps: Some(API_READ_RPS),
    api_write_rps: Some(API_WRITE_RPS),
    ..LATENCY
};
const BOTH: Profile = Profile {
    name: "coll30+api",
    collective_rps: Some(BOTH_COLLECTIVE_RPS),
    api_read_rps: Some(API_READ_RPS),
    api_write_rps: Some(API_WRITE_RPS),
    ..LATENCY
};

/// The API each counted kind of minimum traffic calls (the emulator's per-API names).
fn api_of_min(kind: &str) -> (&'static str, bool) {
    match kind {
        "list_users" | "list_members" => ("ListUsers", false),
        "list_groups" => ("ListGroups", false),
        "create_user" => ("CreateUser", true),
        "create_group" => ("CreateGroup", true),
        "update_user" => ("PatchUser", true),
        _ => ("PatchGroup", true),
    }
}

impl Profile {
    fn faults(&self) -> Faults {
        Faults {
            latency_ms: self.latency_ms,
            throttle_rps: self.collective_rps.map(f64::from),
            api_read_rps: self.api_read_rps.map(f64::from),
            api_write_rps: self.api_write_rps.map(f64::from),
            ..Faults::default()
        }
    }

    fn throttled(&self) -> bool {
        self.collective_rps.is_some() || self.api_read_rps.is_some() || self.api_write_rps.is_some()
    }

    /// The client's starting rate and ceiling: the product's defaults whenever the service
    /// throttles (it is never told the limits); unpaced otherwise, where latency is measured.
    fn client_rates(&self) -> (u32, u32) {
        if self.throttled() {
            (
                scim_sync::model::settings::defaults::SCIM_RATE_LIMIT_PER_SEC,
                scim_sync::model::settings::defaults::SCIM_MAX_RATE,
            )
        } else {
            (UNPACED_RPS, UNPACED_RPS)
        }
    }

    /// The service's limits, as printed next to the learned rates.
    fn limits(&self) -> String {
        let mut parts = Vec::new();
        if let Some(c) = self.collective_rps {
            parts.push(format!("collective {c}/s"));
        }
        if let (Some(r), Some(w)) = (self.api_read_rps, self.api_write_rps) {
            parts.push(format!("per API {r}/s reads, {w}/s writes"));
        }
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(" + ")
        }
    }

    /// The physical bound in seconds and what sets it; `None` without faults (CPU-bound).
    fn bound(&self, min: &Minimum) -> Option<(f64, &'static str)> {
        let total = min.reads + min.writes;
        let latency = (min.chain.max(total.div_ceil(CONCURRENCY as u64)) as f64)
            * self.latency_ms as f64
            / 1000.0;
        let mut best: Option<(f64, &'static str)> = None;
        if latency > 0.0 {
            best = Some((latency, "latency"));
        }
        if let Some(c) = self.collective_rps {
            let t = total as f64 / f64::from(c);
            if best.is_none_or(|(b, _)| t >= b) {
                best = Some((t, "collect."));
            }
        }
        if let (Some(r), Some(w)) = (self.api_read_rps, self.api_write_rps) {
            let mut per_api: BTreeMap<&str, (u64, bool)> = BTreeMap::new();
            for (kind, n) in &min.detail {
                let (api, write) = api_of_min(kind);
                per_api.entry(api).or_insert((0, write)).0 += n;
            }
            let t = per_api
                .values()
                .map(|(n, write)| *n as f64 / f64::from(if *write { w } else { r }))
                .fold(0.0, f64::max);
            if best.is_none_or(|(b, _)| t >= b) {
                best = Some((t, "per-API"));
            }
        }
        best
    }
}

// ---------------------------------------------------------------- one pass, in a child

/// What the parent asks a child to run.
#[derive(Debug, Serialize, Deserialize)]
struct Job {
    url: String,
    /// Read the directory from this LDIF export (the real reader)...
    ldif: Option<PathBuf>,
    /// ...or build the snapshot in memory (users, variant), to separate the reader's cost.
    synthetic: Option<(usize, Variant)>,
    rate_limit: u32,
    max_rate: u32,
}

/// What a child measured.
#[derive(Debug, Serialize, Deserialize)]
struct Measured {
    wall_s: f64,
    directory_s: f64,
    idc_read_s: f64,
    plan_s: f64,
    apply_s: f64,
    operations: usize,
    reads: u64,
    writes: u64,
    retries: u64,
    throttled: u64,
    by_kind: BTreeMap<String, u64>,
    summary: Summary,
    vm_hwm_kb: u64,
    /// The client's learned rates at the end of the pass: overall, then per API.
    learned_overall: f64,
    learned: BTreeMap<String, f64>,
}

fn bench_settings(url: &str, ldif: PathBuf, rate_limit: u32, max_rate: u32) -> Settings {
    Settings {
        directory: DirectorySource::Ldif { path: ldif },
        profile: Default::default(),
        scope: Scope {
            sync_group: "sync-all".into(),
            group_prefix: "aws-".into(),
            group_search_base: "OU=AWS,DC=bench,DC=test".into(),
            extra_domain_sids: vec![DOMAIN_SID.to_string()],
            rules: Default::default(),
        },
        scim: ScimClientConfig {
            concurrency: CONCURRENCY,
            rate_limit_per_sec: rate_limit,
            max_rate_per_sec: max_rate,
            max_attempts: 5,
            request_timeout: Duration::from_secs(60),
            ..ScimClientConfig::new(url, Secret::new(TOKEN))
                .expect("the SCIM client accepts the emulator's URL")
        },
        policy: Policy::default(),
        // The small change disables 0.5 % of the users: more than the default guard lets
        // through at 10k users. The guard is not what is measured here.
        guard: GuardSettings {
            allow_mass_changes: true,
            ..GuardSettings::default()
        },
        run: RunConfig::default(),
    }
}

/// One pass, step by step as `Session::run_once` does it.
async fn child(job: Job) -> Measured {
    let settings = bench_settings(
        &job.url,
        job.ldif.clone().unwrap_or_default(),
        job.rate_limit,
        job.max_rate,
    );
    let client =
        ScimClient::new(settings.scim.clone()).expect("the SCIM client accepts the emulator's URL");
    let started = Instant::now();
    let directory = match job.synthetic {
        Some((users, variant)) => Dataset::generate(users, variant).snapshot(),
        None => read_directory(&settings)
            .await
            .expect("the LDIF export reads"),
    };
    let t_directory = started.elapsed();
    let wanted: BTreeSet<String> = directory
        .groups
        .iter()
        .map(|g| g.object_guid.clone())
        .collect();
    let current = read_state(&client, &wanted)
        .await
        .expect("Identity Center reads");
    let t_read = started.elapsed();
    let planned = plan::plan(&directory, &current, &settings.policy);
    let (planned, withheld) = plan::apply_guard(planned, &current, &directory, &settings.guard);
    let t_plan = started.elapsed();
    let mut summary = Summary {
        conflicts: planned.conflicts.clone(),
        withheld,
        ..Summary::default()
    };
    let exec = ExecuteOptions {
        concurrency: settings.scim.concurrency.max(1) * 2,
        stop_starting_at: None,
        allow_destructive: current.read_errors.is_empty(),
    };
    execute(&client, &planned, &exec, &mut summary).await;
    let wall = started.elapsed();
    let counts = client.request_counts();
    summary.scim_reads = counts.reads;
    summary.scim_writes = counts.writes;
    summary.duration_ms = wall.as_millis() as u64;
    Measured {
        wall_s: wall.as_secs_f64(),
        directory_s: t_directory.as_secs_f64(),
        idc_read_s: (t_read - t_directory).as_secs_f64(),
        plan_s: (t_plan - t_read).as_secs_f64(),
        apply_s: (wall - t_plan).as_secs_f64(),
        operations: planned.operations.len(),
        reads: counts.reads,
        writes: counts.writes,
        retries: counts.retries,
        throttled: counts.throttled,
        by_kind: counts
            .by_kind
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        summary,
        vm_hwm_kb: vm_hwm_kb(),
        learned_overall: client.learned_rates().overall,
        learned: client
            .learned_rates()
            .by_api
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
    }
}

/// Peak resident set size of this process (Linux), in kB.
fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

async fn run_child(job: &Job) -> Measured {
    let exe = std::env::current_exe().expect("own executable");
    // `BENCH_CHILD_PREFIX="heaptrack -o /tmp/pass"` runs each measured pass under a profiler
    // (its peak RSS is then the profiler's too: for finding where memory goes, not the figure).
    let prefix: Vec<String> = std::env::var("BENCH_CHILD_PREFIX")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let mut command = match prefix.split_first() {
        Some((program, args)) => {
            let mut c = tokio::process::Command::new(program);
            c.args(args).arg(exe);
            c
        }
        None => tokio::process::Command::new(exe),
    };
    let out = command
        .arg("--child")
        .arg(serde_json::to_string(job).expect("job encodes"))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .await
        .expect("run the child pass");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("BENCH-CHILD "))
        .unwrap_or_else(|| panic!("the child pass failed ({}): {stdout}", out.status));
    serde_json::from_str(line).expect("child result decodes")
}

// ---------------------------------------------------------------- scenarios and report

/// One measured pass, as printed and judged.
struct Row {
    size: String,
    pass: &'static str,
    profile: Profile,
    min: Minimum,
    m: Measured,
    emulator: idc_emulator::Counters,
}

impl Row {
    fn bound(&self) -> Option<(f64, &'static str)> {
        self.profile.bound(&self.min)
    }

    fn ratio(&self) -> Option<f64> {
        self.bound().map(|(b, _)| self.m.wall_s / b)
    }

    fn rss_mb(&self) -> f64 {
        self.m.vm_hwm_kb as f64 / 1024.0
    }

    fn print(&self) {
        let (bound, ratio) = match (self.bound(), self.ratio()) {
            (Some((b, why)), Some(r)) => (format!("{b:8.2} s {why:<8}"), format!("{r:5.2}")),
            _ => (format!("{:>19}", "n/a (CPU-bound)"), "    -".to_string()),
        };
        println!(
            "{:<5} {:<14} {:<11} {:>8.2} s {:>7} ({:>6}) {:>7} ({:>6}) {:>5} {} {} {:>6.0} MB",
            self.size,
            self.pass,
            self.profile.name,
            self.m.wall_s,
            self.m.reads,
            self.min.reads,
            self.m.writes,
            self.min.writes,
            self.emulator.throttled,
            bound,
            ratio,
            self.rss_mb(),
        );
        let kinds = |m: &BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let min_kinds: BTreeMap<String, u64> = self
            .min
            .detail
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        println!(
            "      phases: directory {:.2} s, IdC read {:.2} s, plan {:.3} s, apply {:.2} s; \
             {} operations; retries {}, 429s seen {}; failures {}, conflicts {}",
            self.m.directory_s,
            self.m.idc_read_s,
            self.m.plan_s,
            self.m.apply_s,
            self.m.operations,
            self.m.retries,
            self.m.throttled,
            self.m.summary.failures.len(),
            self.m.summary.conflicts.len(),
        );
        println!("      client:   {}", kinds(&self.m.by_kind));
        if self.profile.throttled() {
            let learned: Vec<String> = self
                .m
                .learned
                .iter()
                .map(|(k, v)| format!("{k}={v:.1}"))
                .collect();
            let api_429: Vec<String> = self
                .emulator
                .by_api
                .iter()
                .filter(|(_, c)| c.throttled > 0)
                .map(|(k, c)| format!("{k}={}", c.throttled))
                .collect();
            println!(
                "      rates:    service limits {}; learned overall {:.1}/s, {} (requests/s); \
                 429 by API: {}",
                self.profile.limits(),
                self.m.learned_overall,
                learned.join(" "),
                if api_429.is_empty() {
                    "none".to_string()
                } else {
                    api_429.join(" ")
                }
            );
        }
        println!("      minimum:  {}", kinds(&min_kinds));
        println!(
            "      emulator: reads {} writes {} (applied {}) | {}",
            self.emulator.reads,
            self.emulator.writes,
            self.emulator.applied_writes,
            kinds(
                &self
                    .emulator
                    .by_route
                    .iter()
                    .map(|(k, v)| (k.replace(' ', "_"), *v))
                    .collect()
            ),
        );
    }
}

fn print_header() {
    println!(
        "{:<5} {:<14} {:<11} {:>10} {:>16} {:>16} {:>5} {:>19} {:>5} {:>9}",
        "size",
        "pass",
        "profile",
        "wall",
        "reads (min)",
        "writes (min)",
        "429",
        "bound",
        "ratio",
        "peak RSS"
    );
}

struct Bench {
    emulator: RunningEmulator,
    rows: Vec<Row>,
    notes: Vec<String>,
    /// `BENCH_ONLY`: the `pass:profile` pairs to run (e.g. `no-op:api40/25,initial:none`);
    /// empty runs every pass. Seeding passes run regardless, so a selected pass always
    /// starts from the state it is defined on.
    only: Vec<(String, String)>,
}

/// Parses `BENCH_ONLY` (`pass:profile,...`; a pass name may contain spaces: `small change:coll20`).
fn parse_only(spec: &str) -> Vec<(String, String)> {
    spec.split(',')
        .filter_map(|item| item.trim().rsplit_once(':'))
        .map(|(pass, profile)| (pass.trim().to_string(), profile.trim().to_string()))
        .collect()
}

impl Bench {
    async fn pass(
        &mut self,
        size: &str,
        pass: &'static str,
        profile: Profile,
        source: (Option<&Path>, Option<(usize, Variant)>),
        min: &Minimum,
        record: bool,
    ) -> bool {
        if record && !self.selected(pass, profile) {
            return false;
        }
        self.emulator.set_faults(profile.faults());
        self.emulator.reset_counters();
        let job = Job {
            url: self.emulator.base_url(),
            ldif: source.0.map(Path::to_path_buf),
            synthetic: source.1,
            rate_limit: profile.client_rates().0,
            max_rate: profile.client_rates().1,
        };
        let m = run_child(&job).await;
        let emulator = self.emulator.counters();
        self.emulator.set_faults(Faults::default());
        let ok = m.summary.failures.is_empty() && m.summary.conflicts.is_empty();
        if !ok {
            self.notes.push(format!(
                "{size} {pass} ({}): failures {:?}, conflicts {:?}",
                profile.name,
                m.summary.failures.iter().take(3).collect::<Vec<_>>(),
                m.summary.conflicts.iter().take(3).collect::<Vec<_>>()
            ));
        }
        let row = Row {
            size: size.to_string(),
            pass,
            profile,
            min: min.clone(),
            m,
            emulator,
        };
        if record {
            row.print();
            self.rows.push(row);
        } else {
            println!(
                "      ({pass}: {:.1} s, {} reads, {} writes)",
                row.m.wall_s, row.m.reads, row.m.writes
            );
        }
        ok
    }

    /// Empties Identity Center and loads `base` without faults (not measured).
    fn selected(&self, pass: &str, profile: Profile) -> bool {
        self.only.is_empty()
            || self
                .only
                .iter()
                .any(|(p, prof)| p == pass && prof == profile.name)
    }

    async fn reseed(&mut self, size: &str, base: &Path, min: &Minimum) {
        self.emulator.reset();
        self.pass(size, "reseed", NO_FAULTS, (Some(base), None), min, false)
            .await;
    }

    async fn size(&mut self, users: usize, label: &str, full: bool, dir: &Path) {
        let t = Instant::now();
        let base = Dataset::generate(users, Variant::Base);
        let changed = Dataset::generate(users, Variant::Changed);
        let base_path = dir.join(format!("{label}-base.ldif"));
        let changed_path = dir.join(format!("{label}-changed.ldif"));
        base.write_ldif(&base_path);
        changed.write_ldif(&changed_path);
        let memberships: usize = (0..base.groups.len())
            .map(|g| base.desired_members(g).len())
            .sum();
        println!(
            "\n[{label}] {} users, {} groups, {} memberships; LDIF {:.1} MB (generated in {:.1} s)",
            base.in_scope.len(),
            base.groups.len(),
            memberships,
            std::fs::metadata(&base_path).map_or(0, |m| m.len()) as f64 / 1e6,
            t.elapsed().as_secs_f64()
        );
        let initial_min = minimum(None, 0, &base);
        let noop_min = minimum(Some(&base), 0, &base);
        let small_min = minimum(Some(&base), 0, &changed);
        let leavers = base.in_scope.difference(&changed.in_scope).count();
        let converged_min = minimum(Some(&changed), leavers, &changed);

        let throttled = [COLLECTIVE, PER_API, BOTH];
        let (initial, steady): (Vec<Profile>, Vec<Profile>) = if users <= 5_000 {
            let all = [vec![LATENCY], throttled.to_vec()].concat();
            (all.clone(), all)
        } else if users <= 20_000 {
            let mut i = vec![LATENCY];
            if full {
                i.extend(throttled);
            }
            (i, [vec![LATENCY], throttled.to_vec()].concat())
        } else {
            let mut i = vec![NO_FAULTS];
            let mut s = vec![LATENCY];
            if full {
                i.push(LATENCY);
                s.extend([COLLECTIVE, PER_API]);
            }
            (i, s)
        };
        let mut seeded = false;
        for p in &initial {
            if !self.selected("initial", *p) {
                continue;
            }
            self.emulator.reset();
            self.pass(
                label,
                "initial",
                *p,
                (Some(&base_path), None),
                &initial_min,
                true,
            )
            .await;
            seeded = true;
        }
        // Whether Identity Center holds the changed dataset (after a small change) or the base.
        let mut on_changed = false;
        for p in &steady {
            if !self.selected("no-op", *p) && !self.selected("small change", *p) {
                continue;
            }
            if seeded {
                seeded = false;
            } else {
                self.reseed(label, &base_path, &initial_min).await;
            }
            on_changed = false;
            self.pass(
                label,
                "no-op",
                *p,
                (Some(&base_path), None),
                &noop_min,
                true,
            )
            .await;
            if self.selected("small change", *p) {
                self.pass(
                    label,
                    "small change",
                    *p,
                    (Some(&changed_path), None),
                    &small_min,
                    true,
                )
                .await;
                on_changed = true;
            }
        }
        if !seeded && !on_changed && steady.iter().all(|p| !self.selected("no-op", *p)) {
            self.reseed(label, &base_path, &initial_min).await;
        }
        // The converged no-op runs on whichever dataset Identity Center now holds.
        let (now_path, now_min, now_variant) = if on_changed {
            (&changed_path, &converged_min, Variant::Changed)
        } else {
            (&base_path, &noop_min, Variant::Base)
        };
        // Converged after the small change: the real reader, then the in-memory snapshot
        // (the difference in peak RSS is what reading the LDIF export costs).
        self.pass(
            label,
            "no-op",
            NO_FAULTS,
            (Some(now_path), None),
            now_min,
            true,
        )
        .await;
        self.pass(
            label,
            "no-op (mem)",
            NO_FAULTS,
            (None, Some((users, now_variant))),
            now_min,
            true,
        )
        .await;
        let _ = std::fs::remove_file(&base_path);
        let _ = std::fs::remove_file(&changed_path);
    }
}

// ---------------------------------------------------------------- LDAP read vs ldapsearch

struct LdapEnv {
    url: String,
    ca: PathBuf,
    bind_dn: String,
    password: String,
    base: String,
    labels: Vec<String>,
}

impl LdapEnv {
    fn from_env() -> Option<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Some(Self {
            url: var("BENCH_LDAP_URL")?,
            ca: PathBuf::from(var("BENCH_LDAP_CA")?),
            bind_dn: var("BENCH_LDAP_BIND_DN")?,
            password: var("BENCH_LDAP_PASSWORD")?,
            base: var("BENCH_LDAP_BASE")?,
            labels: var("BENCH_LDAP_LABELS")?
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        })
    }
}

/// Runs `ldapsearch -E pr=1000/noprompt` and counts the entries it printed.
async fn ldapsearch(env: &LdapEnv, base: &str, filter: &str, attrs: &[&str]) -> usize {
    let out = tokio::process::Command::new("ldapsearch")
        .args(["-x", "-LLL", "-o", "ldif-wrap=no", "-E", "pr=1000/noprompt"])
        .args(["-H", &env.url, "-D", &env.bind_dn, "-w", &env.password])
        .args(["-b", base, filter])
        .args(attrs)
        .env("LDAPTLS_CACERT", &env.ca)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .await
        .expect("run ldapsearch");
    assert!(out.status.success(), "ldapsearch failed: {}", out.status);
    out.stdout
        .split(|b| *b == b'\n')
        .filter(|l| l.starts_with(b"dn: "))
        .count()
}

struct LdapRow {
    label: String,
    users: usize,
    groups: usize,
    pages: u64,
    ours: f64,
    theirs: f64,
}

async fn ldap_bench(env: &LdapEnv) -> Vec<LdapRow> {
    let ca = std::fs::read_to_string(&env.ca).expect("read the fixture CA");
    let mut rows = Vec::new();
    for label in &env.labels {
        let root = format!("OU=Bench{label},{}", env.base);
        let scope = Scope {
            sync_group: format!("bench{label}-sync"),
            group_prefix: format!("bench{label}-g"),
            group_search_base: format!("OU=Groups,{root}"),
            extra_domain_sids: Vec::new(),
            rules: Default::default(),
        };
        let settings = LdapSettings {
            ca_bundle: Some(CaBundle::from_pem(&ca).unwrap()),
            // Samba evaluates the in-chain rule slowly: one page can take minutes at 10k.
            operation_timeout: Duration::from_secs(1800),
            range_window: Some(1500),
            base_dn: Some(root.clone()),
            ..LdapSettings::new(
                LdapUrl::parse(&env.url, false, false).unwrap(),
                env.bind_dn.clone(),
                Secret::new(env.password.clone()),
            )
        };
        let user_filter = format!(
            "(&(&(objectCategory=person)(objectClass=user))\
             (memberOf:1.2.840.113556.1.4.1941:=CN=bench{label}-sync,OU=Sync,{root}))"
        );
        let group_filter = format!("(&(objectClass=group)(cn=bench{label}-g*))");
        let user_attrs = [
            "objectSid",
            "objectGUID",
            "sAMAccountName",
            "userPrincipalName",
            "givenName",
            "sn",
            "displayName",
            "mail",
            "userAccountControl",
        ];
        let group_attrs = [
            "objectGUID",
            "objectSid",
            "cn",
            "sAMAccountName",
            "description",
            "member",
        ];
        let runs = 3;
        let (mut ours, mut theirs) = (f64::MAX, f64::MAX);
        let (mut users, mut groups) = (0, 0);
        for _ in 0..runs {
            let t = Instant::now();
            let snap = read_ldap(&settings, &scope)
                .await
                .expect("the directory read succeeds");
            ours = ours.min(t.elapsed().as_secs_f64());
            (users, groups) = (snap.users.len(), snap.groups.len());
            let t = Instant::now();
            let u = ldapsearch(env, &root, &user_filter, &user_attrs).await;
            let g = ldapsearch(env, &scope.group_search_base, &group_filter, &group_attrs).await;
            theirs = theirs.min(t.elapsed().as_secs_f64());
            assert_eq!(
                (u, g),
                (users, groups),
                "ldapsearch and read_ldap see the same entries"
            );
        }
        let row = LdapRow {
            label: label.clone(),
            users,
            groups,
            // The sync group lookup, then paged users and groups (1000 per page).
            pages: 1 + (users as u64).div_ceil(1000).max(1) + (groups as u64).div_ceil(1000).max(1),
            ours,
            theirs,
        };
        println!(
            "ldap  {:<5} {:>6} users {:>5} groups  {:>3} pages  read_ldap {:>7.2} s  \
             ldapsearch {:>7.2} s  ratio {:.2}  (best of {runs})",
            row.label,
            row.users,
            row.groups,
            row.pages,
            row.ours,
            row.theirs,
            row.ours / row.theirs
        );
        rows.push(row);
    }
    rows
}

// ---------------------------------------------------------------- Lambda cold start

/// Time from spawning the Lambda binary to its first `GET .../invocation/next`, against a
/// fake Runtime API on loopback that never answers (so no configuration is ever loaded).
fn lambda_init_once(bin: &Path, home: &Path) -> Option<Duration> {
    let listener = TcpListener::bind("127.0.0.1:0").ok()?;
    let addr = listener.local_addr().ok()?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            if buf.starts_with(b"GET /2018-06-01/runtime/invocation/next") {
                let _ = tx.send(Instant::now());
            }
            // Hold the connection open until the child is killed.
            let _ = stream.read(&mut chunk);
        }
    });
    let started = Instant::now();
    let mut child = std::process::Command::new(bin)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "scim-sync-bench")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/scim-sync-bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_DEFAULT_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDBENCHMARK0000000")
        .env("AWS_SECRET_ACCESS_KEY", "bench-secret-not-real")
        .env("AWS_SESSION_TOKEN", "bench-session-not-real")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let at = rx.recv_timeout(Duration::from_secs(10)).ok();
    let _ = child.kill();
    let _ = child.wait();
    at.map(|t| t.duration_since(started))
}

fn lambda_bin() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("BENCH_LAMBDA_BIN") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    // target/<profile>/deps/pass-<hash> -> target/<profile>/scim-sync-lambda
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.join("scim-sync-lambda")).filter(|p| p.is_file())
}

// ---------------------------------------------------------------- main

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_kb: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{cores} cores, {model}, {:.1} GiB RAM",
        mem_kb as f64 / 1024.0 / 1024.0
    )
}

fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim().to_ascii_lowercase();
    match s.strip_suffix('k') {
        Some(k) => k.parse::<usize>().ok().map(|n| n * 1000),
        None => s.parse().ok(),
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--write-ldif") {
        // `--write-ldif USERS PATH`: the base export alone, for profiling a pass by hand
        // (e.g. the CLI under `valgrind --tool=massif` against the emulator binary).
        let users = args
            .get(i + 1)
            .and_then(|s| parse_size(s))
            .expect("--write-ldif USERS PATH");
        let path = PathBuf::from(args.get(i + 2).expect("--write-ldif USERS PATH"));
        Dataset::generate(users, Variant::Base).write_ldif(&path);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let job: Job = serde_json::from_str(args.get(i + 1).expect("--child JSON"))
            .expect("child job decodes");
        let m = child(job).await;
        println!(
            "BENCH-CHILD {}",
            serde_json::to_string(&m).expect("result encodes")
        );
        return;
    }
    let full = std::env::var("BENCH_FULL").is_ok_and(|v| v == "1");
    let sizes: Vec<(usize, String)> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "1k,10k,100k".into())
        .split(',')
        .filter_map(|s| parse_size(s).map(|n| (n, s.trim().to_string())))
        .collect();
    let parts = std::env::var("BENCH_PARTS").unwrap_or_else(|_| "passes,ldap,lambda".into());
    println!("scim-sync pass benchmark");
    println!("machine: {}", machine());
    println!(
        "client: concurrency {CONCURRENCY}, page size {PAGE}; faults: latency {LATENCY_MS} ms, \
         throttles coll20 = one {THROTTLE_RPS}/s bucket, api40/25 = {API_READ_RPS}/s per read API and \
         {API_WRITE_RPS}/s per write API, coll30+api = both with a {BOTH_COLLECTIVE_RPS}/s bucket; \
         under a throttle the client runs on its defaults (starts at 20/s, learns the rest)"
    );

    let emulator = Emulator::start(EmulatorConfig {
        seed: Some(1),
        ..EmulatorConfig::new(TOKEN)
    })
    .await
    .expect("start the emulator");
    let mut bench = Bench {
        emulator,
        rows: Vec::new(),
        notes: Vec::new(),
        only: parse_only(&std::env::var("BENCH_ONLY").unwrap_or_default()),
    };
    if parts.contains("passes") {
        let dir = tempfile::tempdir().expect("temp dir");
        println!();
        print_header();
        for (users, label) in &sizes {
            bench.size(*users, label, full, dir.path()).await;
        }
    }
    let ldap_rows = match (parts.contains("ldap"), LdapEnv::from_env()) {
        (true, Some(env)) => {
            println!(
                "\nLDAP read of the same entries: read_ldap vs ldapsearch -E pr=1000/noprompt"
            );
            ldap_bench(&env).await
        }
        _ => {
            println!("\nLDAP: skipped (set BENCH_LDAP_*; scripts/bench.sh does)");
            Vec::new()
        }
    };
    let mut lambda: Vec<Duration> = Vec::new();
    if parts.contains("lambda") {
        match lambda_bin() {
            Some(bin) => {
                let home = tempfile::tempdir().expect("temp dir");
                for _ in 0..7 {
                    if let Some(d) = lambda_init_once(&bin, home.path()) {
                        lambda.push(d);
                    }
                }
                let ms: Vec<String> = lambda
                    .iter()
                    .map(|d| format!("{:.1}", d.as_secs_f64() * 1000.0))
                    .collect();
                println!(
                    "\nLambda init ({}): process start to first /next, ms: {}",
                    bin.display(),
                    ms.join(" ")
                );
            }
            None => println!(
                "\nLambda init: skipped (build it: cargo build --profile perf --bin scim-sync-lambda)"
            ),
        }
    }
    bench.emulator.set_faults(Faults::default());
    let Bench {
        emulator,
        rows,
        notes,
        ..
    } = bench;
    emulator.shutdown().await;

    println!("\ntargets:");
    for r in rows
        .iter()
        .filter(|r| r.pass == "initial" && r.profile.throttled())
    {
        let ratio = r.ratio().unwrap_or(f64::MAX);
        let target = if r.profile == COLLECTIVE {
            INITIAL_TARGET
        } else {
            PER_API_TARGET
        };
        println!(
            "  [{}] initial load ({}, the client never told): {:.3}x the bound (target <= {target}): {}",
            r.size,
            r.profile.limits(),
            ratio,
            verdict(ratio <= target)
        );
    }
    for r in rows.iter().filter(|r| r.pass.starts_with("no-op")) {
        let reads = r.m.reads as f64 / r.min.reads.max(1) as f64;
        println!(
            "  [{}] {} ({}): {} writes, reads {:.2}x the minimum (target 0 and <= {NOOP_READS_TARGET}): {}",
            r.size,
            r.pass,
            r.profile.name,
            r.m.writes,
            reads,
            verdict(r.m.writes == 0 && reads <= NOOP_READS_TARGET)
        );
    }
    for r in rows.iter().filter(|r| r.pass == "small change") {
        let writes = r.m.writes as f64 / r.min.writes.max(1) as f64;
        println!(
            "  [{}] small change ({}): writes {:.2}x the minimum ({} vs {}), wall {:.2}x the bound",
            r.size,
            r.profile.name,
            writes,
            r.m.writes,
            r.min.writes,
            r.ratio().unwrap_or(0.0)
        );
    }
    for r in rows.iter().filter(|r| r.pass != "no-op (mem)") {
        if let Some(ratio) = r.ratio().filter(|x| *x > 1.2) {
            println!(
                "  [{}] {} ({}): {:.2}x the physical bound",
                r.size, r.pass, r.profile.name, ratio
            );
        }
    }
    let biggest = sizes.iter().map(|(n, _)| *n).max().unwrap_or(0);
    if let Some(peak) = rows
        .iter()
        .filter(|r| parse_size(&r.size) == Some(biggest) && r.pass != "no-op (mem)")
        .map(Row::rss_mb)
        .reduce(f64::max)
    {
        println!(
            "  peak RSS of a pass at {biggest} users: {peak:.0} MB (target < {RSS_TARGET_MB} MB): {}",
            verdict(peak < RSS_TARGET_MB)
        );
    }
    for r in &ldap_rows {
        let ratio = r.ours / r.theirs;
        println!(
            "  [{}] LDAP read {:.2}x ldapsearch (target <= {LDAP_TARGET}): {}",
            r.label,
            ratio,
            verdict(ratio <= LDAP_TARGET)
        );
    }
    if !lambda.is_empty() {
        let mut ms: Vec<f64> = lambda.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        let median = ms[ms.len() / 2];
        println!(
            "  Lambda init: median {median:.1} ms, worst {:.1} ms (target < {LAMBDA_INIT_TARGET_MS} ms): {}",
            ms[ms.len() - 1],
            verdict(median < LAMBDA_INIT_TARGET_MS)
        );
    }
    for n in &notes {
        println!("  NOTE: {n}");
    }
}
