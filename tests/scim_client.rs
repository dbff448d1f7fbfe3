//! The SCIM client against the IdC emulator over real HTTP: every operation, pagination,
//! member chunking, conflicts, adoption after a lost response, filter-unsafe values, token
//! errors and the state reader.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/emulator.rs"]
mod emulator;

use std::collections::BTreeSet;
use std::sync::Arc;

use emulator::{client, fast_config, guid, sid, start, start_with, user, TOKEN, TOKEN_SECRET_ID};
use futures::future::try_join_all;
use idc_emulator::{Behaviour, Emulator, EmulatorConfig, Faults};
use scim_sync::identity_center::{ScimClient, ScimClientConfig, ScimEndpoint, ScimError};
use scim_sync::plan::{UserAttributes, UserField};
use scim_sync::secret::Secret;

async fn create_users(c: &ScimClient, range: std::ops::Range<usize>) -> Vec<String> {
    try_join_all(range.map(|i| {
        let c = c.clone();
        async move { c.create_user(&user(i)).await }
    }))
    .await
    .unwrap()
}

#[tokio::test]
async fn user_lifecycle() {
    let emu = start(Behaviour::default()).await;
    let c = client(&emu);
    let alice = user(1);
    let id = c.create_user(&alice).await.unwrap();

    let found = c
        .find_user_by_external_id(&alice.external_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*found.id, *id);
    assert_eq!(found.user_name, alice.user_name);
    assert_eq!(found.email, alice.email);
    assert_eq!(found.given_name.as_deref(), Some("User"));
    assert!(found.active);
    let by_name = c
        .find_user_by_user_name("USER1@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*by_name.id, *id);
    assert!(c
        .find_user_by_external_id("S-1-5-nope")
        .await
        .unwrap()
        .is_none());

    // Update every field; only the ones listed are sent.
    let changed = UserAttributes {
        user_name: "alice@example.com".into(),
        display_name: "Alice Liddell".into(),
        given_name: "Alice".into(),
        family_name: "Liddell".into(),
        email: Some("alice@example.org".into()),
        active: true,
        ..alice.clone()
    };
    c.update_user(&id, &changed, &[UserField::GivenName])
        .await
        .unwrap();
    let d = emu.dump();
    let rec = d.user_by_id(&id).unwrap();
    assert_eq!(rec.given_name.as_deref(), Some("Alice"));
    assert_eq!(
        rec.family_name.as_deref(),
        Some("Number1"),
        "not in `changed`, not sent"
    );
    c.update_user(
        &id,
        &changed,
        &[
            UserField::UserName,
            UserField::DisplayName,
            UserField::FamilyName,
            UserField::Email,
            UserField::Active,
        ],
    )
    .await
    .unwrap();
    let d = emu.dump();
    let rec = d.user_by_id(&id).unwrap();
    assert_eq!(rec.user_name, "alice@example.com");
    assert_eq!(rec.display_name.as_deref(), Some("Alice Liddell"));
    assert_eq!(rec.family_name.as_deref(), Some("Liddell"));
    assert_eq!(rec.email.as_deref(), Some("alice@example.org"));
    let before = emu.counters().writes;
    c.update_user(&id, &changed, &[]).await.unwrap();
    assert_eq!(
        emu.counters().writes,
        before,
        "nothing changed, nothing sent"
    );

    // Removing the email.
    let no_mail = UserAttributes {
        email: None,
        ..changed.clone()
    };
    c.update_user(&id, &no_mail, &[UserField::Email])
        .await
        .unwrap();
    assert_eq!(emu.dump().user_by_id(&id).unwrap().email, None);

    c.set_user_active(&id, false).await.unwrap();
    assert!(!emu.dump().user_by_id(&id).unwrap().active);
    assert!(!c.list_users().await.unwrap()[0].active);
    c.set_user_active(&id, true).await.unwrap();
    assert!(emu.dump().user_by_id(&id).unwrap().active);

    c.delete_user(&id).await.unwrap();
    assert!(emu.dump().user_records.is_empty());
    c.delete_user(&id).await.expect("already gone is fine");

    let err = c.set_user_active(&id, false).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let counts = c.request_counts();
    assert!(counts.reads > 0 && counts.writes > 0);
    assert_eq!(counts.by_kind.get("create_user"), Some(&1));
    assert_eq!(counts.by_kind.get("delete_user"), Some(&2));
    emu.shutdown().await;
}

#[tokio::test]
async fn group_lifecycle() {
    let emu = start(Behaviour::default()).await;
    let c = client(&emu);
    let id = c.create_group("aws-admins", &guid(1)).await.unwrap();
    let g = c
        .find_group_by_external_id(&guid(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (g.id.as_str(), g.display_name.as_str()),
        (id.as_str(), "aws-admins")
    );
    assert_eq!(g.external_id.as_deref(), Some(guid(1).as_str()));
    assert_eq!(
        c.find_group_by_display_name("AWS-Admins")
            .await
            .unwrap()
            .unwrap()
            .id,
        id
    );
    assert!(c
        .find_group_by_display_name("other")
        .await
        .unwrap()
        .is_none());

    c.rename_group(&id, "aws-administrators").await.unwrap();
    c.set_group_external_id(&id, &guid(2)).await.unwrap();
    let d = emu.dump();
    let rec = d.group("aws-administrators").unwrap();
    assert_eq!(rec.id, id, "renamed in place");
    assert_eq!(rec.external_id.as_deref(), Some(guid(2).as_str()));

    let groups = c.list_groups().await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].member_ids, None);

    c.delete_group(&id).await.unwrap();
    assert!(emu.dump().groups.is_empty());
    c.delete_group(&id).await.expect("already gone is fine");
    let err = c.rename_group(&id, "x").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    // Never a PUT on a group.
    assert_eq!(emu.counters().route_total("PUT /Groups/{id}"), 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn pagination_follows_cursors_through_short_pages() {
    let emu = start(Behaviour {
        short_pages: true,
        short_page_rate: 0.5,
        ..Behaviour::default()
    })
    .await;
    let c = client(&emu);
    let ids = create_users(&c, 0..260).await;
    try_join_all((0..130).map(|i| {
        let c = c.clone();
        async move { c.create_group(&format!("group-{i}"), &guid(i)).await }
    }))
    .await
    .unwrap();
    emu.reset_counters();

    let users = c.list_users().await.unwrap();
    let listed: BTreeSet<String> = users.iter().map(|u| u.id.to_string()).collect();
    assert_eq!(users.len(), 260, "no user twice");
    assert_eq!(listed, ids.iter().cloned().collect());
    let pages = emu.counters().route("GET /Users 200");
    assert!(pages >= 3, "260 users need at least 3 pages, got {pages}");

    let groups = c.list_groups().await.unwrap();
    let names: BTreeSet<String> = groups.iter().map(|g| g.display_name.clone()).collect();
    assert_eq!(groups.len(), 130);
    assert_eq!(names.len(), 130);
    emu.shutdown().await;
}

#[tokio::test]
async fn member_changes_are_chunked_at_100_and_read_back_with_paging() {
    let emu = start(Behaviour {
        short_pages: true,
        ..Behaviour::default()
    })
    .await;
    let c = client(&emu);
    let ids = create_users(&c, 0..250).await;
    let gid = c.create_group("big", &guid(1)).await.unwrap();
    emu.reset_counters();

    // Duplicates in the input are sent once.
    let mut with_dupes = ids.clone();
    with_dupes.extend_from_slice(&ids[..10]);
    c.add_members(&gid, &with_dupes).await.unwrap();
    assert_eq!(emu.counters().route("PATCH /Groups/{id} 204"), 3);
    assert_eq!(emu.counters().route_total("PATCH /Groups/{id}"), 3);
    assert_eq!(emu.dump().group("big").unwrap().member_ids.len(), 250);

    let members = c.group_member_ids(&gid).await.unwrap();
    assert_eq!(members, ids.iter().map(|i| i.as_str().into()).collect());

    emu.reset_counters();
    c.remove_members(&gid, &ids[..120]).await.unwrap();
    assert_eq!(emu.counters().route("PATCH /Groups/{id} 204"), 2);
    let left: BTreeSet<String> = emu
        .dump()
        .group("big")
        .unwrap()
        .member_ids
        .iter()
        .cloned()
        .collect();
    assert_eq!(left, ids[120..].iter().cloned().collect::<BTreeSet<_>>());
    assert_eq!(
        c.group_member_ids(&gid).await.unwrap(),
        ids[120..].iter().map(|i| i.as_str().into()).collect()
    );
    c.add_members(&gid, &[]).await.unwrap();
    emu.shutdown().await;
}

#[tokio::test]
async fn additions_and_removals_share_patches_of_at_most_100_changes() {
    let emu = start(Behaviour::default()).await;
    let c = client(&emu);
    let ids = create_users(&c, 0..200).await;
    let gid = c.create_group("mixed", &guid(2)).await.unwrap();
    c.add_members(&gid, &ids[..90]).await.unwrap();
    emu.reset_counters();

    // 110 additions and 40 removals: 150 changes, so two PATCHes, not three.
    c.change_members(&gid, &ids[90..], &ids[..40])
        .await
        .unwrap();
    assert_eq!(emu.counters().route_total("PATCH /Groups/{id}"), 2);
    let want: BTreeSet<Arc<str>> = ids[40..].iter().map(|i| i.as_str().into()).collect();
    assert_eq!(c.group_member_ids(&gid).await.unwrap(), want);
    emu.shutdown().await;
}

#[tokio::test]
async fn duplicate_adds_and_non_member_removes_succeed_under_every_switch() {
    for behaviour in emulator::member_switches() {
        let label = format!("{behaviour:?}");
        let emu = start(behaviour).await;
        let c = client(&emu);
        let ids = create_users(&c, 0..5).await;
        let gid = c.create_group("g", &guid(1)).await.unwrap();
        c.add_members(&gid, &ids[..3]).await.unwrap();
        // Two already present, two new.
        c.add_members(&gid, &ids[1..5]).await.unwrap();
        // All present.
        c.add_members(&gid, &ids[..5]).await.unwrap();
        assert_eq!(
            emu.dump().group("g").unwrap().member_ids.len(),
            5,
            "{label}"
        );
        // One member, one non-member.
        c.remove_members(&gid, &ids[..1]).await.unwrap();
        c.remove_members(&gid, &ids[..2]).await.unwrap();
        c.remove_members(&gid, &ids[..2]).await.unwrap();
        let left: BTreeSet<String> = emu
            .dump()
            .group("g")
            .unwrap()
            .member_ids
            .iter()
            .cloned()
            .collect();
        assert_eq!(
            left,
            ids[2..].iter().cloned().collect::<BTreeSet<_>>(),
            "{label}"
        );
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn a_member_change_refused_for_another_reason_is_reported() {
    let emu = start(Behaviour::default()).await;
    let c = client(&emu);
    let gid = c.create_group("g", &guid(1)).await.unwrap();
    let err = c
        .add_members(&gid, &["no-such-user".to_string()])
        .await
        .unwrap_err();
    assert!(matches!(err, ScimError::BadRequest { .. }), "{err}");
    assert!(err.to_string().contains(&gid), "{err}");
    emu.shutdown().await;
}

#[tokio::test]
async fn conflicts_name_what_collides() {
    let emu = start(Behaviour::default()).await;
    let c = client(&emu);
    let holder = c.create_user(&user(1)).await.unwrap();
    let clash = UserAttributes {
        external_id: sid(2),
        email: Some("someone.else@example.com".into()),
        ..user(1)
    };
    let err = c.create_user(&clash).await.unwrap_err();
    assert!(err.is_conflict(), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("userName") && msg.contains(&holder), "{msg}");
    assert!(
        msg.contains(&sid(2)),
        "names the object being created: {msg}"
    );

    // Same email, different userName and anchor: only the email can explain the 409.
    let email_clash = UserAttributes {
        external_id: sid(3),
        user_name: "other@example.com".into(),
        ..user(1)
    };
    let err = c.create_user(&email_clash).await.unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert!(err.to_string().contains("user1@example.com"), "{err}");

    let gid = c.create_group("admins", &guid(1)).await.unwrap();
    let err = c.create_group("Admins", &guid(2)).await.unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert!(err.to_string().contains(&gid), "{err}");
    let other = c.create_group("others", &guid(3)).await.unwrap();
    let err = c.rename_group(&other, "admins").await.unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert!(err.to_string().contains(&gid), "names the holder: {err}");
    let second = c.create_user(&user(5)).await.unwrap();
    let taken = UserAttributes {
        user_name: "USER1@example.com".into(),
        ..user(5)
    };
    let err = c
        .update_user(&second, &taken, &[UserField::UserName])
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert!(err.to_string().contains(&holder), "names the holder: {err}");

    // Nothing was created twice.
    let d = emu.dump();
    assert_eq!(d.user_records.len(), 2);
    assert_eq!(d.groups.len(), 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_adopted_not_duplicated() {
    for echo in [true, false] {
        let emu = start_with(
            Behaviour {
                echo_group_external_id: echo,
                ..Behaviour::default()
            },
            // Every applied write loses its answer: the retry meets 409.
            Faults {
                lost_response_rate: 1.0,
                ..Faults::default()
            },
        )
        .await;
        let c = client(&emu);
        let uid = c.create_user(&user(1)).await.unwrap();
        let gid = c.create_group("team", &guid(1)).await.unwrap();
        let counters = emu.counters();
        assert_eq!(counters.route("POST /Users lost"), 1);
        assert_eq!(counters.route("POST /Users 409"), 1);
        assert_eq!(counters.route("POST /Groups 409"), 1);
        let d = emu.dump();
        assert_eq!(d.user_records.len(), 1, "echo={echo}");
        assert_eq!(d.user_records[0].id, uid);
        assert_eq!(d.groups.len(), 1, "echo={echo}");
        assert_eq!(d.groups[0].id, gid);
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn adoption_waits_for_an_object_that_is_not_visible_yet() {
    let emu = start_with(
        Behaviour {
            echo_group_external_id: false,
            ..Behaviour::default()
        },
        Faults {
            lost_response_rate: 1.0,
            visibility_delay_ms: 300,
            ..Faults::default()
        },
    )
    .await;
    let c = client(&emu);
    let uid = c.create_user(&user(1)).await.unwrap();
    let gid = c.create_group("team", &guid(1)).await.unwrap();
    let d = emu.dump();
    assert_eq!(d.user_records.len(), 1);
    assert_eq!(d.user_records[0].id, uid);
    assert_eq!(d.groups.len(), 1);
    assert_eq!(d.groups[0].id, gid);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_foreign_object_holding_our_values_is_never_adopted() {
    let emu = start(Behaviour::default()).await;
    let c = client(&emu);
    // A user made by someone else with our userName but another anchor.
    let theirs = UserAttributes {
        external_id: "manual-123".into(),
        ..user(1)
    };
    let their_id = c.create_user(&theirs).await.unwrap();
    let err = c.create_user(&user(1)).await.unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert!(err.to_string().contains(&their_id));
    emu.shutdown().await;
}

#[tokio::test]
async fn filter_unsafe_values_are_found_through_listings() {
    let emu = start(Behaviour::default()).await;
    let c = client(&emu);
    let odd = UserAttributes {
        external_id: r#"S-1-5-"odd\"#.into(),
        user_name: r#"o"brien\x@example.com"#.into(),
        ..user(1)
    };
    let id = c.create_user(&odd).await.unwrap();
    emu.reset_counters();
    let found = c
        .find_user_by_external_id(&odd.external_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*found.id, *id);
    let found = c
        .find_user_by_user_name(&odd.user_name)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*found.id, *id);
    let gid = c
        .create_group(r#"the "quoted" \ group"#, &guid(1))
        .await
        .unwrap();
    emu.reset_counters();
    let g = c
        .find_group_by_display_name(r#"the "quoted" \ group"#)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g.id, gid);
    // No request carried a filter: the emulator would have answered 400 to a broken one,
    // and only unfiltered listings were made.
    let counters = emu.counters();
    assert_eq!(counters.by_status.get("400"), None);
    assert_eq!(counters.route("GET /Groups 200"), 1);

    // Adoption after a lost answer also works for such a user.
    emu.set_faults(Faults {
        lost_response_rate: 1.0,
        ..Faults::default()
    });
    let odd2 = UserAttributes {
        external_id: r#"S-1-5-"odd2"#.into(),
        user_name: r#"x"y@example.com"#.into(),
        email: Some("odd2@example.com".into()),
        ..user(2)
    };
    let id2 = c.create_user(&odd2).await.unwrap();
    assert_eq!(
        emu.dump()
            .user_by_external_id(&odd2.external_id)
            .unwrap()
            .id,
        id2
    );
    assert_eq!(emu.dump().user_records.len(), 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_rejected_token_names_the_secret_and_never_the_token() {
    let emu = start(Behaviour::default()).await;
    let wrong = "wrong-token-d41d8cd98f00b204e9800998ecf8427e";
    let c = ScimClient::new(ScimClientConfig {
        token: Secret::new(wrong),
        ..fast_config(&emu)
    })
    .unwrap();
    let err = c.list_users().await.unwrap_err();
    assert!(err.is_auth_failure(), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("401") && msg.contains(TOKEN_SECRET_ID),
        "{msg}"
    );
    assert!(msg.contains("list users"), "{msg}");
    let dbg = format!("{err:?} {c:?} {:?}", fast_config(&emu));
    for text in [&msg, &dbg] {
        assert!(
            !text.contains(wrong) && !text.contains(TOKEN),
            "token leaked: {text}"
        );
    }
    assert_eq!(emu.counters().unauthorized, 1, "a 401 is not retried");

    // Rotation: the old token is revoked, the client fails until it gets the new one.
    let good = client(&emu);
    good.create_user(&user(1)).await.unwrap();
    let new_token = "tok-rotated-0000000000000000000000000000";
    emu.rotate_token(new_token);
    emu.revoke_token(TOKEN);
    let err = good.create_user(&user(2)).await.unwrap_err();
    assert!(err.is_auth_failure());
    assert!(!err.to_string().contains(new_token) && !err.to_string().contains(TOKEN));
    good.set_token(Secret::new(new_token));
    let clone = good.clone();
    clone
        .create_user(&user(2))
        .await
        .expect("clones share the token");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_wrong_endpoint_is_reported_as_a_configuration_error() {
    let tenant = "kE3934e0444-9ba8-41e7-b468-2fecf5b4fa22";
    let emu = Emulator::start(EmulatorConfig {
        token: TOKEN.to_string(),
        tenant: Some(tenant.to_string()),
        behaviour: Behaviour {
            wrong_tenant_not_found: true,
            ..Behaviour::default()
        },
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let wrong_tenant = |emu: &idc_emulator::RunningEmulator| {
        ScimClient::new(ScimClientConfig {
            base_url: ScimEndpoint::parse(
                &emu.base_url()
                    .replace(tenant, "f3vd2aa29dc-223c-4e5c-91b9-8ca1bb1faf7b"),
            )
            .unwrap(),
            ..fast_config(emu)
        })
        .unwrap()
    };
    // The 2022 answer to a wrong tenant: 404 "TENANT does not exist.".
    let c = wrong_tenant(&emu);
    let err = c.check_endpoint().await.unwrap_err();
    assert!(matches!(err, ScimError::EndpointNotFound { .. }), "{err}");
    assert!(err.to_string().contains("tenant"), "{err}");
    let err = c.list_groups().await.unwrap_err();
    assert!(matches!(err, ScimError::EndpointNotFound { .. }), "{err}");
    let err = c.create_user(&user(1)).await.unwrap_err();
    assert!(matches!(err, ScimError::EndpointNotFound { .. }), "{err}");
    // The documented answer: 401, whose message names re-enabled provisioning.
    emu.set_behaviour(Behaviour::default());
    let err = c.list_users().await.unwrap_err();
    assert!(err.is_auth_failure(), "{err}");
    assert!(err.to_string().contains("re-enabled"), "{err}");

    // A wrong path under the right host.
    let c = ScimClient::new(ScimClientConfig {
        base_url: ScimEndpoint::parse(&emu.base_url().replace("/scim/v2/", "/scim/v3/")).unwrap(),
        ..fast_config(&emu)
    })
    .unwrap();
    let err = c.check_endpoint().await.unwrap_err();
    assert!(matches!(err, ScimError::EndpointNotFound { .. }), "{err}");

    // The URL without its trailing slash works as well as with it.
    let c = ScimClient::new(ScimClientConfig {
        base_url: ScimEndpoint::parse(emu.base_url().trim_end_matches('/')).unwrap(),
        ..fast_config(&emu)
    })
    .unwrap();
    assert!(c.base_url().ends_with(&format!("/{tenant}/scim/v2/")));
    c.list_users().await.unwrap();
    c.check_endpoint().await.unwrap();
    let bad_token = ScimClient::new(ScimClientConfig {
        token: Secret::new("nope"),
        ..fast_config(&emu)
    })
    .unwrap();
    assert!(bad_token
        .check_endpoint()
        .await
        .unwrap_err()
        .is_auth_failure());

    // The endpoint is checked where it is parsed, before any client exists.
    let err = ScimEndpoint::parse("http://scim.us-east-1.amazonaws.com/t/scim/v2/").unwrap_err();
    assert!(err.contains("https://"), "{err}");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_bad_request_quotes_identity_centers_detail() {
    let emu = start(Behaviour::default()).await;
    let c = client(&emu);
    let bad = UserAttributes {
        given_name: String::new(),
        ..user(1)
    };
    let err = c.create_user(&bad).await.unwrap_err();
    let ScimError::BadRequest { detail, .. } = &err else {
        panic!("expected 400, got {err}");
    };
    assert!(!detail.is_empty());
    assert!(err.to_string().contains(detail.as_str()), "{err}");
    assert!(err.to_string().contains(&sid(1)), "{err}");
    emu.shutdown().await;
}

#[tokio::test]
async fn read_state_finds_owned_groups_whether_or_not_external_ids_are_echoed() {
    for echo in [true, false] {
        let emu = start(Behaviour {
            echo_group_external_id: echo,
            short_pages: true,
            ..Behaviour::default()
        })
        .await;
        let c = client(&emu);
        let ids = create_users(&c, 0..120).await;
        let ours1 = c.create_group("aws-one", &guid(1)).await.unwrap();
        let ours2 = c.create_group("aws-two", &guid(2)).await.unwrap();
        let theirs = c.create_group("manual", "someone-elses").await.unwrap();
        c.add_members(&ours1, &ids[..110]).await.unwrap();
        c.add_members(&theirs, &ids[..3]).await.unwrap();

        let wanted: BTreeSet<String> = [guid(1), guid(2), guid(3)].into_iter().collect();
        let snap = c.read_state(&wanted).await.unwrap();
        assert!(snap.read_errors.is_empty(), "{:?}", snap.read_errors);
        assert_eq!(snap.users.len(), 120);
        assert_eq!(snap.groups.len(), 3);
        let by_id = |id: &str| snap.groups.iter().find(|g| g.id == id).unwrap();
        let one = by_id(&ours1);
        assert_eq!(
            one.external_id.as_deref(),
            Some(guid(1).as_str()),
            "echo={echo}"
        );
        assert_eq!(
            one.member_ids.as_ref().unwrap(),
            &ids[..110]
                .iter()
                .map(|i| i.as_str().into())
                .collect::<BTreeSet<_>>()
        );
        let two = by_id(&ours2);
        assert_eq!(two.external_id.as_deref(), Some(guid(2).as_str()));
        assert_eq!(two.member_ids.as_ref().unwrap().len(), 0);
        let foreign = by_id(&theirs);
        assert_eq!(
            foreign.member_ids, None,
            "members of foreign groups are not read"
        );
        if echo {
            assert_eq!(foreign.external_id.as_deref(), Some("someone-elses"));
        } else {
            assert_eq!(foreign.external_id, None);
        }
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn read_state_without_echo_finds_a_lone_owned_group() {
    // No group in the listing shows an externalId: every wanted one must be looked up.
    let emu = start(Behaviour {
        echo_group_external_id: false,
        ..Behaviour::default()
    })
    .await;
    let c = client(&emu);
    let gid = c.create_group("aws-only", &guid(9)).await.unwrap();
    c.create_group("foreign", "x-1").await.unwrap();
    emu.reset_counters();
    let wanted: BTreeSet<String> = [guid(9), guid(10)].into_iter().collect();
    let snap = c.read_state(&wanted).await.unwrap();
    let g = snap.groups.iter().find(|g| g.id == gid).unwrap();
    assert_eq!(g.external_id.as_deref(), Some(guid(9).as_str()));
    assert!(g.member_ids.is_some());
    assert_eq!(c.request_counts().by_kind.get("find_group"), Some(&2));
    emu.shutdown().await;
}

#[tokio::test]
async fn a_group_created_moments_ago_is_retried_through_read_after_write_lag() {
    let emu = start_with(
        Behaviour::default(),
        Faults {
            visibility_delay_ms: 300,
            ..Faults::default()
        },
    )
    .await;
    let c = client(&emu);
    let uid = c.create_user(&user(1)).await.unwrap();
    let gid = c.create_group("fresh", &guid(1)).await.unwrap();
    c.rename_group(&gid, "fresh-renamed").await.unwrap();
    c.add_members(&gid, std::slice::from_ref(&uid))
        .await
        .unwrap();
    let d = emu.dump();
    assert_eq!(d.group("fresh-renamed").unwrap().member_ids, vec![uid]);
    assert!(
        emu.counters().route("PATCH /Groups/{id} 404") >= 1,
        "the lag was really met"
    );

    // A user created moments ago cannot be added yet (400 for an unknown member): retried.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let late = c.create_user(&user(2)).await.unwrap();
    emu.reset_counters();
    c.add_members(&gid, std::slice::from_ref(&late))
        .await
        .unwrap();
    assert!(emu.counters().route("PATCH /Groups/{id} 400") >= 1);
    assert_eq!(
        emu.dump().group("fresh-renamed").unwrap().member_ids.len(),
        2
    );
    emu.shutdown().await;
}

/// A new group's first 100 members travel inside its `POST /Groups` (AWS's CreateGroup takes
/// up to 100); only members beyond that cost PATCHes of 100.
#[tokio::test]
async fn a_new_group_carries_its_first_100_members_in_its_create() {
    let emu = start(Behaviour::default()).await;
    let c = client(&emu);
    let ids: Vec<String> = (0..250)
        .map(|i| {
            let u = user(i);
            emu.insert_user(&serde_json::json!({
                "userName": u.user_name, "externalId": u.external_id,
                "displayName": u.display_name,
                "name": {"givenName": u.given_name, "familyName": u.family_name},
            }))
            .unwrap()
        })
        .collect();
    let members_of = |id: &str| -> BTreeSet<String> {
        emu.dump()
            .groups
            .iter()
            .find(|g| g.id == id)
            .map(|g| g.member_ids.iter().cloned().collect())
            .unwrap_or_default()
    };

    emu.reset_counters();
    let small = c
        .create_group_with_members("aws-small", &guid(1), &ids[..100])
        .await
        .unwrap();
    let counters = emu.counters();
    assert_eq!(counters.route("POST /Groups 201"), 1);
    assert_eq!(
        counters.route_total("PATCH /Groups/{id}"),
        0,
        "{counters:?}"
    );
    assert_eq!(members_of(&small), ids[..100].iter().cloned().collect());

    emu.reset_counters();
    let big = c
        .create_group_with_members("aws-big", &guid(2), &ids)
        .await
        .unwrap();
    let counters = emu.counters();
    assert_eq!(counters.route("POST /Groups 201"), 1);
    assert_eq!(
        counters.route("PATCH /Groups/{id} 204"),
        2,
        "150 more in 2 PATCHes"
    );
    assert_eq!(members_of(&big), ids.iter().cloned().collect());

    // No members: the plain create, as before.
    let empty = c
        .create_group_with_members("aws-empty", &guid(3), &[])
        .await
        .unwrap();
    assert!(members_of(&empty).is_empty());
    emu.shutdown().await;
}

/// A member the service refuses in the create (here: an id it does not know) does not cost the
/// group: it is created empty and the members go through the PATCH path, whose 400 handling
/// reports what cannot be added.
#[tokio::test]
async fn a_create_whose_members_are_refused_still_creates_the_group() {
    let emu = start(Behaviour::default()).await;
    let c = client(&emu);
    let known = c.create_user(&user(1)).await.unwrap();
    let err = c
        .create_group_with_members(
            "aws-mixed",
            &guid(1),
            &[known.clone(), "no-such-user".into()],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ScimError::BadRequest { .. }), "{err}");
    let d = emu.dump();
    assert_eq!(d.groups.len(), 1, "the group exists once");
    assert_eq!(emu.counters().route("POST /Groups 400"), 1);
    assert_eq!(emu.counters().route("POST /Groups 201"), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn optional_attributes_round_trip_and_change_in_one_patch() {
    use scim_sync::model::settings::UserAttribute as A;
    let emu = start(Behaviour::default()).await;
    let c = client(&emu);
    let boss = c.create_user(&user(2)).await.unwrap();
    let mut u = user(1);
    let wanted: Vec<(A, std::sync::Arc<str>)> = vec![
        (A::Title, "Engineer".into()),
        (A::WorkPhone, "+49 30 1234".into()),
        (A::StreetAddress, "Hauptstr. 1".into()),
        (A::Locality, "Berlin".into()),
        (A::Country, "DE".into()),
        (A::EmployeeNumber, "701984".into()),
        (A::Organization, "Corp".into()),
        (A::Department, "R&D".into()),
        (A::Manager, boss.as_str().into()),
    ];
    u.attributes = wanted.into_iter().collect();
    let id = c.create_user(&u).await.unwrap();
    let read = c
        .find_user_by_external_id(&u.external_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.attributes, u.attributes);

    // Title changed, department and the locality removed, the rest of the address kept.
    let mut next = u.clone();
    next.attributes.insert(A::Title, "Lead".into());
    next.attributes.remove(&A::Department);
    next.attributes.remove(&A::Locality);
    emu.reset_counters();
    c.update_user(
        &id,
        &next,
        &[
            UserField::Attribute(A::Title),
            UserField::Attribute(A::Department),
            UserField::Attribute(A::Locality),
        ],
    )
    .await
    .unwrap();
    assert_eq!(emu.counters().writes, 1, "{:?}", emu.counters().by_route);
    let read = c
        .find_user_by_external_id(&u.external_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.attributes, next.attributes);

    // Every part of the address removed: the address goes.
    let mut bare = next.clone();
    for a in [A::StreetAddress, A::Country] {
        bare.attributes.remove(&a);
    }
    c.update_user(
        &id,
        &bare,
        &[
            UserField::Attribute(A::StreetAddress),
            UserField::Attribute(A::Country),
        ],
    )
    .await
    .unwrap();
    let read = c
        .find_user_by_external_id(&u.external_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.attributes, bare.attributes);
}

#[tokio::test]
async fn set_manager_is_one_patch_of_the_manager_alone() {
    use scim_sync::model::settings::UserAttribute as A;
    let emu = start(Behaviour::default()).await;
    let c = client(&emu);
    let boss = c.create_user(&user(2)).await.unwrap();
    let mut u = user(1);
    u.attributes = [(A::Title, "Engineer".into())].into_iter().collect();
    let id = c.create_user(&u).await.unwrap();
    emu.reset_counters();
    c.set_manager(&id, &boss).await.unwrap();
    assert_eq!(emu.counters().writes, 1, "{:?}", emu.counters().by_route);
    assert_eq!(emu.counters().route("PATCH /Users/{id} 200"), 1);
    let read = c
        .find_user_by_external_id(&u.external_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        read.attributes.get(&A::Manager).map(|v| &**v),
        Some(boss.as_str())
    );
    assert_eq!(
        read.attributes.get(&A::Title).map(|v| &**v),
        Some("Engineer"),
        "nothing else touched"
    );
    emu.shutdown().await;
}
