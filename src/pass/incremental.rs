//! The incremental pass: sync only what changed in the directory since the stored watermark.
//!
//! 1. One LDAP connection reads the DC's `highestCommittedUSN`, `dnsHostName` and
//!    `invocationId`, and the watermark stored for that DC and this Identity Center is loaded.
//!    Anything that breaks its meaning (none stored, another DC, a restore, a USN that went
//!    back, an age beyond the tombstone lifetime, a changed scope setting, a damaged record)
//!    makes this a full pass, with the reason in `summary.incremental.fallback`; so does an
//!    LDAP error of the change detection after the bind (`changeDetectionFailed`: what
//!    changed is unknown). A DC that cannot be reached or bound to fails the pass with that
//!    error, as a full pass would.
//! 2. No USN committed since: done, no other LDAP search and no SCIM request. USNs committed
//!    but nothing in scope changed (out-of-scope objects): done after two `(uSNChanged>=N)`
//!    searches and the scope chain; still no SCIM request, and the watermark stays.
//! 3. Otherwise, when no scope rule or mapping needs other entries, only the affected part of
//!    the directory is read ([`read_part`]): the scope listed as SIDs when a group of its
//!    chain changed (else moved for the changed users alone), the changed and joining users
//!    with the groups in scope holding them, the changed groups in scope whole; else the
//!    directory is read in full (the scope and nesting exactly as a full pass sees them) and
//!    compared with the watermark's scope: who joined or left it. The affected
//!    objects are the changed users in scope, the users who joined or left the scope, the
//!    groups in scope a changed group can change (itself, and every group in scope it is
//!    nested in), and (for the attributes they are named in) the managers of every user
//!    planned. Only those are read from Identity Center: users by `externalId eq`, a
//!    changed group's members (who left it is known only there), a user's groups by
//!    `members.value eq`, groups by `externalId eq`.
//! 4. Both sides cut down to those objects go through the planner, the one hold-back path
//!    (the guard's shares taken of the directory's counts) and the executor, with audit
//!    records, as in a full pass. A group's memberships are compared only for the users whose
//!    Identity Center memberships were read, so nothing unread is ever taken for absent.
//! 5. The new watermark (the USN read in step 1, the scope read in step 3) is saved only when
//!    nothing failed, was withheld or was left unfinished, and never by a dry run; else the
//!    next pass starts from the old one and does this work again (passes are idempotent).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use futures::stream::{self, StreamExt, TryStreamExt};

use super::error::PassError;
use super::session::{Inspection, PassOptions, PassReport, Session};
use super::sources::{finish_snapshot, read_directory};
use crate::audit::AuditSink;
use crate::config::{DirectorySource, Settings};
use crate::directory::{open_change_reader, AttributeMap};
use crate::identity_center::filter::is_filter_safe;
use crate::model::{
    ChangedUser, DcState, DirectoryChanges, DirectoryCounts, DirectorySnapshot, Finding, IdcGroup,
    IdcSnapshot, IdcUser, IncrementalSummary, ReasonCode, ScopeSet, Summary, Watermark,
};
use crate::plan::incremental::{self, Affected, IdcView};
use crate::plan::GuardBase;
use crate::state::{record_key, WatermarkStore};

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .unwrap_or(0)
}

/// The attribute profile a pass reads users with (as `sources::read_source`).
fn attribute_map(settings: &Settings) -> AttributeMap {
    AttributeMap::active_directory()
        .with_user_attributes(settings.policy.attributes.directory_attributes())
}

