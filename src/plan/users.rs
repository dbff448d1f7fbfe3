//! Planning of user objects: creates, updates, disables and deletes.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use super::anchors::{unique_by_anchor, AnchorNames};
use super::attributes::{resolve_manager, ManagerIs, NewManager};
use super::desired::{desired_view, signs_in, DesiredUser};
use super::holders::{Holder, Holders};
use super::ownership::{
    duplicate_external_id, fold, is_owned_user_external_id, is_sid, same_folded, user_key, SidIndex,
};
use super::types::{Operation, Plan, UserField, UserRef};
use super::unknown::Unknown;
use crate::model::settings::{AttributeMapping, OutOfScopeAction, Policy, UserAttribute};
use crate::model::{DirectoryUser, Finding, IdcUser, Reason, ReasonCode};

/// What the membership planning needs to know about users once their fate is decided.
pub(super) struct UserOutcome<'a> {
    /// Every user that exists (or will exist) in Identity Center after this plan, as an
    /// operation refers to it, sorted: `Existing` by id, then `New` by externalId.
    pub refs: Vec<UserRef>,
    /// Directory users by canonical SID, as an index into `refs`. Membership planning works
    /// on these small integers, so sorting a million memberships never compares strings.
    pub slot_of: SidIndex,
    /// Identity Center ids of users that must not be touched at all, not even in group
    /// memberships: their directory entry was skipped, so their true state is unknown.
    pub untouchable_ids: HashSet<&'a str>,
}

/// A directory user that maps to valid attributes and will be sent. The planner holds one
/// per user in scope at its peak, so only what cannot be derived again cheaply is kept (its
/// anchor key is the `objectSid`'s, its directory duplicates are rare and kept apart).
struct Candidate<'a> {
    dir: &'a DirectoryUser,
    want: DesiredUser<'a>,
    existing: Option<&'a IdcUser>,
}

impl<'a> Candidate<'a> {
    /// The canonical anchor (`user_key` of the objectSid), as `candidates` deduplicated it.
    fn key(&self) -> Cow<'a, str> {
        user_key(&self.dir.object_sid)
    }
}

