//! What an incremental pass plans: the objects a directory change touched, and both sides
//! cut down to them so that the ordinary planner, given only those, plans what a full pass
//! would plan for them and nothing else.
//!
//! Pure: the directory side comes from a full directory read and the change detector, the
//! Identity Center side from a few lookups by anchor ([`IdcView`], filled by the pass). The
//! rule that keeps it safe: a group's memberships are compared only for the users whose
//! Identity Center memberships were read (every member of a group read whole; the primary
//! users, whose groups were read), so nothing unread is taken for absent.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use super::ownership::fold;
use crate::model::{
    DirectoryChanges, DirectoryGroup, DirectorySnapshot, DirectoryUser, EntryKind, Finding,
    IdcGroup, IdcSnapshot, IdcUser, ReasonCode, ScopeSet,
};

/// The users a snapshot holds in scope, unreadable ones included (unknown is not gone: an
/// entry skipped this pass did not leave the scope).
pub fn scope_of(directory: &DirectorySnapshot) -> ScopeSet {
    ScopeSet::from_sids(in_scope_sids(directory).iter().map(String::as_str))
}

/// [`scope_of`] as a set of uppercase objectSids, for comparing without encoding it.
pub fn in_scope_sids(directory: &DirectorySnapshot) -> HashSet<String> {
    directory
        .users
        .iter()
        .map(|u| u.object_sid.as_ref())
        .chain(
            directory
                .skipped
                .iter()
                .filter(|s| s.kind == EntryKind::User)
                .filter_map(|s| s.anchor.as_deref()),
        )
        .map(str::to_ascii_uppercase)
        .collect()
}

/// The earliest account expiry after `after` (Unix seconds) among `users`: the moment an
/// incremental pass has to look for expired accounts, since nothing in the directory changes
/// when one expires.
pub fn next_expiry<'a>(
    users: impl IntoIterator<Item = &'a DirectoryUser>,
    after: i64,
) -> Option<i64> {
    users
        .into_iter()
        .filter_map(|u| u.account_expires)
        .filter(|at| *at > after)
        .min()
}

/// What the directory says is affected, before Identity Center is read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Affected {
    /// Users whose memberships are compared in every group (uppercase objectSids): the
    /// changed users in scope and those who joined or left the scope.
    pub primary: BTreeSet<String>,
    /// Groups in scope (lowercase objectGUIDs) whose whole membership is compared: a changed
    /// group in scope, or one a changed group is nested in.
    pub whole_groups: BTreeSet<String>,
    /// How many users joined and left the scope since the watermark.
    pub joined: usize,
    pub left: usize,
    /// The DNs of users who left the scope, when a mapped attribute names users (`manager`):
    /// the users that name them are planned too, so a manager who left is emptied on its
    /// reports in this pass, as a full pass does. Filled by the pass, which reads the
    /// leavers' entries (they are not in the directory's scope).
    pub former_users: BTreeSet<String>,
    /// Groups (lowercase objectGUIDs) that changed and are not in scope now (renamed out of
    /// the prefix), when `deleteGroupsOutOfScope` is set: the ones Identity Center holds are
    /// planned as groups out of scope. Filled by the pass.
    pub gone_groups: BTreeSet<String>,
}

/// The affected objects, from the changes and the scope then (`previous_scope`, objectSids)
/// against the scope now (`directory`, read in full).
pub fn affected(
    directory: &DirectorySnapshot,
    changes: &DirectoryChanges,
    previous_scope: &[String],
) -> Affected {
    let now = in_scope_sids(directory);
    let before: HashSet<String> = previous_scope
        .iter()
        .map(|s| s.to_ascii_uppercase())
        .collect();
    affected_between(directory, changes, &before, &now)
}

