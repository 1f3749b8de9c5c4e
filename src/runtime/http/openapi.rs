//! The OpenAPI document ([`super::api::OPENAPI`], written by
//! `scripts/openapi.py`) held against the node's own dispatch: every path
//! it describes is routed, with the methods it says and no other, so a
//! route documented without a handler, or a handler's path or method
//! changed without its document, fails here. (schemathesis, in
//! tests/net/openapi.rs, holds the answers against the document.)

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use serde_json::Value;

use super::api::{Api, Figures, Request, OPENAPI};
use super::Service;
use crate::store::Store;
use crate::testkit::{TestNet, TestNetConfig};

/// `template` with each `{name}` replaced by a value of its kind.
fn instantiate(template: &str, address: &str) -> String {
    let zeros = "0".repeat(64);
    let id = if template.starts_with("/api/v1/blocks/") {
        "1"
    } else {
        &zeros
    };
    template
        .replace("{address}", address)
        .replace("{key}", "greeting")
        .replace("{id}", id)
}

/// Whether `r` is the answer to a path no route takes.
fn unrouted(r: &super::Reply) -> bool {
    r.status == 404 && String::from_utf8_lossy(&r.body).contains("no such resource")
}

#[test]
fn every_documented_path_is_routed_with_the_documented_methods_only() {
    let doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
    let net = TestNet::new(&TestNetConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), &net.params).unwrap());
    let api = Api::new(
        store,
        Arc::new(Figures::default()),
        &crate::testkit::key(9, 0),
    );
    let address = net.users[0].public().to_string();
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 18, "{} paths", paths.len());
    for (template, ops) in paths {
        let documented: Vec<String> = ops
            .as_object()
            .expect("an operation object")
            .keys()
            .map(|m| m.to_ascii_uppercase())
            .collect();
        if template == super::sse::PATH {
            // Served before dispatch (mod.rs): a stream, not a reply.
            assert_eq!(documented, ["GET"]);
            continue;
        }
        let path = instantiate(template, &address);
        assert!(!path.contains('{'), "{template}: an unknown parameter");
        for method in ["GET", "POST", "PUT", "DELETE"] {
            let req = Request {
                method,
                path: &path,
                query: "",
                content_type: Some("application/json"),
                body: b"{}",
                ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            };
            let r = Service::answer(&api, &req);
            assert!(!unrouted(&r), "{method} {path} ({template}) is not routed");
            if documented.iter().any(|m| m == method) {
                assert_ne!(r.status, 405, "{method} {path}: documented, refused");
            } else {
                assert_eq!(r.status, 405, "{method} {path}: not documented, answered");
                assert_eq!(
                    r.allow,
                    Some(documented.join(", ").as_str()),
                    "{method} {path}: the allow header is not the documented methods"
                );
            }
        }
    }
    // And the check itself can fail: a path no route takes.
    let req = Request {
        method: "GET",
        path: "/api/v1/nothing",
        query: "",
        content_type: None,
        body: b"",
        ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    assert!(unrouted(&Service::answer(&api, &req)));
}
