//! Faults a real directory cannot be made to produce on demand (Samba never enforces a size
//! limit and never breaks a page): a tiny scripted LDAP server on loopback answers the bind
//! and the first page properly, then fails the second page in different ways. Each must be
//! an error of the whole read, never a shorter snapshot.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use std::time::Duration;

use scim_sync::directory::{read_ldap, DirectoryError, LdapSettings, Scope};
use scim_sync::model::settings::LdapUrl;
use scim_sync::secret::Secret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PAGED_OID: &str = "1.2.840.113556.1.4.319";

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// No fault: page 2 completes the users, and there are no groups.
    None,
    /// Page 2 ends with sizeLimitExceeded (4), as Windows does past its limits.
    SizeLimit,
    /// Page 2's paged-results control is garbage.
    MalformedControl,
    /// The connection drops in the middle of page 2.
    Disconnect,
    /// The server accepts the connection and never answers.
    Silent,
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn int(tag: u8, v: u32) -> Vec<u8> {
    let bytes: Vec<u8> = v
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    let mut bytes = if bytes.is_empty() { vec![0] } else { bytes };
    if bytes[0] & 0x80 != 0 {
        bytes.insert(0, 0);
    }
    tlv(tag, &bytes)
}

fn message(id: u32, op: Vec<u8>, controls: Option<Vec<u8>>) -> Vec<u8> {
    let mut body = int(0x02, id);
    body.extend(op);
    if let Some(c) = controls {
        body.extend(tlv(0xa0, &c));
    }
    tlv(0x30, &body)
}

fn result_op(app_tag: u8, rc: u32) -> Vec<u8> {
    let mut c = int(0x0a, rc);
    c.extend(tlv(0x04, b""));
    c.extend(tlv(0x04, b"scripted fault"));
    tlv(app_tag, &c)
}

fn entry(dn: &str, attrs: &[(&str, &[u8])]) -> Vec<u8> {
    let mut list = Vec::new();
    for (name, value) in attrs {
        let mut pa = tlv(0x04, name.as_bytes());
        pa.extend(tlv(0x31, &tlv(0x04, value)));
        list.extend(tlv(0x30, &pa));
    }
    let mut c = tlv(0x04, dn.as_bytes());
    c.extend(tlv(0x30, &list));
    tlv(0x64, &c)
}

fn paged_control(cookie: &[u8]) -> Vec<u8> {
    let mut value = int(0x02, 0);
    value.extend(tlv(0x04, cookie));
    let mut c = tlv(0x04, PAGED_OID.as_bytes());
    c.extend(tlv(0x04, &tlv(0x30, &value)));
    tlv(0x30, &c)
}

fn user_entry(n: u32) -> Vec<u8> {
    let sid = [
        1u8, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, n as u8, 4, 0, 0,
    ];
    let guid = [n as u8; 16];
    let sam = format!("u{n}");
    entry(
        &format!("CN=u{n},DC=x"),
        &[
            ("objectSid", &sid),
            ("objectGUID", &guid),
            ("sAMAccountName", sam.as_bytes()),
            ("userAccountControl", b"512"),
        ],
    )
}

/// Reads one LDAPMessage: returns (message id, protocol op tag, raw message body).
async fn read_message(s: &mut TcpStream) -> Option<(u32, u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    s.read_exact(&mut head).await.ok()?;
    let len = if head[1] < 0x80 {
        usize::from(head[1])
    } else {
        let mut b = vec![0u8; usize::from(head[1] & 0x7f)];
        s.read_exact(&mut b).await.ok()?;
        b.iter().fold(0usize, |a, x| (a << 8) | usize::from(*x))
    };
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.ok()?;
    // body: INTEGER id, then the op
    let id_len = usize::from(body[1]);
    let id = body[2..2 + id_len]
        .iter()
        .fold(0u32, |a, x| (a << 8) | u32::from(*x));
    Some((id, body[2 + id_len], body))
}

