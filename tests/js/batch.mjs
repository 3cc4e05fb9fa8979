// A raw JSON-RPC 2.0 batch over HTTP (fetch) with good and bad calls mixed: each call gets its
// own answer, matched by id; errors carry the standard codes; the node keeps serving.
// Usage: node tests/js/batch.mjs <rpc-url> [ws-url]
import { args, check, CHAIN_ID, eq, fail, section } from "./lib.mjs";

const { rpc } = args();
const ACCOUNT0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

async function post(body) {
  const res = await fetch(rpc, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    fail(`HTTP ${res.status}: response is not JSON: ${text.slice(0, 200)}`);
  }
}

section("mixed batch");
const batch = [
  { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] },
  { jsonrpc: "2.0", id: 2, method: "eth_noSuchMethod", params: [] },
  { jsonrpc: "2.0", id: 3, method: "eth_getBalance", params: ["0xnot-an-address", "latest"] },
  { jsonrpc: "2.0", id: "four", method: "eth_getBalance", params: [ACCOUNT0, "latest"] },
  { jsonrpc: "2.0", id: 5, method: "eth_blockNumber", params: [] },
  { jsonrpc: "2.0", id: 6, method: "eth_sendRawTransaction", params: ["0xdeadbeef"] },
  { jsonrpc: "2.0", id: 7, method: "net_version", params: [] },
];
const out = await post(batch);
check(Array.isArray(out), `batch answer is not an array: ${JSON.stringify(out).slice(0, 200)}`);
eq(out.length, batch.length, "one answer per call");
const byId = new Map(out.map((r) => [r.id, r]));
eq(byId.size, batch.length, "distinct ids in the answer");
for (const r of out) eq(r.jsonrpc, "2.0", `jsonrpc field of id ${r.id}`);

eq(BigInt(byId.get(1).result), CHAIN_ID, "eth_chainId");
eq(byId.get(2).error?.code, -32601, "unknown method code");
eq(byId.get(3).error?.code, -32602, "bad params code");
check(BigInt(byId.get("four").result) > 0n, "funded balance");
check(/^0x[0-9a-f]+$/.test(byId.get(5).result), `eth_blockNumber ${byId.get(5).result}`);
check(byId.get(6).error != null, "garbage raw transaction must fail");
check(byId.get(6).result === undefined, "failed call has no result");
eq(byId.get(7).result, String(CHAIN_ID), "net_version");

section("notification inside a batch gets no answer");
{
  const out2 = await post([
    { jsonrpc: "2.0", method: "eth_blockNumber", params: [] },
    { jsonrpc: "2.0", id: 9, method: "eth_chainId", params: [] },
  ]);
  check(Array.isArray(out2), "batch with a notification is answered with an array");
  eq(out2.length, 1, "answers for a batch with one notification");
  eq(out2[0].id, 9, "answered id");
}

section("invalid entries");
{
  const out3 = await post([1, { jsonrpc: "2.0", id: 10, method: "eth_chainId", params: [] }]);
  check(Array.isArray(out3), "batch with an invalid entry is answered with an array");
  const good = out3.find((r) => r.id === 10);
  check(good && BigInt(good.result) === CHAIN_ID, "the valid entry is still served");
  check(out3.some((r) => r.error?.code === -32600), "invalid entry gets -32600");
}

section("malformed JSON");
{
  const bad = await post('[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"');
  eq(bad.error?.code, -32700, "parse error code");
}

section("still serving");
{
  const after = await post({ jsonrpc: "2.0", id: 11, method: "eth_chainId", params: [] });
  eq(BigInt(after.result), CHAIN_ID, "eth_chainId after bad input");
}

console.log("batch.mjs: ok");
process.exit(0);
