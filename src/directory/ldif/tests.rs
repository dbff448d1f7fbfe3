use super::*;
use crate::directory::sid::{guid_from_string, sid_from_string};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

fn sid(rid: u32) -> String {
    B64.encode(sid_from_string(&format!("S-1-5-21-10-20-30-{rid}")).unwrap())
}

fn guid(n: u32) -> String {
    B64.encode(guid_from_string(&format!("00000000-0000-4000-8000-{n:012}")).unwrap())
}

fn user(rid: u32, cn: &str, uac: u32, extra: &str) -> String {
    format!(
        "dn: CN={cn},OU=People,DC=x\nobjectClass: top\nobjectClass: person\nobjectClass: user\n\
         objectSid:: {}\nobjectGUID:: {}\nsAMAccountName: u{rid}\nuserAccountControl: {uac}\n{extra}\n",
        sid(rid),
        guid(rid)
    )
}

fn group(n: u32, dn: &str, members: &[&str]) -> String {
    let mut s = format!(
        "dn: {dn}\nobjectClass: top\nobjectClass: group\nobjectGUID:: {}\nobjectSid:: {}\n",
        guid(n),
        sid(n)
    );
    for m in members {
        s.push_str(&format!("member: {m}\n"));
    }
    s.push('\n');
    s
}

fn scope() -> Scope {
    Scope {
        sync_group: "sync".into(),
        group_prefix: "aws-".into(),
        group_search_base: "OU=AWS,DC=x".into(),
        extra_domain_sids: Vec::new(),
        rules: Default::default(),
    }
}

fn sample() -> String {
    let mut s = String::from("version: 1\n\n# a comment that is\n  folded\n");
    s += &user(1001, "u1", 512, "mail: u1@x\n");
    s += &user(1002, "Smith\\, John", 514, "");
    s += &user(1003, "u3", 544, "");
    s += &user(1004, "outsider", 512, "");
    s += &group(
        1,
        "CN=sync,OU=AWS,DC=x",
        &["CN=u1,OU=People,DC=x", "CN=inner,OU=T,DC=x"],
    );
    s += &group(
        2,
        "CN=inner,OU=T,DC=x",
        &["cn=smith\\2c john,ou=people,dc=x"],
    );
    s += &group(
        3,
        "CN=aws-a,OU=AWS,DC=x",
        &["CN=inner,OU=T,DC=x", "CN=outsider,OU=People,DC=x"],
    );
    s += &group(4, "CN=aws-b,OU=Sub,OU=AWS,DC=x", &[]);
    s += &group(5, "CN=aws-out,OU=T,DC=x", &["CN=u1,OU=People,DC=x"]);
    s += &group(6, "CN=finance,OU=AWS,DC=x", &["CN=u1,OU=People,DC=x"]);
    // u3 joins through memberOf only (an export of users with memberOf, groups without member)
    s = s.replace(
        "sAMAccountName: u1003\n",
        "sAMAccountName: u1003\nmemberOf: CN=inner,OU=T,DC=x\n",
    );
    s
}

#[test]
fn scope_rules_and_flattening() {
    let snap = read_ldif(&sample(), &scope()).unwrap();
    let names: Vec<&str> = snap
        .users
        .iter()
        .map(|u| u.sam_account_name.as_str())
        .collect();
    assert_eq!(names, ["u1001", "u1002", "u1003"]);
    assert!(!snap.users[1].enabled);
    assert_eq!(snap.users[1].dn, "CN=Smith\\, John,OU=People,DC=x");
    let groups: Vec<(&str, usize)> = snap
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.member_sids.len()))
        .collect();
    assert_eq!(groups, [("aws-a", 2), ("aws-b", 0)]);
    assert_eq!(
        snap.groups[0]
            .member_sids
            .iter()
            .map(|s| &**s)
            .collect::<Vec<_>>(),
        ["S-1-5-21-10-20-30-1002", "S-1-5-21-10-20-30-1003"]
    );
    assert!(snap.skipped.is_empty(), "{:?}", snap.skipped);
}

#[test]
fn folding_base64_and_crlf() {
    let mut s = sample().replace('\n', "\r\n");
    // fold the first objectSid value in the middle of its base64 text
    let at = s.find("objectSid:: ").unwrap() + 20;
    s.insert_str(at, "\r\n ");
    let folded = read_ldif(&s, &scope()).unwrap();
    assert_eq!(folded, read_ldif(&sample(), &scope()).unwrap());
}

