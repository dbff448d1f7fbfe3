//! End to end, issue 14 §1: the optional attributes from the real Samba AD DC to the Identity
//! Center emulator, with the `attributes` setting read from `/IAM-IDC/Sync-Settings` (moto)
//! as the Lambda reads it, and the users checked as `GET /Users/{id}` returns them (what an
//! ABAC attribute mapping such as `${path:enterprise.department}` reads).
//! DC address 127.0.0.29 (see tests/support/samba.rs).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/moto.rs"]
mod moto;
#[path = "support/samba.rs"]
mod samba;

use idc_emulator::{Emulator, EmulatorConfig, RunningEmulator};
use scim_sync::audit::Collect;
use scim_sync::config::{self, AwsNames};
use scim_sync::model::{DirectoryUser, ReasonCode};
use scim_sync::pass::{read_directory, PassOptions, PassReport, Session};
use scim_sync::plan::Operation;
use serde_json::{json, Value};

const TOKEN: &str = "e2e-attr-token-5c2e81";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

struct World {
    dc: samba::SambaDc,
    _moto: moto::Moto,
    emulator: RunningEmulator,
    session: Session,
}

impl World {
    async fn start() -> World {
        let dc = tokio::task::spawn_blocking(|| samba::SambaDc::start("127.0.0.29"))
            .await
            .unwrap();
        let moto = moto::Moto::start().await;
        let emulator = Emulator::start(EmulatorConfig::new(TOKEN)).await.unwrap();
        for (name, value) in [
            ("/IAM-IDC/AD-Group-Name", samba::SYNC_GROUP.to_string()),
            ("/IAM-IDC/AD-Group-Prefix", "aws-*".to_string()),
            ("/IAM-IDC/AD-Search-Base", samba::GROUP_BASE.to_string()),
            ("/IAM-IDC/SCIM-URI", emulator.base_url()),
            ("/IAM-IDC/Domain-Controller", dc.ldaps_url()),
            ("/IAM-IDC/AD-CA-Bundle", dc.ca_pem()),
            // The original's three stay by default; these are mapped on top.
            (
                "/IAM-IDC/Sync-Settings",
                json!({"attributes": {
                    "enterprise.employeeNumber": "employeeID",
                    "phoneNumbers.work": "telephoneNumber",
                    "addresses.work.streetAddress": "streetAddress",
                    "addresses.work.locality": "l",
                    "addresses.work.region": "st",
                    "addresses.work.postalCode": "postalCode",
                    "addresses.work.country": "c",
                    "enterprise.manager": "manager"
                }})
                .to_string(),
            ),
        ] {
            moto.put_parameter(name, &value).await;
        }
        moto.create_secret("IAM-IDC/SCIM-API-Token", TOKEN).await;
        let creds = json!({"username": samba::BIND_DN, "password": samba::BIND_PASSWORD});
        moto.create_secret("IAM-IDC/AD-RO-UserCreds", &creds.to_string())
            .await;
        let settings = config::load_from_aws(moto.sdk(), &AwsNames::default())
            .await
            .unwrap();
        let session = Session::new(settings, Some(moto.sdk().clone())).unwrap();
        World {
            dc,
            _moto: moto,
            emulator,
            session,
        }
    }

    async fn pass(&mut self) -> PassReport {
        let report = self.session.run(&PassOptions::default()).await.unwrap();
        assert!(
            report.summary.failures.is_empty(),
            "failures: {:#?}",
            report.summary.failures
        );
        report
    }