/// The affected objects between the scope then (`before`) and now (`now`, both uppercase
/// objectSids): who joined and who left, the changed users, and the groups of `directory`
/// a changed group can change (itself when in scope, and every group in scope it is nested
/// in), whose whole membership is compared.
pub fn affected_between(
    directory: &DirectorySnapshot,
    changes: &DirectoryChanges,
    before: &HashSet<String>,
    now: &HashSet<String>,
) -> Affected {
    let mut a = Affected::default();
    for joined in now.difference(before) {
        a.primary.insert(joined.clone());
        a.joined += 1;
    }
    for left in before.difference(now) {
        a.primary.insert(left.clone());
        a.left += 1;
    }
    a.primary.extend(
        changes
            .users
            .iter()
            .map(|u| u.object_sid.to_ascii_uppercase()),
    );
    let by_dn: HashMap<String, &DirectoryGroup> = directory
        .groups
        .iter()
        .map(|g| (fold(&g.dn).into_owned(), g))
        .collect();
    for dn in whole_group_dns(changes) {
        if let Some(g) = by_dn.get(fold(&dn).as_ref()) {
            a.whole_groups.insert(g.object_guid.to_ascii_lowercase());
        }
    }
    a
}

/// The DNs of the groups in scope whose whole membership is compared: each changed group in
/// scope and each group in scope it is nested in, less the groups that hold every sync group
/// (`scope_wide_groups`: their membership changes are the joiners and leavers, compared as
/// primary users).
pub fn whole_group_dns(changes: &DirectoryChanges) -> BTreeSet<String> {
    let scope_wide: HashSet<String> = changes
        .scope_wide_groups
        .iter()
        .map(|dn| fold(dn).into_owned())
        .collect();
    changes
        .groups
        .iter()
        .flat_map(|g| g.synced.iter())
        .filter(|dn| !scope_wide.contains(fold(dn).as_ref()))
        .cloned()
        .collect()
}

/// The scope now when no group of the scope chain changed, so that it moved only for the
/// changed users: the watermark's (`previous`, uppercase objectSids) with the changed users
/// (in the chain now, by the change detector) added and `leavers` (changed users outside the
/// chain now) taken out.
pub fn scope_after_user_changes(
    changes: &DirectoryChanges,
    previous: &HashSet<String>,
    leavers: &BTreeSet<String>,
) -> HashSet<String> {
    let mut now = previous.clone();
    now.extend(
        changes
            .users
            .iter()
            .map(|u| u.object_sid.to_ascii_uppercase()),
    );
    for sid in leavers {
        now.remove(sid);
    }
    now
}

/// True when a changed group is in the scope chain (the sync group or nested in it): the
/// scope may then have moved for any user, and has to be listed again.
pub fn scope_may_have_moved(changes: &DirectoryChanges) -> bool {
    changes.groups.iter().any(|g| g.in_scope_chain)
}

/// What the lookups found in Identity Center.
#[derive(Debug, Clone, Default)]
pub struct IdcView {
    /// Groups found by `externalId eq`, by lowercase objectGUID.
    pub groups: BTreeMap<String, IdcGroup>,
    /// The members of each whole group that could be read, by lowercase objectGUID.
    pub whole_members: BTreeMap<String, Vec<IdcUser>>,
    /// Users found by `externalId eq`.
    pub users: Vec<IdcUser>,
    /// The groups of each primary user whose groups could be read, by user id.
    pub user_groups: BTreeMap<String, Vec<IdcGroup>>,
    /// Reads that failed or returned something undecodable (these hold destructive changes
    /// back, as in a full pass).
    pub read_errors: Vec<String>,
}

impl IdcView {
    /// Every user read, once.
    fn all_users(&self) -> BTreeMap<String, IdcUser> {
        let mut all: BTreeMap<String, IdcUser> = BTreeMap::new();
        for u in self.whole_members.values().flatten().chain(&self.users) {
            all.entry(u.id.to_string()).or_insert_with(|| u.clone());
        }
        all
    }

    fn user_ids_by_sid(&self) -> HashMap<String, String> {
        self.all_users()
            .into_values()
            .filter_map(|u| Some((u.external_id?.to_ascii_uppercase(), u.id.to_string())))
            .collect()
    }
}