/// A fingerprint of every setting that decides what is in scope or what is sent: when one
/// changes, the watermark's scope and the objects synced so far may no longer match it.
pub(crate) fn settings_fingerprint(settings: &Settings) -> String {
    let base = match &settings.directory {
        DirectorySource::Ldap(l) => format!("{:?}|{}", l.base_dn, l.url.as_str()),
        DirectorySource::Ldif { path } => path.display().to_string(),
    };
    let text = format!(
        "{:?}|{:?}|{:?}|{base}|{}",
        settings.scope,
        settings.profile,
        settings.policy,
        settings.scim.base_url.as_str()
    );
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// A pass left nothing behind: the watermark may move past what it read.
fn complete(summary: &Summary) -> bool {
    !summary.dry_run
        && summary.failures.is_empty()
        && summary.withheld.is_empty()
        && summary.unfinished.is_empty()
        && !summary.incomplete
        && !summary.token_rejected
}

/// The DC's state before a full pass reads the directory, for the watermark it leaves;
/// `None` (with a warning) when the source is not LDAP or the DC cannot say.
pub(super) async fn dc_before_full_pass(session: &Session) -> Option<DcState> {
    let settings = session.settings();
    let DirectorySource::Ldap(ldap) = &settings.directory else {
        return None;
    };
    if !matches!(
        settings.profile,
        crate::model::settings::DirectoryProfile::ActiveDirectory
    ) {
        return None; // no USNs to keep a watermark with
    }
    let read = async {
        let mut reader =
            open_change_reader(ldap, &settings.scope, &attribute_map(settings)).await?;
        let dc = reader.dc_state().await;
        reader.close().await;
        dc
    };
    match read.await {
        Ok(dc) => Some(dc),
        Err(e) => {
            tracing::warn!(error = %e, "no watermark is kept for this pass");
            None
        }
    }
}

/// Saves the watermark a complete full pass leaves, and says so in its summary.
pub(super) async fn save_after_full_pass(
    session: &Session,
    store: &WatermarkStore,
    dc: &DcState,
    inspection: &Inspection,
    report: &mut PassReport,
) {
    let info = report
        .summary
        .incremental
        .get_or_insert_with(|| IncrementalSummary {
            mode: "full".into(),
            ..IncrementalSummary::default()
        });
    info.dc = dc.dns_host_name.clone();
    info.to_usn = dc.highest_committed_usn;
    if !complete(&report.summary) {
        return;
    }
    let taken_at = now_secs();
    let mark = Watermark {
        dns_host_name: dc.dns_host_name.clone(),
        invocation_id: dc.invocation_id.clone(),
        usn: dc.highest_committed_usn,
        taken_at,
        settings_fingerprint: settings_fingerprint(session.settings()),
        scope: incremental::scope_of(&inspection.directory),
        counts: Some(counts_of(&inspection.directory)),
        next_expiry: incremental::next_expiry(&inspection.directory.users, taken_at),
    };
    let saved = save(session, store, &mark).await;
    if let Some(info) = report.summary.incremental.as_mut() {
        info.saved = saved;
    }
}

async fn save(session: &Session, store: &WatermarkStore, mark: &Watermark) -> bool {
    let key = record_key(
        session.settings().scim.base_url.as_str(),
        &mark.dns_host_name,
    );
    match store.save(&key, mark).await {
        Ok(true) => true,
        Ok(false) => {
            tracing::warn!(
                "a newer watermark is already stored (an overlapping pass): kept that one"
            );
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, "the watermark was not saved; the next incremental pass repeats this one's work");
            false
        }
    }
}

