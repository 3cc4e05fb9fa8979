//! web3.py (from PyPI, unmodified) against a fresh `bcos dev`: the scenario in
//! `tests/py/web3_erc20.py` deploys the test ERC20, transacts (EIP-1559 and legacy) and reads
//! the logs. `scripts/setup.sh` installs web3.py into `tests/py/.venv`.

use bcos_tests::client::{run_client, tests_dir};
use bcos_tests::Node;
use std::process::Command;

#[test]
fn web3py_erc20_scenario() {
    let py = tests_dir().join("py");
    let python = py.join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/setup.sh (it installs web3.py from tests/py/requirements.txt)",
        python.display()
    );
    let node = Node::start(&[]);
    let mut cmd = Command::new(&python);
    cmd.arg(py.join("web3_erc20.py"))
        .arg(&node.rpc_url)
        .current_dir(&py);
    let out = run_client(cmd, "web3_erc20.py", &node);
    assert!(out.stdout.contains("web3_erc20.py: ok"), "{}", out.stdout);
}
