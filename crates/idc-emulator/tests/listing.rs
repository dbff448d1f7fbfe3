//! Listing over real HTTP: the §4.2 filter whitelist, cursor pagination (complete, filter-bound,
//! with short pages), and the pessimistic non-cursor shape.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/env.rs"]
mod env;

use env::{assert_aws_error, user_body, Env};
use idc_emulator::{Behaviour, EmulatorConfig};
use serde_json::Value;
use std::collections::BTreeSet;

fn id_set(v: &[Value]) -> BTreeSet<String> {
    v.iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn filters_outside_the_aws_whitelist_are_rejected() {
    let env = Env::start().await;
    for f in [
        "userName co \"a\"",
        "userName sw \"a\"",
        "userName pr",
        "displayName eq \"x\"",
        "emails.value eq \"a@b\"",
        "userName eq \"a\" or userName eq \"b\"",
        "userName eq \"a\" and externalId eq \"b\"",
        "not (userName eq \"a\")",
        "userName eq a",
        "active eq true",
        "members.value eq \"x\"",
    ] {
        let d = assert_aws_error(&env.list("Users", &[("filter", f)]).await, 400);
        assert_eq!(d, "Invalid Filter format", "{f}");
    }
    for f in [
        "userName eq \"a\"",
        "groups.value eq \"x\"",
        "id eq \"g\" and manager eq \"m\"",
    ] {
        let d = assert_aws_error(&env.list("Groups", &[("filter", f)]).await, 400);
        assert_eq!(d, "Invalid Filter format", "{f}");
    }
    // Unbalanced quotes.
    assert_aws_error(
        &env.list("Users", &[("filter", "userName eq \"a")]).await,
        400,
    );
    assert_aws_error(
        &env.list("Users", &[("filter", "userName eq \"a\"b\"")])
            .await,
        400,
    );
    // count outside 1..=100.
    assert_aws_error(&env.list("Users", &[("count", "0")]).await, 400);
    assert_aws_error(&env.list("Users", &[("count", "101")]).await, 400);
}

#[tokio::test]
async fn eq_filters_find_by_each_supported_attribute() {
    let env = Env::start().await;
    let id = env.create_user("Finder").await;
    let mut b = user_body("managed");
    b["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] =
        serde_json::json!({"manager": {"value": id}});
    let managed = env.post("Users", &b).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let gid = env.create_group("Finders Keepers", "ext-find").await;
    for (path, f, want) in [
        ("Users", "userName eq \"finder\"".to_string(), id.clone()),
        (
            "Users",
            "externalId eq \"S-1-5-21-Finder\"".to_string(),
            id.clone(),
        ),
        ("Users", format!("id eq \"{id}\""), id.clone()),
        (
            "Users",
            format!("id eq \"{managed}\" and manager eq \"{id}\""),
            managed.clone(),
        ),
        (
            "Groups",
            "displayName eq \"finders keepers\"".to_string(),
            gid.clone(),
        ),
        (
            "Groups",
            "externalId eq \"ext-find\"".to_string(),
            gid.clone(),
        ),
        ("Groups", format!("id eq \"{gid}\""), gid.clone()),
    ] {
        let a = env.list(path, &[("filter", &f)]).await;
        assert_eq!(a.status, 200, "{f}: {}", a.body);
        assert_eq!(a.body["totalResults"], 1, "{f}: {}", a.body);
        assert_eq!(a.body["Resources"][0]["id"], Value::String(want), "{f}");
    }
    let none = env
        .list("Users", &[("filter", "userName eq \"nobody\"")])
        .await;
    assert_eq!(none.body["totalResults"], 0);
    assert_eq!(none.body["Resources"], serde_json::json!([]));
    // Case-exact mode makes filters case-exact too.
    env.emu.set_behaviour(Behaviour {
        case_insensitive_uniqueness: false,
        ..Behaviour::default()
    });
    let a = env
        .list("Users", &[("filter", "userName eq \"finder\"")])
        .await;
    assert_eq!(a.body["totalResults"], 0);
    let a = env
        .list("Users", &[("filter", "userName eq \"Finder\"")])
        .await;
    assert_eq!(a.body["totalResults"], 1);
}

#[tokio::test]
async fn non_cursor_listing_returns_only_the_first_page() {
    let env = Env::start().await;
    for i in 0..120 {
        env.emu
            .insert_user(&user_body(&format!("nc{i:03}")))
            .unwrap();
    }
    let a = env.list("Users", &[]).await;
    assert_eq!(a.body["Resources"].as_array().unwrap().len(), 100);
    assert_eq!(
        a.body["totalResults"], 100,
        "totalResults = itemsPerPage, not the real total"
    );
    assert_eq!(a.body["itemsPerPage"], 100);
    assert_eq!(a.body["startIndex"], 1);
    assert!(a.body.get("nextCursor").is_none());
    // startIndex is ignored.
    let b = env
        .list("Users", &[("startIndex", "101"), ("count", "10")])
        .await;
    assert_eq!(b.body["startIndex"], 1);
    assert_eq!(b.body["Resources"][0]["id"], a.body["Resources"][0]["id"]);
}

#[tokio::test]
async fn cursor_pagination_is_complete_and_filter_bound() {
    let env = Env::start().await;
    let mut all = BTreeSet::new();
    for i in 0..250 {
        all.insert(
            env.emu
                .insert_user(&user_body(&format!("cp{i:03}")))
                .unwrap(),
        );
    }
    let (found, pages) = env.list_all("Users", None, "100").await;
    assert_eq!(found.len(), 250, "no duplicates, nothing missing");
    assert_eq!(id_set(&found), all);
    assert_eq!(pages, 3);
    // Bare `?cursor` (idp-scim-sync's form) is the first page.
    let url = format!("{}Users?count=7&cursor", env.emu.base_url());
    let resp = env
        .http
        .get(url)
        .bearer_auth(env::TOKEN)
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["itemsPerPage"], 7);
    let cursor = body["nextCursor"].as_str().unwrap().to_string();
    assert!(cursor
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-+=/:_".contains(c)));
    // A cursor replayed with another filter or resource is rejected.
    assert_aws_error(
        &env.list(
            "Users",
            &[("cursor", &cursor), ("filter", "userName eq \"cp001\"")],
        )
        .await,
        400,
    );
    assert_aws_error(&env.list("Groups", &[("cursor", &cursor)]).await, 400);
    assert_aws_error(
        &env.list("Users", &[("cursor", "bm90LWEtY3Vyc29y")]).await,
        400,
    );
    // Deleting the item a cursor points at does not break the walk.
    let first = &body["Resources"][6]["id"];
    assert_eq!(
        env.delete(&format!("Users/{}", first.as_str().unwrap()))
            .await
            .status,
        204
    );
    let next = env
        .list("Users", &[("cursor", &cursor), ("count", "100")])
        .await;
    assert_eq!(next.status, 200);
    assert_eq!(next.body["itemsPerPage"], 100);
}

#[tokio::test]
async fn short_pages_still_list_everything() {
    let mut cfg = EmulatorConfig::new(env::TOKEN);
    cfg.seed = Some(7);
    cfg.behaviour.short_pages = true;
    cfg.behaviour.short_page_rate = 0.5;
    let env = Env::start_with(cfg).await;
    let gid = env.emu.insert_group("Big", Some("ext-big")).unwrap();
    let mut ids = Vec::new();
    for i in 0..300 {
        ids.push(
            env.emu
                .insert_user(&user_body(&format!("sp{i:03}")))
                .unwrap(),
        );
    }
    env.emu.add_members(&gid, &ids[..250]).unwrap();
    let (found, pages) = env.list_all("Users", None, "25").await;
    assert_eq!(id_set(&found), ids.iter().cloned().collect());
    assert_eq!(found.len(), 300);
    assert!(pages > 12, "some pages were short ({pages} pages)");
    let (members, _) = env
        .list_all("Users", Some(&format!("groups.value eq \"{gid}\"")), "10")
        .await;
    assert_eq!(members.len(), 250);
    assert_eq!(id_set(&members), ids[..250].iter().cloned().collect());
}

#[tokio::test]
async fn a_large_store_lists_by_membership_through_indexes() {
    let env = Env::start().await;
    let mut uids = Vec::new();
    for i in 0..5000 {
        uids.push(
            env.emu
                .insert_user(&user_body(&format!("big{i:05}")))
                .unwrap(),
        );
    }
    let mut gids = Vec::new();
    for gi in 0..50 {
        let gid = env
            .emu
            .insert_group(&format!("grp{gi}"), Some(&format!("ext-{gi}")))
            .unwrap();
        // Every 10th user joins every group; group gi also gets a block of 80.
        let mut who: Vec<String> = uids.iter().step_by(10).cloned().collect();
        who.extend(uids[gi * 80..gi * 80 + 80].iter().cloned());
        env.emu.add_members(&gid, &who).unwrap();
        gids.push(gid);
    }
    let d = env.emu.dump();
    assert_eq!(d.user_records.len(), 5000);
    let (members, _) = env
        .list_all(
            "Users",
            Some(&format!("groups.value eq \"{}\"", gids[3])),
            "100",
        )
        .await;
    assert_eq!(
        members.len(),
        d.groups
            .iter()
            .find(|g| g.id == gids[3])
            .unwrap()
            .member_ids
            .len()
    );
    let (groups, _) = env
        .list_all(
            "Groups",
            Some(&format!("members.value eq \"{}\"", uids[0])),
            "100",
        )
        .await;
    assert_eq!(groups.len(), 50);
    let (groups, _) = env
        .list_all(
            "Groups",
            Some(&format!("members.value eq \"{}\"", uids[81])),
            "100",
        )
        .await;
    assert_eq!(groups.len(), 1);
}
