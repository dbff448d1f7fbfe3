//! A stand-in for AWS IAM Identity Center's SCIM endpoint (`/scim/v2/`), reproducing the
//! current AWS behaviour described in `docs/identity-center-scim.md`, with switches for the behaviour
//! nobody has pinned down and fault injection for testing a client's retry paths.
//!
//! Start it in-process with [`Emulator::start`]; drive faults and inspect state through
//! [`RunningEmulator`] or the admin HTTP API under `/admin/`.

mod admin;
mod config;
mod dump;
mod errors;
mod faults;
mod filter;
mod groups;
mod paging;
mod patch;
mod routes;
mod server;
mod state;
mod tokens;
mod users;
mod validate;

pub use config::{Behaviour, EmulatorConfig, Faults, PutGroupAnswer};
pub use dump::{DumpGroup, DumpUser, StateDump};
pub use errors::ScimError;
pub use faults::{api_of, ApiCount, Counters};
pub use tokens::TokenLimitReached;

use rand::rngs::StdRng;
use rand::SeedableRng;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Everything the handlers share, behind one mutex (never held across an await).
pub(crate) struct Inner {
    pub store: state::Store,
    pub behaviour: Behaviour,
    pub faults: Faults,
    pub rng: StdRng,
    pub tokens: tokens::Tokens,
    pub counters: Counters,
    pub bucket: faults::Bucket,
    /// Per-API buckets, made on an API's first request from the current faults.
    pub api_buckets: std::collections::HashMap<&'static str, faults::Bucket>,
}

/// Cheaply clonable handle on the shared state.
#[derive(Clone)]
pub(crate) struct App {
    inner: Arc<Mutex<Inner>>,
    admin_token: Option<Arc<str>>,
    pub(crate) tenant: Option<Arc<str>>,
}

impl App {
    fn new(cfg: &EmulatorConfig) -> Self {
        let rng = match cfg.seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_os_rng(),
        };
        let inner = Inner {
            store: state::Store::new(cfg.behaviour.case_insensitive_uniqueness),
            behaviour: cfg.behaviour.clone(),
            faults: cfg.faults.clone(),
            rng,
            tokens: tokens::Tokens::new(&cfg.token),
            counters: Counters::default(),
            bucket: faults::Bucket::new(&cfg.faults),
            api_buckets: std::collections::HashMap::new(),
        };
        Self {
            inner: Arc::new(Mutex::new(inner)),
            admin_token: cfg.admin_token.as_deref().map(Arc::from),
            tenant: cfg.tenant.as_deref().map(Arc::from),
        }
    }

    /// Locks the state; a poisoned lock is still usable (the store is always consistent
    /// between statements that could panic).
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_faults(&self, f: Faults) {
        let mut g = self.lock();
        g.bucket = faults::Bucket::new(&f);
        g.api_buckets.clear();
        g.faults = f;
    }

    pub(crate) fn set_behaviour(&self, b: Behaviour) {
        let mut g = self.lock();
        g.store.set_case_insensitive(b.case_insensitive_uniqueness);
        g.behaviour = b;
    }

    pub(crate) fn reset(&self) {
        let mut g = self.lock();
        let ci = g.behaviour.case_insensitive_uniqueness;
        g.store = state::Store::new(ci);
        g.counters = Counters::default();
    }
}

/// Entry point: builds and starts an emulator.
pub struct Emulator;

impl Emulator {
    /// Binds `cfg.listen` and serves in the background until [`RunningEmulator::shutdown`].
    pub async fn start(cfg: EmulatorConfig) -> std::io::Result<RunningEmulator> {
        let app = App::new(&cfg);
        let (addr, handle) = server::serve(cfg.listen, app.clone()).await?;
        Ok(RunningEmulator { app, addr, handle })
    }
}

/// A started emulator; dropping it without `shutdown` leaves the server task running until the
/// runtime ends.
pub struct RunningEmulator {
    app: App,
    addr: SocketAddr,
    handle: server::ServerHandle,
}

impl RunningEmulator {
    /// The SCIM base URL, with the trailing slash the AWS console shows.
    pub fn base_url(&self) -> String {
        match &self.app.tenant {
            Some(t) => format!("http://{}/{t}/scim/v2/", self.addr),
            None => format!("http://{}/scim/v2/", self.addr),
        }
    }

    /// Base of the admin API (faults, counters, state, tokens).
    pub fn admin_url(&self) -> String {
        format!("http://{}/admin/", self.addr)
    }

