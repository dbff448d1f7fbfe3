//! The optional user attributes and the enterprise extension as AWS documents them (spec
//! §2.2, §2.3, §2.5): returned as sent, limits enforced, `manager.value` only, one phone and
//! one address, removal by PATCH path.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/env.rs"]
mod env;

use env::{assert_aws_error, patch_op, user_body, Env};
use serde_json::{json, Value};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn full_body(user_name: &str, manager: &str) -> Value {
    let mut b = user_body(user_name);
    b["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENT]);
    b["title"] = json!("Engineer");
    b["nickName"] = json!("Al");
    b["userType"] = json!("Employee");
    b["preferredLanguage"] = json!("en-GB");
    b["locale"] = json!("en_GB");
    b["timezone"] = json!("Europe/London");
    b["profileUrl"] = json!("https://intranet.example/al");
    b["phoneNumbers"] = json!([{"value": "+44 20 7946 0000", "type": "work", "primary": true}]);
    b["addresses"] = json!([{"streetAddress": "1 Main St", "locality": "London", "region": "LDN",
        "postalCode": "EC1A 1AA", "country": "GB", "formatted": "1 Main St, London",
        "type": "work", "primary": true}]);
    b[ENT] = json!({"employeeNumber": "701984", "costCenter": "4130", "organization": "Corp",
        "division": "Cloud", "department": "R&D", "manager": {"value": manager}});
    b
}

#[tokio::test]
async fn every_attribute_is_returned_as_sent() {
    let env = Env::start().await;
    let boss = env.create_user("boss").await;
    let sent = full_body("al", &boss);
    let created = env.post("Users", &sent).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let got = env.get(&format!("Users/{id}")).await;
    for key in [
        "title",
        "nickName",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "profileUrl",
        "phoneNumbers",
        "addresses",
        ENT,
    ] {
        assert_eq!(got.body[key], sent[key], "{key}");
    }
    assert!(got.body["schemas"]
        .as_array()
        .unwrap()
        .contains(&json!(ENT)));
    // The manager filter finds the report.
    let found = env
        .list(
            "Users",
            &[(
                "filter",
                &format!("id eq \"{id}\" and manager eq \"{boss}\""),
            )],
        )
        .await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.body["Resources"][0]["id"], json!(id));
}

#[tokio::test]
async fn limits_and_unsupported_shapes_are_rejected() {
    let env = Env::start().await;
    let boss = env.create_user("boss").await;

    let mut b = full_body("a1", &boss);
    b["title"] = json!("t".repeat(1025));
    let d = assert_aws_error(&env.post("Users", &b).await, 400);
    assert!(
        d.contains("'title'") && d.contains("less than or equal to 1024"),
        "{d}"
    );

    let mut b = full_body("a2", &boss);
    b[ENT]["department"] = json!("");
    let d = assert_aws_error(&env.post("Users", &b).await, 400);
    assert!(
        d.contains("'department'") && d.contains("greater than or equal to 1"),
        "{d}"
    );

    let mut b = full_body("a3", &boss);
    b["addresses"][0]["locality"] = json!("a\u{200B}b");
    let d = assert_aws_error(&env.post("Users", &b).await, 400);
    assert!(d.contains("'addresses.locality'"), "{d}");

    let mut b = full_body("a4", &boss);
    b[ENT]["manager"] = json!({"value": boss, "displayName": "Boss"});
    let d = assert_aws_error(&env.post("Users", &b).await, 400);
    assert!(d.contains("manager.displayName is not supported"), "{d}");

    let mut b = full_body("a5", &boss);
    b[ENT]["manager"] = json!({"value": "x".repeat(48)});
    let d = assert_aws_error(&env.post("Users", &b).await, 400);
    assert!(d.contains("'manager.value'"), "{d}");

    let mut b = full_body("a6", &boss);
    b["phoneNumbers"][0]["display"] = json!("+44");
    let d = assert_aws_error(&env.post("Users", &b).await, 400);
    assert!(d.contains("display"), "{d}");

    let mut b = full_body("a7", &boss);
    b["phoneNumbers"] = json!([{"value": "1", "type": "work"}, {"value": "2", "type": "mobile"}]);
    assert_eq!(
        assert_aws_error(&env.post("Users", &b).await, 400),
        "List attribute phoneNumbers exceeds allowed limit of 1"
    );

    // A PATCH that would leave two addresses is refused as a create would be.
    let id = env.create_user("p1").await;
    let p = patch_op(json!([{"op": "replace", "path": "addresses",
        "value": [{"locality": "A", "type": "work"}, {"locality": "B", "type": "home"}]}]));
    assert_eq!(
        assert_aws_error(&env.patch(&format!("Users/{id}"), &p).await, 400),
        "List attribute addresses allowed limit of 1"
    );
}

#[tokio::test]
async fn a_patch_sets_and_removes_each_attribute_by_path() {
    let env = Env::start().await;
    let boss = env.create_user("boss").await;
    let created = env.post("Users", &full_body("al", &boss)).await;
    let id = created.body["id"].as_str().unwrap().to_string();
    let p = patch_op(json!([
        {"op": "remove", "path": "title"},
        {"op": "remove", "path": "phoneNumbers"},
        {"op": "remove", "path": "addresses"},
        {"op": "remove", "path": format!("{ENT}:department")},
        {"op": "remove", "path": format!("{ENT}:manager")},
        {"op": "replace", "path": format!("{ENT}:costCenter"), "value": "9999"},
        {"op": "replace", "path": "timezone", "value": "Europe/Berlin"}
    ]));
    let a = env.patch(&format!("Users/{id}"), &p).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let got = env.get(&format!("Users/{id}")).await.body;
    for gone in ["title", "phoneNumbers", "addresses"] {
        assert!(got.get(gone).is_none(), "{gone}: {got}");
    }
    assert!(got[ENT].get("department").is_none(), "{got}");
    assert!(got[ENT].get("manager").is_none(), "{got}");
    assert_eq!(got[ENT]["costCenter"], "9999");
    assert_eq!(got[ENT]["organization"], "Corp");
    assert_eq!(got["timezone"], "Europe/Berlin");

    // Setting the manager and a whole address back by path.
    let p = patch_op(json!([
        {"op": "replace", "path": format!("{ENT}:manager"), "value": {"value": boss}},
        {"op": "replace", "path": "addresses",
         "value": [{"locality": "Berlin", "type": "work", "primary": true}]}
    ]));
    assert_eq!(env.patch(&format!("Users/{id}"), &p).await.status, 200);
    let got = env.get(&format!("Users/{id}")).await.body;
    assert_eq!(got[ENT]["manager"]["value"], json!(boss));
    assert_eq!(
        got["addresses"],
        json!([{"locality": "Berlin", "type": "work", "primary": true}])
    );
    // A manager with a displayName is refused on a PATCH too.
    let p = patch_op(json!([{"op": "replace", "path": format!("{ENT}:manager"),
        "value": {"value": boss, "displayName": "Boss"}}]));
    assert_eq!(env.patch(&format!("Users/{id}"), &p).await.status, 400);
}