pub(super) fn plan_users<'a>(
    dir_users: &'a [DirectoryUser],
    idc_users: &'a [IdcUser],
    unknown: &Unknown<'a>,
    domain_sids: &[String],
    now: Option<i64>,
    policy: &Policy,
    out: &mut Plan,
) -> UserOutcome<'a> {
    let (owned, shadowed) = index_owned(idc_users, domain_sids, out);
    let mut untouchable_keys: HashSet<Cow<'a, str>> = unknown.anchors.clone();
    let in_directory: HashSet<Cow<'a, str>> =
        dir_users.iter().map(|u| user_key(&u.object_sid)).collect();

    let mut candidates = candidates(
        dir_users,
        &owned,
        domain_sids,
        &mut untouchable_keys,
        (policy, now),
        out,
    );
    let duplicate_of = directory_duplicates(&candidates);
    // In place: a partition into two new vectors would hold every candidate twice.
    // `extract_if` visits the candidates in order, so the index counts along.
    let mut index = 0;
    let duplicates: Vec<Candidate<'a>> = candidates
        .extract_if(.., |_| {
            index += 1;
            duplicate_of.contains_key(&(index - 1))
        })
        .collect();
    // Both in candidate order.
    for (c, (_, others)) in duplicates.into_iter().zip(duplicate_of) {
        out.skipped.push(
            Finding::new(
                ReasonCode::DuplicateInDirectory,
                format!(
                    "{}: userName or mail {} is also used by {}; Identity Center needs both \
                     unique (compared without case): make them differ in the directory",
                    c.dir.dn,
                    describe_values(&c.want),
                    others.join(" and ")
                ),
            )
            .about(&*c.dir.dn)
            .about(c.dir.object_sid.as_ref()),
        );
        disable_if_disabled_in_directory(c.dir, c.existing, now, out);
        untouchable_keys.insert(c.key());
    }
    let out_of_scope: Vec<&IdcUser> = {
        let mut v: Vec<&IdcUser> = owned
            .iter()
            .filter(|(k, _)| !in_directory.contains(*k) && !untouchable_keys.contains(*k))
            .map(|(_, u)| *u)
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    };
    let (out_of_scope, held) = hold_if_unknown(out_of_scope, unknown, out);
    for u in held {
        if let Some(ext) = u.external_id.as_deref() {
            untouchable_keys.insert(user_key(ext));
        }
    }

    let mut names = Holders::new(
        idc_users.iter().map(|u| (u, Some(u.user_name.as_str()))),
        |u: &IdcUser| u.id.as_ref(),
    );
    let mut emails = Holders::new(
        idc_users.iter().map(|u| (u, u.email.as_deref())),
        |u: &IdcUser| u.id.as_ref(),
    );
    for c in &candidates {
        if let Some(e) = c.existing {
            if !same_folded(&e.user_name, &c.want.user_name) {
                names.mark_releasing(&e.id);
            }
            if let Some(cur) = e.email.as_deref() {
                if !c.want.email.as_deref().is_some_and(|w| same_folded(cur, w)) {
                    emails.mark_releasing(&e.id);
                }
            }
        }
    }
    if policy.out_of_scope_users == OutOfScopeAction::Delete {
        for u in &out_of_scope {
            names.mark_releasing(&u.id);
            emails.mark_releasing(&u.id);
        }
    }

    let taken = Taken {
        names: &names,
        emails: &emails,
        domain_sids,
    };
    // Which new users are created is decided before any manager is resolved, so a manager
    // whose create is refused or deferred is never referenced.
    let creates: Vec<Option<Create>> = candidates
        .iter()
        .map(|c| c.existing.is_none().then(|| decide_create(c, &taken)))
        .collect();
    resolve_attributes(&mut candidates, &creates, policy, out);
    let mut member_refs: Vec<(UserRef, Cow<'a, str>)> = Vec::with_capacity(candidates.len());
    for (c, create) in candidates.into_iter().zip(creates) {
        let r = match (c.existing, create) {
            (Some(e), _) => {
                plan_update(&c, e, &taken, policy, out);
                Some(UserRef::Existing(Arc::clone(&e.id)))
            }
            (None, Some(create)) => plan_create(&c, create, &policy.attributes, out),
            (None, None) => None,
        };
        if let Some(r) = r {
            if let Some(m) = c.want.attributes.manager_new() {
                out.operations.push(set_manager(&c, &r, m));
            }
            member_refs.push((r, c.key()));
        }
    }

    for u in out_of_scope {
        let external_id = u.external_id.clone().unwrap_or_default();
        match policy.out_of_scope_users {
            OutOfScopeAction::Disable if u.active => out.operations.push(Operation::DisableUser {
                id: u.id.to_string(),
                external_id,
                user_name: u.user_name.clone(),
                reason: left_sync_group(),
            }),
            OutOfScopeAction::Delete => out.operations.push(Operation::DeleteUser {
                id: u.id.to_string(),
                external_id,
                user_name: u.user_name.clone(),
                reason: left_sync_group(),
            }),
            _ => {}
        }
    }

    let untouchable_ids = untouchable_keys
        .iter()
        .filter_map(|k| owned.get(k).map(|u| u.id.as_ref()))
        .chain(shadowed)
        .collect();
    member_refs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut slot_of = SidIndex::with_capacity(member_refs.len());
    let mut refs = Vec::with_capacity(member_refs.len());
    for (slot, (r, key)) in (0u32..).zip(member_refs) {
        slot_of.insert(&key, slot);
        refs.push(r);
    }
    UserOutcome {
        refs,
        slot_of,
        untouchable_ids,
    }
}

