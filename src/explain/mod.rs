//! `explain`: why one user or group is (or is not) in Identity Center as it is.
//!
//! Reads both sides as a pass does, writes nothing, and answers in five steps: `source`
//! (the directory entry as read), `scope` (in scope or not, and through which chain of
//! groups), `mapping` (the SCIM attributes it would get, or why it is skipped), `match` (the
//! Identity Center object found by anchor, or who holds its name) and `actions` (the plan's
//! operations for it, with reasons, and what the guard or a partial read holds back).

use serde::Serialize;
use serde_json::{json, Value};

use crate::directory::{chain_text, Ancestry};
use crate::model::{
    DirectoryGroup, DirectoryUser, ExcludedUser, Finding, IdcGroup, IdcUser, Reason, ReasonCode,
};
use crate::pass::select::{self, Target, TargetKind};
use crate::pass::{read_ancestry, Inspection, PassError, PassOptions, Session};
use crate::plan::{desired_group_name_by, desired_user, Operation, Policy};

/// Members of a group whose nesting path is shown (each costs a walk up the directory).
const MEMBER_PATHS_SHOWN: usize = 20;
/// Members of a group listed at all.
const MEMBERS_LISTED: usize = 200;

/// The answer, as `--output json` prints it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// The name asked about.
    pub who: String,
    /// `user` or `group`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub source: Value,
    pub scope: Value,
    pub mapping: Value,
    #[serde(rename = "match")]
    pub matched: Value,
    pub actions: Value,
}

/// Explains `who` (a user or a group, by any name [`select::find`] knows); writes nothing.
pub async fn explain(session: &Session, who: &str) -> Result<Explanation, PassError> {
    let inspection = session.inspect(&PassOptions::default()).await?;
    let target = select::find(who, &inspection.directory, &inspection.current)
        .or_else(|| excluded_target(who, &inspection))
        .ok_or_else(|| PassError::NotFound(who.trim().to_string()))?;
    let dn = target
        .dir_user
        .map(|u| u.dn.as_str())
        .or(target.dir_group.map(|g| g.dn.as_str()))
        .or(excluded_entry(&target, &inspection).map(|e| e.dn.as_str()));
    let ancestry = match dn {
        Some(dn) => Some(read_ancestry(session.settings(), dn).await?),
        None => None,
    };
    let mut member_paths = Vec::new();
    if let Some(g) = target.dir_group {
        for u in members_of(g, &inspection)
            .into_iter()
            .take(MEMBER_PATHS_SHOWN)
        {
            let a = read_ancestry(session.settings(), &u.dn).await?;
            member_paths.push((u, a.path_from(&g.dn)));
        }
    }
    Ok(build(
        &target,
        &inspection,
        ancestry.as_ref(),
        &member_paths,
        &session.settings().policy,
    ))
}

/// A user a scope rule leaves out, by sAMAccountName, DN or objectSid, when nothing else
/// answers to the name (it was never synced, so Identity Center does not know it either).
fn excluded_target<'a>(who: &str, inspection: &'a Inspection) -> Option<Target<'a>> {
    let want = who.trim();
    let e = inspection.directory.excluded.iter().find(|e| {
        e.sam_account_name.eq_ignore_ascii_case(want)
            || e.object_sid.eq_ignore_ascii_case(want)
            || e.dn.eq_ignore_ascii_case(want)
    })?;
    Some(Target {
        who: want.to_string(),
        kind: TargetKind::User,
        anchor: Some(e.object_sid.clone()),
        dir_user: None,
        dir_group: None,
        idc_users: inspection
            .current
            .users
            .iter()
            .filter(|u| {
                u.external_id
                    .as_deref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(&e.object_sid))
            })
            .collect(),
        idc_groups: Vec::new(),
    })
}

/// The scope rule that leaves the target out, if one does.
fn excluded_entry<'a>(target: &Target<'_>, inspection: &'a Inspection) -> Option<&'a ExcludedUser> {
    if target.kind != TargetKind::User || target.dir_user.is_some() {
        return None;
    }
    let anchor = target.anchor.as_deref()?;
    inspection
        .directory
        .excluded
        .iter()
        .find(|e| e.object_sid.eq_ignore_ascii_case(anchor))
}

