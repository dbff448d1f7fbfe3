//! Scale check for the benchmark harness's size: 100k users and 1M memberships, listed back
//! through cursor pages. Slow in debug builds, so ignored by default:
//! `cargo test -p idc-emulator --release --test scale -- --ignored`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/env.rs"]
mod env;

use env::{user_body, Env};

#[tokio::test]
#[ignore = "large: run on demand with --ignored (release build recommended)"]
async fn hundred_thousand_users_and_a_million_memberships() {
    let env = Env::start().await;
    let mut uids = Vec::with_capacity(100_000);
    for i in 0..100_000 {
        uids.push(
            env.emu
                .insert_user(&user_body(&format!("u{i:06}")))
                .unwrap(),
        );
    }
    let mut gids = Vec::new();
    for g in 0..1000 {
        let gid = env
            .emu
            .insert_group(&format!("g{g:04}"), Some(&format!("ext-{g}")))
            .unwrap();
        // 1000 members per group, overlapping windows: 1M memberships in total.
        let start = (g * 97) % (100_000 - 1000);
        env.emu
            .add_members(&gid, &uids[start..start + 1000])
            .unwrap();
        gids.push(gid);
    }
    assert_eq!(env.emu.dump().membership_count(), 1_000_000);
    let (users, pages) = env.list_all("Users", None, "100").await;
    assert_eq!(users.len(), 100_000);
    assert_eq!(pages, 1000);
    let (members, _) = env
        .list_all(
            "Users",
            Some(&format!("groups.value eq \"{}\"", gids[500])),
            "100",
        )
        .await;
    assert_eq!(members.len(), 1000);
    let found = env
        .list("Users", &[("filter", "userName eq \"u054321\"")])
        .await;
    assert_eq!(found.body["totalResults"], 1);
}
