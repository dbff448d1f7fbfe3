//! The audit record: one per write the executor attempts (and one per change it did not make),
//! shaped for CloudWatch Logs Insights and `jq` alike.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::model::Reason;
#[cfg(test)]
use crate::model::ReasonCode;

/// How a change ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AuditResult {
    /// Identity Center accepted the write.
    Ok,
    /// The write was sent and refused (or could not be sent); `error` says why.
    Failed,
    /// Not sent on purpose: a guard or a partial read held it back; `heldBack` says why.
    Withheld,
    /// Not sent because the pass stopped starting writes (deadline, rejected token, a failed
    /// prerequisite); `heldBack` says why. The next pass plans it again.
    NotStarted,
}

impl AuditResult {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditResult::Ok => "ok",
            AuditResult::Failed => "failed",
            AuditResult::Withheld => "withheld",
            AuditResult::NotStarted => "notStarted",
        }
    }
}

/// The object a change is about, by every name an operator might search for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditObject {
    /// `user` or `group`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Identity Center id, when known (after a create, only once it succeeded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The directory entry's DN, when the object is (still) in the directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dn: Option<String>,
}

/// One attribute's change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FromTo {
    pub from: Value,
    pub to: Value,
}

/// What a change changes: attributes (`{from, to}` each) or members (by userName, at most
/// 100 per record, as one PATCH carries).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Changes {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<&'static str, FromTo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members_added: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members_removed: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty()
            && self.members_added.is_empty()
            && self.members_removed.is_empty()
    }

    pub fn set(&mut self, attribute: &'static str, from: Value, to: Value) {
        self.attributes.insert(attribute, FromTo { from, to });
    }
}

/// One change, as written to the audit trail. Never carries a secret: only names, ids,
/// attribute values the directory publishes, and error messages (which never hold tokens).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeRecord {
    /// Always `change`, so a log query can pick records out of other lines.
    pub event: &'static str,
    /// The pass this change belongs to (also in the pass's summary).
    pub pass_id: String,
    /// The operation, as in the JSON plan (`createUser`, `changeMembers`, …).
    pub action: &'static str,
    pub object: AuditObject,
    /// Why the change was planned.
    pub reason: Reason,
    #[serde(skip_serializing_if = "Changes::is_empty")]
    pub changes: Changes,
    pub result: AuditResult,
    /// For `failed`: what went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For `withheld` and `notStarted`: why the change was not made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_back: Option<Reason>,
}

impl ChangeRecord {
    /// The record with its outcome set.
    pub fn ended(mut self, result: AuditResult) -> Self {
        self.result = result;
        self
    }

    pub fn failed(mut self, error: String) -> Self {
        self.result = AuditResult::Failed;
        self.error = Some(error);
        self
    }

    pub fn held_back(mut self, result: AuditResult, why: Reason) -> Self {
        self.result = result;
        self.held_back = Some(why);
        self
    }

    /// One line for a person: result, action, object, reason, changes.
    pub fn text_line(&self) -> String {
        let o = &self.object;
        let name = o
            .user_name
            .as_deref()
            .or(o.display_name.as_deref())
            .unwrap_or("?");
        let mut ids: Vec<&str> = Vec::new();
        ids.extend(o.id.as_deref());
        ids.extend(o.external_id.as_deref());
        let ids = if ids.is_empty() {
            String::new()
        } else {
            format!(" ({})", ids.join(", "))
        };
        let mut line = format!(
            "change {} {} {} {name}{ids}: {} [{}]",
            self.result.as_str(),
            self.action,
            o.kind,
            self.reason.text,
            self.reason.code
        );
        for (attr, ft) in &self.changes.attributes {
            line.push_str(&format!("; {attr} {} -> {}", ft.from, ft.to));
        }
        if !self.changes.members_added.is_empty() {
            line.push_str(&format!(
                "; added {}",
                self.changes.members_added.join(", ")
            ));
        }
        if !self.changes.members_removed.is_empty() {
            line.push_str(&format!(
                "; removed {}",
                self.changes.members_removed.join(", ")
            ));
        }
        if let Some(e) = &self.error {
            line.push_str(&format!("; error: {e}"));
        }
        if let Some(h) = &self.held_back {
            line.push_str(&format!("; {} [{}]", h.text, h.code));
        }
        line
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_record_serialises_with_stable_keys_and_no_empty_parts() {
        let mut changes = Changes::default();
        changes.set("active", json!(true), json!(false));
        let r = ChangeRecord {
            event: "change",
            pass_id: "p1".into(),
            action: "updateUser",
            object: AuditObject {
                kind: "user",
                user_name: Some("jdoe@x".into()),
                id: Some("id-1".into()),
                ..AuditObject::default()
            },
            reason: Reason::new(ReasonCode::DisabledInDirectory, "disabled in the directory"),
            changes,
            result: AuditResult::Ok,
            error: None,
            held_back: None,
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            json!({
                "event": "change", "passId": "p1", "action": "updateUser",
                "object": {"type": "user", "userName": "jdoe@x", "id": "id-1"},
                "reason": {"code": "disabledInDirectory", "text": "disabled in the directory"},
                "changes": {"attributes": {"active": {"from": true, "to": false}}},
                "result": "ok"
            })
        );
        assert!(r.text_line().contains("[disabledInDirectory]"));
        assert!(r.text_line().contains("active true -> false"));
    }
}
