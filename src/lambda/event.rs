use serde_json::Value;

/// What an invocation asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Invocation {
    /// `{"dryRun": true}`: return the plan, write nothing.
    pub dry_run: bool,
    /// `{"allowMassChanges": true}`: an operator's one-off override of the mass-change guard.
    pub allow_mass_changes: bool,
    /// `{"only": ["jdoe", …]}`: provision on demand, only what concerns these objects.
    pub only: Vec<String>,
    /// `{"explain": "jdoe"}`: explain one object, write nothing.
    pub explain: Option<String>,
    /// `{"incremental": true}`: sync only what changed since the stored watermark (the fast
    /// schedule sends this).
    pub incremental: bool,
}

/// The fields a manual invoke accepts, for error messages.
const FIELDS: &str = "`dryRun`, `allowMassChanges`, `incremental`, `only` (a list of names) \
                      and `explain` (a name)";

/// Reads the event: an EventBridge scheduled event runs a full pass; a manual invoke is an
/// object with optional `dryRun` and `allowMassChanges` booleans, `only` (a non-empty list of
/// user or group names) or `explain` (one name, alone). `{}` runs a full pass.
///
/// Anything else is refused rather than guessed at: a typo such as `{"dryrun": true}` must not
/// turn a dry run into a real one, and `explain` with another field is ambiguous.
pub fn parse_invocation(event: &Value) -> Result<Invocation, String> {
    let Some(object) = event.as_object() else {
        return Err(format!(
            "the event must be a JSON object, not {}",
            kind(event)
        ));
    };
    if object.get("source").and_then(Value::as_str) == Some("aws.events") {
        return Ok(Invocation::default());
    }
    let mut invocation = Invocation::default();
    for (key, value) in object {
        match key.as_str() {
            "dryRun" => invocation.dry_run = flag(key, value)?,
            "allowMassChanges" => invocation.allow_mass_changes = flag(key, value)?,
            "incremental" => invocation.incremental = flag(key, value)?,
            "only" => invocation.only = names(value)?,
            "explain" => {
                let who = value.as_str().map(str::trim).filter(|w| !w.is_empty());
                let Some(who) = who else {
                    return Err(format!(
                        "`explain` must be a user's or group's name, not {}",
                        kind(value)
                    ));
                };
                invocation.explain = Some(who.to_string());
            }
            other => {
                return Err(format!(
                    "unknown field `{other}`: a manual invoke accepts only {FIELDS}"
                ))
            }
        }
    }
    if invocation.explain.is_some() && object.len() > 1 {
        return Err(
            "`explain` cannot be combined with other fields: it reads both sides and writes \
             nothing; send it alone"
                .to_string(),
        );
    }
    if invocation.incremental && !invocation.only.is_empty() {
        return Err(
            "`incremental` and `only` cannot be combined: an incremental pass syncs what \
             changed, `only` names what to sync"
                .to_string(),
        );
    }
    Ok(invocation)
}

fn flag(key: &str, value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| format!("`{key}` must be true or false, not {}", kind(value)))
}

fn names(value: &Value) -> Result<Vec<String>, String> {
    let err = || {
        format!(
            "`only` must be a non-empty list of user or group names (sAMAccountName, \
             userPrincipalName, DN, objectSid, cn or objectGUID), not {}",
            kind(value)
        )
    };
    let list = value.as_array().filter(|l| !l.is_empty()).ok_or_else(err)?;
    list.iter()
        .map(|v| {
            v.as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .ok_or_else(err)
        })
        .collect()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scheduled_event_runs_a_full_pass() {
        let event = json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        assert_eq!(parse_invocation(&event), Ok(Invocation::default()));
    }

    #[test]
    fn manual_invokes() {
        assert_eq!(parse_invocation(&json!({})), Ok(Invocation::default()));
        let dry = parse_invocation(&json!({"dryRun": true})).map(|i| i.dry_run);
        assert_eq!(dry, Ok(true));
        let both = parse_invocation(&json!({"dryRun": false, "allowMassChanges": true}));
        assert_eq!(
            both,
            Ok(Invocation {
                dry_run: false,
                allow_mass_changes: true,
                ..Invocation::default()
            })
        );
    }

    #[test]
    fn only_and_explain() {
        let only = parse_invocation(&json!({"only": ["jdoe", " CN=x,DC=y "], "dryRun": true}));
        assert_eq!(
            only,
            Ok(Invocation {
                dry_run: true,
                only: vec!["jdoe".into(), "CN=x,DC=y".into()],
                ..Invocation::default()
            })
        );
        let explain = parse_invocation(&json!({"explain": "jdoe"})).map(|i| i.explain);
        assert_eq!(explain, Ok(Some("jdoe".to_string())));
    }

    #[test]
    fn bad_only_and_explain_are_refused_with_a_reason() {
        for event in [
            json!({"only": []}),
            json!({"only": "jdoe"}),
            json!({"only": ["jdoe", 3]}),
            json!({"only": [" "]}),
            json!({"explain": ""}),
            json!({"explain": ["jdoe"]}),
        ] {
            assert!(parse_invocation(&event).is_err(), "{event}");
        }
        let both = parse_invocation(&json!({"explain": "jdoe", "only": ["jdoe"]}));
        assert!(both.is_err_and(|e| e.contains("cannot be combined")));
        let dry = parse_invocation(&json!({"explain": "jdoe", "dryRun": true}));
        assert!(dry.is_err());
    }

    #[test]
    fn incremental_invokes() {
        let inc = parse_invocation(&json!({"incremental": true})).map(|i| i.incremental);
        assert_eq!(inc, Ok(true));
        let dry = parse_invocation(&json!({"incremental": true, "dryRun": true}));
        assert!(dry.is_ok_and(|i| i.incremental && i.dry_run));
        assert!(parse_invocation(&json!({"incremental": "yes"})).is_err());
        let both = parse_invocation(&json!({"incremental": true, "only": ["jdoe"]}));
        assert!(both.is_err_and(|e| e.contains("cannot be combined")));
        assert!(parse_invocation(&json!({"incremental": true, "explain": "jdoe"})).is_err());
    }

    #[test]
    fn typos_and_wrong_types_are_refused() {
        assert!(parse_invocation(&json!({"dryrun": true})).is_err());
        assert!(parse_invocation(&json!({"dryRun": "yes"})).is_err());
        assert!(parse_invocation(&json!([1])).is_err());
    }
}
