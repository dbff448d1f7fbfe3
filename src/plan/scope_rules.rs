//! Why a user left the scope, when a scope rule (`scope.excludeGroups`, `scope.userFilter`)
//! and not the sync group decided: the directory names those users, and their disables and
//! deletions carry the rule's code and sentence instead of `leftSyncGroup`.

use std::borrow::Cow;
use std::collections::HashMap;

use super::ownership::user_key;
use super::types::{Operation, Plan};
use crate::model::{ExcludedUser, Reason, ReasonCode};

pub(super) fn name_the_rules(excluded: &[ExcludedUser], out: &mut Plan) {
    if excluded.is_empty() {
        return;
    }
    let by_key: HashMap<Cow<'_, str>, &ExcludedUser> = excluded
        .iter()
        .map(|e| (user_key(&e.object_sid), e))
        .collect();
    for op in &mut out.operations {
        let (Operation::DisableUser {
            external_id,
            reason,
            ..
        }
        | Operation::DeleteUser {
            external_id,
            reason,
            ..
        }) = op
        else {
            continue;
        };
        if reason.code != ReasonCode::LeftSyncGroup {
            continue;
        }
        if let Some(e) = by_key.get(&user_key(external_id)) {
            *reason = Reason::new(e.code, e.reason.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disable(sid: &str, code: ReasonCode) -> Operation {
        Operation::DisableUser {
            id: format!("id-{sid}"),
            external_id: sid.to_string(),
            user_name: sid.to_string(),
            reason: Reason::new(code, "no longer in scope"),
        }
    }

    #[test]
    fn a_rule_that_decided_replaces_left_sync_group() {
        let excluded = [ExcludedUser {
            object_sid: "S-1-5-21-1-2-3-1001".into(),
            dn: "CN=a,DC=x".into(),
            sam_account_name: "a".into(),
            code: ReasonCode::InExclusionGroup,
            reason: "in no-aws".into(),
        }];
        let mut plan = Plan {
            operations: vec![
                disable("s-1-5-21-1-2-3-1001", ReasonCode::LeftSyncGroup),
                disable("S-1-5-21-1-2-3-1002", ReasonCode::LeftSyncGroup),
                disable("S-1-5-21-1-2-3-1001", ReasonCode::DisabledInDirectory),
            ],
            ..Plan::default()
        };
        name_the_rules(&excluded, &mut plan);
        let codes: Vec<ReasonCode> = plan
            .operations
            .iter()
            .filter_map(|op| match op {
                Operation::DisableUser { reason, .. } => Some(reason.code),
                _ => None,
            })
            .collect();
        assert_eq!(
            codes,
            [
                ReasonCode::InExclusionGroup,
                ReasonCode::LeftSyncGroup,
                ReasonCode::DisabledInDirectory
            ]
        );
    }
}