/// Out-of-scope users are only "gone" when every in-scope entry was read: an entry whose
/// objectSid could not be read, and whose user could not be found by name either, may be any
/// of them. Then none is disabled, deleted or removed from a group in this pass (they are
/// returned, to be made untouchable), and the entries are named.
fn hold_if_unknown<'a>(
    out_of_scope: Vec<&'a IdcUser>,
    unknown: &Unknown<'_>,
    out: &mut Plan,
) -> (Vec<&'a IdcUser>, Vec<&'a IdcUser>) {
    if unknown.unmatched.is_empty() || out_of_scope.is_empty() {
        return (out_of_scope, Vec::new());
    }
    for dn in &unknown.unmatched {
        out.withheld.push(
            Finding::new(
                ReasonCode::PartialRead,
                format!(
                    "{dn}: part of the scope could not be read (an entry without a readable \
                     objectSid whose names match no user scim-sync manages, or a nested group \
                     whose members could not be read), so none of the {} users out of scope \
                     was disabled, deleted or removed from a group in this pass; fix the entry \
                     in the directory",
                    out_of_scope.len()
                ),
            )
            .about(&**dn),
        );
    }
    (Vec::new(), out_of_scope)
}

fn left_sync_group() -> Reason {
    Reason::new(
        ReasonCode::LeftSyncGroup,
        "no longer in scope: not a direct or nested member of the sync group",
    )
}

/// A skipped entry is otherwise left alone, but an account the directory says is disabled
/// must lose access whatever its other attributes: deactivating sends no attribute, so
/// nothing about the entry can make Identity Center reject it. (Think of an offboarding that
/// clears the name or hands the mail address on, which would otherwise keep the leaver
/// active.) Memberships stay as they are.
fn disable_if_disabled_in_directory(
    dir: &DirectoryUser,
    existing: Option<&IdcUser>,
    now: Option<i64>,
    out: &mut Plan,
) {
    if let Some(e) = existing.filter(|e| e.active && !signs_in(dir, now)) {
        out.operations.push(Operation::DisableUser {
            id: e.id.to_string(),
            external_id: e.external_id.clone().unwrap_or_default(),
            user_name: e.user_name.clone(),
            reason: Reason::new(
                ReasonCode::DisabledInDirectory,
                "disabled in the directory (its entry is otherwise skipped)",
            ),
        });
    }
}

/// Owned users by canonical anchor. Identity Center keeps externalIds unique, but should two
/// users carry the same anchor anyway, only the lowest id is managed and the other is left
/// alone (and reported, and returned as "shadowed"), rather than both fighting over one
/// directory entry.
fn index_owned<'a>(
    idc_users: &'a [IdcUser],
    domain_sids: &[String],
    out: &mut Plan,
) -> (HashMap<Cow<'a, str>, &'a IdcUser>, Vec<&'a str>) {
    let mut owned: HashMap<Cow<'a, str>, &'a IdcUser> = HashMap::with_capacity(idc_users.len());
    let mut shadowed = Vec::new();
    for u in idc_users {
        let Some(ext) = u
            .external_id
            .as_deref()
            .filter(|e| is_owned_user_external_id(e, domain_sids))
        else {
            continue;
        };
        match owned.entry(user_key(ext)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(u);
            }
            std::collections::hash_map::Entry::Occupied(mut o) => {
                let (keep, other) = if u.id < o.get().id {
                    (u, *o.get())
                } else {
                    (*o.get(), u)
                };
                out.notes
                    .push(duplicate_external_id("users", ext, &keep.id, &other.id));
                shadowed.push(other.id.as_ref());
                o.insert(keep);
            }
        }
    }
    (owned, shadowed)
}