#[test]
fn sync_group_by_dn_and_errors() {
    let mut sc = scope();
    sc.sync_group = "cn=SYNC, ou=aws, dc=x".into();
    assert_eq!(read_ldif(&sample(), &sc).unwrap().users.len(), 3);
    sc.sync_group = "sync*".into();
    assert!(matches!(
        read_ldif(&sample(), &sc),
        Err(DirectoryError::SyncGroupNotFound { .. })
    ));
    let dup = sample() + &group(9, "CN=sync,OU=Other,DC=x", &[]);
    assert!(matches!(
        read_ldif(&dup, &scope()),
        Err(DirectoryError::SyncGroupAmbiguous { .. })
    ));
}

#[test]
fn malformed_entries_are_skipped_not_fatal() {
    let s = sample()
        .replacen(&format!("objectSid:: {}\n", sid(1001)), "", 1)
        .replace(
            &format!("objectGUID:: {}\n", guid(4)),
            "objectGUID:: AAEC\n",
        );
    let snap = read_ldif(&s, &scope()).unwrap();
    assert_eq!(snap.users.len(), 2);
    let reasons: Vec<(&str, Option<&str>)> = snap
        .skipped
        .iter()
        .map(|k| (k.dn.as_str(), k.anchor.as_deref()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("CN=aws-b,OU=Sub,OU=AWS,DC=x", None),
            ("CN=u1,OU=People,DC=x", None)
        ]
    );
}

#[test]
fn truncated_ranged_export_skips_the_group() {
    let s = sample().replace(
        "member: CN=outsider,OU=People,DC=x\n",
        "member;range=0-1499: CN=outsider,OU=People,DC=x\n",
    );
    let snap = read_ldif(&s, &scope()).unwrap();
    assert_eq!(snap.groups.len(), 1);
    assert_eq!(snap.skipped.len(), 1);
    assert!(
        snap.skipped[0].reason.contains("0-1499"),
        "{}",
        snap.skipped[0].reason
    );
    let complete = sample().replace(
        "member: CN=outsider,OU=People,DC=x\n",
        "member;range=0-*: CN=outsider,OU=People,DC=x\n",
    );
    assert_eq!(read_ldif(&complete, &scope()).unwrap().groups.len(), 2);
}

#[test]
fn syntax_errors_name_the_line() {
    let err = read_ldif("dn: CN=a,DC=x\nobjectSid:: %%%\n", &scope()).unwrap_err();
    assert!(err.to_string().starts_with("LDIF line 2:"), "{err}");
    let err = read_ldif(" leading continuation\n", &scope()).unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
    let err = read_ldif("dn: CN=a,DC=x\nchangetype: modify\n", &scope()).unwrap_err();
    assert!(err.to_string().contains("change file"), "{err}");
    // ldapsearch's trailer without -LLL is ignored
    let trailer = sample() + "\n# search result\nsearch: 2\nresult: 0 Success\n";
    assert_eq!(read_ldif(&trailer, &scope()).unwrap().users.len(), 3);
}

#[test]
fn records_are_read_one_at_a_time_from_a_stream() {
    let text = "\u{feff}version: 1\n\ndn: CN=a,DC=x\ncn: a\n# a comment inside a record\n  that is folded\ndescription: one\n  line\n\n\n\ndn:: Q049YixEQz14\nmember: CN=a,DC=x\nmember: CN=c,\n DC=x\n";
    let records: Vec<RawEntry> = records::Records::new(text.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].dn, "CN=a,DC=x");
    assert_eq!(
        records[0].text("description").unwrap().as_deref(),
        Some("one line")
    );
    assert_eq!(records[0].values("cn").map(<[_]>::len), Some(1));
    assert_eq!(records[1].dn, "CN=b,DC=x");
    assert_eq!(
        records[1].texts("member").unwrap(),
        ["CN=a,DC=x", "CN=c,DC=x"]
    );
    // A BufRead that hands out one byte at a time gives the same records.
    let slow = std::io::BufReader::with_capacity(1, text.as_bytes());
    let again: Vec<RawEntry> = records::Records::new(slow)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(again, records);
}

#[test]
fn a_line_that_is_not_utf8_is_named() {
    let mut bytes = sample().into_bytes();
    let at = bytes.iter().position(|b| *b == b'\n').unwrap() + 1; // start of line 2
    bytes.splice(at..at, b"# caf\xe9\n".iter().copied());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.ldif");
    std::fs::write(&path, &bytes).unwrap();
    let err = read_ldif_file(&path, &scope()).unwrap_err();
    assert!(err.to_string().starts_with("LDIF line 2:"), "{err}");
    assert!(err.to_string().contains("UTF-8"), "{err}");
}