/// The users in scope (`now`, uppercase objectSids) whose entries must be read before
/// planning the groups compared whole: each such group's members on one side only, here or
/// in Identity Center, that `directory` (a part read for the affected objects) does not
/// have yet. A member only in Identity Center left the group and stayed in scope (without
/// its entry the planner would take it for a user who left); a member only here is added
/// (and created if Identity Center lacks it). The members on both sides need no entry:
/// [`cut_down`] takes them out of both. A group whose members Identity Center did not give
/// has every member here read.
pub fn whole_members_unread(
    directory: &DirectorySnapshot,
    affected: &Affected,
    view: &IdcView,
    now: &HashSet<String>,
) -> Vec<String> {
    let known = in_scope_sids(directory);
    let mut missing: BTreeSet<String> = BTreeSet::new();
    for (here, there) in sides_of_whole_groups(directory, affected, view) {
        missing.extend(
            here.symmetric_difference(&there)
                .filter(|s| now.contains(*s) && !known.contains(*s))
                .cloned(),
        );
    }
    missing.into_iter().collect()
}

/// For each of the directory's groups compared whole: its members here (uppercase
/// objectSids) and its Identity Center members' externalIds (uppercase; none when they were
/// not read).
fn sides_of_whole_groups<'a>(
    directory: &'a DirectorySnapshot,
    affected: &'a Affected,
    view: &'a IdcView,
) -> impl Iterator<Item = (HashSet<String>, HashSet<String>)> + 'a {
    directory
        .groups
        .iter()
        .filter(|g| {
            affected
                .whole_groups
                .contains(&g.object_guid.to_ascii_lowercase())
        })
        .map(|g| {
            let here = g
                .member_sids
                .iter()
                .map(|s| s.to_ascii_uppercase())
                .collect();
            let there = view
                .whole_members
                .get(&g.object_guid.to_ascii_lowercase())
                .into_iter()
                .flatten()
                .filter_map(|u| u.external_id.as_ref().map(|x| x.to_ascii_uppercase()))
                .collect();
            (here, there)
        })
}

/// The members of the groups compared whole that are on both sides and whose entries were
/// not read (uppercase objectSids): nothing changes for them, and leaving them in would
/// make the planner take them for users who left (in Identity Center, not in `directory`).
fn unread_common_members(
    directory: &DirectorySnapshot,
    affected: &Affected,
    view: &IdcView,
) -> HashSet<String> {
    let known = in_scope_sids(directory);
    let mut common = HashSet::new();
    for (here, there) in sides_of_whole_groups(directory, affected, view) {
        common.extend(
            here.into_iter()
                .filter(|s| there.contains(s) && !known.contains(s)),
        );
    }
    common
}

/// The users to plan (uppercase objectSids): the primary users, the directory members of the
/// whole groups (less those on both sides whose entries were not read), the directory users
/// among the whole groups' Identity Center members, the users whose manager is a primary
/// user in scope (so a manager created in this pass is referenced at once), and the
/// managers of all of them, at any depth (a manager left out would read as "not synced" and
/// be emptied). Called after the whole groups' members were read.
pub fn users_to_plan(
    directory: &DirectorySnapshot,
    affected: &Affected,
    view: &IdcView,
) -> BTreeSet<String> {
    let in_scope: HashMap<String, usize> = directory
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.object_sid.to_ascii_uppercase(), i))
        .collect();
    let mut sids = affected.primary.clone();
    let unread = unread_common_members(directory, affected, view);
    for (here, _) in sides_of_whole_groups(directory, affected, view) {
        sids.extend(here.into_iter().filter(|m| !unread.contains(m)));
    }
    for u in view.whole_members.values().flatten() {
        if let Some(x) = &u.external_id {
            if in_scope.contains_key(&x.to_ascii_uppercase()) {
                sids.insert(x.to_ascii_uppercase());
            }
        }
    }
    let by_dn: HashMap<String, String> = directory
        .users
        .iter()
        .map(|u| (fold(&u.dn).into_owned(), u.object_sid.to_ascii_uppercase()))
        .collect();
    // The reports of every primary user in scope: a manager created (or back in scope) in
    // this pass is referenced by them in this pass, as a full pass does; and of every user
    // who left, so a manager who left is emptied on them.
    let primary_dns: HashSet<String> = directory
        .users
        .iter()
        .filter(|u| {
            affected
                .primary
                .contains(&u.object_sid.to_ascii_uppercase())
        })
        .map(|u| fold(&u.dn).into_owned())
        .chain(affected.former_users.iter().map(|dn| fold(dn).into_owned()))
        .collect();
    if !primary_dns.is_empty() {
        for u in &directory.users {
            if u.attributes
                .values()
                .flatten()
                .any(|v| primary_dns.contains(fold(v).as_ref()))
            {
                sids.insert(u.object_sid.to_ascii_uppercase());
            }
        }
    }
    let mut queue: Vec<String> = sids.iter().cloned().collect();
    while let Some(sid) = queue.pop() {
        let Some(&i) = in_scope.get(&sid) else {
            continue;
        };
        for value in directory.users[i].attributes.values().flatten() {
            if let Some(m) = by_dn.get(fold(value).as_ref()) {
                if sids.insert(m.clone()) {
                    queue.push(m.clone());
                }
            }
        }
    }
    sids
}

