//! Fault injection, counters, the admin API and determinism, over real HTTP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/env.rs"]
mod env;

use env::{assert_aws_error, user_body, Env};
use idc_emulator::{Behaviour, EmulatorConfig, Faults};
use reqwest::Method;
use serde_json::{json, Value};

fn throttled_cfg(retry_after: bool) -> EmulatorConfig {
    let mut cfg = EmulatorConfig::new(env::TOKEN);
    // Refill so slow that the burst of 2 is all a test run ever gets.
    cfg.faults.throttle_rps = Some(0.01);
    cfg.faults.throttle_burst = Some(2);
    cfg.behaviour.retry_after_on_429 = retry_after;
    cfg
}

#[tokio::test]
async fn throttle_answers_429_without_retry_after_by_default() {
    let env = Env::start_with(throttled_cfg(false)).await;
    assert_eq!(env.get("ServiceProviderConfig").await.status, 200);
    assert_eq!(env.get("ServiceProviderConfig").await.status, 200);
    let a = env.get("ServiceProviderConfig").await;
    assert_aws_error(&a, 429);
    assert!(a.headers.get("retry-after").is_none());
    let c = env.emu.counters();
    assert_eq!(c.throttled, 1);
    assert_eq!(c.route("GET /ServiceProviderConfig 429"), 1);
    assert_eq!(c.route("GET /ServiceProviderConfig 200"), 2);
}

#[tokio::test]
async fn throttle_can_send_retry_after() {
    let env = Env::start_with(throttled_cfg(true)).await;
    env.get("Users").await;
    env.get("Users").await;
    let a = env.get("Users").await;
    assert_aws_error(&a, 429);
    let secs: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(secs >= 1);
    // A throttled write is not applied.
    let a = env.post("Users", &user_body("throttled")).await;
    assert_eq!(a.status, 429);
    assert!(env.emu.dump().user("throttled").is_none());
    // Lifting the throttle at run time works.
    env.emu.set_faults(Faults::default());
    assert_eq!(env.get("Users").await.status, 200);
}

#[tokio::test]
async fn lost_response_applies_the_write_then_retry_gets_409() {
    let env = Env::start().await;
    env.emu.set_faults(Faults {
        lost_response_rate: 1.0,
        ..Faults::default()
    });
    let err = env
        .raw(
            Method::POST,
            "Users",
            &[],
            Some(&user_body("lost")),
            Some(env::TOKEN),
        )
        .await;
    assert!(err.is_err(), "the connection is closed without a response");
    let d = env.emu.dump();
    assert!(d.user("lost").is_some(), "the write was applied");
    assert_eq!(env.emu.counters().lost_responses, 1);
    assert_eq!(env.emu.counters().route("POST /Users lost"), 1);
    // The client's retry of the create sees 409, and a lookup finds the user.
    env.emu.set_faults(Faults::default());
    assert_aws_error(&env.post("Users", &user_body("lost")).await, 409);
    let found = env
        .list("Users", &[("filter", "userName eq \"lost\"")])
        .await;
    assert_eq!(found.body["totalResults"], 1);
}

#[tokio::test]
async fn dropped_connections_and_injected_errors_do_not_apply_writes() {
    let env = Env::start().await;
    env.emu.set_faults(Faults {
        drop_connection_rate: 1.0,
        ..Faults::default()
    });
    let r = env
        .raw(
            Method::POST,
            "Users",
            &[],
            Some(&user_body("dropped")),
            Some(env::TOKEN),
        )
        .await;
    assert!(r.is_err());
    env.emu.set_faults(Faults {
        error_500_rate: 1.0,
        ..Faults::default()
    });
    assert_aws_error(&env.post("Users", &user_body("e500")).await, 500);
    env.emu.set_faults(Faults {
        error_503_rate: 1.0,
        ..Faults::default()
    });
    assert_aws_error(&env.post("Users", &user_body("e503")).await, 503);
    let d = env.emu.dump();
    assert!(d.user_records.is_empty(), "{:?}", d.user_records);
    let c = env.emu.counters();
    assert_eq!(
        (c.dropped, c.injected_errors, c.writes, c.applied_writes),
        (1, 2, 3, 0)
    );
}