/// Runs one incremental pass (or the full pass it falls back to).
pub(super) async fn run(
    session: &Session,
    opts: &PassOptions,
    sink: &dyn AuditSink,
) -> Result<PassReport, PassError> {
    let started = Instant::now();
    let requests_before = session.client().request_counts();
    let settings = session.settings();
    let DirectorySource::Ldap(ldap) = &settings.directory else {
        return Err(PassError::Incremental(
            "incremental passes need an LDAP directory: an LDIF export has no update sequence \
             numbers (USNs) to keep a watermark with; run a full pass (without --incremental \
             or {\"incremental\": true})"
                .into(),
        ));
    };
    if !matches!(
        settings.profile,
        crate::model::settings::DirectoryProfile::ActiveDirectory
    ) {
        return Err(PassError::Incremental(
            "incremental passes follow Active Directory's update sequence numbers (USNs); the \
             openldap profile runs full passes only (without --incremental or \
             {\"incremental\": true})"
                .into(),
        ));
    }
    if !opts.only.is_empty() {
        return Err(PassError::Incremental(
            "an incremental pass syncs what changed; --only names what to sync: use one or the other"
                .into(),
        ));
    }
    let Some(store) = &opts.watermarks else {
        return Err(PassError::Incremental(
            "an incremental pass needs somewhere to keep its watermark: set run.stateFile in the \
             configuration file, or SCIM_SYNC_LEASE_TABLE (the pass lease's DynamoDB table)"
                .into(),
        ));
    };
    let map = attribute_map(settings);
    // A DC that cannot be reached or bound to fails a full pass the same way: that error is
    // the pass's, as it is (retrying as a full pass would only hide it behind a second one).
    let mut reader = open_change_reader(ldap, &settings.scope, &map).await?;
    let dc = match reader.dc_state().await {
        Ok(dc) => dc,
        Err(e) => {
            reader.close().await;
            return full_fallback(session, opts, sink, None, detection_failed(&e)).await;
        }
    };
    let key = record_key(settings.scim.base_url.as_str(), &dc.dns_host_name);
    let fingerprint = settings_fingerprint(settings);
    let stored = store.load(&key).await;
    let unusable = match &stored {
        Err(e) => Some(
            Finding::new(ReasonCode::WatermarkUnreadable, e.to_string())
                .about(dc.dns_host_name.as_str()),
        ),
        Ok(None) => Some(
            Finding::new(
                ReasonCode::NoWatermark,
                format!(
                    "no watermark is stored for {} and this Identity Center in the {} (first \
                     incremental pass, or another DC answered)",
                    dc.dns_host_name,
                    store.describe()
                ),
            )
            .about(dc.dns_host_name.as_str()),
        ),
        Ok(Some(w)) => w.unusable_for(&dc, &fingerprint, now_secs()),
    };
    let (Ok(Some(mark)), None) = (stored, &unusable) else {
        reader.close().await;
        let reason = unusable.unwrap_or_else(|| {
            Finding::new(
                ReasonCode::WatermarkUnreadable,
                "the watermark could not be read",
            )
        });
        return full_fallback(session, opts, sink, Some(dc), reason).await;
    };
    let mut info = IncrementalSummary {
        mode: "idle".into(),
        dc: dc.dns_host_name.clone(),
        from_usn: Some(mark.usn),
        to_usn: dc.highest_committed_usn,
        ..IncrementalSummary::default()
    };
    let now = now_secs();
    // An account whose expiry passed since: nothing in the directory marks it (`expiry.rs`).
    let expiry_due = mark.next_expiry.filter(|at| *at <= now);
    if dc.highest_committed_usn == mark.usn && expiry_due.is_none() {
        info.ldap_searches = reader.searches();
        reader.close().await;
        return Ok(idle_report(opts, info, started));
    }
    let mut changes = if dc.highest_committed_usn == mark.usn {
        DirectoryChanges::default()
    } else {
        match reader.changes_since(mark.usn).await {
            Ok(c) => c,
            Err(e) => {
                info.ldap_searches = reader.searches();
                reader.close().await;
                return full_fallback(session, opts, sink, Some(dc), detection_failed(&e)).await;
            }
        }
    };
    info.ldap_searches = reader.searches();
    if !settings.policy.delete_groups_out_of_scope {
        // A group renamed out of the prefix stays in Identity Center, as in a full pass.
        changes.out_of_scope_groups.clear();
    }
    info.changed_users = changes.users.len() as u64;
    info.unsynced_users = changes.unsynced_users;
    info.changed_groups = changes.groups.len() as u64;
    if changes.is_empty()
        && changes.outside.is_empty()
        && changes.deleted_users.is_empty()
        && changes.out_of_scope_groups.is_empty()
        && expiry_due.is_none()
    {
        // Nothing in scope moved. The watermark stays, unless searching from it again costs
        // more than saving one (`moved_idle_mark`).
        reader.close().await;
        if let Some(moved) = moved_idle_mark(&mark, &dc, &changes, now) {
            info.saved = !opts.dry_run && save(session, store, &moved).await;
        }
        return Ok(idle_report(opts, info, started));
    }

    // The scope then is decoded only now: at 100k users it is ~56 kB deflated.
    let Some(previous_scope) = mark.scope.sids() else {
        reader.close().await;
        let reason = Finding::new(
            ReasonCode::WatermarkUnreadable,
            format!(
                "the scope stored with the watermark in the {} is damaged",
                store.describe()
            ),
        )
        .about(dc.dns_host_name.as_str());
        return full_fallback(session, opts, sink, Some(dc), reason).await;
    };
    let previous: HashSet<String> = previous_scope
        .iter()
        .map(|s| s.to_ascii_uppercase())
        .collect();
    // Changed users outside the scope chain and deleted users that were in scope: they left
    // by their own entry.
    let leavers: BTreeSet<String> = changes
        .outside
        .iter()
        .chain(&changes.deleted_users)
        .filter(|s| previous.contains(*s))
        .cloned()
        .collect();
    info.deleted_users = changes
        .deleted_users
        .iter()
        .filter(|s| previous.contains(*s))
        .count() as u64;
    let mut next_expiry = mark.next_expiry;
    if let Some(from) = expiry_due {
        let found = match reader.expiries(from, now).await {
            Ok(x) => x,
            Err(e) => {
                reader.close().await;
                return full_fallback(session, opts, sink, Some(dc), detection_failed(&e)).await;
            }
        };
        info.ldap_searches = reader.searches();
        next_expiry = found
            .to_come
            .iter()
            .filter(|(sid, _)| previous.contains(sid))
            .map(|(_, at)| *at)
            .min();
        let known: HashSet<String> = changes
            .users
            .iter()
            .map(|u| u.object_sid.to_ascii_uppercase())
            .collect();
        for user in found.expired {
            if previous.contains(&user.object_sid) && !known.contains(&user.object_sid) {
                info.expired_users += 1;
                changes.users.push(user);
            }
        }
    }
    if changes.is_empty() && leavers.is_empty() && changes.out_of_scope_groups.is_empty() {
        reader.close().await;
        // The expiry looked for is behind us: keep the next one, or every pass would search
        // for it again.
        let kept = Watermark {
            next_expiry,
            ..mark.clone()
        };
        let moved = moved_idle_mark(&kept, &dc, &changes, now);
        if expiry_due.is_some() || moved.is_some() {
            info.saved =
                !opts.dry_run && save(session, store, moved.as_ref().unwrap_or(&kept)).await;
        }
        return Ok(idle_report(opts, info, started));
    }
    info.mode = "incremental".into();
    let (mut directory, mut affected, now_scope, counts, part) = match mark
        .counts
        .filter(|_| reads_only_affected(settings))
    {
        Some(counts) => {
            // Only the affected part of the directory is read (see `read_part`); the
            // connection stays open for the groups the lookups may still name.
            let part = match read_part(session, &mut reader, &changes, &previous, &leavers).await {
                Ok(p) => p,
                Err(e) => {
                    info.ldap_searches = reader.searches();
                    reader.close().await;
                    return match e {
                        PartError::Directory(e) => {
                            full_fallback(session, opts, sink, Some(dc), detection_failed(&e)).await
                        }
                        PartError::Pass(e) => Err(e),
                    };
                }
            };
            let counts = DirectoryCounts {
                users: part.now.len() as u64,
                ..counts
            };
            info.directory_read = "changed".into();
            info.scope_listed = part.scope_listed;
            let now_scope = ScopeSet::from_sids(part.now.iter().map(String::as_str));
            (
                part.directory,
                part.affected,
                now_scope,
                counts,
                Some((part.view, reader)),
            )
        }
        None => {
            let directory = read_directory(settings).await?;
            let now_scope = incremental::scope_of(&directory);
            let mut affected = incremental::affected(&directory, &changes, &previous_scope);
            affected.former_users =
                former_users(settings, &mut reader, &affected, &directory).await;
            reader.close().await;
            let counts = counts_of(&directory);
            info.directory_read = "full".into();
            next_expiry = None; // the whole scope was read: it alone says
            (directory, affected, now_scope, counts, None)
        }
    };
    affected.gone_groups = changes.out_of_scope_groups.iter().cloned().collect();
    info.joined_scope = affected.joined as u64;
    info.left_scope = affected.left as u64;
    let (dir_sub, idc_sub, notes) = match part {
        Some((view, mut reader)) => {
            let read =
                read_affected(session, &mut directory, &affected, view, Some(&mut reader)).await;
            info.ldap_searches = reader.searches();
            reader.close().await;
            read?
        }
        None => {
            let view = read_whole_groups(session, &affected).await?;
            read_affected(session, &mut directory, &affected, view, None).await?
        }
    };
    info.affected_users = dir_sub.users.len().max(idc_sub.users.len()) as u64;
    info.affected_groups = dir_sub.groups.len() as u64;

    let base = GuardBase {
        users: counts.users,
        memberships: counts.memberships,
        groups: counts.groups,
    };
    let mut inspection = session.hold_back(dir_sub, idc_sub, Some(base), opts);
    inspection.plan.notes.extend(notes);
    let mut report = session
        .finish(&inspection, opts, sink, started, requests_before)
        .await?;
    if complete(&report.summary) {
        let taken_at = now_secs();
        let new_mark = Watermark {
            dns_host_name: dc.dns_host_name.clone(),
            invocation_id: dc.invocation_id.clone(),
            usn: dc.highest_committed_usn,
            taken_at,
            settings_fingerprint: fingerprint,
            scope: now_scope,
            counts: Some(counts),
            next_expiry: earliest(
                next_expiry,
                incremental::next_expiry(&directory.users, taken_at),
            ),
        };
        info.saved = save(session, store, &new_mark).await;
    }
    report.summary.incremental = Some(info);
    Ok(report)
}