/// Maps every directory user to its desired attributes, in anchor order. Entries that cannot
/// be sent are reported; disabled users that do not exist yet are not created (there is
/// nothing for them to sign in to, and they are created once enabled).
fn candidates<'a>(
    dir_users: &'a [DirectoryUser],
    owned: &HashMap<Cow<'a, str>, &'a IdcUser>,
    domain_sids: &[String],
    untouchable: &mut HashSet<Cow<'a, str>>,
    (policy, now): (&Policy, Option<i64>),
    out: &mut Plan,
) -> Vec<Candidate<'a>> {
    let keyed = dir_users
        .iter()
        .map(|u| (user_key(&u.object_sid), u))
        .collect();
    let names = AnchorNames {
        attribute: "objectSid",
        dn: |u: &DirectoryUser| u.dn.as_str(),
        anchor: |u: &DirectoryUser| u.object_sid.as_ref(),
    };
    let unique = unique_by_anchor(keyed, &names, untouchable, out);

    let mut result = Vec::with_capacity(unique.len());
    for (key, dir) in unique {
        // A user created with a SID of another domain would be foreign to the next pass:
        // never provisioned, and its domain named so the operator can add it.
        if !is_owned_user_external_id(dir.object_sid.trim(), domain_sids) {
            out.skipped.push(
                Finding::new(
                    ReasonCode::ForeignDomain,
                    format!(
                "{}: objectSid {} is not an account of this directory's domain ({}); if its \
                 domain belongs to this directory, add it to scope.extraDomainSids",
                dir.dn,
                dir.object_sid,
                if domain_sids.is_empty() {
                    "unknown".to_string()
                } else {
                    domain_sids.join(", ")
                }
            ),
                )
                .about(&*dir.dn)
                .about(dir.object_sid.as_ref()),
            );
            untouchable.insert(key);
            continue;
        }
        let existing = owned.get(&key).copied();
        let want = match desired_view(dir, policy, now) {
            Ok(w) => w,
            Err(reason) => {
                out.skipped.push(
                    Finding::new(reason.code, format!("{}: {reason}", dir.dn))
                        .about(&*dir.dn)
                        .about(dir.object_sid.as_ref()),
                );
                untouchable.insert(key);
                disable_if_disabled_in_directory(dir, existing, now, out);
                continue;
            }
        };
        if existing.is_none() && !want.active {
            continue;
        }
        result.push(Candidate {
            dir,
            want,
            existing,
        });
    }
    result
}