#[tokio::test]
async fn malformed_bodies_are_invalid_json_with_200() {
    let env = Env::start().await;
    env.emu.set_faults(Faults {
        malformed_body_rate: 1.0,
        ..Faults::default()
    });
    let resp = env
        .http
        .get(env.url("Users"))
        .bearer_auth(env::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
    assert_eq!(env.emu.counters().malformed, 1);
}

#[tokio::test]
async fn faults_are_deterministic_with_a_seed() {
    async fn statuses(seed: u64) -> Vec<u16> {
        let mut cfg = EmulatorConfig::new(env::TOKEN);
        cfg.seed = Some(seed);
        cfg.faults.error_500_rate = 0.3;
        cfg.faults.error_503_rate = 0.3;
        let env = Env::start_with(cfg).await;
        let mut out = Vec::new();
        for _ in 0..40 {
            out.push(env.get("ServiceProviderConfig").await.status);
        }
        out
    }
    let a = statuses(42).await;
    assert_eq!(a, statuses(42).await);
    assert!(
        a.contains(&200) && a.contains(&500) && a.contains(&503),
        "{a:?}"
    );
    assert_ne!(a, statuses(43).await);
}

#[tokio::test]
async fn counters_use_route_templates_and_skip_admin_routes() {
    let env = Env::start().await;
    let uid = env.create_user("counted").await;
    let gid = env.create_group("Counted", "ext-counted").await;
    let p = env::patch_op(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
    env.patch(&format!("Groups/{gid}"), &p).await;
    env.get(&format!("Users/{uid}")).await;
    env.get("Users/nope").await;
    env.http
        .get(format!("{}counters", env.emu.admin_url()))
        .send()
        .await
        .unwrap();
    let c = env.emu.counters();
    assert_eq!(c.route("POST /Users 201"), 1);
    assert_eq!(c.route("POST /Groups 201"), 1);
    assert_eq!(c.route("PATCH /Groups/{id} 204"), 1);
    assert_eq!(c.route("GET /Users/{id} 200"), 1);
    assert_eq!(c.route("GET /Users/{id} 404"), 1);
    assert_eq!(c.route_total("GET /Users/{id}"), 2);
    assert_eq!((c.total, c.reads, c.writes, c.applied_writes), (5, 2, 3, 3));
    env.emu.reset_counters();
    assert_eq!(env.emu.counters().total, 0);
}

#[tokio::test]
async fn admin_api_drives_faults_state_tokens_and_reset() {
    let env = Env::start().await;
    let admin = env.emu.admin_url();
    let http = &env.http;
    let uid = env.create_user("admined").await;
    let gid = env.create_group("Admined", "ext-admined").await;
    env.emu
        .add_members(&gid, std::slice::from_ref(&uid))
        .unwrap();

    let state: Value = http
        .get(format!("{admin}state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["groups"][0]["member_ids"], json!([uid]));
    assert_eq!(state["users"][0]["userName"], "admined");
    assert_eq!(state["user_records"][0]["group_ids"], json!([gid]));

    let f = json!({"error_503_rate": 1.0});
    let r = http
        .put(format!("{admin}faults"))
        .json(&f)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(env.emu.faults().error_503_rate, 1.0);
    assert_eq!(env.get("Users").await.status, 503);
    http.put(format!("{admin}faults"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(env.get("Users").await.status, 200);

    let b = json!({"echo_group_external_id": false});
    http.put(format!("{admin}behaviour"))
        .json(&b)
        .send()
        .await
        .unwrap();
    assert!(!env.emu.behaviour().echo_group_external_id);
    assert!(
        env.emu.behaviour().case_insensitive_uniqueness,
        "omitted fields keep defaults"
    );

    let counters: Value = http
        .get(format!("{admin}counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["by_route"]["GET /Users 503"], 1);

    let r = http
        .post(format!("{admin}token/rotate"))
        .json(&json!({"token": "rotated"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let r = http
        .post(format!("{admin}token/add"))
        .json(&json!({"token": "third"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    http.post(format!("{admin}token/revoke"))
        .json(&json!({"token": env::TOKEN}))
        .send()
        .await
        .unwrap();
    assert_eq!(env.get("Users").await.status, 401);
    let rotated = env
        .raw(Method::GET, "Users", &[], None, Some("rotated"))
        .await
        .unwrap();
    assert_eq!(rotated.status, 200);

    let r = http.post(format!("{admin}reset")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert!(env.emu.dump().user_records.is_empty());
    assert_eq!(env.emu.counters().total, 0);
}

#[tokio::test]
async fn admin_token_protects_the_admin_api_when_set() {
    let mut cfg = EmulatorConfig::new(env::TOKEN);
    cfg.admin_token = Some("admin-secret".into());
    let env = Env::start_with(cfg).await;
    let url = format!("{}counters", env.emu.admin_url());
    assert_eq!(
        env.http.get(&url).send().await.unwrap().status().as_u16(),
        401
    );
    let ok = env
        .http
        .get(&url)
        .bearer_auth("admin-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
}

#[tokio::test]
async fn visibility_delay_hides_fresh_objects_for_a_while() {
    let mut cfg = EmulatorConfig::new(env::TOKEN);
    cfg.faults.visibility_delay_ms = 300;
    let env = Env::start_with(cfg).await;
    let id = env.create_user("lagging").await;
    assert_aws_error(&env.get(&format!("Users/{id}")).await, 404);
    let mut seen = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if env.get(&format!("Users/{id}")).await.status == 200 {
            seen = true;
            break;
        }
    }
    assert!(seen, "the user becomes visible eventually");
    // Behaviour switches are untouched by faults.
    assert_eq!(env.emu.behaviour(), Behaviour::default());
}

#[tokio::test]
async fn concurrent_clients_are_counted_consistently_under_throttle_and_latency() {
    let mut cfg = EmulatorConfig::new(env::TOKEN);
    cfg.faults.throttle_rps = Some(0.01);
    cfg.faults.throttle_burst = Some(10);
    cfg.faults.latency_ms = 5;
    let env = std::sync::Arc::new(Env::start_with(cfg).await);
    let mut tasks = Vec::new();
    for i in 0..30 {
        let env = env.clone();
        tasks.push(tokio::spawn(async move {
            env.post("Users", &user_body(&format!("conc{i:02}")))
                .await
                .status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let created = statuses.iter().filter(|s| **s == 201).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((created, throttled), (10, 20), "{statuses:?}");
    let c = env.emu.counters();
    assert_eq!(c.route("POST /Users 201"), 10);
    assert_eq!(c.route("POST /Users 429"), 20);
    assert_eq!(
        (c.total, c.writes, c.applied_writes, c.throttled),
        (30, 30, 10, 20)
    );
    assert_eq!(env.emu.dump().user_records.len(), 10);
}

/// Refill rates so slow that a bucket's burst is all a test run ever gets.
const NEVER: Option<f64> = Some(0.001);

fn group_body(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name})
}

#[tokio::test]
async fn collective_profile_one_bucket_for_every_api() {
    let mut cfg = EmulatorConfig::new(env::TOKEN);
    cfg.faults.throttle_rps = NEVER;
    cfg.faults.throttle_burst = Some(3);
    let env = Env::start_with(cfg).await;
    assert_eq!(env.post("Users", &user_body("a")).await.status, 201);
    assert_eq!(env.post("Groups", &group_body("g")).await.status, 201);
    assert_eq!(env.get("Users").await.status, 200);
    // The bucket is shared: the fourth request is refused whichever API it calls.
    assert_aws_error(&env.get("Groups").await, 429);
    assert_aws_error(&env.post("Users", &user_body("b")).await, 429);
    let c = env.emu.counters();
    assert_eq!(c.api("CreateUser").requests, 2);
    assert_eq!(c.api("CreateUser").throttled, 1);
    assert_eq!(c.api("ListGroups").throttled, 1);
    assert_eq!(c.api("CreateGroup").throttled, 0);
    assert_eq!(c.api("ListUsers").requests, 1);
    assert_eq!(c.throttled, 2);
}

#[tokio::test]
async fn per_api_profile_one_bucket_per_api() {
    let mut cfg = EmulatorConfig::new(env::TOKEN);
    cfg.faults.api_write_rps = NEVER;
    cfg.faults.api_read_rps = NEVER;
    cfg.faults.api_burst = Some(2);
    cfg.behaviour.retry_after_on_429 = true;
    let env = Env::start_with(cfg).await;
    assert_eq!(env.post("Users", &user_body("a")).await.status, 201);
    assert_eq!(env.post("Users", &user_body("b")).await.status, 201);
    let refused = env.post("Users", &user_body("c")).await;
    assert_aws_error(&refused, 429);
    assert!(refused.headers.get("retry-after").is_some());
    assert!(
        env.emu.dump().user("c").is_none(),
        "a throttled create is not applied"
    );
    // Other APIs have buckets of their own.
    assert_eq!(env.post("Groups", &group_body("g")).await.status, 201);
    assert_eq!(env.get("Users").await.status, 200);
    assert_eq!(env.get("Users").await.status, 200);
    assert_aws_error(&env.get("Users").await, 429);
    // A filtered read is the same API as a listing.
    let filtered = env.list("Users", &[("filter", "userName eq \"a\"")]).await;
    assert_eq!(filtered.status, 429);
    assert_eq!(env.get("Groups").await.status, 200);
    let c = env.emu.counters();
    assert_eq!(
        c.api("CreateUser"),
        idc_emulator::ApiCount {
            requests: 3,
            throttled: 1
        }
    );
    assert_eq!(
        c.api("ListUsers"),
        idc_emulator::ApiCount {
            requests: 4,
            throttled: 2
        }
    );
    assert_eq!(c.api("CreateGroup").throttled, 0);
    assert_eq!(c.api("ListGroups").throttled, 0);
}

#[tokio::test]
async fn both_profiles_at_once_and_set_through_the_admin_api() {
    let env = Env::start().await;
    // The admin call sets the profile at run time: a collective bucket of 3 and per-API
    // write buckets of 1. A request needs a token from both.
    let admin = reqwest::Client::new()
        .put(format!("{}faults", env.emu.admin_url()))
        .json(&json!({"throttle_rps": 0.001, "throttle_burst": 3,
                      "api_write_rps": 0.001, "api_burst": 1}))
        .send()
        .await
        .unwrap();
    assert!(admin.status().is_success(), "{}", admin.status());
    assert_eq!(env.emu.faults().api_write_rps, Some(0.001));
    assert_eq!(env.post("Users", &user_body("a")).await.status, 201);
    // The create API's own bucket is empty (the collective token it took is spent).
    assert_aws_error(&env.post("Users", &user_body("b")).await, 429);
    assert_eq!(env.post("Groups", &group_body("g")).await.status, 201);
    // Reads have no per-API limit here, but the collective bucket is now empty.
    assert_aws_error(&env.get("Users").await, 429);
    let c = env.emu.counters();
    assert_eq!(c.api("CreateUser").throttled, 1);
    assert_eq!(c.api("ListUsers").throttled, 1);
    assert_eq!(c.throttled, 2);
    // Lifting every throttle at run time works.
    env.emu.set_faults(Faults::default());
    assert_eq!(env.post("Users", &user_body("b")).await.status, 201);
}

#[test]
fn every_scim_route_has_an_api_name() {
    use idc_emulator::api_of;
    assert_eq!(api_of(&Method::GET, "GET /Users"), "ListUsers");
    assert_eq!(api_of(&Method::GET, "GET /Users/{id}"), "GetUser");
    assert_eq!(api_of(&Method::PATCH, "PATCH /Groups/{id}"), "PatchGroup");
    assert_eq!(api_of(&Method::POST, "POST /Groups"), "CreateGroup");
    assert_eq!(api_of(&Method::DELETE, "DELETE /Users/{id}"), "DeleteUser");
    assert_eq!(api_of(&Method::GET, "GET /ServiceProviderConfig"), "Other");
}