async fn serve(listener: TcpListener, fault: Fault) {
    let (mut s, _) = listener.accept().await.unwrap();
    if let Fault::Silent = fault {
        tokio::time::sleep(Duration::from_secs(30)).await;
        return;
    }
    let contains = |body: &[u8], what: &str| body.windows(what.len()).any(|w| w == what.as_bytes());
    while let Some((id, op, body)) = read_message(&mut s).await {
        let done_empty = || message(id, result_op(0x65, 0), Some(paged_control(b"")));
        let reply = match op {
            0x60 => message(id, result_op(0x61, 0), None), // bind
            0x63 if contains(&body, "1.2.840.113556.1.4.1941") => done_empty(), // no nested groups
            0x63 if contains(&body, "description") => done_empty(), // no groups in scope
            // users, page 1 of 2
            0x63 if contains(&body, "userAccountControl") && !contains(&body, "next") => {
                let mut r = message(id, user_entry(1), None);
                r.extend(message(id, user_entry(2), None));
                r.extend(message(
                    id,
                    result_op(0x65, 0),
                    Some(paged_control(b"next")),
                ));
                r
            }
            // users, page 2: where the fault happens
            0x63 if contains(&body, "userAccountControl") => {
                let mut r = message(id, user_entry(3), None);
                match fault {
                    Fault::None => r.extend(done_empty()),
                    Fault::SizeLimit => {
                        r.extend(message(id, result_op(0x65, 4), Some(paged_control(b""))))
                    }
                    Fault::MalformedControl => {
                        let mut c = tlv(0x04, PAGED_OID.as_bytes());
                        c.extend(tlv(0x04, &[0x30, 0x09, 0x02]));
                        r.extend(message(id, result_op(0x65, 0), Some(tlv(0x30, &c))));
                    }
                    Fault::Disconnect => {
                        s.write_all(&r).await.unwrap();
                        return; // drops the connection before SearchResultDone
                    }
                    Fault::Silent => unreachable!(),
                }
                r
            }
            // the sync group lookup
            0x63 => {
                let mut r = message(id, entry("CN=sync,DC=x", &[]), None);
                r.extend(done_empty());
                r
            }
            _ => return, // unbind or anything else: close
        };
        if s.write_all(&reply).await.is_err() {
            return;
        }
    }
}

async fn read_against(fault: Fault) -> Result<usize, DirectoryError> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(serve(listener, fault));
    let mut s = LdapSettings::new(
        LdapUrl::parse(&format!("ldap://127.0.0.1:{port}"), false, true).unwrap(),
        "svc@x",
        Secret::new("pw"),
    );
    s.allow_plain_ldap = true;
    s.base_dn = Some("DC=x".into());
    s.page_size = 2;
    s.connect_timeout = Duration::from_secs(2);
    s.operation_timeout = Duration::from_secs(2);
    let scope = Scope {
        sync_group: "sync".into(),
        group_prefix: "aws-".into(),
        group_search_base: "OU=AWS,DC=x".into(),
        extra_domain_sids: Vec::new(),
        rules: Default::default(),
    };
    let result = read_ldap(&s, &scope).await.map(|snap| snap.users.len());
    server.abort();
    result
}

#[tokio::test]
async fn the_scripted_server_serves_a_complete_read() {
    assert_eq!(read_against(Fault::None).await.unwrap(), 3);
}

#[tokio::test]
async fn size_limit_on_a_later_page_fails_the_read() {
    let err = read_against(Fault::SizeLimit).await.unwrap_err();
    match &err {
        DirectoryError::Search { code, message, .. } => {
            assert_eq!(*code, 4);
            assert!(message.contains("size limit"), "{message}");
        }
        other => panic!("expected a search error, got {other}"),
    }
}

#[tokio::test]
async fn malformed_page_control_fails_the_read() {
    let err = read_against(Fault::MalformedControl).await.unwrap_err();
    assert!(matches!(err, DirectoryError::Protocol { .. }), "{err}");
    assert!(err.to_string().contains("page 2"), "{err}");
}

#[tokio::test]
async fn dropped_connection_mid_page_fails_the_read() {
    let err = read_against(Fault::Disconnect).await.unwrap_err();
    assert!(matches!(err, DirectoryError::Connection { .. }), "{err}");
    assert!(err.to_string().contains("users in scope"), "{err}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let err = read_against(Fault::Silent).await.unwrap_err();
    match &err {
        DirectoryError::Timeout { operation, .. } => assert_eq!(operation, "bind"),
        other => panic!("expected a timeout, got {other}"),
    }
}