/// The explanation from what was read (pure; [`explain`] does the reading).
pub fn build(
    target: &Target<'_>,
    inspection: &Inspection,
    ancestry: Option<&Ancestry>,
    member_paths: &[(&DirectoryUser, Option<Vec<String>>)],
    policy: &Policy,
) -> Explanation {
    let findings: Vec<&Finding> = inspection
        .directory_skipped
        .iter()
        .chain(&inspection.plan.skipped)
        .chain(&inspection.plan.conflicts)
        .chain(&inspection.plan.notes)
        .filter(|f| target.concerns(f))
        .collect();
    let operations: Vec<Operation> = inspection
        .plan
        .operations
        .iter()
        .filter_map(|op| select::restrict(op, std::slice::from_ref(target)))
        .collect();
    let held_back: Vec<Operation> = inspection
        .held_back
        .iter()
        .filter_map(|op| select::restrict(op, std::slice::from_ref(target)))
        .collect();
    let destructive_planned =
        operations.iter().any(|op| op.is_destructive()) || !held_back.is_empty();
    let actions = json!({
        "operations": operations,
        "withheld": held_back,
        "withheldBecause": if destructive_planned { inspection.withheld.clone() } else { Vec::new() },
        "findings": findings,
    });
    match target.kind {
        TargetKind::User => user(target, inspection, ancestry, policy, &findings, actions),
        TargetKind::Group => group(target, inspection, member_paths, policy, &findings, actions),
    }
}

fn chain_json(path: Option<Vec<String>>) -> Value {
    match path {
        Some(p) => json!({ "text": chain_text(&p), "dns": p }),
        None => Value::Null,
    }
}

fn user(
    target: &Target<'_>,
    inspection: &Inspection,
    ancestry: Option<&Ancestry>,
    policy: &Policy,
    findings: &[&Finding],
    actions: Value,
) -> Explanation {
    let dir = target.dir_user;
    let reader_skipped: Vec<&&Finding> = findings
        .iter()
        .filter(|f| {
            matches!(
                f.code,
                ReasonCode::UnreadableEntry | ReasonCode::UnreadableMembers
            )
        })
        .collect();
    let state = dir.map(|u| {
        if u.enabled {
            Reason::new(ReasonCode::EnabledInDirectory, "enabled in the directory")
        } else {
            Reason::new(
                ReasonCode::DisabledInDirectory,
                "disabled in the directory (userAccountControl has ACCOUNTDISABLE)",
            )
        }
    });
    let source = json!({
        "found": dir.is_some(),
        "entry": dir.map(user_entry),
        "state": state,
        "skippedByReader": reader_skipped,
        "note": if dir.is_none() {
            Some("no directory user in scope answers to this name; the match below is by Identity Center's userName or externalId")
        } else { None },
    });

    // The sync group whose chain brings the user in (the first of scope.syncGroups that does).
    let (sync_dn, chain) = match ancestry.and_then(|a| a.first_path_from(&a.sync_group_dns)) {
        Some((dn, path)) => (dn, Some(path)),
        None => {
            let dn = ancestry
                .map(|a| a.sync_group_dn.clone())
                .unwrap_or_default();
            let path = ancestry.and_then(|a| a.path_from(&dn));
            (dn, path)
        }
    };
    let excluded = excluded_entry(target, inspection);
    let excluded_by = excluded.map(|e| {
        let path = ancestry.and_then(|a| a.first_path_from(&a.exclude_group_dns));
        json!({
            "code": e.code,
            "reason": e.reason,
            "group": path.as_ref().map(|(dn, _)| dn.clone()),
            "chain": chain_json(path.map(|(_, p)| p)),
        })
    });
    let groups: Vec<Value> = match (dir, ancestry) {
        (Some(u), Some(a)) => inspection
            .directory
            .groups
            .iter()
            .filter(|g| {
                g.member_sids
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(&u.object_sid))
            })
            .map(|g| json!({ "name": g.name, "dn": g.dn, "path": chain_json(a.path_from(&g.dn)) }))
            .collect(),
        _ => Vec::new(),
    };
    let in_scope = dir.is_some();
    let scope = json!({
        "inScope": in_scope,
        "reason": match (in_scope, excluded) {
            (true, _) => Reason::new(ReasonCode::NewInScope, "a direct or nested member of the sync group"),
            (false, Some(e)) => Reason::new(e.code, e.reason.clone()),
            (false, None) => Reason::new(ReasonCode::LeftSyncGroup, "not a direct or nested member of the sync group"),
        },
        "syncGroup": sync_dn,
        "syncGroups": ancestry.map(|a| a.sync_group_dns.clone()).unwrap_or_default(),
        "chain": chain_json(chain),
        "excludedBy": excluded_by,
        "syncedGroups": groups,
    });

    let mapped = dir.map(|u| desired_user(u, policy));
    let mapping = match &mapped {
        Some(Ok(a)) => json!({ "attributes": a, "rejected": Value::Null }),
        Some(Err(r)) => json!({ "attributes": Value::Null, "rejected": r }),
        None => json!({ "attributes": Value::Null, "rejected": Value::Null }),
    };

    let anchored: Vec<&IdcUser> = target.idc_users.clone();
    let wanted = mapped.and_then(Result::ok);
    let holders: Vec<&IdcUser> = inspection
        .current
        .users
        .iter()
        .filter(|u| !anchored.iter().any(|a| a.id == u.id))
        .filter(|u| {
            wanted.as_ref().is_some_and(|w| {
                u.user_name.eq_ignore_ascii_case(&w.user_name)
                    || u.email
                        .as_deref()
                        .zip(w.email.as_deref())
                        .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
            })
        })
        .collect();
    let matched = json!({
        "byAnchor": anchored.iter().map(|u| idc_user(u)).collect::<Vec<_>>(),
        "holdersOfItsNames": holders.iter().map(|u| idc_user(u)).collect::<Vec<_>>(),
        "conflicts": findings.iter().filter(|f| inspection.plan.conflicts.contains(f)).collect::<Vec<_>>(),
    });
    Explanation {
        who: target.who.clone(),
        kind: "user",
        source,
        scope,
        mapping,
        matched,
        actions,
    }
}