/// Resolves every candidate's manager DN to the manager's Identity Center id (among the users
/// this pass syncs: existing ones, and new ones as `creates` decided) and moves the optional
/// attributes' notes into the plan.
fn resolve_attributes(
    candidates: &mut [Candidate<'_>],
    creates: &[Option<Create>],
    policy: &Policy,
    out: &mut Plan,
) {
    if policy.attributes.is_managed(UserAttribute::Manager) {
        let by_dn: HashMap<String, ManagerIs<'_>> = candidates
            .iter()
            .zip(creates)
            .filter_map(|(c, create)| {
                let is = match (c.existing, create) {
                    (Some(e), _) => ManagerIs::Synced(&e.id),
                    (None, Some(Create::Yes)) => ManagerIs::CreatedNow(NewManager {
                        external_id: c.want.external_id.to_string(),
                        user_name: c.want.user_name.to_string(),
                    }),
                    (None, Some(Create::Wait(_))) => ManagerIs::CreatedNextPass,
                    (None, _) => return None,
                };
                Some((fold(c.dir.dn.trim()).into_owned(), is))
            })
            .collect();
        for c in candidates.iter_mut() {
            resolve_manager(&mut c.want.attributes, &c.dir.dn, &by_dn);
        }
    }
    for c in candidates.iter_mut() {
        out.notes.extend(c.want.attributes.take_notes());
    }
}

/// Sets the manager a new or existing user gets in this pass, once the creates are done.
fn set_manager(c: &Candidate<'_>, user: &UserRef, m: &NewManager) -> Operation {
    Operation::SetManager {
        user: user.clone(),
        user_name: c
            .existing
            .map_or_else(|| c.want.user_name.to_string(), |e| e.user_name.clone()),
        manager: UserRef::New(m.external_id.as_str().into()),
        manager_name: m.user_name.clone(),
        from: c
            .existing
            .and_then(|e| e.attributes.get(&UserAttribute::Manager))
            .map(|v| v.to_string()),
        reason: Reason::new(
            ReasonCode::ManagerCreatedThisPass,
            format!(
                "the manager {} is created in this pass: enterprise.manager is set to its new \
                 id once it exists",
                m.user_name
            ),
        ),
    }
}

/// Two directory users that would get the same userName or email cannot both exist in
/// Identity Center. Both are skipped (not "the later one"), so the outcome does not depend on
/// directory order and neither person silently gets the other's account. Returns, by
/// candidate index, the DNs each clashing candidate clashes with.
fn directory_duplicates<'a>(candidates: &[Candidate<'a>]) -> BTreeMap<usize, Vec<&'a str>> {
    let mut clashes: Vec<(usize, usize)> = Vec::new();
    {
        // First holder of each folded value; later ones are recorded as clashing with it.
        let mut names: HashMap<Cow<'_, str>, usize> = HashMap::with_capacity(candidates.len());
        let mut emails: HashMap<Cow<'_, str>, usize> = HashMap::with_capacity(candidates.len());
        for (i, c) in candidates.iter().enumerate() {
            if let Some(first) = names.insert(fold(&c.want.user_name), i) {
                clashes.push((first, i));
                names.insert(fold(&c.want.user_name), first);
            }
            if let Some(e) = &c.want.email {
                if let Some(first) = emails.insert(fold(e), i) {
                    clashes.push((first, i));
                    emails.insert(fold(e), first);
                }
            }
        }
    }
    // Everyone sharing a value with a first holder clashes with everyone else sharing it.
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for (first, other) in clashes {
        groups
            .entry(first)
            .or_insert_with(|| vec![first])
            .push(other);
    }
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for members in groups.values() {
        for &a in members {
            pairs.extend(members.iter().filter(|&&b| b != a).map(|&b| (a, b)));
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    let mut duplicate_of: BTreeMap<usize, Vec<&'a str>> = BTreeMap::new();
    for (a, b) in pairs {
        duplicate_of
            .entry(a)
            .or_default()
            .push(candidates[b].dir.dn.as_str());
    }
    duplicate_of
}

fn describe_values(want: &DesiredUser<'_>) -> String {
    match &want.email {
        Some(e) => format!("({} / {e})", want.user_name),
        None => format!("({})", want.user_name),
    }
}

fn describe_holder(h: &IdcUser, domain_sids: &[String]) -> String {
    match h.external_id.as_deref() {
        Some(ext) if is_owned_user_external_id(ext, domain_sids) => format!(
            "scim-sync user {} (id {}, externalId {ext}), which keeps it in this pass (out of \
             scope and not deleted, or its directory entry was skipped)",
            h.user_name, h.id
        ),
        Some(ext) if is_sid(ext) => format!(
            "Identity Center user {} (id {}, externalId {ext}), an account of another domain, \
             which scim-sync does not manage",
            h.user_name, h.id
        ),
        _ => format!(
            "Identity Center user {} (id {}), which scim-sync does not manage",
            h.user_name, h.id
        ),
    }
}

/// The outcome of checking one unique value for a user.
enum Check {
    Take,
    Conflict(ReasonCode, String),
    Wait(String),
}

/// The names and emails Identity Center holds, and the domains that tell our holders from
/// others'.
struct Taken<'h, 'a> {
    names: &'h Holders<'a, IdcUser>,
    emails: &'h Holders<'a, IdcUser>,
    domain_sids: &'h [String],
}

fn check_value(
    holders: &Holders<'_, IdcUser>,
    domain_sids: &[String],
    attr: &str,
    value: &str,
    me: Option<&str>,
) -> Check {
    match holders.check(value, me) {
        Holder::Free => Check::Take,
        Holder::Keeps(h) => {
            let owned = h
                .external_id
                .as_deref()
                .is_some_and(|e| is_owned_user_external_id(e, domain_sids));
            let code = if owned {
                ReasonCode::NameKeptByManagedObject
            } else {
                ReasonCode::NameTakenByForeignObject
            };
            Check::Conflict(
                code,
                format!(
                    "its {attr} {value} is already used by {}",
                    describe_holder(h, domain_sids)
                ),
            )
        }
        Holder::Releases(h) => Check::Wait(format!(
            "its {attr} {value} is still held by user {} (id {}), which gives it up in this \
             pass; it follows in the next pass",
            h.user_name, h.id
        )),
    }
}

/// Whether a new user is created in this pass. The findings are boxed: the planner keeps one
/// decision per candidate (16 bytes each, where an unboxed finding made it 80).
enum Create {
    Yes,
    /// Not created: a value it needs is held by an object that keeps it.
    Conflict(Box<Finding>),
    /// Not yet: a value it needs is given up by another user in this pass.
    Wait(Box<Finding>),
}

fn decide_create(c: &Candidate<'_>, taken: &Taken<'_, '_>) -> Create {
    let mut checks = vec![check_value(
        taken.names,
        taken.domain_sids,
        "userName",
        &c.want.user_name,
        None,
    )];
    if let Some(e) = &c.want.email {
        checks.push(check_value(
            taken.emails,
            taken.domain_sids,
            "email",
            e,
            None,
        ));
    }
    let who = format!(
        "user {} ({}, {})",
        c.want.user_name, c.want.external_id, c.dir.dn
    );
    let conflicts: Vec<(ReasonCode, &str)> = checks
        .iter()
        .filter_map(|ch| match ch {
            Check::Conflict(code, m) => Some((*code, m.as_str())),
            _ => None,
        })
        .collect();
    if let Some((code, _)) = conflicts.first() {
        let texts: Vec<&str> = conflicts.iter().map(|(_, m)| *m).collect();
        return Create::Conflict(Box::new(about_candidate(
            Finding::new(
                *code,
                format!(
                    "{who} not created: {}; rename one of them (Identity Center needs unique \
                     userNames and emails, compared without case)",
                    texts.join("; and ")
                ),
            ),
            c,
        )));
    }
    if let Some(Check::Wait(m)) = checks.iter().find(|ch| matches!(ch, Check::Wait(_))) {
        return Create::Wait(Box::new(about_candidate(
            Finding::new(
                ReasonCode::NameReleasedThisPass,
                format!("{who} not created yet: {m}"),
            ),
            c,
        )));
    }
    Create::Yes
}

fn plan_create(
    c: &Candidate<'_>,
    create: Create,
    mapping: &AttributeMapping,
    out: &mut Plan,
) -> Option<UserRef> {
    match create {
        Create::Conflict(f) => {
            out.conflicts.push(*f);
            return None;
        }
        Create::Wait(f) => {
            out.notes.push(*f);
            return None;
        }
        Create::Yes => {}
    }
    out.operations.push(Operation::CreateUser {
        user: c.want.to_attributes(mapping),
        reason: Reason::new(
            ReasonCode::NewInScope,
            "in scope (a member of the sync group) and not yet in Identity Center",
        ),
    });
    // The directory's own copy of the objectSid when it needs no trimming (it never does when
    // read from AD): an initial load holds one per user, referenced from every membership.
    let external_id = if c.want.external_id.len() == c.dir.object_sid.len() {
        Arc::clone(&c.dir.object_sid)
    } else {
        c.want.external_id.into()
    };
    Some(UserRef::New(external_id))
}

/// The finding, also about the candidate's DN, objectSid and (when it exists) Identity
/// Center id.
fn about_candidate(f: Finding, c: &Candidate<'_>) -> Finding {
    let f = f.about(&*c.dir.dn).about(c.dir.object_sid.as_ref());
    match c.existing {
        Some(e) => f.about(e.id.as_ref()),
        None => f,
    }
}

/// Case-only differences of userName and email are not changes unless `lowercaseUserNames`
/// is on: Identity Center compares them without case, so rewriting them would cost a write
/// per user (for instance for every user the PowerShell original created) and change nothing
/// that matters. With `lowercaseUserNames` the operator asked for lowercase, so an uppercase
/// value in Identity Center is corrected.
fn same_identifier(current: &str, wanted: &str, policy: &Policy) -> bool {
    if policy.lowercase_user_names {
        current == wanted
    } else {
        current == wanted || same_folded(current, wanted)
    }
}

fn plan_update(
    c: &Candidate<'_>,
    e: &IdcUser,
    taken: &Taken<'_, '_>,
    policy: &Policy,
    out: &mut Plan,
) {
    let want = &c.want;
    let mut changed = Vec::new();
    let who = || format!("user {} ({}, {})", e.user_name, want.external_id, c.dir.dn);

    // Whether the wanted userName and email are sent, or Identity Center's current values
    // are kept (unchanged, a case-only difference, a conflict or a deferral).
    let mut send_user_name = false;
    if !same_identifier(&e.user_name, &want.user_name, policy) {
        match check_value(
            taken.names,
            taken.domain_sids,
            "new userName",
            &want.user_name,
            Some(&e.id),
        ) {
            Check::Take => {
                changed.push(UserField::UserName);
                send_user_name = true;
            }
            Check::Conflict(code, m) => out.conflicts.push(about_candidate(
                Finding::new(code, format!("{}: userName not changed: {m}", who())),
                c,
            )),
            Check::Wait(m) => out.notes.push(about_candidate(
                Finding::new(
                    ReasonCode::NameReleasedThisPass,
                    format!("{}: userName not changed yet: {m}", who()),
                ),
                c,
            )),
        }
    }
    if e.display_name.as_deref() != Some(&*want.display_name) {
        changed.push(UserField::DisplayName);
    }
    if e.given_name.as_deref() != Some(want.given_name) {
        changed.push(UserField::GivenName);
    }
    if e.family_name.as_deref() != Some(want.family_name) {
        changed.push(UserField::FamilyName);
    }
    let mut send_email = false;
    match (e.email.as_deref(), want.email.as_deref()) {
        (None, None) => {}
        (Some(cur), Some(w)) if same_identifier(cur, w, policy) => {}
        (_, None) => {
            changed.push(UserField::Email);
            send_email = true;
        }
        (_, Some(w)) => {
            match check_value(taken.emails, taken.domain_sids, "new email", w, Some(&e.id)) {
                Check::Take => {
                    changed.push(UserField::Email);
                    send_email = true;
                }
                Check::Conflict(code, m) => out.conflicts.push(about_candidate(
                    Finding::new(code, format!("{}: email not changed: {m}", who())),
                    c,
                )),
                Check::Wait(m) => out.notes.push(about_candidate(
                    Finding::new(
                        ReasonCode::NameReleasedThisPass,
                        format!("{}: email not changed yet: {m}", who()),
                    ),
                    c,
                )),
            }
        }
    }
    // Turning a user off is its own operation (so a hold-back withholds just that); turning
    // one back on is an ordinary attribute change.
    if e.active && !want.active {
        let reason = if c.dir.enabled {
            Reason::new(
                ReasonCode::AccountExpired,
                "the account has expired in the directory (accountExpires)",
            )
        } else {
            Reason::new(ReasonCode::DisabledInDirectory, "disabled in the directory")
        };
        out.operations.push(Operation::DisableUser {
            id: e.id.to_string(),
            external_id: e.external_id.clone().unwrap_or_default(),
            user_name: e.user_name.clone(),
            reason,
        });
    } else if !e.active && want.active {
        changed.push(UserField::Active);
    }
    changed.extend(
        want.attributes
            .changed(&policy.attributes, &e.attributes)
            .into_iter()
            .map(UserField::Attribute),
    );
    if changed.is_empty() {
        return;
    }
    // `user` is the full state after the update: a field not in `changed` holds Identity
    // Center's current value, so even a writer that PUTs the whole user sends nothing this
    // plan did not decide to change.
    let mut user = want.to_attributes(&policy.attributes);
    if !send_user_name {
        user.user_name = e.user_name.clone();
    }
    if !send_email {
        user.email = e.email.clone();
    }
    if !changed.contains(&UserField::Active) {
        user.active = e.active;
    }
    user.attributes = want
        .attributes
        .after_update(&policy.attributes, &e.attributes);
    changed.sort();
    let reason = update_reason(&changed, want.active);
    out.operations.push(Operation::UpdateUser {
        id: e.id.to_string(),
        user,
        changed,
        reason,
    });
}

/// An update that switches the account on or off says so (that is what an operator asks
/// about); otherwise it names the attributes that differ.
fn update_reason(changed: &[UserField], active: bool) -> Reason {
    let others: Vec<&str> = changed
        .iter()
        .filter(|f| **f != UserField::Active)
        .map(|f| f.scim_name())
        .collect();
    let also = if others.is_empty() {
        String::new()
    } else {
        format!("; also {} changed", others.join(", "))
    };
    if changed.contains(&UserField::Active) {
        if active {
            Reason::new(
                ReasonCode::EnabledInDirectory,
                format!("enabled again in the directory{also}"),
            )
        } else {
            Reason::new(
                ReasonCode::DisabledInDirectory,
                format!("disabled in the directory{also}"),
            )
        }
    } else {
        Reason::new(
            ReasonCode::AttributeChanged,
            format!("changed in the directory: {}", others.join(", ")),
        )
    }
}
