// ethers v6 against a 4-node PBFT cluster: governance and RegTech at 0x…1008
// (spec/governance.md, docs/governance.md). The cluster's committee is dev accounts 0, 1 and 2
// (weight 1 each, threshold 2), proposals live 4 blocks and dev account 3 is the regulator.
// A proposal below the threshold changes nothing; at the threshold it applies from the next
// block on every node; an expired proposal cannot pass; each permission and each rule
// refuses what it names and nothing else; a flagged transfer carries an Alert; the
// regulator's blacklist applies from the next block.
// Usage: node tests/js/governance.mjs <rpc-url-0> <rpc-url-1> ...
import { Contract, ContractFactory, HDNodeWallet, Interface, JsonRpcProvider, parseEther } from "ethers";
import { args, check, compileToken, eq, receiptOf, rejects, section } from "./lib.mjs";

const GOV = "0x0000000000000000000000000000000000001008";
const GOV_ABI = [
  "event ProposalCreated(uint256 indexed id, address indexed proposer, bytes action, uint64 expiresAtBlock)",
  "event ProposalPassed(uint256 indexed id, uint64 effectiveBlock)",
  "event Blacklisted(address indexed account, uint64 effectiveBlock)",
  "event Alert(address indexed account, string rule, address counterparty, uint256 value)",
  "function propose(bytes action) returns (uint256)",
  "function vote(uint256 id, bool approve)",
  "function blacklist(address account)",
  "function proposalCount() view returns (uint256)",
  "function proposal(uint256 id) view returns (address proposer, bytes action, uint64 createdAtBlock, uint64 expiresAtBlock, uint64 weightFor, uint64 weightAgainst, uint8 status)",
  "function committee() view returns (address[] members, uint64[] weights, uint64 threshold)",
  "function regulator() view returns (address)",
  "function accountStatus(address account) view returns (bool frozen, bool blacklisted, bool mayDeploy, bool maySend)",
  "function check(address from, address to, uint256 value, bytes data) view returns (bool allowed, string rule, string reason)",
];
const ACTIONS = new Interface([
  "function freezeAccount(address account, bool frozen)",
  "function setDeployList(bool on)",
  "function allowDeploy(address account, bool allowed)",
  "function setSendList(bool on)",
  "function allowSend(address account, bool allowed)",
  "function restrictMethod(address target, bytes4 selector, bool restricted)",
  "function allowCall(address target, bytes4 selector, address account, bool allowed)",
  "function setAmountRule(uint256 maxWei, uint8 action)",
  "function setVelocityRule(address account, uint64 windowBlocks, uint64 countMax, uint256 amountMax, uint8 action)",
  "function setCounterpartyRule(address account, uint8 action)",
  "function allowCounterparty(address account, address counterparty, bool allowed)",
]);
const INTERCEPT = 1;
const FLAG = 2;
const LIFETIME_BLOCKS = 4;
const MNEMONIC = "test test test test test test test test test test test junk";

args();
const urls = process.argv.slice(2).filter((a) => a.startsWith("http://"));
check(urls.length >= 2, "give the RPC URL of every node");
const providers = urls.map(
  (url) => new JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 200, cacheTimeout: -1 }),
);
const provider = providers[0];
const dev = (i) => HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).connect(provider);
const [m0, m1, m2, regulator, , u5, u6, u7] = [0, 1, 2, 3, 4, 5, 6, 7].map(dev);
const gov = new Contract(GOV, GOV_ABI, m0);

/** Sends and waits; the receipt. */
async function mined(txPromise, what) {
  const tx = await txPromise;
  return receiptOf(provider, tx.hash, what);
}

/** A block after everything sent so far: a zero transfer by member 2, mined. */
async function nextBlock() {
  return mined(m2.sendTransaction({ to: m2.address, value: 0n, gasLimit: 21_000n }), "filler");
}

