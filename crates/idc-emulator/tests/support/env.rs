//! Test support: an emulator started in-process plus a reqwest client speaking to it over
//! real HTTP, and assertions for AWS's error shape.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use idc_emulator::{Emulator, EmulatorConfig, RunningEmulator};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

pub const TOKEN: &str = "test-token-1";

/// One answer: status, headers and the body parsed as JSON (Null when empty).
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

pub struct Env {
    pub emu: RunningEmulator,
    pub http: reqwest::Client,
    pub token: String,
}

impl Env {
    pub async fn start() -> Env {
        Self::start_with(EmulatorConfig::new(TOKEN)).await
    }

    pub async fn start_with(cfg: EmulatorConfig) -> Env {
        let token = cfg.token.clone();
        let emu = Emulator::start(cfg).await.expect("emulator starts");
        Env {
            emu,
            http: reqwest::Client::new(),
            token,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.emu.base_url(), path)
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        token: Option<&str>,
    ) -> Result<Answer, reqwest::Error> {
        let mut url = self.url(path);
        if !query.is_empty() {
            let qs = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query)
                .finish();
            url = format!("{url}?{qs}");
        }
        let mut req = self.http.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Answer {
        self.raw(method, path, &[], body, Some(&self.token))
            .await
            .expect("request completes")
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    pub async fn list(&self, path: &str, query: &[(&str, &str)]) -> Answer {
        self.raw(Method::GET, path, query, None, Some(&self.token))
            .await
            .expect("request completes")
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Answer {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Answer {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, None).await
    }

    pub async fn create_user(&self, user_name: &str) -> String {
        let a = self.post("Users", &user_body(user_name)).await;
        assert_eq!(a.status, 201, "create {user_name}: {}", a.body);
        a.body["id"].as_str().unwrap().to_string()
    }

    pub async fn create_group(&self, name: &str, ext: &str) -> String {
        let a = self
            .post(
                "Groups",
                &json!({"displayName": name, "externalId": ext, "members": []}),
            )
            .await;
        assert_eq!(a.status, 201, "create group {name}: {}", a.body);
        a.body["id"].as_str().unwrap().to_string()
    }

    /// Follows cursors from an empty one to the end; returns all resources and page count.
    pub async fn list_all(
        &self,
        path: &str,
        filter: Option<&str>,
        count: &str,
    ) -> (Vec<Value>, usize) {
        let mut cursor = String::new();
        let mut out = Vec::new();
        let mut pages = 0;
        loop {
            let mut q = vec![("count", count), ("cursor", cursor.as_str())];
            if let Some(f) = filter {
                q.push(("filter", f));
            }
            let a = self.list(path, &q).await;
            assert_eq!(a.status, 200, "{}", a.body);
            assert!(
                a.body.get("totalResults").is_none(),
                "no totalResults in cursor mode"
            );
            pages += 1;
            let res = a.body["Resources"].as_array().cloned().unwrap_or_default();
            assert_eq!(a.body["itemsPerPage"].as_u64().unwrap() as usize, res.len());
            out.extend(res);
            match a.body.get("nextCursor").and_then(Value::as_str) {
                Some(c) => cursor = c.to_string(),
                None => break,
            }
            assert!(pages < 100_000, "pagination does not end");
        }
        (out, pages)
    }
}

pub fn user_body(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "externalId": format!("S-1-5-21-{user_name}"),
        "name": {"givenName": "Given", "familyName": "Family"},
        "displayName": format!("Display {user_name}"),
        "active": true,
        "emails": [{"value": format!("{user_name}@example.com"), "type": "work", "primary": true}]
    })
}

pub fn patch_op(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// Asserts AWS's error shape (§5.1) with this status, and returns the detail.
pub fn assert_aws_error(a: &Answer, status: u16) -> String {
    let urn = "urn:ietf:params:scim:api:messages:2.0:Error";
    assert_eq!(a.status, status, "status; body {}", a.body);
    assert_eq!(a.body["schema"], json!([urn]), "{}", a.body);
    assert_eq!(a.body["schemas"], json!([urn]), "{}", a.body);
    assert_eq!(a.body["status"], json!(status.to_string()), "{}", a.body);
    assert!(a.body.get("scimType").is_none());
    let ts = a.body["timeStamp"].as_str().expect("timeStamp");
    assert_eq!(ts.len(), "2024-04-05 06:32:12.227".len(), "{ts}");
    let rid = a.body["exceptionRequestId"]
        .as_str()
        .expect("exceptionRequestId");
    assert_eq!(rid.len(), 36);
    assert_eq!(
        a.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    assert!(a.headers.get("x-amzn-requestid").is_some());
    a.body["detail"].as_str().expect("detail").to_string()
}

pub const UNPARSABLE: &str = "Request is unparsable, syntactically incorrect, or violates schema.";