/// True when the directory need not be read in full: no scope rule or mapping depends on
/// other entries than the affected ones (`userFilter` and `excludeGroups` are decided by
/// the full read, and the users they leave out are not listed by the scope's member
/// searches; a mapped `manager` needs the managers' entries).
fn reads_only_affected(settings: &Settings) -> bool {
    settings.scope.rules.user_filter.is_none()
        && settings.scope.rules.exclude_groups.is_empty()
        && settings
            .policy
            .attributes
            .source(crate::model::settings::UserAttribute::Manager)
            .is_none()
}

/// What [`read_part`] read: the directory's side of the affected objects, the scope now, and
/// Identity Center's changed groups read whole.
struct Part {
    directory: DirectorySnapshot,
    affected: Affected,
    /// The users in scope now (uppercase objectSids).
    now: HashSet<String>,
    /// Whether the scope was listed (a group of the scope chain changed).
    scope_listed: bool,
    view: IdcView,
}

/// Why [`read_part`] stopped: the directory failed (the caller runs a full pass: what the
/// directory holds is unknown), or Identity Center did (the pass fails, as a full one would).
enum PartError {
    Directory(crate::directory::DirectoryError),
    Pass(PassError),
}

/// Reads only the affected part of the directory (no `userFilter`, `excludeGroups` or mapped
/// `manager`: [`reads_only_affected`]):
/// 1. the scope now: listed (DNs and objectSids only) when a group of the scope chain
///    changed, else the watermark's moved for the changed users alone;
/// 2. the primary users (changed, and joined: who left is not in the directory) and the
///    groups in scope holding them; the changed groups in scope with all their members;
/// 3. those groups' members in Identity Center, and the directory entries of the ones still
///    in scope that are not the group's members here any more (they left the group, not the
///    scope), so the planner removes them from it and knows them as users still in scope.
async fn read_part(
    session: &Session,
    reader: &mut crate::directory::ChangeReader,
    changes: &crate::model::DirectoryChanges,
    previous: &HashSet<String>,
    leavers: &BTreeSet<String>,
) -> Result<Part, PartError> {
    let scope_listed = incremental::scope_may_have_moved(changes);
    let mut primary: Vec<ChangedUser> = changes.users.clone();
    let now: HashSet<String> = if scope_listed {
        let listed = reader.read_scope().await.map_err(PartError::Directory)?;
        let known: HashSet<String> = primary
            .iter()
            .map(|u| u.object_sid.to_ascii_uppercase())
            .collect();
        primary.extend(
            listed
                .iter()
                .filter(|u| !previous.contains(&u.object_sid) && !known.contains(&u.object_sid))
                .cloned(),
        );
        listed.into_iter().map(|u| u.object_sid).collect()
    } else {
        incremental::scope_after_user_changes(changes, previous, leavers)
    };
    // Only users in scope now are read as users (an expired account, say, may have left the
    // scope in the same pass).
    primary.retain(|u| now.contains(&u.object_sid.to_ascii_uppercase()));
    let whole: Vec<String> = incremental::whole_group_dns(changes).into_iter().collect();
    let in_scope = |sid: &str| now.contains(sid);
    let mut directory = reader
        .read_affected(&primary, &whole, &in_scope)
        .await
        .map_err(PartError::Directory)?;
    let affected = incremental::affected_between(&directory, changes, previous, &now);
    let view = read_whole_groups(session, &affected)
        .await
        .map_err(PartError::Pass)?;
    let missing = incremental::whole_members_unread(&directory, &affected, &view, &now);
    if !missing.is_empty() {
        reader
            .read_users_by_sid(&missing, &mut directory)
            .await
            .map_err(PartError::Directory)?;
    }
    let directory = finish_snapshot(session.settings(), directory).map_err(PartError::Directory)?;
    Ok(Part {
        directory,
        affected,
        now,
        scope_listed,
        view,
    })
}

