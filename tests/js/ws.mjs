// ethers v6 WebSocketProvider against a fresh `bcos dev` node: eth_subscribe newHeads and logs
// of a freshly deployed token, send a transfer, receive both notifications.
// Usage: node tests/js/ws.mjs <rpc-url> <ws-url>
import { ContractFactory, Contract, Wallet, WebSocketProvider } from "ethers";
import {
  args, check, compileToken, CHAIN_ID, DEV_KEYS, eq, EVENT_WAIT_MS, fail, receiptOf, section,
  traceRpc, within,
} from "./lib.mjs";

const { ws } = args({ needWs: true });
const provider = new WebSocketProvider(ws, undefined, { staticNetwork: true, cacheTimeout: -1 });
traceRpc(provider);
const w0 = new Wallet(DEV_KEYS[0], provider);
const w1 = new Wallet(DEV_KEYS[1], provider);

section("network over ws");
eq((await within(provider.getNetwork(), EVENT_WAIT_MS, "eth_chainId over ws")).chainId, CHAIN_ID, "chain id");

section("deploy over ws");
const { abi, bytecode } = compileToken();
const deployed = await new ContractFactory(abi, bytecode, w0).deploy(10n ** 24n);
const deployTx = deployed.deploymentTransaction();
const dr = await receiptOf(provider, deployTx.hash, "deploy");
eq(dr.status, 1, "deploy status");
const token = new Contract(await deployed.getAddress(), abi, w0);

section("subscribe");
const heads = new Map(); // block number -> hash, from newHeads
const logs = new Map(); // tx hash -> log, from the logs subscription
let wake = () => {};
await provider.on("block", async (n) => {
  heads.set(n, true);
  wake();
});
await token.on("Transfer", (from, to, value, ev) => {
  logs.set(ev.log.transactionHash, { from, to, value, blockHash: ev.log.blockHash });
  wake();
});

section("transfer and receive both notifications");
// The subscriptions are established asynchronously, so a transfer sent at once may predate
// them: send up to three and require both notifications for one of them.
let done = null;
for (let i = 0; i < 3 && !done; i++) {
  const t = await token.transfer(w1.address, 100n + BigInt(i));
  const r = await receiptOf(provider, t.hash, "transfer");
  eq(r.status, 1, "transfer status");
  const both = () => heads.has(r.blockNumber) && logs.has(t.hash);
  await within(
    new Promise((resolve) => {
      wake = () => both() && resolve();
      wake();
    }),
    10_000,
    "newHeads + logs notifications",
  ).catch(() => {});
  if (both()) done = { t, r, i };
}
if (!done) fail(`notifications missing: heads ${[...heads.keys()]} logs ${[...logs.keys()]}`);
const log = logs.get(done.t.hash);
eq(log.from, w0.address, "log from");
eq(log.to, w1.address, "log to");
eq(log.value, 100n + BigInt(done.i), "log value");
eq(log.blockHash, done.r.blockHash, "log block hash");
check((await token.balanceOf(w1.address)) >= 100n, "receiver balance over ws");

section("raw eth_subscribe");
{
  const id = await provider.send("eth_subscribe", ["newHeads"]);
  check(typeof id === "string" && id.length > 0, `subscription id ${id}`);
  eq(await provider.send("eth_unsubscribe", [id]), true, "eth_unsubscribe");
}

await provider.removeAllListeners();
await provider.destroy();
console.log("ws.mjs: ok");
process.exit(0);