#[test]
fn a_file_reads_like_its_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.ldif");
    std::fs::write(&path, sample()).unwrap();
    assert_eq!(
        read_ldif_file(&path, &scope()).unwrap(),
        read_ldif(&sample(), &scope()).unwrap()
    );
    let missing = read_ldif_file(&dir.path().join("nope.ldif"), &scope()).unwrap_err();
    assert!(missing.to_string().contains("nope.ldif"), "{missing}");
}

#[test]
fn mapped_attributes_are_read_only_when_asked_for() {
    let mut text = String::from("version: 1\n\n");
    text += &user(
        1001,
        "u1",
        512,
        "title: Engineer\nEmployeeID: 42\ndepartment:: UiZE\ntelephoneNumber:: /w==\n",
    );
    text += &group(1, "CN=sync,OU=AWS,DC=x", &["CN=u1,OU=People,DC=x"]);
    let plain = read_ldif(&text, &scope()).unwrap();
    assert!(plain.users[0].attributes.is_empty());

    let map = AttributeMap::active_directory().with_user_attributes(vec![
        "title".into(),
        "employeeID".into(),
        "department".into(),
        "telephoneNumber".into(),
        "manager".into(),
    ]);
    let snap = read_ldif_with(&text, &scope(), &map).unwrap();
    let a = &snap.users[0].attributes;
    assert_eq!(a.get("title"), Some(&Some("Engineer".into())));
    assert_eq!(a.get("employeeid"), Some(&Some("42".into())));
    assert_eq!(a.get("department"), Some(&Some("R&D".into())));
    // Not UTF-8: present but unreadable, so the planner leaves it alone.
    assert_eq!(a.get("telephonenumber"), Some(&None));
    assert_eq!(a.get("manager"), None);
}

/// Two sync groups, a nested exclusion group, a user filter and a second group search base.
fn rules_sample() -> String {
    let mut s = String::from("version: 1\n\n");
    s += &user(2001, "staff1", 512, "employeeType: Staff\n");
    s += &user(2002, "staff2", 512, "employeeType: staff\n");
    s += &user(2003, "contractor", 512, "employeeType: Contractor\n");
    s += &user(2004, "svc", 512, "employeeType: Staff\n");
    s += &user(2005, "leaver", 512, "employeeType: Staff\n");
    s += &user(2006, "nobody", 512, "employeeType: Staff\n");
    s += &group(
        11,
        "CN=sync-eng,OU=AWS,DC=x",
        &[
            "CN=staff1,OU=People,DC=x",
            "CN=contractor,OU=People,DC=x",
            "CN=svc,OU=People,DC=x",
        ],
    );
    s += &group(
        12,
        "CN=sync-fin,OU=AWS,DC=x",
        &["CN=staff2,OU=People,DC=x", "CN=leaver,OU=People,DC=x"],
    );
    s += &group(13, "CN=no-aws,OU=T,DC=x", &["CN=svc-accounts,OU=T,DC=x"]);
    s += &group(14, "CN=svc-accounts,OU=T,DC=x", &["CN=svc,OU=People,DC=x"]);
    s += &group(15, "CN=leavers,OU=T,DC=x", &["CN=leaver,OU=People,DC=x"]);
    s += &group(
        16,
        "CN=aws-all,OU=AWS,DC=x",
        &["CN=sync-eng,OU=AWS,DC=x", "CN=sync-fin,OU=AWS,DC=x"],
    );
    s += &group(
        17,
        "CN=aws-teams,OU=Teams,DC=x",
        &["CN=staff2,OU=People,DC=x"],
    );
    s += &group(18, "CN=aws-elsewhere,OU=Other,DC=x", &[]);
    s
}

fn rules_scope() -> Scope {
    Scope {
        sync_group: "sync-eng".into(),
        rules: crate::model::settings::ScopeRules {
            more_sync_groups: vec!["CN=sync-fin,OU=AWS,DC=x".into()],
            user_filter: Some(
                crate::model::settings::LdapFilter::parse("(employeeType=Staff)").unwrap(),
            ),
            exclude_groups: vec!["no-aws".into(), "leavers".into()],
            more_group_search_bases: vec!["OU=Teams,DC=x".into()],
        },
        ..scope()
    }
}

fn sams(snap: &DirectorySnapshot) -> Vec<&str> {
    snap.users
        .iter()
        .map(|u| u.sam_account_name.as_str())
        .collect()
}