    /// The user as Identity Center returns it over SCIM.
    async fn scim_user(&self, sid: &str) -> Value {
        let id = self
            .emulator
            .dump()
            .user_records
            .iter()
            .find(|u| u.external_id.as_deref() == Some(sid))
            .map(|u| u.id.clone())
            .unwrap_or_else(|| panic!("no user for {sid}"));
        let url = format!("{}Users/{id}", self.emulator.base_url());
        let reply = reqwest::Client::new()
            .get(url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        reply.json().await.unwrap()
    }

    fn modify(&self, dn: &str, changes: &str) {
        self.dc
            .ldapmodify_as_admin(&format!("dn: {dn}\nchangetype: modify\n{changes}"));
    }
}

/// Two enabled users in scope: the report and the manager.
fn two_users(users: &[DirectoryUser]) -> (DirectoryUser, DirectoryUser) {
    let mut enabled: Vec<&DirectoryUser> = users
        .iter()
        .filter(|u| u.enabled && u.user_principal_name.is_some() && u.given_name.is_some())
        .collect();
    enabled.sort_by(|a, b| a.sam_account_name.cmp(&b.sam_account_name));
    (enabled[0].clone(), enabled[1].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapped_attributes_are_synced_removed_in_one_patch_and_then_left_alone() {
    let mut world = World::start().await;
    let before = read_directory(world.session.settings()).await.unwrap();
    let (report, boss) = two_users(&before.users);
    world.modify(
        &report.dn,
        &format!(
            "replace: title\ntitle: Engineer \n-\nreplace: department\ndepartment: R&D\n-\n\
             replace: company\ncompany: Example Corp\n-\nreplace: employeeID\nemployeeID: 701984\n-\n\
             replace: telephoneNumber\ntelephoneNumber: +1 555 0100\n-\nreplace: l\nl: Berlin\n-\n\
             replace: streetAddress\nstreetAddress: Unter den Linden 1\n-\nreplace: st\nst: Berlin\n-\n\
             replace: postalCode\npostalCode: 10117\n-\nreplace: c\nc: DE\n-\n\
             replace: manager\nmanager: {}\n",
            boss.dn
        ),
    );
    world.modify(&boss.dn, "replace: title\ntitle: Director\n");

    // 1. First pass: both are created with their attributes, and the report's manager,
    //    created in the same pass, is referenced in it: one more PATCH, after the creates.
    world.emulator.reset_counters();
    let sink = Collect::default();
    let first = world
        .session
        .run_audited(&PassOptions::default(), &sink)
        .await
        .unwrap();
    assert!(
        !first
            .plan
            .notes
            .iter()
            .any(|n| n.text.contains("enterprise.manager")),
        "nothing left for a later pass: {:#?}",
        first.plan.notes
    );
    let set: Vec<&Operation> = first
        .plan
        .operations
        .iter()
        .filter(|op| matches!(op, Operation::SetManager { .. }))
        .collect();
    assert_eq!(set.len(), 1, "{:#?}", first.plan.operations);
    assert_eq!(set[0].reason().code, ReasonCode::ManagerCreatedThisPass);
    assert!(
        first.summary.failures.is_empty(),
        "{:?}",
        first.summary.failures
    );
    let patches = world.emulator.counters();
    assert_eq!(
        patches.by_route.get("PATCH /Users/{id} 200").copied(),
        Some(1),
        "{:?}",
        patches.by_route
    );
    let boss_id = world.scim_user(&boss.object_sid).await["id"].clone();
    let u = world.scim_user(&report.object_sid).await;
    assert_eq!(u[ENT]["manager"], json!({ "value": boss_id }), "{u}");
    // Its audit record: the report, by its new id and DN, from no manager to the new id.
    let records = sink.take();
    let linked = records
        .iter()
        .find(|r| r.action == "setManager")
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert_eq!(linked.reason.code, ReasonCode::ManagerCreatedThisPass);
    assert_eq!(linked.object.id.as_deref(), u["id"].as_str());
    assert_eq!(linked.object.dn.as_deref(), Some(report.dn.as_str()));
    let change = &linked.changes.attributes["enterprise.manager"];
    assert_eq!((&change.from, &change.to), (&Value::Null, &boss_id));
    assert_eq!(u["title"], "Engineer", "trimmed: {u}");
    assert_eq!(u[ENT]["department"], "R&D");
    assert_eq!(u[ENT]["organization"], "Example Corp");
    assert_eq!(u[ENT]["employeeNumber"], "701984");
    assert_eq!(
        u["phoneNumbers"],
        json!([{"value": "+1 555 0100", "type": "work", "primary": true}])
    );
    assert_eq!(
        u["addresses"],
        json!([{
            "streetAddress": "Unter den Linden 1",
            "locality": "Berlin",
            "region": "Berlin",
            "postalCode": "10117",
            "country": "DE",
            "type": "work",
            "primary": true
        }])
    );
    assert_eq!(world.scim_user(&boss.object_sid).await["title"], "Director");

    // 2 and 3. Unchanged directory: zero writes.
    let third = world.pass().await;
    assert_eq!(third.summary.scim_writes, 0, "{:#?}", third.plan);

    // 4. department cleared, the title and the postal code changed in AD: one PATCH
    //    removes one and replaces the others; everything else stays.
    world.modify(
        &report.dn,
        "delete: department\n-\nreplace: title\ntitle: Lead\n-\nreplace: postalCode\npostalCode: 10178\n",
    );
    world.emulator.reset_counters();
    let fourth = world.pass().await;
    assert_eq!(fourth.summary.scim_writes, 1, "{:#?}", fourth.plan);
    let patches = world.emulator.counters();
    assert_eq!(
        patches.by_route.get("PATCH /Users/{id} 200").copied(),
        Some(1),
        "{:?}",
        patches.by_route
    );
    let u = world.scim_user(&report.object_sid).await;
    assert!(u[ENT].get("department").is_none(), "{u}");
    assert_eq!(u["title"], "Lead");
    assert_eq!(u[ENT]["organization"], "Example Corp");
    assert_eq!(u[ENT]["manager"], json!({ "value": boss_id }));
    assert_eq!(u["phoneNumbers"][0]["value"], "+1 555 0100");
    assert_eq!(
        (
            &u["addresses"][0]["postalCode"],
            &u["addresses"][0]["streetAddress"],
            &u["addresses"][0]["country"]
        ),
        (&json!("10178"), &json!("Unter den Linden 1"), &json!("DE")),
        "one address part changed, the others kept: {u}"
    );

    // 5. And the next pass writes nothing.
    let fifth = world.pass().await;
    assert_eq!(fifth.summary.scim_writes, 0, "{:#?}", fifth.plan);
}