/// A directory user with the directory's attribute names.
fn user_entry(u: &DirectoryUser) -> Value {
    json!({
        "dn": u.dn,
        "objectSid": u.object_sid,
        "objectGUID": u.object_guid,
        "sAMAccountName": u.sam_account_name,
        "userPrincipalName": u.user_principal_name,
        "givenName": u.given_name,
        "sn": u.surname,
        "displayName": u.display_name,
        "mail": u.mail,
        "enabled": u.enabled,
    })
}

/// An Identity Center user with SCIM's attribute names.
fn idc_user(u: &IdcUser) -> Value {
    json!({
        "id": u.id,
        "externalId": u.external_id,
        "userName": u.user_name,
        "displayName": u.display_name,
        "givenName": u.given_name,
        "familyName": u.family_name,
        "email": u.email,
        "active": u.active,
    })
}

fn members_of<'a>(g: &DirectoryGroup, inspection: &'a Inspection) -> Vec<&'a DirectoryUser> {
    inspection
        .directory
        .users
        .iter()
        .filter(|u| {
            g.member_sids
                .iter()
                .any(|s| s.eq_ignore_ascii_case(&u.object_sid))
        })
        .collect()
}

fn group(
    target: &Target<'_>,
    inspection: &Inspection,
    member_paths: &[(&DirectoryUser, Option<Vec<String>>)],
    policy: &Policy,
    findings: &[&Finding],
    actions: Value,
) -> Explanation {
    let dir = target.dir_group;
    let source = json!({
        "found": dir.is_some(),
        "entry": dir.map(|g| json!({
            "dn": g.dn, "objectGUID": g.object_guid, "objectSid": g.object_sid,
            "cn": g.name, "description": g.description,
            "effectiveMembers": g.member_sids.len(),
        })),
    });
    let members: Vec<Value> = dir
        .map(|g| {
            members_of(g, inspection)
                .into_iter()
                .take(MEMBERS_LISTED)
                .map(|u| {
                    let path = member_paths
                        .iter()
                        .find(|(m, _)| m.object_sid == u.object_sid)
                        .and_then(|(_, p)| p.clone());
                    json!({
                        "sAMAccountName": u.sam_account_name,
                        "userPrincipalName": u.user_principal_name,
                        "dn": u.dn,
                        "path": chain_json(path),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let scope = json!({
        "inScope": dir.is_some(),
        "reason": if dir.is_some() {
            Reason::new(ReasonCode::NewInScope, "under the group search base and its name matches the prefix")
        } else {
            Reason::new(ReasonCode::GroupLeftScope, "not a group in scope (outside the group search base, or its name does not match the prefix)")
        },
        "members": members,
    });
    let named = |g| desired_group_name_by(g, policy.group_display_name, &policy.group_name_prefix);
    let mapping = match dir.map(named) {
        Some(Ok(name)) => {
            json!({ "attributes": { "displayName": name, "externalId": dir.map(|g| &g.object_guid) }, "rejected": Value::Null })
        }
        Some(Err(r)) => json!({ "attributes": Value::Null, "rejected": r }),
        None => json!({ "attributes": Value::Null, "rejected": Value::Null }),
    };
    let anchored: Vec<&IdcGroup> = target.idc_groups.clone();
    let holders: Vec<&IdcGroup> = inspection
        .current
        .groups
        .iter()
        .filter(|g| !anchored.iter().any(|a| a.id == g.id))
        .filter(|g| dir.is_some_and(|d| g.display_name.eq_ignore_ascii_case(d.name.trim())))
        .collect();
    let matched = json!({
        "byAnchor": anchored.iter().map(|g| json!({
            "id": g.id, "externalId": g.external_id, "displayName": g.display_name,
            "members": g.member_ids.as_ref().map(|m| m.len()),
        })).collect::<Vec<_>>(),
        "holdersOfItsName": holders.iter().map(|g| json!({"id": g.id, "externalId": g.external_id, "displayName": g.display_name})).collect::<Vec<_>>(),
        "conflicts": findings.iter().filter(|f| inspection.plan.conflicts.contains(f)).collect::<Vec<_>>(),
    });
    Explanation {
        who: target.who.clone(),
        kind: "group",
        source,
        scope,
        mapping,
        matched,
        actions,
    }
}