#[test]
fn sync_groups_user_filter_exclusions_and_search_bases_decide_the_scope() {
    let snap = read_ldif(&rules_sample(), &rules_scope()).unwrap();
    // staff1 (sync-eng) and staff2 (sync-fin); the contractor fails the filter, svc is in an
    // exclusion group through a nested group, the leaver directly; nobody is in no sync group.
    assert_eq!(sams(&snap), ["u2001", "u2002"]);
    let groups: Vec<(&str, usize)> = snap
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.member_sids.len()))
        .collect();
    assert_eq!(groups, [("aws-all", 2), ("aws-teams", 1)]);
    assert!(snap.skipped.is_empty(), "{:?}", snap.skipped);
    let why: Vec<(&str, ReasonCode)> = snap
        .excluded
        .iter()
        .map(|e| (e.sam_account_name.as_str(), e.code))
        .collect();
    assert_eq!(
        why,
        [
            ("u2003", ReasonCode::FailsUserFilter),
            ("u2004", ReasonCode::InExclusionGroup),
            ("u2005", ReasonCode::InExclusionGroup)
        ],
        "nobody (in no sync group) is not listed"
    );
    assert!(snap.excluded[1].reason.contains("\"no-aws\""));
    assert!(snap.excluded[0].reason.contains("(employeeType=Staff)"));

    // Each rule on its own.
    let mut sc = rules_scope();
    sc.rules.user_filter = None;
    assert_eq!(
        sams(&read_ldif(&rules_sample(), &sc).unwrap()),
        ["u2001", "u2002", "u2003"]
    );
    sc.rules.exclude_groups.clear();
    assert_eq!(
        sams(&read_ldif(&rules_sample(), &sc).unwrap()),
        ["u2001", "u2002", "u2003", "u2004", "u2005"]
    );
    sc.rules.more_sync_groups.clear();
    sc.rules.more_group_search_bases.clear();
    let one = read_ldif(&rules_sample(), &sc).unwrap();
    assert_eq!(sams(&one), ["u2001", "u2003", "u2004"]);
    assert_eq!(one.groups.len(), 1, "aws-teams is under OU=Teams only");
}

#[test]
fn a_missing_sync_group_leaves_its_users_unknown_and_a_missing_exclusion_fails() {
    let mut sc = rules_scope();
    sc.rules.more_sync_groups = vec!["sync-gone".into()];
    let snap = read_ldif(&rules_sample(), &sc).unwrap();
    assert_eq!(sams(&snap), ["u2001"]);
    let unknown: Vec<&SkippedEntry> = snap
        .skipped
        .iter()
        .filter(|s| s.anchor.is_none() && s.kind == EntryKind::User)
        .collect();
    assert_eq!(unknown.len(), 1, "{:?}", snap.skipped);
    assert!(
        unknown[0].reason.contains("\"sync-gone\""),
        "{}",
        unknown[0].reason
    );

    sc.sync_group = "also-gone".into();
    assert!(matches!(
        read_ldif(&rules_sample(), &sc),
        Err(DirectoryError::SyncGroupNotFound { .. })
    ));

    let mut sc = rules_scope();
    sc.rules.exclude_groups.push("no-such-group".into());
    let err = read_ldif(&rules_sample(), &sc).unwrap_err();
    assert!(
        matches!(&err, DirectoryError::ExcludeGroupNotFound { name, .. } if name == "no-such-group"),
        "{err}"
    );
}

#[test]
fn an_exclusion_group_read_in_part_holds_back_instead_of_guessing() {
    let s = rules_sample().replace(
        "dn: CN=svc-accounts,OU=T,DC=x\n",
        "dn: CN=svc-accounts,OU=T,DC=x\nmember;range=0-1499: CN=x,DC=x\n",
    );
    let snap = read_ldif(&s, &rules_scope()).unwrap();
    let unknown: Vec<&SkippedEntry> = snap
        .skipped
        .iter()
        .filter(|s| s.anchor.is_none() && s.kind == EntryKind::User)
        .collect();
    assert_eq!(unknown.len(), 1, "{:?}", snap.skipped);
    assert!(
        unknown[0].reason.contains("exclusion group"),
        "{}",
        unknown[0].reason
    );
}

#[test]
fn a_filter_an_export_cannot_evaluate_is_refused() {
    let mut sc = rules_scope();
    sc.rules.user_filter = Some(
        crate::model::settings::LdapFilter::parse("(memberOf:1.2.840.113556.1.4.1941:=CN=g,DC=x)")
            .unwrap(),
    );
    let err = read_ldif(&rules_sample(), &sc).unwrap_err();
    assert!(
        matches!(&err, DirectoryError::Settings(m) if m.contains("scope.userFilter")),
        "{err}"
    );
}