/// The DNs of the users who left the scope (`affected`'s primary users not in `directory`,
/// read in full), when a mapped attribute names users (`manager`), read by objectSid: their
/// reports are planned. A failed read leaves the reports to the full pass (nothing is taken
/// away by it).
async fn former_users(
    settings: &Settings,
    reader: &mut crate::directory::ChangeReader,
    affected: &Affected,
    directory: &DirectorySnapshot,
) -> BTreeSet<String> {
    let manager_mapped = settings
        .policy
        .attributes
        .source(crate::model::settings::UserAttribute::Manager)
        .is_some();
    if affected.left == 0 || !manager_mapped {
        return BTreeSet::new();
    }
    let now = incremental::in_scope_sids(directory);
    let left: Vec<String> = affected
        .primary
        .iter()
        .filter(|sid| !now.contains(*sid))
        .cloned()
        .collect();
    let mut read = DirectorySnapshot::default();
    if let Err(e) = reader.read_users_by_sid(&left, &mut read).await {
        tracing::warn!(error = %e, "the entries of the users who left the scope could not be read: their reports' manager is emptied by the next full pass");
    }
    read.users.into_iter().map(|u| u.dn).collect()
}

/// An idle pass's watermark moved up to the DC's USN, when searching from `mark` again would
/// cost more than saving: the `uSNChanged` searches returned more bytes than the record holds
/// (entries the pass had no use for, such as logon-timestamp churn or changes out of scope,
/// which every pass from the same USN reads again, and which add up). Everything up to the
/// DC's USN was looked at and changed nothing in scope, so the moved watermark stands for
/// it; the scope and counts stay as they are. `None`: keep `mark` (reading those entries
/// again costs less than writing the record, ~56 kB at 100k users, every minute).
fn moved_idle_mark(
    mark: &Watermark,
    dc: &DcState,
    changes: &DirectoryChanges,
    now: i64,
) -> Option<Watermark> {
    let record = serde_json::to_vec(mark).map_or(0, |v| v.len() as u64);
    (dc.highest_committed_usn > mark.usn && changes.searched_bytes > record).then(|| Watermark {
        usn: dc.highest_committed_usn,
        taken_at: now,
        ..mark.clone()
    })
}

