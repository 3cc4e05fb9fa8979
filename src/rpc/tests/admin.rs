//! Issue 13: the group admin server, a loopback-only JSON-RPC listener whose methods reach
//! the node's [`GroupAdmin`] with the group they name, off the async threads.
#![allow(clippy::unwrap_used)]

mod support;

use bcos_rpc::{start_admin, AdminHandle, ApiError, GroupAdmin, GroupStatus, JsonValue};
use bcos_rpc::{RpcConfig, RpcError};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use support::client::call;
use support::Gate;

/// A group admin that records each call; `start(GATED_GROUP)` waits at its gate.
#[derive(Default)]
struct MockAdmin {
    calls: Mutex<Vec<String>>,
    gate: Gate,
}

const GATED_GROUP: u32 = 9;
const UNKNOWN_GROUP: u32 = 99;

fn status(group: u32, status: &str) -> GroupStatus {
    GroupStatus {
        group,
        status: status.to_owned(),
        chain_id: 20200 + u64::from(group),
        consensus: "pbft".to_owned(),
        members: vec![0, 1, 2, 3],
        block_number: (status == "running").then_some(7),
    }
}

impl MockAdmin {
    fn record(&self, call: String) {
        self.calls.lock().push(call);
    }
    fn calls(&self) -> Vec<String> {
        self.calls.lock().clone()
    }
}

impl GroupAdmin for MockAdmin {
    fn list(&self) -> Vec<GroupStatus> {
        self.record("list".into());
        vec![status(0, "running"), status(1, "stopped")]
    }
    fn status(&self, group: u32) -> Result<GroupStatus, ApiError> {
        self.record(format!("status {group}"));
        if group == UNKNOWN_GROUP {
            return Err(ApiError::InvalidParams(format!("no group {group}")));
        }
        Ok(status(group, "running"))
    }
    fn generate(&self, group: u32, description: JsonValue) -> Result<GroupStatus, ApiError> {
        self.record(format!("generate {group} {description}"));
        Ok(status(group, "created"))
    }
    fn start(&self, group: u32) -> Result<GroupStatus, ApiError> {
        if group == GATED_GROUP {
            self.gate.pass();
        }
        self.record(format!("start {group}"));
        Ok(status(group, "running"))
    }
    fn stop(&self, group: u32) -> Result<GroupStatus, ApiError> {
        self.record(format!("stop {group}"));
        Ok(status(group, "stopped"))
    }
    fn remove(&self, group: u32) -> Result<GroupStatus, ApiError> {
        self.record(format!("remove {group}"));
        Ok(status(group, "removed"))
    }
}

async fn serve_admin() -> (Arc<MockAdmin>, AdminHandle) {
    let admin = Arc::new(MockAdmin::default());
    let config = RpcConfig {
        admin_addr: Some("127.0.0.1:0".parse().unwrap()),
        ..Default::default()
    };
    let h = start_admin(&config, admin.clone()).await.unwrap().unwrap();
    (admin, h)
}