/** Every node reached block `n`; `fn(provider)` then gives the same answer on each. */
async function onEveryNode(n, fn, what) {
  const answers = [];
  for (const p of providers) {
    for (let i = 0; (await p.getBlockNumber()) < n; i++) {
      check(i < 600, `${what}: a node stays below block ${n}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    answers.push(JSON.stringify(await fn(p), (_, v) => (typeof v === "bigint" ? v.toString() : v)));
  }
  for (const a of answers) eq(a, answers[0], `${what}: every node answers the same`);
  return JSON.parse(answers[0]);
}

const statusOf = (p, who) => new Contract(GOV, GOV_ABI, p).accountStatus(who).then((s) => [...s]);

/** Proposes `action` (member 0) and passes it (member 1), then mines the block it applies in. */
async function enact(name, params) {
  const action = ACTIONS.encodeFunctionData(name, params);
  const created = await mined(gov.propose(action), `propose ${name}`);
  const id = gov.interface.parseLog(created.logs[0]).args.id;
  const voted = await mined(gov.connect(m1).vote(id, true), `vote ${name}`);
  const passed = voted.logs.map((l) => gov.interface.parseLog(l)).find((e) => e?.name === "ProposalPassed");
  check(passed, `${name}: passed at the threshold`);
  eq(passed.args.effectiveBlock, BigInt(voted.blockNumber + 1), `${name}: applies from the next block`);
  const after = await nextBlock();
  return after.blockNumber;
}

/** A refusal whose error names `rule` (the pool's message, through ethers). */
async function refusedBy(promise, rule, what) {
  const e = await rejects(promise, what);
  const text = [e.message, e.shortMessage, e.error?.message, e.info?.error?.message].join(" | ");
  check(text.includes(`rule ${rule}:`), `${what}: expected rule ${rule}, got: ${text}`);
}

const pay = (from, to, value = 1n) => from.sendTransaction({ to: to.address ?? to, value, gasLimit: 21_000n });

section("the committee");
const committee = await onEveryNode(0, (p) => new Contract(GOV, GOV_ABI, p).committee().then((c) => [...c.members, ...c.weights, c.threshold]), "committee");
eq(committee.join(","), [m0.address, m1.address, m2.address, 1, 1, 1, 2].join(","), "members, weights, threshold");
eq(await gov.regulator(), regulator.address, "regulator");

section("below the threshold nothing changes");
const freeze = ACTIONS.encodeFunctionData("freezeAccount", [u5.address, true]);
const created = await mined(gov.propose(freeze), "propose freeze");
const freezeId = gov.interface.parseLog(created.logs[0]).args.id;
eq((await mined(pay(u5, u6), "u5 pays while the proposal is open")).status, 1, "u5 still sends");
const open = await gov.proposal(freezeId);
eq([open.weightFor, open.status].join(","), "1,0", "one vote of two: open");

section("at the threshold it applies from the next block on every node");
const voted = await mined(gov.connect(m1).vote(freezeId, true), "vote freeze");
const effective = voted.blockNumber + 1;
const filler = await nextBlock();
check(filler.blockNumber >= effective, "the filler is in or after the effective block");
const frozenEverywhere = await onEveryNode(filler.blockNumber, (p) => statusOf(p, u5.address), "u5 status");
eq(frozenEverywhere[0], true, "u5 frozen on every node");
await refusedBy(pay(u5, u6), "frozen-account", "a frozen account sends");
await refusedBy(pay(u6, u5), "frozen-contract", "a transfer to a frozen account");
eq((await mined(pay(u6, u7), "u6 pays u7")).status, 1, "others are unaffected");
await enact("freezeAccount", [u5.address, false]);
eq((await mined(pay(u5, u6), "u5 unfrozen")).status, 1, "u5 sends again");

section("an expired proposal cannot pass");
const late = await mined(gov.propose(ACTIONS.encodeFunctionData("setSendList", [true])), "propose send list");
const lateId = gov.interface.parseLog(late.logs[0]).args.id;
const expires = (await gov.proposal(lateId)).expiresAtBlock;
eq(expires, BigInt(late.blockNumber + LIFETIME_BLOCKS), "expiry block");
while ((await provider.getBlockNumber()) <= Number(expires)) await nextBlock();
const expired = await rejects(gov.connect(m1).vote.staticCall(lateId, true), "vote on an expired proposal");
check(/expired at block/.test(expired.reason), `expired reason: ${expired.reason}`);
const sentLate = await mined(gov.connect(m1).vote(lateId, true, { gasLimit: 300_000n }), "expired vote sent anyway");
eq(sentLate.status, 0, "the expired vote reverts on chain");
eq((await mined(pay(u6, u7), "the send list never came")).status, 1, "no send list");

section("the deploy list");
const { abi, bytecode } = compileToken();
await enact("setDeployList", [true]);
await enact("allowDeploy", [u5.address, true]);
await refusedBy(new ContractFactory(abi, bytecode, u6).deploy(1000n), "deploy-permission", "an unlisted deployer");
const token = await new ContractFactory(abi, bytecode, u5).deploy(1_000_000n);
eq((await receiptOf(provider, token.deploymentTransaction().hash, "listed deploy")).status, 1, "a listed deployer deploys");
const tokenAddr = await token.getAddress();
eq((await mined(token.transfer(u6.address, 1000n), "u5 gives u6 tokens")).status, 1, "token transfer");
await enact("setDeployList", [false]);

section("the send list");
// The filler's sender first; the committee reaches 0x…1008 whatever the list says.
await enact("allowSend", [m2.address, true]);
await enact("allowSend", [u5.address, true]);
await enact("setSendList", [true]);
await refusedBy(pay(u6, u5), "send-permission", "an unlisted sender");
eq((await mined(pay(u5, u6), "listed sender")).status, 1, "a listed sender sends");
await enact("setSendList", [false]);
eq((await mined(pay(u6, u5), "list off")).status, 1, "the list off, u6 sends");

section("method ACLs and frozen contracts");
const transferSel = token.interface.getFunction("transfer").selector;
await enact("restrictMethod", [tokenAddr, transferSel, true]);
await enact("allowCall", [tokenAddr, transferSel, u5.address, true]);
eq((await mined(token.transfer(u7.address, 1n), "allowed caller")).status, 1, "u5 may call transfer");
await refusedBy(token.connect(u6).transfer(u7.address, 1n), "method-acl", "u6 calls the restricted transfer");
eq((await mined(token.connect(u6).approve(u7.address, 5n), "another method")).status, 1, "u6 may approve");
const verdict = await gov.check(u6.address, tokenAddr, 0n, token.interface.encodeFunctionData("transfer", [u7.address, 1n]));
eq([verdict.allowed, verdict.rule].join(","), "false,method-acl", "check() names the rule");
await enact("freezeAccount", [tokenAddr, true]);
await refusedBy(token.transfer(u7.address, 1n), "frozen-contract", "a call of a frozen contract");
eq(await token.balanceOf(u7.address), 1n, "reading a frozen contract still works");

section("the amount rule");
await enact("setAmountRule", [parseEther("1"), INTERCEPT]);
await refusedBy(pay(u6, u7, parseEther("2")), "amount", "2 ether above a 1 ether limit");
eq((await mined(pay(u6, u7, parseEther("1")), "at the limit")).status, 1, "1 ether passes");
await enact("setAmountRule", [parseEther("1"), FLAG]);
const flagged = await mined(pay(u6, u7, parseEther("2")), "flagged transfer");
eq(flagged.status, 1, "a flagged transfer is committed");
const alert = gov.interface.parseLog(flagged.logs.find((l) => l.address === GOV));
eq([alert.name, alert.args.account, alert.args.rule, alert.args.counterparty, alert.args.value].join(","),
  ["Alert", u6.address, "amount", u7.address, parseEther("2")].join(","), "the alert");
const alerts = await provider.getLogs({ address: GOV, topics: [gov.interface.getEvent("Alert").topicHash], fromBlock: 0 });
check(alerts.some((l) => l.transactionHash === flagged.hash), "the alert through eth_getLogs");
await enact("setAmountRule", [0n, 0]);

section("velocity");
await enact("setVelocityRule", [u7.address, 1000n, 2n, 0n, INTERCEPT]);
for (let i = 0; i < 2; i++) eq((await mined(pay(u7, u6), `u7 pays ${i}`)).status, 1, `u7 transaction ${i}`);
await refusedBy(pay(u7, u6), "velocity-count", "a third transaction in the window");

section("counterparties");
await enact("setCounterpartyRule", [u6.address, INTERCEPT]);
await enact("allowCounterparty", [u6.address, u5.address, true]);
eq((await mined(pay(u6, u5), "listed counterparty")).status, 1, "u6 pays its counterparty");
await refusedBy(pay(u6, m0), "counterparty", "u6 pays someone else");
await refusedBy(pay(m0, u6), "counterparty", "someone else pays u6");

section("the regulator's blacklist");
const notRegulator = await rejects(gov.connect(u5).blacklist.staticCall(u5.address), "a non-regulator blacklists");
check(/only the regulator/.test(notRegulator.reason), `reason: ${notRegulator.reason}`);
const listed = await mined(gov.connect(regulator).blacklist(u5.address), "regulator blacklists u5");
const listedEvent = gov.interface.parseLog(listed.logs[0]);
eq(listedEvent.args.effectiveBlock, BigInt(listed.blockNumber + 1), "from the next block");
const after = await nextBlock();
await onEveryNode(after.blockNumber, (p) => statusOf(p, u5.address), "u5 blacklisted").then((s) => eq(s[1], true, "blacklisted everywhere"));
await refusedBy(pay(u5, m0), "blacklist", "a blacklisted account sends");
await refusedBy(pay(m0, u5), "blacklist", "a transfer to a blacklisted account");

section("every node agrees");
const top = await nextBlock();
await onEveryNode(top.blockNumber, (p) => p.getBlock(top.blockNumber).then((b) => [b.hash, b.stateRoot]), "head");
console.log(`governance scenario passed at block ${top.blockNumber}`);
