//! /Users over real HTTP: every AWS constraint rejected in AWS's error shape (spec §2).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/env.rs"]
mod env;

use env::{assert_aws_error, patch_op, user_body, Env, UNPARSABLE};
use idc_emulator::{Behaviour, EmulatorConfig};
use serde_json::{json, Value};

#[tokio::test]
async fn create_get_put_delete_round_trip() {
    let env = Env::start().await;
    let created = env.post("Users", &user_body("alice")).await;
    assert_eq!(created.status, 201);
    assert_eq!(created.headers["content-type"], "application/json");
    assert!(created.headers.get("x-amzn-requestid").is_some());
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["meta"]["resourceType"], "User");
    assert!(created.body["meta"].get("location").is_none());
    assert!(created.body["meta"]["created"]
        .as_str()
        .unwrap()
        .ends_with('Z'));

    let got = env.get(&format!("Users/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["userName"], "alice");
    assert_eq!(got.body["emails"][0]["primary"], true);

    // PUT replaces: the omitted email is cleared, id may be in the body.
    let mut body = user_body("alice2");
    body["id"] = json!(id);
    body.as_object_mut().unwrap().remove("emails");
    let put = env.put(&format!("Users/{id}"), &body).await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["id"], json!(id));
    assert_eq!(put.body["userName"], "alice2");
    assert!(put.body.get("emails").is_none());

    assert_eq!(env.delete(&format!("Users/{id}")).await.status, 204);
    assert_aws_error(&env.get(&format!("Users/{id}")).await, 404);
    assert_aws_error(&env.delete(&format!("Users/{id}")).await, 404);
    assert_aws_error(&env.put(&format!("Users/{id}"), &body).await, 404);
}

