//! Times the planner on synthetic snapshots: 1k, 10k and 100k users (the largest with 10k
//! groups and 1M memberships), in a nearly converged state with a realistic trickle of
//! changes (new users, renames, leavers, membership moves). Target: the largest under 1 s in
//! a release build. Run with `cargo bench --bench plan`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use scim_sync::model::{
    DirectoryGroup, DirectorySnapshot, DirectoryUser, IdcGroup, IdcSnapshot, IdcUser,
};
use scim_sync::plan::{plan, Policy};

fn sid(n: usize) -> String {
    format!("S-1-5-21-3623811015-3361044348-30300820-{}", 1000 + n)
}

fn guid(n: usize) -> String {
    format!("6f1c2a3b-0000-4000-8000-{n:012}")
}

/// A small deterministic generator, so every run plans the same snapshot.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % bound.max(1)
    }
}

fn snapshots(users: usize, groups: usize, memberships: usize) -> (DirectorySnapshot, IdcSnapshot) {
    let mut rng = Lcg(42);
    let mut dir = DirectorySnapshot {
        domain_sids: vec!["S-1-5-21-3623811015-3361044348-30300820".to_string()],
        ..DirectorySnapshot::default()
    };
    let mut idc = IdcSnapshot::default();
    for n in 0..users {
        let upn = format!("user{n}@corp.example.com");
        dir.users.push(DirectoryUser {
            object_sid: sid(n).into(),
            object_guid: format!("9a000000-0000-4000-8000-{n:012}"),
            dn: format!("CN=User {n},OU=Staff,DC=corp,DC=example,DC=com"),
            sam_account_name: format!("user{n}"),
            user_principal_name: Some(upn.clone()),
            given_name: Some(format!("Given{n}")),
            surname: Some(format!("Family{n}")),
            display_name: Some(format!("Given{n} Family{n}")),
            mail: Some(format!("user{n}@example.com")),
            enabled: n % 50 != 0,
            account_expires: None,
            attributes: Default::default(),
        });
        // 97 % exist already; 1 % of those carry an old display name.
        if n % 100 < 97 {
            idc.users.push(IdcUser {
                id: format!("{n:08x}-0000-4000-8000-000000000000").into(),
                external_id: Some(sid(n)),
                user_name: upn,
                display_name: Some(if n % 100 == 5 {
                    "Old Name".to_string()
                } else {
                    format!("Given{n} Family{n}")
                }),
                given_name: Some(format!("Given{n}")),
                family_name: Some(format!("Family{n}")),
                email: Some(format!("user{n}@example.com")),
                active: true,
                attributes: Default::default(),
            });
        }
    }
    // 1 % leavers, and a few users someone else manages.
    for n in users..users + users / 100 {
        idc.users.push(IdcUser {
            id: format!("{n:08x}-0000-4000-8000-000000000000").into(),
            external_id: Some(sid(n)),
            user_name: format!("left{n}@corp.example.com"),
            display_name: Some("Left".into()),
            given_name: Some("Left".into()),
            family_name: Some("Er".into()),
            email: None,
            active: true,
            attributes: Default::default(),
        });
    }
    let per_group = memberships / groups.max(1);
    for g in 0..groups {
        let members: Vec<usize> = (0..per_group).map(|_| rng.next(users)).collect();
        dir.groups.push(DirectoryGroup {
            object_guid: guid(g),
            object_sid: None,
            dn: format!("CN=aws-group{g},OU=Groups,DC=corp,DC=example,DC=com"),
            name: format!("aws-group{g}"),
            account_name: None,
            description: None,
            member_sids: members.iter().map(|m| sid(*m).into()).collect(),
            members_partial: None,
        });
        if g % 100 < 98 {
            // Identity Center has the group with 95 % of the members plus a stray one.
            let mut ids: BTreeSet<String> = members
                .iter()
                .filter(|m| *m % 100 < 97 && rng.next(100) < 95)
                .map(|m| format!("{m:08x}-0000-4000-8000-000000000000"))
                .collect();
            ids.insert(format!(
                "{:08x}-0000-4000-8000-000000000000",
                rng.next(users)
            ));
            idc.groups.push(IdcGroup {
                id: format!("g{g:07x}-0000-4000-8000-000000000000"),
                external_id: Some(guid(g)),
                display_name: format!("aws-group{g}"),
                member_ids: Some(ids.into_iter().map(Into::into).collect()),
            });
        }
    }
    (dir, idc)
}

fn main() {
    let policy = Policy::default();
    for (users, groups, memberships, runs) in [
        (1_000, 100, 10_000, 5),
        (10_000, 1_000, 100_000, 5),
        (100_000, 10_000, 1_000_000, 3),
    ] {
        let started = Instant::now();
        let (dir, idc) = snapshots(users, groups, memberships);
        let built = started.elapsed();
        let mut best = Duration::MAX;
        let mut ops = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let p = plan(&dir, &idc, &policy);
            best = best.min(t.elapsed());
            ops = p.operations.len();
            std::hint::black_box(p);
        }
        println!(
            "plan: {users:>7} users, {groups:>6} groups, {memberships:>8} memberships: \
             best of {runs} = {:>8.1} ms ({ops} operations; snapshots built in {:.1} ms)",
            best.as_secs_f64() * 1000.0,
            built.as_secs_f64() * 1000.0
        );
    }
}
