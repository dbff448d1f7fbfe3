//! /Groups over real HTTP: constraints, member PATCH limits, membership filters (spec §3, §4).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/env.rs"]
mod env;

use env::{assert_aws_error, patch_op, Env, UNPARSABLE};
use idc_emulator::{Behaviour, EmulatorConfig, PutGroupAnswer};
use serde_json::{json, Value};

async fn users(env: &Env, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(env.create_user(&format!("{prefix}{i:04}")).await);
    }
    ids
}

fn members(ids: &[String]) -> Value {
    Value::Array(ids.iter().map(|id| json!({"value": id})).collect())
}

#[tokio::test]
async fn create_get_delete_and_members_always_empty() {
    let env = Env::start().await;
    let uids = users(&env, "g", 3).await;
    let a = env
        .post(
            "Groups",
            &json!({"displayName": "Engineers", "externalId": "0f8fad5b-d9cb-469f-a165-70867728950e", "members": members(&uids)}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let gid = a.body["id"].as_str().unwrap().to_string();
    assert_eq!(a.body["meta"]["resourceType"], "Group");
    let got = env.get(&format!("Groups/{gid}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["members"], json!([]));
    assert_eq!(
        got.body["externalId"],
        "0f8fad5b-d9cb-469f-a165-70867728950e"
    );
    assert_eq!(
        env.emu.dump().member_user_names("Engineers"),
        vec!["g0000", "g0001", "g0002"]
    );

    assert_eq!(env.delete(&format!("Groups/{gid}")).await.status, 204);
    assert_aws_error(&env.get(&format!("Groups/{gid}")).await, 404);
    assert_aws_error(&env.delete(&format!("Groups/{gid}")).await, 404);
}

#[tokio::test]
async fn external_id_echo_is_switchable() {
    let mut cfg = EmulatorConfig::new(env::TOKEN);
    cfg.behaviour.echo_group_external_id = false;
    let env = Env::start_with(cfg).await;
    let gid = env.create_group("Quiet", "ext-quiet").await;
    let got = env.get(&format!("Groups/{gid}")).await;
    assert!(got.body.get("externalId").is_none(), "{}", got.body);
    // Still stored, unique and filterable.
    let found = env
        .list("Groups", &[("filter", "externalId eq \"ext-quiet\"")])
        .await;
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(
        env.emu
            .dump()
            .group("Quiet")
            .unwrap()
            .external_id
            .as_deref(),
        Some("ext-quiet")
    );
}

#[tokio::test]
async fn group_constraints() {
    let env = Env::start().await;
    let uids = users(&env, "c", 101).await;
    env.create_group("Dup", "ext-dup").await;
    // displayName and externalId unique, case-insensitively by default.
    assert_aws_error(
        &env.post("Groups", &json!({"displayName": "dup"})).await,
        409,
    );
    assert_aws_error(
        &env.post(
            "Groups",
            &json!({"displayName": "Other", "externalId": "EXT-DUP"}),
        )
        .await,
        409,
    );
    // displayName required and non-empty; externalId has no spaces.
    assert_aws_error(&env.post("Groups", &json!({"externalId": "x"})).await, 400);
    assert_aws_error(&env.post("Groups", &json!({"displayName": ""})).await, 400);
    assert_aws_error(
        &env.post(
            "Groups",
            &json!({"displayName": "G", "externalId": "CN=a b"}),
        )
        .await,
        400,
    );
    // At most 100 members on create; members must be existing users.
    assert_aws_error(
        &env.post(
            "Groups",
            &json!({"displayName": "Big", "members": members(&uids)}),
        )
        .await,
        400,
    );
    assert_eq!(
        env.post(
            "Groups",
            &json!({"displayName": "Big", "members": members(&uids[..100])})
        )
        .await
        .status,
        201
    );
    assert_aws_error(
        &env.post(
            "Groups",
            &json!({"displayName": "Ghost", "members": [{"value": "no-such-user"}]}),
        )
        .await,
        400,
    );
    // A colon is fine nowadays.
    assert_eq!(
        env.post("Groups", &json!({"displayName": "aws:admins"}))
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn put_group_is_rejected_per_switch() {
    let env = Env::start().await;
    let gid = env.create_group("NoPut", "ext-noput").await;
    let body = json!({"displayName": "NoPut2"});
    assert_aws_error(&env.put(&format!("Groups/{gid}"), &body).await, 400);
    env.emu.set_behaviour(Behaviour {
        put_group: PutGroupAnswer::NotFound,
        ..Behaviour::default()
    });
    assert_aws_error(&env.put(&format!("Groups/{gid}"), &body).await, 404);
    env.emu.set_behaviour(Behaviour {
        put_group: PutGroupAnswer::MethodNotAllowed,
        ..Behaviour::default()
    });
    assert_aws_error(&env.put(&format!("Groups/{gid}"), &body).await, 405);
    assert_eq!(env.emu.dump().group("NoPut").unwrap().display_name, "NoPut");
}

#[tokio::test]
async fn patch_group_rename_external_id_and_members() {
    let env = Env::start().await;
    let uids = users(&env, "p", 4).await;
    let gid = env.create_group("Old", "ext-old").await;
    let path = format!("Groups/{gid}");
    // The AWS doc example: pathless replace with an object value.
    let a = env
        .patch(
            &path,
            &patch_op(json!([{"op": "replace", "value": {"id": gid, "displayName": "New"}}])),
        )
        .await;
    assert_eq!(a.status, 204);
    assert_eq!(a.body, Value::Null);
    let a = env
        .patch(
            &path,
            &patch_op(json!([
                {"op": "replace", "path": "externalId", "value": "ext-new"},
                {"op": "add", "path": "members", "value": members(&uids[..3])},
                {"op": "remove", "path": "members", "value": members(&uids[..1])}
            ])),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    let d = env.emu.dump();
    let g = d.group("New").unwrap();
    assert_eq!(g.external_id.as_deref(), Some("ext-new"));
    assert_eq!(d.member_user_names("New"), vec!["p0001", "p0002"]);
    // Path-filtered remove is accepted as equivalent.
    let p =
        patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", uids[1])}]));
    assert_eq!(env.patch(&path, &p).await.status, 204);
    assert_eq!(env.emu.dump().member_user_names("New"), vec!["p0002"]);
    // Rename onto an existing name is 409.
    env.create_group("Taken", "ext-taken").await;
    let p = patch_op(json!([{"op": "replace", "path": "displayName", "value": "taken"}]));
    assert_aws_error(&env.patch(&path, &p).await, 409);
}

#[tokio::test]
async fn patch_group_rejections() {
    let env = Env::start().await;
    let uids = users(&env, "r", 101).await;
    let gid = env.create_group("Rules", "ext-rules").await;
    let path = format!("Groups/{gid}");
    let d = assert_aws_error(
        &env.patch(
            &path,
            &patch_op(json!([{"op": "replace", "path": "members", "value": members(&uids[..2])}])),
        )
        .await,
        400,
    );
    assert_eq!(d, "Replacing group memberships is not supported.");
    let d = assert_aws_error(
        &env.patch(
            &path,
            &patch_op(json!([{"op": "replace", "value": {"members": members(&uids[..2])}}])),
        )
        .await,
        400,
    );
    assert_eq!(d, "Replacing group memberships is not supported.");
    // Valueless or empty remove of members.
    assert_aws_error(
        &env.patch(
            &path,
            &patch_op(json!([{"op": "remove", "path": "members"}])),
        )
        .await,
        400,
    );
    assert_aws_error(
        &env.patch(
            &path,
            &patch_op(json!([{"op": "remove", "path": "members", "value": []}])),
        )
        .await,
        400,
    );
    // More than 100 changes: in one op, and summed over ops.
    let d = assert_aws_error(
        &env.patch(
            &path,
            &patch_op(json!([{"op": "add", "path": "members", "value": members(&uids)}])),
        )
        .await,
        400,
    );
    assert_eq!(d, UNPARSABLE);
    assert_aws_error(
        &env.patch(
            &path,
            &patch_op(json!([
                {"op": "add", "path": "members", "value": members(&uids[..60])},
                {"op": "remove", "path": "members", "value": members(&uids[60..])}
            ])),
        )
        .await,
        400,
    );
    // Exactly 100 is fine.
    assert_eq!(
        env.patch(
            &path,
            &patch_op(json!([
                {"op": "add", "path": "members", "value": members(&uids[..50])},
                {"op": "add", "path": "members", "value": members(&uids[50..100])}
            ]))
        )
        .await
        .status,
        204
    );
    // Unknown member ids, unsupported attributes, remove of displayName.
    assert_aws_error(
        &env.patch(
            &path,
            &patch_op(json!([{"op": "add", "path": "members", "value": [{"value": "nobody"}]}])),
        )
        .await,
        400,
    );
    assert_aws_error(
        &env.patch(
            &path,
            &patch_op(json!([{"op": "replace", "path": "description", "value": "x"}])),
        )
        .await,
        400,
    );
    assert_aws_error(
        &env.patch(
            &path,
            &patch_op(json!([{"op": "remove", "path": "displayName"}])),
        )
        .await,
        400,
    );
    // A rejected request changes nothing (all or nothing).
    assert_aws_error(
        &env.patch(
            &path,
            &patch_op(json!([
                {"op": "remove", "path": "members", "value": members(&uids[..10])},
                {"op": "add", "path": "members", "value": [{"value": "nobody"}]}
            ])),
        )
        .await,
        400,
    );
    assert_eq!(env.emu.dump().group("Rules").unwrap().member_ids.len(), 100);
}

#[tokio::test]
async fn legacy_replace_members_is_a_silent_no_op() {
    let mut cfg = EmulatorConfig::new(env::TOKEN);
    cfg.behaviour.legacy_replace_members_noop = true;
    let env = Env::start_with(cfg).await;
    let uids = users(&env, "l", 2).await;
    let gid = env.create_group("Legacy", "ext-legacy").await;
    let path = format!("Groups/{gid}");
    let add = patch_op(json!([{"op": "add", "path": "members", "value": members(&uids[..1])}]));
    assert_eq!(env.patch(&path, &add).await.status, 204);
    let replace =
        patch_op(json!([{"op": "replace", "path": "members", "value": members(&uids[1..])}]));
    assert_eq!(env.patch(&path, &replace).await.status, 204);
    assert_eq!(env.emu.dump().member_user_names("Legacy"), vec!["l0000"]);
}

#[tokio::test]
async fn duplicate_add_and_non_member_remove_switches() {
    let env = Env::start().await;
    let uids = users(&env, "s", 2).await;
    let gid = env.create_group("Sw", "ext-sw").await;
    let path = format!("Groups/{gid}");
    let add = patch_op(json!([{"op": "add", "path": "members", "value": members(&uids[..1])}]));
    let remove_other =
        patch_op(json!([{"op": "remove", "path": "members", "value": members(&uids[1..])}]));
    assert_eq!(env.patch(&path, &add).await.status, 204);
    assert_eq!(
        env.patch(&path, &add).await.status,
        204,
        "re-add is a no-op by default"
    );
    assert_eq!(
        env.patch(&path, &remove_other).await.status,
        204,
        "removing a non-member is a no-op by default"
    );
    env.emu.set_behaviour(Behaviour {
        duplicate_member_add_is_error: true,
        remove_non_member_is_error: true,
        ..Behaviour::default()
    });
    assert_aws_error(&env.patch(&path, &add).await, 400);
    assert_aws_error(&env.patch(&path, &remove_other).await, 400);
    assert_eq!(env.emu.dump().member_user_names("Sw"), vec!["s0000"]);
}

#[tokio::test]
async fn user_delete_cascades_memberships() {
    let env = Env::start().await;
    let uids = users(&env, "d", 2).await;
    let gid = env.create_group("Casc", "ext-casc").await;
    let p = patch_op(json!([{"op": "add", "path": "members", "value": members(&uids)}]));
    assert_eq!(env.patch(&format!("Groups/{gid}"), &p).await.status, 204);
    assert_eq!(env.delete(&format!("Users/{}", uids[0])).await.status, 204);
    assert_eq!(env.emu.dump().member_user_names("Casc"), vec!["d0001"]);
    let f = format!("groups.value eq \"{gid}\"");
    let (found, _) = env.list_all("Users", Some(&f), "100").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], json!(uids[1]));
}

#[tokio::test]
async fn membership_filters() {
    let env = Env::start().await;
    let uids = users(&env, "m", 3).await;
    let g1 = env.create_group("M1", "ext-m1").await;
    let g2 = env.create_group("M2", "ext-m2").await;
    for (g, who) in [(&g1, &uids[..2]), (&g2, &uids[1..])] {
        let p = patch_op(json!([{"op": "add", "path": "members", "value": members(who)}]));
        assert_eq!(env.patch(&format!("Groups/{g}"), &p).await.status, 204);
    }
    let ids = |v: Vec<Value>| {
        let mut v: Vec<String> = v
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    // Users in a group.
    let (r, _) = env
        .list_all("Users", Some(&format!("groups.value eq \"{g1}\"")), "1")
        .await;
    assert_eq!(ids(r), sorted(uids[..2].to_vec()));
    // Groups of a user.
    let (r, _) = env
        .list_all(
            "Groups",
            Some(&format!("members.value eq \"{}\"", uids[1])),
            "100",
        )
        .await;
    assert_eq!(ids(r), sorted(vec![g1.clone(), g2.clone()]));
    // Membership test, all spellings and both orders.
    for f in [
        format!("id eq \"{g1}\" and members eq \"{}\"", uids[0]),
        format!("members eq \"{}\" and id eq \"{g1}\"", uids[0]),
        format!("id eq \"{g1}\" and member eq \"{}\"", uids[0]),
        format!("id eq \"{g1}\" and members.value eq \"{}\"", uids[0]),
    ] {
        let a = env.list("Groups", &[("filter", &f)]).await;
        assert_eq!(a.body["totalResults"], 1, "{f}: {}", a.body);
        assert_eq!(a.body["Resources"][0]["members"], json!([]));
    }
    let a = env
        .list(
            "Groups",
            &[(
                "filter",
                &format!("id eq \"{g1}\" and members eq \"{}\"", uids[2]),
            )],
        )
        .await;
    assert_eq!(a.body["totalResults"], 0);
    assert_eq!(a.body["Resources"], json!([]));
    // members eq "" is a 400.
    assert_aws_error(
        &env.list(
            "Groups",
            &[("filter", &format!("id eq \"{g1}\" and members eq \"\""))],
        )
        .await,
        400,
    );
}
