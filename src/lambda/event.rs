use serde_json::Value;

/// What an invocation asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Invocation {
    /// `{"dryRun": true}`: return the plan, write nothing.
    pub dry_run: bool,
    /// `{"allowMassChanges": true}`: an operator's one-off override of the mass-change guard.
    pub allow_mass_changes: bool,
}

/// Reads the event: an EventBridge scheduled event runs a full pass; a manual invoke is an
/// object with optional `dryRun` and `allowMassChanges` booleans (`{}` runs a full pass).
///
/// Anything else is refused rather than guessed at: a typo such as `{"dryrun": true}` must not
/// turn a dry run into a real one.
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
        let flag = value
            .as_bool()
            .ok_or_else(|| format!("`{key}` must be true or false, not {}", kind(value)))?;
        match key.as_str() {
            "dryRun" => invocation.dry_run = flag,
            "allowMassChanges" => invocation.allow_mass_changes = flag,
            other => {
                return Err(format!(
                    "unknown field `{other}`: a manual invoke accepts only `dryRun` and `allowMassChanges`"
                ))
            }
        }
    }
    Ok(invocation)
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
                allow_mass_changes: true
            })
        );
    }

    #[test]
    fn typos_and_wrong_types_are_refused() {
        assert!(parse_invocation(&json!({"dryrun": true})).is_err());
        assert!(parse_invocation(&json!({"dryRun": "yes"})).is_err());
        assert!(parse_invocation(&json!([1])).is_err());
    }
}