/// The earlier of two moments, either of which may be unknown.
fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The directory's counts (the guard's base) from a full read.
fn counts_of(directory: &DirectorySnapshot) -> DirectoryCounts {
    let base = GuardBase::of_directory(directory);
    DirectoryCounts {
        users: base.users,
        memberships: base.memberships,
        groups: base.groups,
    }
}

/// The report of a pass that found nothing to sync: no SCIM request was made.
fn idle_report(opts: &PassOptions, info: IncrementalSummary, started: Instant) -> PassReport {
    let summary = Summary {
        pass_id: crate::audit::new_pass_id(),
        dry_run: opts.dry_run,
        version: crate::VERSION.to_string(),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        incremental: Some(info),
        ..Summary::default()
    };
    PassReport {
        summary,
        plan: Default::default(),
        user_names: HashMap::new(),
    }
}

/// Why a pass whose change detection failed after the bind runs in full: what changed since
/// the watermark is unknown, and unknown is not "nothing".
fn detection_failed(e: &crate::directory::DirectoryError) -> Finding {
    Finding::new(
        ReasonCode::ChangeDetectionFailed,
        format!(
            "the change detection failed ({e}), so what changed since the watermark is unknown: \
             a full pass runs instead (if this repeats, the fast schedule costs a full pass \
             each time: check the domain controller and the read-only account's access)"
        ),
    )
}