/// The externalIds (lowercase) of the groups Identity Center says hold a primary user
/// (`view.user_groups`) that `directory` (a part read for the affected objects) does not
/// have: a group holding only users who left the scope. Which of them are in scope only the
/// directory can say.
pub fn groups_not_read(directory: &DirectorySnapshot, view: &IdcView) -> Vec<String> {
    let here: HashSet<String> = directory
        .groups
        .iter()
        .map(|g| g.object_guid.to_ascii_lowercase())
        .collect();
    let wanted: BTreeSet<String> = view
        .user_groups
        .values()
        .flatten()
        .filter_map(|g| g.external_id.as_ref().map(|x| x.to_ascii_lowercase()))
        .filter(|x| !here.contains(x))
        .collect();
    wanted.into_iter().collect()
}

/// The groups still to look up by externalId once the primary users' groups were read: every
/// directory group holding a primary user (a joiner is added to it) that no read named yet.
pub fn groups_to_look_up(
    directory: &DirectorySnapshot,
    affected: &Affected,
    view: &IdcView,
) -> BTreeSet<String> {
    let echoed: HashSet<String> = view
        .user_groups
        .values()
        .flatten()
        .filter_map(|g| g.external_id.as_ref().map(|x| x.to_ascii_lowercase()))
        .collect();
    directory
        .groups
        .iter()
        .filter(|g| {
            g.member_sids
                .iter()
                .any(|m| affected.primary.contains(&m.to_ascii_uppercase()))
        })
        .map(|g| g.object_guid.to_ascii_lowercase())
        .filter(|x| !view.groups.contains_key(x) && !echoed.contains(x))
        .collect()
}

