//! `goodwill contract check`: the real binary on the example contracts and
//! on modules the chain refuses.

use std::path::PathBuf;
use std::process::{Output, Stdio};

use super::common;

fn contracts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contracts")
}

fn check(args: &[&str]) -> Output {
    common::goodwill_command()
        .args(["contract", "check"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_accepts_the_paywall_and_prints_the_fuel_its_runs_use() {
    let wasm = contracts().join("paywall.wasm");
    let out = check(&[
        "--wasm",
        wasm.to_str().unwrap(),
        "--init",
        "f401000000000000",
        "--input",
        "01",
        "--value",
        "600",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["accepted"], true);
    assert_eq!(v["deploy"]["status"], "ok");
    assert_eq!(v["deploy"]["fuel_used"], 9009);
    assert_eq!(v["call"]["status"], "ok");
    assert_eq!(v["call"]["fuel_used"], 6752);
    assert_eq!(v["call"]["events"].as_array().unwrap().len(), 1);

    // A payment under the price traps: shown, and still an accepted module.
    let out = check(&[
        "--wasm",
        wasm.to_str().unwrap(),
        "--init",
        "f401000000000000",
        "--input",
        "01",
        "--value",
        "499",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("call       trapped: unreachable"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn check_refuses_what_the_chain_would_with_the_reason_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>, &[&str]); 3] = [
        (
            "start.wasm",
            wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "call")) (func $s) (start $s))"#)
                .unwrap(),
            &["start-function", "start function"],
        ),
        ("text.wasm", b"(module)".to_vec(), &["(invalid)", "not valid"]),
        ("big.wasm", vec![0; 64 * 1024 + 1], &["at most 65536 bytes"]),
    ];
    for (name, bytes, needles) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = check(&["--wasm", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = text(&out.stderr);
        for n in needles {
            assert!(err.contains(n), "{name}: {err}");
        }
        assert!(out.stdout.is_empty(), "{name}: nothing on stdout");
    }
    let out = check(&["--wasm", "/nonexistent/x.wasm"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/nonexistent/x.wasm"));
    let out = check(&[
        "--wasm",
        contracts().join("counter.wasm").to_str().unwrap(),
        "--input",
        "zz",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--input \"zz\" is not hex"));
}

/// The verbs that reach a node, end to end on a real node and forger: the
/// paywall deployed, refused calls that send nothing, a payment with its
/// receipt and exact balance changes, the query apps ask, the contract's
/// account and events, and the owner's withdrawal through the Rust client.
#[test]
fn deploy_call_query_show_and_events_on_a_running_chain() {
    use super::wallet::{run, run_err, run_ok, units, Net, WAIT_MS};
    use goodwill::chain::crypto::Hash;
    use goodwill::ledger::state::ReceiptStatus;

    // Finality 40 blocks (12 s): what proves a receipt is kept that long,
    // well past a --wait even under qemu.
    let net = Net::start_with_finality(1, 1, 40);
    let node = net.node.as_str();
    let user = &net.user;
    let wasm = contracts().join("paywall.wasm");
    let wasm = wasm.to_str().unwrap();

    // A module the chain would refuse is refused here: nothing is sent.
    let dir = tempfile::tempdir().unwrap();
    let floats = dir.path().join("floats.wasm");
    std::fs::write(
        &floats,
        wat::parse_str(
            r#"(module (memory (export "memory") 1)
                (func (export "deploy")) (func (export "call") (drop (f32.const 1))))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let before = net.next_nonce(user);
    run_err(
        &[
            "contract",
            "deploy",
            "--wasm",
            floats.to_str().unwrap(),
            "--key",
            &user.file,
            "--node",
            node,
        ],
        1,
        &["the chain would refuse", "nothing was sent"],
    );
    // A deploy whose init input is wrong traps in the dry run: nothing sent.
    run_err(
        &[
            "contract", "deploy", "--wasm", wasm, "--init", "01", "--key", &user.file, "--node",
            node,
        ],
        1,
        &["a dry run", "trapped", "nothing was sent"],
    );
    assert_eq!(net.next_nonce(user), before, "nothing was submitted");

    // Deploy with the price 500 units, given as u64:500.
    let d = run_ok(&[
        "contract", "deploy", "--wasm", wasm, "--init", "u64:500", "--key", &user.file, "--node",
        node, "--wait", "--json",
    ])
    .json();
    assert_eq!(d["status"], "included", "{d}");
    assert_eq!(d["receipt"]["status"], "ok", "{d}");
    assert_eq!(d["receipt_verified"], true, "{d}");
    let address = d["contract"].as_str().unwrap().to_string();
    let expected =
        goodwill::ledger::contract::address(&net.client().chain_id(), &user.pk(), before);
    assert_eq!(address, expected.to_hex());

    let show = run_ok(&["contract", "show", &address, "--node", node, "--json"]).json();
    assert_eq!(show["deployer"], user.addr.as_str());
    assert_eq!(show["balance"], 0);
    assert_eq!(
        units(&show["code_bytes"]),
        std::fs::metadata(wasm).unwrap().len()
    );
    assert!(units(&show["stored_bytes"]) > 0, "{show}");

    // Under the price: the dry run traps, nothing is sent.
    let before = net.next_nonce(user);
    run_err(
        &[
            "contract", "call", &address, "--input", "01", "--value", "0.000499", "--key",
            &user.file, "--node", node,
        ],
        1,
        &[
            "a dry run of this call",
            "trapped",
            "nothing was sent",
            "--force",
        ],
    );
    assert_eq!(net.next_nonce(user), before, "nothing was submitted");

    // Pay 600 units: the receipt's fee and storage charge and the value
    // are exactly what the balance loses.
    let start = units(&net.balance(user)["balance"]);
    let paid = run_ok(&[
        "contract", "call", &address, "--input", "01", "--value", "0.0006", "--key", &user.file,
        "--node", node, "--wait", "--json",
    ])
    .json();
    let r = &paid["receipt"];
    assert_eq!(r["status"], "ok", "{paid}");
    assert_eq!(paid["receipt_verified"], true, "{paid}");
    assert_eq!(r["events_hex"].as_array().unwrap().len(), 1, "{paid}");
    let spent = 600 + units(&r["fee"]) + units(&r["storage_charge"]);
    assert_eq!(
        units(&net.balance(user)["balance"]),
        start - spent,
        "{paid}"
    );

    // What an app asks: what the user paid, 600 as 8 bytes little endian.
    let q = run_ok(&[
        "contract", "query", &address, "--input", "02", "--input", &user.addr, "--node", node,
        "--json",
    ])
    .json();
    assert_eq!(q["status"], "ok", "{q}");
    assert_eq!(q["return_hex"], hex::encode(600u64.to_le_bytes()), "{q}");
    let text = run_ok(&[
        "contract", "query", &address, "--input", "02", "--input", &user.addr, "--node", node,
    ]);
    assert!(text.stdout.contains("as u64     600"), "{text:?}");
    // Too little fuel: it says so and exits 1.
    run_err(
        &[
            "contract", "query", &address, "--input", "04", "--fuel", "10", "--node", node,
        ],
        1,
        &["out of fuel"],
    );

    // The event: the payer's key and its new total.
    let events = run_ok(&["contract", "events", &address, "--node", node, "--json"]).json_lines();
    assert_eq!(events.len(), 1, "{events:?}");
    let mut data = user.pk().0.to_vec();
    data.extend_from_slice(&600u64.to_le_bytes());
    assert_eq!(events[0]["data_hex"], hex::encode(&data));
    assert_eq!(events[0]["tx"], paid["id"]);

    // Nothing deployed there, and not an address at all.
    let nowhere = Hash([7; 32]).to_hex();
    run_err(
        &["contract", "show", &nowhere, "--node", node],
        1,
        &["no contract at"],
    );
    run_err(
        &["contract", "events", "xyz", "--node", node],
        1,
        &["is not a contract address"],
    );

    // The owner withdraws through the Rust client: the receipt says ok, and
    // the contract's 600 units are the owner's.
    let key = goodwill::runtime::keyfile::read(std::path::Path::new(&user.file)).unwrap();
    let contract = Hash::from_hex(&address).unwrap();
    let mut c = net.client();
    let run_q = smol::block_on(c.query_contract(contract, user.pk(), &[3], 0, 1_000_000))
        .unwrap()
        .unwrap();
    assert_eq!(run_q.status, ReceiptStatus::Ok);
    assert_eq!(run_q.transfers, vec![(user.pk(), 600)]);
    let before = units(&net.balance(user)["balance"]);
    let id = smol::block_on(c.call_contract(&key, contract, &[3], 0, 100_000, None)).unwrap();
    let proven = smol::block_on(c.wait_for_receipt(id, WAIT_MS)).unwrap();
    assert!(proven.verified, "{:?}", proven.problem);
    let receipt = proven.receipt;
    assert_eq!(receipt.status, ReceiptStatus::Ok, "{receipt:?}");
    assert_eq!(
        units(&net.balance(user)["balance"]),
        before + 600 - receipt.fee,
        "{receipt:?}"
    );
    let info = smol::block_on(c.contract(contract)).unwrap().unwrap();
    assert_eq!(info.account.balance, 0);
    // The three contract transactions in the index, the pay's event only.
    let events = smol::block_on(c.contract_events(contract, 10)).unwrap();
    assert_eq!(events.len(), 1);
    assert!(run(&["contract", "show", &address, "--node", node])
        .stdout
        .contains("balance    0 GWL"));
}