/// A full pass in place of an incremental one, saving the watermark it leaves. `dc` is the
/// DC's state read before the directory; `None` when the change detection could not read
/// it, in which case it is read once more (a watermark needs it), and without it none is
/// saved.
async fn full_fallback(
    session: &Session,
    opts: &PassOptions,
    sink: &dyn AuditSink,
    dc: Option<DcState>,
    reason: Finding,
) -> Result<PassReport, PassError> {
    match reason.code {
        ReasonCode::ChangeDetectionFailed => {
            tracing::warn!(reason = %reason.text, code = %reason.code, "running a full pass instead of an incremental one")
        }
        _ => {
            tracing::info!(reason = %reason.text, code = %reason.code, "running a full pass instead of an incremental one")
        }
    }
    let dc = match dc {
        Some(dc) => Some(dc),
        None => dc_before_full_pass(session).await,
    };
    let started = Instant::now();
    let requests_before = session.client().request_counts();
    let inspection = match session.inspect(opts).await {
        Ok(i) => i,
        Err(e) => {
            // Reported as the pass's error (the clearer of the two when the DC went away);
            // the change detection's is in the warning above.
            tracing::error!(error = %e, "the full pass run in place of an incremental one failed too");
            return Err(e);
        }
    };
    let mut report = session
        .finish(&inspection, opts, sink, started, requests_before)
        .await?;
    report.summary.incremental = Some(IncrementalSummary {
        mode: "full".into(),
        fallback: Some(reason),
        dc: dc
            .as_ref()
            .map(|d| d.dns_host_name.clone())
            .unwrap_or_default(),
        to_usn: dc.as_ref().map_or(0, |d| d.highest_committed_usn),
        ..IncrementalSummary::default()
    });
    if let (Some(store), Some(dc)) = (&opts.watermarks, &dc) {
        save_after_full_pass(session, store, dc, &inspection, &mut report).await;
    }
    Ok(report)
}

/// A read of several objects: those decoded, and descriptions of those that were not.
type Read<T> = Result<(Vec<T>, Vec<String>), crate::identity_center::ScimError>;