/// Both sides cut down to the affected objects, and notes for the plan.
pub fn cut_down(
    directory: &DirectorySnapshot,
    affected: &Affected,
    planned_sids: &BTreeSet<String>,
    view: &IdcView,
) -> (DirectorySnapshot, IdcSnapshot, Vec<Finding>) {
    let mut notes = Vec::new();
    let dir_groups: HashMap<String, &DirectoryGroup> = directory
        .groups
        .iter()
        .map(|g| (g.object_guid.to_ascii_lowercase(), g))
        .collect();
    let users = view.all_users();
    let ids_by_sid = view.user_ids_by_sid();
    let unread = unread_common_members(directory, affected, view);
    let is_unread = |u: &IdcUser| {
        u.external_id
            .as_ref()
            .is_some_and(|x| unread.contains(&x.to_ascii_uppercase()))
    };

    // Identity Center groups: those found by externalId, and those a primary user's group
    // read returned with the externalId of a group in scope.
    let mut idc_groups: BTreeMap<String, IdcGroup> = view.groups.clone();
    let found_ids: HashSet<String> = idc_groups.values().map(|g| g.id.clone()).collect();
    let mut member_of: HashMap<String, BTreeSet<String>> = HashMap::new(); // group id -> user ids
    for (user_id, groups) in &view.user_groups {
        for g in groups {
            member_of
                .entry(g.id.clone())
                .or_default()
                .insert(user_id.clone());
            if found_ids.contains(&g.id) {
                continue;
            }
            match g.external_id.as_deref().map(str::to_ascii_lowercase) {
                Some(x) if dir_groups.contains_key(&x) => {
                    idc_groups.entry(x).or_insert_with(|| g.clone());
                }
                Some(_) => {} // not a group in scope: the full pass decides on it
                None => notes.push(
                    Finding::new(
                        ReasonCode::MembersNotRead,
                        format!(
                            "group {:?} ({}) holds a user this incremental pass synced, but \
                             Identity Center did not say whose group it is; its members are \
                             compared by the next full pass",
                            g.display_name, g.id
                        ),
                    )
                    .about(g.id.as_str()),
                ),
            }
        }
    }

    // Users whose memberships are known exactly: primary users whose groups were read, and
    // primary users Identity Center does not hold (members of nothing there).
    let known_sids: HashSet<String> = affected
        .primary
        .iter()
        .filter(|x| match ids_by_sid.get(*x) {
            Some(id) => view.user_groups.contains_key(id),
            None => true,
        })
        .cloned()
        .collect();
    let known_ids: HashSet<&str> = known_sids
        .iter()
        .filter_map(|x| ids_by_sid.get(x).map(String::as_str))
        .collect();

    let mut groups_out: Vec<DirectoryGroup> = Vec::new();
    let mut idc_groups_out: Vec<IdcGroup> = Vec::new();
    for (x, mut g) in idc_groups {
        let Some(dir_group) = dir_groups.get(&x) else {
            if affected.gone_groups.contains(&x) {
                // Out of scope now: the planner deletes it (its members are not read, as a
                // full pass does not read them for a group out of scope).
                g.member_ids = None;
                g.external_id = Some(x);
                idc_groups_out.push(g);
            }
            continue;
        };
        if affected.whole_groups.contains(&x) {
            // Compared whole, less the members on both sides whose entries were not read.
            g.member_ids = view.whole_members.get(&x).map(|m| {
                m.iter()
                    .filter(|u| !is_unread(u))
                    .map(|u| Arc::clone(&u.id))
                    .collect()
            });
            let mut d = (*dir_group).clone();
            d.member_sids
                .retain(|m| !unread.contains(&m.to_ascii_uppercase()));
            groups_out.push(d);
        } else {
            g.member_ids = Some(
                member_of
                    .get(&g.id)
                    .into_iter()
                    .flatten()
                    .filter(|id| known_ids.contains(id.as_str()))
                    .map(|id| Arc::from(id.as_str()))
                    .collect(),
            );
            let mut d = (*dir_group).clone();
            d.member_sids
                .retain(|m| known_sids.contains(&m.to_ascii_uppercase()));
            groups_out.push(d);
        }
        g.external_id = Some(x);
        idc_groups_out.push(g);
    }
    // A whole group Identity Center does not hold yet is created with all its members.
    for x in &affected.whole_groups {
        if !view.groups.contains_key(x) {
            if let Some(d) = dir_groups.get(x) {
                groups_out.push((*d).clone());
            }
        }
    }

    let dir_sub = DirectorySnapshot {
        users: directory
            .users
            .iter()
            .filter(|u| planned_sids.contains(&u.object_sid.to_ascii_uppercase()))
            .cloned()
            .collect(),
        groups: groups_out,
        skipped: directory.skipped.clone(),
        domain_sids: directory.domain_sids.clone(),
        read_at: directory.read_at,
        excluded: directory.excluded.clone(),
    };
    let idc_sub = IdcSnapshot {
        users: users.into_values().filter(|u| !is_unread(u)).collect(),
        groups: idc_groups_out,
        read_errors: view.read_errors.clone(),
    };
    (dir_sub, idc_sub, notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ChangedUser;

    /// A group compared whole: members 1 and 4 are on both sides, 2 only here (added), 3
    /// only in Identity Center and still in scope (removed from it), 9 only there and never
    /// in scope. Entries are read for 2 and 3 alone, and both sides are cut down to them and
    /// to 9 (whose removal rests on no entry).
    #[test]
    fn a_group_compared_whole_reads_entries_only_where_the_two_sides_differ() {
        use super::super::planner_tests::{dir_group, dir_user, idc_group, idc_user, sid};
        let group = dir_group(1, &[1, 2, 4]);
        let x = group.object_guid.clone();
        let mut directory = DirectorySnapshot {
            groups: vec![group],
            domain_sids: vec![super::super::planner_tests::DOMAIN.into()],
            ..DirectorySnapshot::default()
        };
        let affected = Affected {
            whole_groups: [x.clone()].into_iter().collect(),
            ..Affected::default()
        };
        let mut view = IdcView::default();
        view.groups.insert(x.clone(), idc_group(1, &[]));
        view.whole_members
            .insert(x.clone(), [1, 3, 4, 9].into_iter().map(idc_user).collect());
        let now: HashSet<String> = [1, 2, 3, 4].into_iter().map(sid).collect();

        let unread = whole_members_unread(&directory, &affected, &view, &now);
        assert_eq!(unread, vec![sid(2), sid(3)]);

        directory.users = vec![dir_user(2), dir_user(3)];
        let planned = users_to_plan(&directory, &affected, &view);
        assert_eq!(
            planned,
            [sid(2), sid(3)].into_iter().collect::<BTreeSet<_>>()
        );
        let (dir_sub, idc_sub, _) = cut_down(&directory, &affected, &planned, &view);
        let members: Vec<&str> = dir_sub.groups[0].member_sids.iter().map(|m| &**m).collect();
        assert_eq!(members, [sid(2)]);
        let idc_members: Vec<&str> = idc_sub.groups[0]
            .member_ids
            .iter()
            .flatten()
            .map(|m| &**m)
            .collect();
        assert_eq!(idc_members, ["u-3", "u-9"]);
        let users: BTreeSet<&str> = idc_sub.users.iter().map(|u| &*u.id).collect();
        assert_eq!(users, ["u-3", "u-9"].into_iter().collect());
        assert_eq!(
            whole_members_unread(&directory, &affected, &view, &now),
            Vec::<String>::new(),
            "nothing is left to read once the differing members were read"
        );
    }

    #[test]
    fn only_users_changed_moves_the_scope_for_them_alone() {
        let d = "S-1-5-21-1-2-3";
        let previous: HashSet<String> = [1000, 1001, 1002]
            .iter()
            .map(|r| format!("{d}-{r}"))
            .collect();
        let changes = DirectoryChanges {
            users: vec![
                ChangedUser {
                    dn: "CN=a".into(),
                    object_sid: format!("{d}-1000").to_ascii_lowercase(),
                },
                ChangedUser {
                    dn: "CN=new".into(),
                    object_sid: format!("{d}-1005"),
                },
            ],
            ..DirectoryChanges::default()
        };
        assert!(!scope_may_have_moved(&changes));
        let leavers: BTreeSet<String> = [format!("{d}-1002")].into_iter().collect();
        let now = scope_after_user_changes(&changes, &previous, &leavers);
        let a = affected_between(&DirectorySnapshot::default(), &changes, &previous, &now);
        assert_eq!((a.joined, a.left), (1, 1));
        assert!(a.whole_groups.is_empty());
        let primary: Vec<&str> = a.primary.iter().map(String::as_str).collect();
        assert_eq!(
            primary,
            [
                format!("{d}-1000").as_str(),
                format!("{d}-1002").as_str(),
                format!("{d}-1005").as_str()
            ]
        );
        let mut now: Vec<String> = now.into_iter().collect();
        now.sort();
        assert_eq!(
            now,
            [
                format!("{d}-1000"),
                format!("{d}-1001"),
                format!("{d}-1005")
            ]
        );
    }
}