fn result(rp: &Value) -> Value {
    assert!(rp.get("error").is_none(), "{rp}");
    rp["result"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_admin_method_reaches_the_group_admin_with_its_group() {
    let (admin, h) = serve_admin().await;
    let a = h.local_addr();
    let description = json!({"chainId": 20203, "consensus": "pbft", "members": [0, 1, 2, 3]});
    let rp = call(a, "bcos_generateGroup", json!([3, description])).await;
    assert_eq!(
        result(&rp),
        json!({"group": 3, "status": "created", "chainId": 20203, "consensus": "pbft",
               "members": [0, 1, 2, 3], "blockNumber": null})
    );
    let rp = call(a, "bcos_startGroup", json!(["0x3"])).await;
    assert_eq!(result(&rp)["status"], "running");
    assert_eq!(result(&rp)["blockNumber"], 7);
    let rp = call(a, "bcos_queryGroupStatus", json!([3])).await;
    assert_eq!(result(&rp)["group"], 3);
    let rp = call(a, "bcos_stopGroup", json!(["0x3"])).await;
    assert_eq!(result(&rp)["status"], "stopped");
    let rp = call(a, "bcos_removeGroup", json!([3])).await;
    assert_eq!(result(&rp)["status"], "removed");
    let rp = call(a, "bcos_getGroupList", json!([])).await;
    let groups: Vec<GroupStatus> = serde_json::from_value(result(&rp)).unwrap();
    assert_eq!(groups, vec![status(0, "running"), status(1, "stopped")]);
    assert_eq!(
        admin.calls(),
        vec![
            format!("generate 3 {description}"),
            "start 3".to_owned(),
            "status 3".to_owned(),
            "stop 3".to_owned(),
            "remove 3".to_owned(),
            "list".to_owned(),
        ]
    );
    h.stop();
    tokio::time::timeout(Duration::from_secs(30), h.stopped())
        .await
        .expect("the admin server never stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_group_params_are_invalid_params_and_reach_nothing() {
    let (admin, h) = serve_admin().await;
    let a = h.local_addr();
    for (method, params) in [
        ("bcos_startGroup", json!(["two"])),
        ("bcos_startGroup", json!(["2"])),
        ("bcos_startGroup", json!([-1])),
        ("bcos_startGroup", json!([4_294_967_296u64])),
        ("bcos_startGroup", json!(["0x100000000"])),
        ("bcos_stopGroup", json!([])),
        ("bcos_removeGroup", json!([1, 2])),
        ("bcos_queryGroupStatus", json!([null])),
        ("bcos_generateGroup", json!([1])),
        ("bcos_generateGroup", json!([1, "not an object"])),
        ("bcos_getGroupList", json!([1])),
    ] {
        let rp = call(a, method, params.clone()).await;
        assert_eq!(rp["error"]["code"], -32602, "{method} {params}: {rp}");
    }
    assert_eq!(admin.calls(), Vec::<String>::new());
    // The node's own refusal comes back with its message.
    let rp = call(a, "bcos_queryGroupStatus", json!([UNKNOWN_GROUP])).await;
    assert_eq!(rp["error"]["code"], -32602, "{rp}");
    assert_eq!(rp["error"]["message"], format!("no group {UNKNOWN_GROUP}"));
}

/// Admin calls block (they open databases, join threads): with one async worker, a stuck
/// one must not stop the server answering others.
#[test]
fn a_blocking_admin_call_does_not_block_the_async_threads() {
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (admin, h) = server_rt.block_on(serve_admin());
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    client_rt.block_on(async {
        let a = h.local_addr();
        let stuck =
            tokio::spawn(async move { call(a, "bcos_startGroup", json!([GATED_GROUP])).await });
        let gated = admin.clone();
        tokio::task::spawn_blocking(move || gated.gate.wait_entered(1))
            .await
            .unwrap();
        let listed = tokio::time::timeout(
            Duration::from_secs(30),
            call(a, "bcos_getGroupList", json!([])),
        )
        .await;
        admin.gate.open();
        let listed = listed.expect("the async worker is blocked by an admin call");
        assert_eq!(result(&listed).as_array().map(Vec::len), Some(2));
        assert_eq!(result(&stuck.await.unwrap())["group"], GATED_GROUP);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_server_binds_loopback_only_unless_allowed() {
    let admin: Arc<dyn GroupAdmin> = Arc::new(MockAdmin::default());
    let mut config = RpcConfig {
        admin_addr: Some("0.0.0.0:0".parse().unwrap()),
        ..Default::default()
    };
    let refused = start_admin(&config, admin.clone()).await;
    assert!(
        matches!(refused, Err(RpcError::AdminNotLoopback { .. })),
        "{refused:?}"
    );
    config.admin_allow_non_loopback = true;
    let h = start_admin(&config, admin.clone()).await.unwrap().unwrap();
    h.stop();
    // Off by default.
    assert!(start_admin(&RpcConfig::default(), admin)
        .await
        .unwrap()
        .is_none());
}