    /// The bound address (useful when the config asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the fault settings (and refills the throttle bucket).
    pub fn set_faults(&self, f: Faults) {
        self.app.set_faults(f);
    }

    /// Current fault settings.
    pub fn faults(&self) -> Faults {
        self.app.lock().faults.clone()
    }

    /// Replaces the behaviour switches; changing the case rule rebuilds the indexes.
    pub fn set_behaviour(&self, b: Behaviour) {
        self.app.set_behaviour(b);
    }

    /// Current behaviour switches.
    pub fn behaviour(&self) -> Behaviour {
        self.app.lock().behaviour.clone()
    }

    /// A snapshot of the request counters.
    pub fn counters(&self) -> Counters {
        self.app.lock().counters.clone()
    }

    /// Zeroes the request counters.
    pub fn reset_counters(&self) {
        self.app.lock().counters = Counters::default();
    }

    /// Empties the store and zeroes the counters; tokens, faults and switches stay.
    pub fn reset(&self) {
        self.app.reset();
    }

    /// Full state, memberships included, for test assertions.
    pub fn dump(&self) -> StateDump {
        dump::dump(&self.app.lock())
    }

    /// Adds `new_token` as valid; the old one stays valid until [`Self::revoke_token`].
    /// AWS allows two tokens: if two already exist, the oldest is revoked to make room.
    pub fn rotate_token(&self, new_token: &str) {
        self.app.lock().tokens.rotate(new_token, None);
    }

    /// Like [`Self::rotate_token`], but the new token expires after `ttl` (then 401).
    pub fn rotate_token_with_ttl(&self, new_token: &str, ttl: std::time::Duration) {
        self.app.lock().tokens.rotate(new_token, Some(ttl));
    }

    /// Adds a token the AWS way: refused while two tokens exist.
    pub fn add_token(&self, new_token: &str) -> Result<(), TokenLimitReached> {
        self.app.lock().tokens.add(new_token, None)
    }

    /// Makes a token invalid (deleted in the console).
    pub fn revoke_token(&self, token: &str) {
        self.app.lock().tokens.revoke(token);
    }

    /// Marks a token expired: it still counts toward the limit of two but gets 401.
    pub fn expire_token(&self, token: &str) {
        self.app.lock().tokens.expire(token);
    }

    /// Seeds a user directly (same validation and uniqueness as `POST /Users`, no HTTP, no
    /// faults, not counted): for loading big fixtures fast. Returns the new id.
    pub fn insert_user(&self, body: &serde_json::Value) -> Result<String, ScimError> {
        let mut g = self.app.lock();
        let g = &mut *g;
        let (attrs, keys) = validate::normalise_user(body, g.behaviour.lenient_booleans)?;
        g.store.check_user_unique(&keys, None)?;
        let id = routes::new_id(&mut g.rng, g.behaviour.legacy_ids);
        g.store.insert_user(id.clone(), attrs, keys, None)?;
        Ok(id)
    }

    /// Seeds a group directly (uniqueness enforced, not counted). Returns the new id.
    pub fn insert_group(
        &self,
        display_name: &str,
        external_id: Option<&str>,
    ) -> Result<String, ScimError> {
        let mut g = self.app.lock();
        let g = &mut *g;
        let id = routes::new_id(&mut g.rng, g.behaviour.legacy_ids);
        g.store.insert_group(
            id.clone(),
            display_name.to_string(),
            external_id.map(str::to_string),
            &[],
            None,
        )?;
        Ok(id)
    }

    /// Seeds memberships directly, without the 100-per-request limit. Unknown user ids are
    /// an error (nothing is added then); returns how many memberships were new.
    pub fn add_members(&self, group_id: &str, user_ids: &[String]) -> Result<usize, ScimError> {
        let mut g = self.app.lock();
        let store = &mut g.store;
        let gslot = store
            .group_slot(group_id)
            .ok_or_else(|| ScimError::not_found("Group", group_id))?;
        let slots = user_ids
            .iter()
            .map(|u| {
                store
                    .user_slot(u)
                    .ok_or_else(|| ScimError::not_found("User", u))
            })
            .collect::<Result<Vec<u64>, _>>()?;
        Ok(slots
            .into_iter()
            .filter(|u| store.add_member(gslot, *u))
            .count())
    }

    /// Stops accepting connections and closes the open ones.
    pub async fn shutdown(self) {
        self.handle.shutdown().await;
    }
}