/// Reads from Identity Center what `affected` needs (`plan::incremental` says what, in this
/// order) and cuts both sides down to it. Returns the directory's part, Identity Center's
/// part, and notes for the plan.
async fn read_affected(
    session: &Session,
    directory: &mut DirectorySnapshot,
    affected: &Affected,
    mut view: IdcView,
    reader: Option<&mut crate::directory::ChangeReader>,
) -> Result<(DirectorySnapshot, IdcSnapshot, Vec<Finding>), PassError> {
    let client = session.client();
    let concurrency = session.settings().scim.concurrency.max(1);

    // 1. The groups compared whole and their members: [`read_whole_groups`], already read.

    // 2. The users to plan, by externalId (unless a group read already returned them).
    let planned = incremental::users_to_plan(directory, affected, &view);
    let known: HashSet<String> = view
        .whole_members
        .values()
        .flatten()
        .filter_map(|u| u.external_id.as_ref().map(|x| x.to_ascii_uppercase()))
        .collect();
    let lookups: Vec<String> = planned
        .iter()
        .filter(|x| !known.contains(*x) && is_filter_safe(x))
        .cloned()
        .collect();
    let found: Vec<Option<IdcUser>> = stream::iter(lookups)
        .map(|x| async move { client.find_user_by_external_id(&x).await })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    view.users.extend(found.into_iter().flatten());

    // 3. The primary users' groups (`members.value eq`): their memberships are then known.
    let primary_ids: Vec<String> = view
        .users
        .iter()
        .chain(view.whole_members.values().flatten())
        .filter(|u| {
            u.external_id
                .as_ref()
                .is_some_and(|x| affected.primary.contains(&x.to_ascii_uppercase()))
        })
        .map(|u| u.id.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let groups_read: Vec<(String, Read<IdcGroup>)> = stream::iter(primary_ids)
        .map(|id| async move {
            let r = client.groups_of_user(&id).await;
            (id, r)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    for (user_id, result) in groups_read {
        match result {
            Ok((groups, skipped)) => {
                view.read_errors.extend(skipped);
                view.user_groups.insert(user_id, groups);
            }
            Err(e) if e.is_configuration_error() => return Err(e.into()),
            Err(e) => view
                .read_errors
                .push(format!("could not read the groups of user {user_id}: {e}")),
        }
    }

    // 3b. When only part of the directory was read (`reader`), the groups Identity Center
    //     says hold a primary user and that part does not have: those in scope are read
    //     (with no member), so a user who left the scope is taken out of them. A failed
    //     read holds back what takes access away, as any failed read does.
    if let Some(reader) = reader {
        let unknown = incremental::groups_not_read(directory, &view);
        if !unknown.is_empty() {
            if let Err(e) = reader.read_synced_groups_by_guid(&unknown, directory).await {
                view.read_errors.push(format!(
                    "could not read from the directory the groups that hold a user this \
                     incremental pass synced: {e}"
                ));
            }
        }
    }

    // 4. The groups holding a primary user that no read named yet, and the changed groups
    //    out of scope now, by externalId.
    let mut wanted = incremental::groups_to_look_up(directory, affected, &view);
    wanted.extend(affected.gone_groups.iter().cloned());
    find_groups(client, concurrency, &wanted, &mut view.groups).await?;

    Ok(incremental::cut_down(directory, affected, &planned, &view))
}

/// Step 1 of the lookups: the groups compared whole, by externalId, and their members in
/// Identity Center (who left a group is known only there).
async fn read_whole_groups(session: &Session, affected: &Affected) -> Result<IdcView, PassError> {
    let client = session.client();
    let concurrency = session.settings().scim.concurrency.max(1);
    let mut view = IdcView::default();
    find_groups(
        client,
        concurrency,
        &affected.whole_groups,
        &mut view.groups,
    )
    .await?;
    let whole: Vec<(String, String)> = affected
        .whole_groups
        .iter()
        .filter_map(|x| view.groups.get(x).map(|g| (x.clone(), g.id.clone())))
        .collect();
    let members: Vec<(String, Read<IdcUser>)> = stream::iter(whole)
        .map(|(x, id)| async move { (x, client.users_in_group(&id).await) })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    for (x, result) in members {
        match result {
            Ok((users, skipped)) => {
                view.read_errors.extend(skipped);
                view.whole_members.insert(x, users);
            }
            Err(e) if e.is_configuration_error() => return Err(e.into()),
            Err(e) => view
                .read_errors
                .push(format!("could not read the members of group {x}: {e}")),
        }
    }
    Ok(view)
}

/// Looks up each group of `wanted` (objectGUIDs) by externalId into `into` (keyed lowercase).
async fn find_groups(
    client: &crate::pass::ScimClient,
    concurrency: usize,
    wanted: &BTreeSet<String>,
    into: &mut BTreeMap<String, IdcGroup>,
) -> Result<(), PassError> {
    let found: Vec<(String, Option<IdcGroup>)> = stream::iter(
        wanted
            .iter()
            .filter(|x| is_filter_safe(x))
            .cloned()
            .collect::<Vec<_>>(),
    )
    .map(|x| async move {
        let found = client.find_group_by_external_id(&x).await;
        found.map(|g| (x, g))
    })
    .buffer_unordered(concurrency)
    .try_collect()
    .await?;
    for (x, g) in found {
        if let Some(mut g) = g {
            g.external_id = Some(x.clone());
            g.member_ids = None;
            into.insert(x.to_ascii_lowercase(), g);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(users: u32) -> Watermark {
        let sids: Vec<String> = (0..users)
            .map(|r| format!("S-1-5-21-1-2-3-{}", 1000 + r * 3))
            .collect();
        Watermark {
            dns_host_name: "dc1.corp.example".into(),
            invocation_id: "00000000-0000-0000-0000-000000000001".into(),
            usn: 100,
            taken_at: 1_000,
            settings_fingerprint: "f".into(),
            scope: ScopeSet::from_sids(sids.iter().map(String::as_str)),
            counts: None,
            next_expiry: Some(5_000),
        }
    }

    fn dc(usn: u64) -> DcState {
        DcState {
            dns_host_name: "dc1.corp.example".into(),
            invocation_id: "00000000-0000-0000-0000-000000000001".into(),
            highest_committed_usn: usn,
            tombstone_lifetime_days: 180,
        }
    }

    #[test]
    fn an_idle_pass_moves_its_watermark_only_when_rereading_costs_more_than_writing() {
        let m = mark(2_000);
        let record = serde_json::to_vec(&m).map_or(0, |v| v.len() as u64);
        let searched = |bytes| DirectoryChanges {
            searched_bytes: bytes,
            ..DirectoryChanges::default()
        };
        assert!(moved_idle_mark(&m, &dc(150), &searched(record), 2_000).is_none());
        let moved = moved_idle_mark(&m, &dc(150), &searched(record + 1), 2_000)
            .expect("more bytes searched than the record holds");
        assert_eq!((moved.usn, moved.taken_at), (150, 2_000));
        assert_eq!(moved.scope, m.scope, "nothing in scope changed");
        assert_eq!(moved.next_expiry, m.next_expiry);
        // No USN committed: nothing to move past.
        assert!(moved_idle_mark(&m, &dc(100), &searched(u64::MAX), 2_000).is_none());
    }
}