#[tokio::test]
async fn accepts_json_with_or_without_content_type_and_schemas() {
    let env = Env::start().await;
    let mut body = user_body("nocontenttype");
    body.as_object_mut().unwrap().remove("schemas");
    let resp = env
        .http
        .post(env.url("Users"))
        .bearer_auth(env::TOKEN)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    // Double slash between base and resource works too.
    let resp = env
        .http
        .get(format!("{}/Users", env.emu.base_url()))
        .bearer_auth(env::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test]
async fn required_attributes_are_enforced() {
    let env = Env::start().await;
    for (path, missing) in [
        ("/userName", "userName"),
        ("/name/givenName", "name.givenName"),
        ("/name/familyName", "name.familyName"),
        ("/displayName", "displayName"),
    ] {
        let mut body = user_body("req");
        let (parent, leaf) = path.rsplit_once('/').unwrap();
        body.pointer_mut(if parent.is_empty() { "" } else { parent })
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(leaf);
        let detail = assert_aws_error(&env.post("Users", &body).await, 400);
        assert!(
            detail.contains(&format!("Value at '{missing}'")),
            "{detail}"
        );
    }
}

#[tokio::test]
async fn empty_name_gives_the_two_aws_validation_errors() {
    let env = Env::start().await;
    let mut body = user_body("emptyname");
    body["name"]["givenName"] = json!("");
    let detail = assert_aws_error(&env.post("Users", &body).await, 400);
    assert!(detail.starts_with("2 validation errors detected: Value at 'name.givenName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}"), "{detail}");
    assert!(detail.ends_with("Value at 'name.givenName' failed to satisfy constraint: Member must have length greater than or equal to 1"), "{detail}");
}

#[tokio::test]
async fn character_patterns_and_lengths_of_section_2_3() {
    let env = Env::start().await;
    // A single space is a valid name; a zero-width space is not.
    let mut body = user_body("space");
    body["name"]["familyName"] = json!(" ");
    assert_eq!(env.post("Users", &body).await.status, 201);
    let mut body = user_body("zwsp");
    body["name"]["familyName"] = json!("\u{200B}");
    let detail = assert_aws_error(&env.post("Users", &body).await, 400);
    assert!(
        detail.starts_with("1 validation error detected: Value at 'name.familyName'"),
        "{detail}"
    );

    let cases: Vec<(&str, Value, &str)> = vec![
        ("/userName", json!("has space"), "userName"),
        ("/userName", json!("a".repeat(129)), "userName"),
        ("/externalId", json!("CN=Bob Smith,OU=x"), "externalId"),
        ("/externalId", json!("x".repeat(257)), "externalId"),
        ("/displayName", json!("d".repeat(1025)), "displayName"),
        ("/nickName", json!(""), "nickName"),
    ];
    for (ptr, val, attr) in cases {
        let mut body = user_body("limits");
        *body.pointer_mut(ptr).unwrap_or(&mut Value::Null) = val.clone();
        if ptr == "/nickName" {
            body["nickName"] = val;
        }
        let detail = assert_aws_error(&env.post("Users", &body).await, 400);
        assert!(
            detail.contains(&format!("Value at '{attr}'")),
            "{ptr}: {detail}"
        );
    }
    // Boundaries are accepted.
    let mut body = user_body(&"b".repeat(128));
    body["externalId"] = json!("e".repeat(256));
    body["displayName"] = json!("d".repeat(1024));
    assert_eq!(env.post("Users", &body).await.status, 201);
}

#[tokio::test]
async fn multi_valued_attributes_are_single_valued_with_aws_messages() {
    let env = Env::start().await;
    let mut body = user_body("multi");
    body["emails"] = json!([
        {"value": "a@x.com", "type": "work", "primary": true},
        {"value": "b@x.com", "type": "home", "primary": false}
    ]);
    let d = assert_aws_error(&env.post("Users", &body).await, 400);
    assert_eq!(d, "List attribute emails exceeds allowed limit of 1");

    let mut body = user_body("multi");
    body["addresses"] = json!([{"type": "work"}, {"type": "home"}]);
    let d = assert_aws_error(&env.post("Users", &body).await, 400);
    assert_eq!(d, "List attribute addresses allowed limit of 1");

    let mut body = user_body("multi");
    body["phoneNumbers"] = json!([{"value": "1", "type": "work"}, {"value": "2", "type": "home"}]);
    let d = assert_aws_error(&env.post("Users", &body).await, 400);
    assert_eq!(d, "List attribute phoneNumbers exceeds allowed limit of 1");

    // ssosync's address with only a type is accepted.
    let mut body = user_body("multi");
    body["addresses"] = json!([{"type": "work"}]);
    assert_eq!(env.post("Users", &body).await.status, 201);
}

#[tokio::test]
async fn the_single_email_must_be_primary() {
    let env = Env::start().await;
    let mut body = user_body("notprimary");
    body["emails"] = json!([{"value": "np@x.com", "type": "work"}]);
    assert_eq!(
        assert_aws_error(&env.post("Users", &body).await, 400),
        UNPARSABLE
    );
    body["emails"][0]["primary"] = json!(false);
    assert_aws_error(&env.post("Users", &body).await, 400);
}

#[tokio::test]
async fn string_booleans_depend_on_the_lenient_switch() {
    let env = Env::start().await;
    let mut body = user_body("lenient");
    body["active"] = json!("True");
    body["emails"][0]["primary"] = json!("true");
    let a = env.post("Users", &body).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["active"], true);
    assert_eq!(a.body["emails"][0]["primary"], true);

    env.emu.set_behaviour(Behaviour {
        lenient_booleans: false,
        ..Behaviour::default()
    });
    body["userName"] = json!("strict");
    body["externalId"] = json!("S-strict");
    body["emails"][0]["value"] = json!("strict@x.com");
    assert_aws_error(&env.post("Users", &body).await, 400);
}

#[tokio::test]
async fn invalid_json_is_a_400() {
    let env = Env::start().await;
    let resp = env
        .http
        .post(env.url("Users"))
        .bearer_auth(env::TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["detail"], "Invalid JSON from RequestBody");
}

async fn uniqueness_cases(env: &Env, case_insensitive: bool) {
    let first = user_body("Unique.User");
    assert_eq!(env.post("Users", &first).await.status, 201);
    let expect_dup = |s: u16| if case_insensitive { 409 } else { s };
    // Same userName, other email and externalId.
    let mut b = user_body("Unique.User");
    b["externalId"] = json!("S-other-1");
    b["emails"][0]["value"] = json!("other1@example.com");
    assert_aws_error(&env.post("Users", &b).await, 409);
    // userName differing only by case.
    b["userName"] = json!("unique.user");
    let a = env.post("Users", &b).await;
    if case_insensitive {
        let d = assert_aws_error(&a, 409);
        assert_eq!(d, "Refused to create a new, duplicate resource.");
    } else {
        assert_eq!(a.status, expect_dup(201), "{}", a.body);
    }
    // Duplicate primary email.
    let mut b = user_body("email.clash");
    b["emails"][0]["value"] = first["emails"][0]["value"].clone();
    assert_aws_error(&env.post("Users", &b).await, 409);
    // Duplicate externalId.
    let mut b = user_body("ext.clash");
    b["externalId"] = first["externalId"].clone();
    assert_aws_error(&env.post("Users", &b).await, 409);
    // Case variant of the externalId.
    let mut b = user_body("ext.case");
    b["externalId"] = json!(first["externalId"].as_str().unwrap().to_uppercase());
    assert_eq!(env.post("Users", &b).await.status, expect_dup(201));
}

