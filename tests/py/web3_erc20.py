"""web3.py (unmodified, from PyPI) against a running bcos node: deploy the test ERC20,
transfer tokens with EIP-1559 and legacy transactions, read the Transfer logs three ways
(receipt, eth_getLogs, a log filter), check balances, and see a revert reason.

Usage: python web3_erc20.py <rpc-url>. Exit status 0 only if every check held; a failure
prints the step and what differed.
"""

import importlib.metadata
import json
import pathlib
import subprocess
import sys

from web3 import Web3
from web3.exceptions import ContractLogicError

HERE = pathlib.Path(__file__).resolve().parent
# Dev accounts 0 and 1 of the test mnemonic ("test ... junk", m/44'/60'/0'/0/i).
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
RECEIVER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
SUPPLY = 10**24
RECEIPT_TIMEOUT_S = 60

step = "start"


def fail(msg):
    print(f"web3_erc20.py: FAIL at [{step}]: {msg}", file=sys.stderr)
    sys.exit(1)


def eq(actual, expected, what):
    if actual != expected:
        fail(f"{what}: expected {expected!r}, got {actual!r}")


def main():
    global step
    if len(sys.argv) < 2 or not sys.argv[1].startswith("http://"):
        fail("usage: web3_erc20.py <rpc-url>")
    w3 = Web3(Web3.HTTPProvider(sys.argv[1], request_kwargs={"timeout": RECEIPT_TIMEOUT_S}))

    step = "connect"
    if not w3.is_connected():
        fail("not connected")
    chain_id = w3.eth.chain_id
    eq(chain_id, 20200, "chain id")
    acct = w3.eth.account.from_key(DEV_KEY)

    step = "compile"
    artifact = json.loads(
        subprocess.check_output(["node", str(HERE.parent / "js" / "compile.mjs")], text=True)
    )

    def send(tx):
        tx.setdefault("from", acct.address)
        tx.setdefault("chainId", chain_id)
        tx.setdefault("nonce", w3.eth.get_transaction_count(acct.address, "pending"))
        signed = acct.sign_transaction(tx)
        h = w3.eth.send_raw_transaction(signed.raw_transaction)
        r = w3.eth.wait_for_transaction_receipt(h, timeout=RECEIPT_TIMEOUT_S, poll_latency=0.1)
        eq(r["status"], 1, f"status of {h.hex()}")
        return r

    step = "deploy (EIP-1559, fees from the node)"
    Token = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    deploy = Token.constructor(SUPPLY).build_transaction({"from": acct.address})
    r = send(deploy)
    address = r["contractAddress"]
    if not address or len(w3.eth.get_code(address)) == 0:
        fail(f"no code at {address}")
    token = w3.eth.contract(address=address, abi=artifact["abi"])
    eq(token.functions.symbol().call(), "TT", "symbol")
    eq(token.functions.balanceOf(acct.address).call(), SUPPLY, "deployer balance")

    step = "log filter"
    flt = w3.eth.filter({"address": address, "fromBlock": "latest"})

    step = "transfer (EIP-1559)"
    r1 = send(token.functions.transfer(RECEIVER, 1234).build_transaction({"from": acct.address}))
    events = token.events.Transfer().process_receipt(r1)
    eq(len(events), 1, "Transfer events in the receipt")
    eq(events[0]["args"]["to"], RECEIVER, "event recipient")
    eq(events[0]["args"]["value"], 1234, "event value")

    step = "transfer (legacy, gas price)"
    legacy = token.functions.transfer(RECEIVER, 766).build_transaction(
        {"from": acct.address, "gasPrice": w3.eth.gas_price, "gas": 100_000}
    )
    legacy.pop("maxFeePerGas", None)
    legacy.pop("maxPriorityFeePerGas", None)
    r2 = send(legacy)
    eq(r2["type"], 0, "legacy receipt type")

    step = "eth_getLogs"
    logs = token.events.Transfer.get_logs(from_block=r["blockNumber"], to_block="latest")
    eq([e["args"]["value"] for e in logs], [SUPPLY, 1234, 766], "Transfer values from getLogs")
    raw = w3.eth.get_logs({"address": address, "fromBlock": r1["blockNumber"], "toBlock": r2["blockNumber"]})
    eq(len(raw), 2, "raw logs in the two transfer blocks")

    step = "filter changes"
    changes = w3.eth.get_filter_changes(flt.filter_id)
    if len(changes) < 1:
        fail(f"filter saw {len(changes)} logs")

    step = "balances"
    eq(token.functions.balanceOf(RECEIVER).call(), 2000, "receiver balance")
    eq(token.functions.totalSupply().call(), SUPPLY, "total supply")

    step = "revert reason"
    try:
        token.functions.failWithReason().call()
        fail("expected a revert")
    except ContractLogicError as e:
        if "plain reason" not in str(e):
            fail(f"revert message: {e}")

    print(f"web3_erc20.py: ok (web3 {importlib.metadata.version('web3')}, token {address})")


if __name__ == "__main__":
    main()
