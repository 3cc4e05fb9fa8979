// ethers v6 against a fresh `bcos dev` node: the contract naming service at 0x…1004 through
// an ordinary Solidity ABI (spec/execution.md §7). Deploys two versions of a contract,
// registers both, resolves each and `latest`, checks that a non-owner's register and a
// re-registered version revert with their reasons, and that the canary route over 10,000
// keys lands within 1 % of its weight and keeps each key on its version.
// Usage: node tests/js/cns.mjs <rpc-url> <ws-url>
import { Contract, ContractFactory, JsonRpcProvider, Wallet, keccak256, toBeHex } from "ethers";
import { args, check, compileToken, DEV_KEYS, eq, receiptOf, rejects, section } from "./lib.mjs";

const CNS = "0x0000000000000000000000000000000000001004";
const CNS_ABI = [
  "event Registered(string name, string version, address addr, address owner)",
  "function register(string name, string version, address addr, string abi)",
  "function resolve(string name, string version) view returns (address)",
  "function latest(string name) view returns (string version, address addr)",
  "function versions(string name) view returns (string[])",
  "function abiOf(string name, string version) view returns (string)",
  "function ownerOf(string name) view returns (address)",
  "function setRoute(string name, string stable, string canary, uint16 canaryPermille)",
  "function route(string name, bytes32 key) view returns (address)",
];

const { rpc } = args();
const provider = new JsonRpcProvider(rpc, undefined, {
  staticNetwork: true,
  pollingInterval: 200,
  cacheTimeout: -1,
});
const owner = new Wallet(DEV_KEYS[0], provider);
const other = new Wallet(DEV_KEYS[1], provider);
const cns = new Contract(CNS, CNS_ABI, owner);
const NAME = "TestToken";

section("deploy two versions");
const { abi, bytecode } = compileToken();
const deployed = [];
for (const supply of [1000n, 2000n]) {
  const c = await new ContractFactory(abi, bytecode, owner).deploy(supply);
  await receiptOf(provider, c.deploymentTransaction().hash, "deploy");
  deployed.push(await c.getAddress());
}
const [v1, v2] = deployed;

section("register");
const abiText = JSON.stringify(abi);
for (const [version, addr] of [["1.0.0", v1], ["2.0.0", v2]]) {
  const tx = await cns.register(NAME, version, addr, abiText);
  const r = await receiptOf(provider, tx.hash, `register ${version}`);
  eq(r.status, 1, `register ${version} status`);
  const event = cns.interface.parseLog(r.logs[0]);
  eq(event.name, "Registered", "event name");
  eq(event.args.version, version, "event version");
  eq(event.args.addr, addr, "event address");
  eq(event.args.owner, owner.address, "event owner");
}

section("resolve, latest, versions, abiOf, ownerOf");
eq(await cns.resolve(NAME, "1.0.0"), v1, "resolve 1.0.0");
eq(await cns.resolve(NAME, "2.0.0"), v2, "resolve 2.0.0");
const [latestVersion, latestAddr] = await cns.latest(NAME);
eq(latestVersion, "2.0.0", "latest version");
eq(latestAddr, v2, "latest address");
eq((await cns.versions(NAME)).join(","), "1.0.0,2.0.0", "versions");
eq(await cns.abiOf(NAME, "1.0.0"), abiText, "abiOf");
eq(await cns.ownerOf(NAME), owner.address, "ownerOf");
// The resolved address is the contract: call it through the registered ABI.
const viaCns = new Contract(await cns.resolve(NAME, "1.0.0"), JSON.parse(await cns.abiOf(NAME, "1.0.0")), provider);
eq(await viaCns.totalSupply(), 1000n, "the resolved contract answers");

section("reverts");
const unknown = await rejects(cns.resolve(NAME, "9.9.9"), "resolve of an unregistered version");
eq(unknown.reason, "cns: TestToken 9.9.9 is not registered", "unregistered reason");
const notOwner = await rejects(
  cns.connect(other).register.staticCall(NAME, "3.0.0", v1, ""),
  "a non-owner's register",
);
check(/is owned by/.test(notOwner.reason), `non-owner reason: ${notOwner.reason}`);
// Sent anyway (gas limit given, so no estimate refuses it first): mined with status 0.
const sent = await cns.connect(other).register(NAME, "3.0.0", v1, "", { gasLimit: 300_000n });
eq((await provider.waitForTransaction(sent.hash, 1, 60_000)).status, 0, "non-owner register receipt");
const again = await rejects(cns.register.staticCall(NAME, "1.0.0", v2, ""), "re-registering a version");
check(/already registered/.test(again.reason), `re-register reason: ${again.reason}`);
const estimate = await rejects(cns.register.estimateGas(NAME, "1.0.0", v2, ""), "estimateGas of a re-register");
check(/already registered/.test(estimate.reason ?? estimate.message), `estimate reason: ${estimate.message}`);
eq(await cns.resolve(NAME, "1.0.0"), v1, "1.0.0 unchanged");
eq((await cns.versions(NAME)).join(","), "1.0.0,2.0.0", "versions unchanged");

section("canary route");
const PERMILLE = 200;
const setRoute = await cns.setRoute(NAME, "1.0.0", "2.0.0", PERMILLE);
eq((await receiptOf(provider, setRoute.hash, "setRoute")).status, 1, "setRoute status");
const KEYS = 10_000;
const keyOf = (i) => keccak256(toBeHex(i, 32));
const routes = [];
for (let start = 0; start < KEYS; start += 500) {
  const chunk = [];
  for (let i = start; i < Math.min(start + 500, KEYS); i++) chunk.push(cns.route(NAME, keyOf(i)));
  routes.push(...(await Promise.all(chunk)));
}
for (const r of routes) check(r === v1 || r === v2, `route to ${r}`);
const share = routes.filter((r) => r === v2).length / KEYS;
check(Math.abs(share - PERMILLE / 1000) <= 0.01, `canary share ${share} for weight ${PERMILLE / 1000}`);
for (let i = 0; i < KEYS; i += 977) eq(await cns.route(NAME, keyOf(i)), routes[i], `key ${i} stays on its version`);
console.log(`canary share ${share} for weight ${PERMILLE / 1000} over ${KEYS} keys`);
console.log("cns scenario passed");
