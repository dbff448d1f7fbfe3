//! Identity Center's attribute rules (spec §2.3), checked before anything is sent.
//!
//! A value Identity Center would reject makes every pass fail the same write again; checking
//! here turns that into one clear "skipped" line per entry instead. Lengths are counted in
//! UTF-16 code units because the service validates with Java strings.

/// Longest `userName`.
pub const MAX_USER_NAME: usize = 128;
/// Longest name, displayName or email (the Identity Store's `SensitiveStringType`).
pub const MAX_TEXT: usize = 1024;
/// Longest group `displayName`.
pub const MAX_GROUP_NAME: usize = 1024;
/// Longest `externalId`.
pub const MAX_EXTERNAL_ID: usize = 256;

/// Names the Identity Store refuses for any user or group.
const RESERVED_NAMES: [&str; 2] = ["administrator", "awsadministrators"];

/// Invisible formatting characters (Unicode category Cf) and private-use code points: not
/// letters, marks, symbols, numbers or punctuation, so every Identity Center pattern rejects
/// them (a zero-width space in a name is the known real-world case).
fn is_format_or_private(c: char) -> bool {
    if c.is_ascii() {
        return false;
    }
    matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x08E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F
        | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF)
}

fn utf16_len(value: &str) -> usize {
    value.encode_utf16().count()
}

/// Checks a value against `min 1, max` and a character rule; the error names the attribute.
fn check(
    attr: &str,
    value: &str,
    max: usize,
    allowed: impl Fn(char) -> bool,
) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{attr} is empty"));
    }
    let len = utf16_len(value);
    if len > max {
        return Err(format!(
            "{attr} is {len} characters long; Identity Center accepts at most {max}"
        ));
    }
    if let Some(bad) = value.chars().find(|c| !allowed(*c)) {
        let what = if bad.is_whitespace() {
            "whitespace"
        } else {
            "a character"
        };
        return Err(format!(
            "{attr} {value:?} contains {what} (U+{:04X}) that Identity Center rejects",
            bad as u32
        ));
    }
    Ok(())
}

/// `userName`: letters, marks, symbols, numbers, punctuation; no whitespace at all.
pub fn user_name(value: &str) -> Result<(), String> {
    check("userName", value, MAX_USER_NAME, |c| {
        !c.is_whitespace() && !c.is_control() && !is_format_or_private(c)
    })?;
    reserved("userName", value)
}

/// `displayName` and `name.*`: as userName, plus space, tab, CR, LF, NBSP and ideographic
/// space.
pub fn text(attr: &str, value: &str) -> Result<(), String> {
    check(attr, value, MAX_TEXT, |c| {
        matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{A0}' | '\u{3000}')
            || (!c.is_whitespace() && !c.is_control() && !is_format_or_private(c))
    })
}

/// Group `displayName`: as [`text`] but without the ideographic space.
pub fn group_name(value: &str) -> Result<(), String> {
    check("group displayName", value, MAX_GROUP_NAME, |c| {
        matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{A0}')
            || (!c.is_whitespace() && !c.is_control() && !is_format_or_private(c))
    })?;
    reserved("group displayName", value)
}

/// `externalId`: no whitespace (a DN would fail; a SID or GUID passes).
pub fn external_id(value: &str) -> Result<(), String> {
    check("externalId", value, MAX_EXTERNAL_ID, |c| {
        !c.is_whitespace() && !c.is_control() && !is_format_or_private(c)
    })
}

/// The single primary email: `local@domain`, no whitespace. Identity Center documents no
/// format rule, so this only rejects what cannot be an address at all.
pub fn email(value: &str) -> Result<(), String> {
    check("mail", value, MAX_TEXT, |c| {
        !c.is_whitespace() && !c.is_control() && !is_format_or_private(c)
    })?;
    match value.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(())
        }
        _ => Err(format!(
            "mail {value:?} is not an email address (local@domain)"
        )),
    }
}

fn reserved(attr: &str, value: &str) -> Result<(), String> {
    if RESERVED_NAMES.contains(&value.to_lowercase().as_str()) {
        return Err(format!("{attr} {value:?} is reserved by Identity Center"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_reject_whitespace_invisible_characters_and_overlength() {
        assert!(user_name("jdoe@example.com").is_ok());
        assert!(user_name("Jörg.Müller+test@example.com").is_ok());
        assert!(user_name("").is_err());
        assert!(user_name("j doe").is_err());
        assert!(user_name("j\u{A0}doe").is_err());
        assert!(user_name("j\tdoe").is_err());
        assert!(user_name("jdoe\u{200B}").is_err());
        assert!(user_name(&"a".repeat(128)).is_ok());
        assert!(user_name(&"a".repeat(129)).is_err());
        // 64 characters outside the BMP are 128 UTF-16 units; 65 are too many.
        assert!(user_name(&"😀".repeat(64)).is_ok());
        assert!(user_name(&"😀".repeat(65)).is_err());
        assert!(user_name("Administrator").is_err());
    }

    #[test]
    fn names_allow_inner_spaces_but_not_control_or_format_characters() {
        assert!(text("displayName", "Mary Ann O'Neil").is_ok());
        assert!(text("displayName", "山田\u{3000}太郎").is_ok());
        assert!(text("displayName", "a\u{7}b").is_err());
        assert!(text("givenName", "\u{200B}").is_err());
        assert!(text("givenName", "").is_err());
        assert!(text("givenName", &"x".repeat(1025)).is_err());
        assert!(group_name("aws-Admins: prod").is_ok());
        assert!(group_name("a\u{3000}b").is_err());
        assert!(group_name("AWSAdministrators").is_err());
    }

    #[test]
    fn emails_need_one_at_sign_and_no_whitespace() {
        assert!(email("a@b").is_ok());
        assert!(email("first.last@example.co.uk").is_ok());
        assert!(email("a@b@c").is_err());
        assert!(email("@b").is_err());
        assert!(email("a@").is_err());
        assert!(email("a b@c").is_err());
        assert!(email("ab").is_err());
    }

    #[test]
    fn external_ids_reject_distinguished_names() {
        assert!(external_id("S-1-5-21-1-2-3-1001").is_ok());
        assert!(external_id("CN=John Doe,OU=Users").is_err());
        assert!(external_id(&"1".repeat(257)).is_err());
    }
}