#[tokio::test]
async fn uniqueness_is_case_insensitive_by_default() {
    let env = Env::start().await;
    uniqueness_cases(&env, true).await;
}

#[tokio::test]
async fn uniqueness_can_be_case_exact() {
    let mut cfg = EmulatorConfig::new(env::TOKEN);
    cfg.behaviour.case_insensitive_uniqueness = false;
    let env = Env::start_with(cfg).await;
    uniqueness_cases(&env, false).await;
}

#[tokio::test]
async fn put_and_patch_conflicts_are_409() {
    let env = Env::start().await;
    env.create_user("taken").await;
    let id = env.create_user("mine").await;
    let mut b = user_body("TAKEN");
    b["externalId"] = json!("S-mine-new");
    b["emails"][0]["value"] = json!("mine-new@example.com");
    assert_aws_error(&env.put(&format!("Users/{id}"), &b).await, 409);
    let p = patch_op(json!([{"op": "replace", "path": "userName", "value": "taken"}]));
    assert_aws_error(&env.patch(&format!("Users/{id}"), &p).await, 409);
    // Re-putting your own values is not a conflict.
    assert_eq!(
        env.put(&format!("Users/{id}"), &user_body("mine"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn patch_user_supported_shapes() {
    let env = Env::start().await;
    let id = env.create_user("patchme").await;
    let p = patch_op(json!([
        {"op": "Replace", "path": "name.givenName", "value": "Newgiven"},
        {"op": "REPLACE", "path": "emails[type eq \"work\"].value", "value": "new@example.com"},
        {"op": "replace", "path": "active", "value": false},
        {"op": "add", "path": "title", "value": "Engineer"},
        {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "R&D"}
    ]));
    let a = env.patch(&format!("Users/{id}"), &p).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["name"]["givenName"], "Newgiven");
    assert_eq!(a.body["name"]["familyName"], "Family");
    assert_eq!(a.body["emails"][0]["value"], "new@example.com");
    assert_eq!(a.body["emails"][0]["primary"], true);
    assert_eq!(a.body["active"], false);
    assert_eq!(a.body["title"], "Engineer");
    assert_eq!(
        a.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "R&D"
    );
    // Pathless replace with an object value.
    let p = patch_op(
        json!([{"op": "replace", "value": {"displayName": "Renamed", "active": true, "name": {"familyName": "Fam2"}}}]),
    );
    let a = env.patch(&format!("Users/{id}"), &p).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["displayName"], "Renamed");
    assert_eq!(a.body["active"], true);
    assert_eq!(a.body["name"]["givenName"], "Newgiven");
    assert_eq!(a.body["name"]["familyName"], "Fam2");
    // Remove with a path works on optional attributes.
    let p = patch_op(json!([{"op": "remove", "path": "title"}]));
    let a = env.patch(&format!("Users/{id}"), &p).await;
    assert!(a.body.get("title").is_none());
    // The new email is indexed for uniqueness; the old one is free again.
    let mut b = user_body("other");
    b["emails"][0]["value"] = json!("new@example.com");
    assert_aws_error(&env.post("Users", &b).await, 409);
    b["emails"][0]["value"] = json!("patchme@example.com");
    assert_eq!(env.post("Users", &b).await.status, 201);
}

#[tokio::test]
async fn patch_user_rejections() {
    let env = Env::start().await;
    let id = env.create_user("rules").await;
    let path = format!("Users/{id}");
    let d = assert_aws_error(
        &env.patch(&path, &patch_op(json!([{"op": "remove", "value": "x"}])))
            .await,
        400,
    );
    assert_eq!(d, "Missing path in PATCH request");
    for ops in [
        json!([{"op": "remove", "path": "userName"}]),
        json!([{"op": "remove", "path": "active"}]),
        json!([{"op": "replace", "path": "userName", "value": "a1"}, {"op": "replace", "path": "userName", "value": "a2"}]),
        json!([{"op": "replace", "path": "active", "value": true}, {"op": "replace", "path": "active", "value": false}]),
        json!([{"op": "replace", "path": "password", "value": "x"}]),
        json!([{"op": "move", "path": "title", "value": "x"}]),
        json!([{"op": "replace", "path": "title"}]),
        json!([{"op": "remove", "path": "displayName"}]),
        json!([{"op": "replace", "path": "emails[type co \"work\"].value", "value": "x@y"}]),
        json!([]),
    ] {
        let a = env.patch(&path, &patch_op(ops.clone())).await;
        assert_aws_error(&a, 400);
    }
    // Nothing was applied by the rejected requests.
    let got = env.get(&path).await;
    assert_eq!(got.body["userName"], "rules");
    assert_eq!(got.body["displayName"], "Display rules");
}

#[tokio::test]
async fn unauthenticated_requests_get_401_in_aws_shape() {
    let env = Env::start().await;
    let a = env
        .raw(reqwest::Method::GET, "Users", &[], None, None)
        .await
        .unwrap();
    assert_aws_error(&a, 401);
    let a = env
        .raw(reqwest::Method::GET, "Users", &[], None, Some("wrong"))
        .await
        .unwrap();
    assert_aws_error(&a, 401);
}

#[tokio::test]
async fn token_rotation_keeps_at_most_two_tokens() {
    let env = Env::start().await;
    let ok = |t: &'static str| {
        let env = &env;
        async move {
            env.raw(
                reqwest::Method::GET,
                "ServiceProviderConfig",
                &[],
                None,
                Some(t),
            )
            .await
            .unwrap()
            .status
        }
    };
    assert_eq!(ok(env::TOKEN).await, 200);
    env.emu.rotate_token("second");
    assert_eq!(ok(env::TOKEN).await, 200);
    assert_eq!(ok("second").await, 200);
    assert!(env.emu.add_token("third").is_err(), "AWS allows two tokens");
    assert_eq!(ok("third").await, 401);
    env.emu.revoke_token(env::TOKEN);
    assert_eq!(ok(env::TOKEN).await, 401);
    assert!(env.emu.add_token("third").is_ok());
    env.emu.expire_token("second");
    assert_eq!(ok("second").await, 401);
    assert_eq!(ok("third").await, 200);
    // A token with a lifetime stops working once it is over.
    env.emu.revoke_token("second");
    env.emu
        .rotate_token_with_ttl("short-lived", std::time::Duration::from_millis(1));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(ok("short-lived").await, 401);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_aws_shape() {
    let env = Env::start().await;
    assert_aws_error(&env.get("Bulk").await, 404);
    let id = env.create_user("method").await;
    let a = env.post(&format!("Users/{id}"), &user_body("method")).await;
    assert_aws_error(&a, 405);
}

#[tokio::test]
async fn tenant_urls_and_wrong_tenants() {
    let mut cfg = EmulatorConfig::new(env::TOKEN);
    cfg.tenant = Some("kE3934e0444-9ba8-41e7-b468-2fecf5b4fa22".into());
    let env = Env::start_with(cfg).await;
    assert!(env
        .emu
        .base_url()
        .ends_with("/kE3934e0444-9ba8-41e7-b468-2fecf5b4fa22/scim/v2/"));
    let id = env.create_user("tenanted").await;
    assert_eq!(env.get(&format!("Users/{id}")).await.status, 200);
    assert_eq!(env.emu.counters().route("GET /Users/{id} 200"), 1);
    let wrong = |base: String| {
        let env = &env;
        async move {
            let r = env
                .http
                .get(format!("{base}Users"))
                .bearer_auth(env::TOKEN)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let root = format!("http://{}/", env.emu.addr());
    let (s, _) = wrong(format!("{root}other-tenant/scim/v2/")).await;
    assert_eq!(s, 401);
    let (s, _) = wrong(format!("{root}scim/v2/")).await;
    assert_eq!(s, 401);
    env.emu.set_behaviour(Behaviour {
        wrong_tenant_not_found: true,
        ..Behaviour::default()
    });
    let (s, body) = wrong(format!("{root}other-tenant/scim/v2/")).await;
    assert_eq!(s, 404);
    assert_eq!(body["detail"], "TENANT does not exist.");
}

#[tokio::test]
async fn discovery_documents_are_served() {
    let env = Env::start().await;
    let spc = env.get("ServiceProviderConfig").await;
    assert_eq!(spc.status, 200);
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(spc.body["bulk"]["supported"], false);
    assert_eq!(spc.body["filter"]["maxResults"], 50);
    assert_eq!(
        spc.body["authenticationSchemes"][0]["type"],
        "oauthbearertoken"
    );
    assert_eq!(
        env.get("Schemas").await.body["Resources"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        env.get("ResourceTypes").await.body["Resources"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let s = env
        .get("Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .await;
    assert_eq!(s.body["name"], "User");
}
