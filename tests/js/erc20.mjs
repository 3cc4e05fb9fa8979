// ethers v6 against a fresh `bcos dev` node over HTTP: deploy an OpenZeppelin ERC20, transfer,
// read events (eth_getLogs and filters), reverts (reason, custom error, status-0 receipt),
// estimateGas, the three transaction types, fee history, blocks, transactions and nonces.
// Usage: node tests/js/erc20.mjs <rpc-url> <ws-url>
import { ContractFactory, Contract, JsonRpcProvider, Wallet, id as topicId } from "ethers";
import {
  args, check, compileToken, CHAIN_ID, DEV_KEYS, eq, receiptOf, rejects, section, within,
} from "./lib.mjs";

const { rpc } = args();
const provider = new JsonRpcProvider(rpc, undefined, {
  staticNetwork: true,
  pollingInterval: 200,
  cacheTimeout: -1,
});
const w0 = new Wallet(DEV_KEYS[0], provider);
const w1 = new Wallet(DEV_KEYS[1], provider);
const w2 = new Wallet(DEV_KEYS[2], provider);
const TRANSFER_TOPIC = topicId("Transfer(address,address,uint256)");

const mined = (hash, what) => receiptOf(provider, hash, what);

section("network");
eq((await provider.getNetwork()).chainId, CHAIN_ID, "chain id");
const funded = await provider.getBalance(w0.address);
check(funded > 0n, `account 0 ${w0.address} is not funded`);

section("deploy");
const { abi, bytecode } = compileToken();
const SUPPLY = 1_000_000n * 10n ** 18n;
const factory = new ContractFactory(abi, bytecode, w0);
const deployed = await factory.deploy(SUPPLY);
const deployReceipt = await mined(deployed.deploymentTransaction().hash, "deploy");
eq(deployReceipt.status, 1, "deploy receipt status");
const tokenAddr = await deployed.getAddress();
eq(deployReceipt.contractAddress, tokenAddr, "receipt contractAddress");
check((await provider.getCode(tokenAddr)).length > 2, "no code at the token address");
const token = new Contract(tokenAddr, abi, w0);
eq(await token.name(), "Test Token", "name()");
eq(await token.totalSupply(), SUPPLY, "totalSupply()");
eq(await token.balanceOf(w0.address), SUPPLY, "deployer balance");

section("estimateGas + transfer");
const estimate = await token.transfer.estimateGas(w1.address, 1000n);
check(estimate > 21_000n && estimate < 200_000n, `implausible transfer estimate ${estimate}`);
const t1 = await token.transfer(w1.address, 1000n);
const r1 = await within(t1.wait(), 60_000, "tx.wait()");
eq(r1.status, 1, "transfer status");
check(r1.gasUsed <= estimate, `gasUsed ${r1.gasUsed} above estimate ${estimate}`);
eq(await token.balanceOf(w1.address), 1000n, "receiver token balance");
eq(await token.balanceOf(w0.address), SUPPLY - 1000n, "sender token balance");
eq(r1.logs.length, 1, "transfer receipt log count");
eq(r1.logs[0].topics[0], TRANSFER_TOPIC, "receipt log topic");

section("queryFilter (eth_getLogs)");
const toW1 = await token.queryFilter(token.filters.Transfer(null, w1.address), 0, "latest");
eq(toW1.length, 1, "Transfer events to account 1");
eq(toW1[0].args.from, w0.address, "event from");
eq(toW1[0].args.value, 1000n, "event value");
eq(toW1[0].transactionHash, t1.hash, "event tx hash");
eq(toW1[0].blockHash, r1.blockHash, "event block hash");
const all = await token.queryFilter("Transfer", 0, "latest");
eq(all.length, 2, "all Transfer events (mint + transfer)");
const byBlock = await provider.getLogs({ blockHash: r1.blockHash, address: tokenAddr });
eq(byBlock.length, 1, "getLogs by block hash");

section("eth_newFilter / eth_getFilterChanges");
const filterId = await provider.send("eth_newFilter", [
  { address: tokenAddr, topics: [TRANSFER_TOPIC] },
]);
const t2 = await token.transfer(w2.address, 7n);
const r2 = await mined(t2.hash, "filtered transfer");
const changes = await provider.send("eth_getFilterChanges", [filterId]);
check(Array.isArray(changes), "filter changes not an array");
eq(changes.length, 1, "filter changes after one transfer");
eq(changes[0].transactionHash, t2.hash, "filter change tx hash");
eq(changes[0].blockHash, r2.blockHash, "filter change block hash");
eq((await provider.send("eth_getFilterChanges", [filterId])).length, 0, "second poll is empty");
eq(await provider.send("eth_uninstallFilter", [filterId]), true, "uninstall filter");

section("contract.on (ethers filter polling)");
{
  // ethers installs its filter asynchronously, so a transfer sent at once can predate it: send
  // up to three transfers and require an event for one of them.
  const seen = new Set();
  const sent = [];
  const hit = () => sent.some((h) => seen.has(h));
  let wake = () => {};
  // With a filter ethers passes only the ContractEventPayload; it is always the last argument.
  const listener = (...args) => {
    seen.add(args[args.length - 1].log.transactionHash);
    wake();
  };
  await token.on(token.filters.Transfer(w0.address, w2.address), listener);
  for (let i = 0; i < 3 && !hit(); i++) {
    const t = await token.transfer(w2.address, 1n);
    sent.push(t.hash);
    await mined(t.hash, "watched transfer");
    const arrived = new Promise((resolve) => {
      wake = resolve;
      if (hit()) resolve();
    });
    await within(arrived, 5_000, "Transfer event").catch(() => {});
  }
  check(hit(), "no Transfer event delivered via contract.on");
  await token.off(token.filters.Transfer(w0.address, w2.address), listener);
}

section("revert reason (eth_call)");
{
  const e = await rejects(token.failWithReason(), "failWithReason()");
  eq(e.code, "CALL_EXCEPTION", "error code");
  eq(e.reason, "plain reason", "decoded revert reason");
}

section("custom errors (eth_call, eth_estimateGas)");
{
  const e = await rejects(token.failCustom(), "failCustom()");
  eq(e.code, "CALL_EXCEPTION", "error code");
  eq(e.revert?.name, "Denied", "custom error name");
  eq(e.revert?.args?.[0], w0.address, "custom error arg 0");
  eq(e.revert?.args?.[1], 42n, "custom error arg 1");
  const poor = token.connect(w2);
  const balance2 = await token.balanceOf(w2.address);
  const e2 = await rejects(poor.transfer.staticCall(w0.address, balance2 + 1n), "overdraw call");
  eq(e2.code, "CALL_EXCEPTION", "overdraw call error code");
  eq(e2.revert?.name, "ERC20InsufficientBalance", "OpenZeppelin custom error");
  eq(e2.revert?.args?.[2], balance2 + 1n, "ERC20InsufficientBalance needed");
  const e3 = await rejects(poor.transfer.estimateGas(w0.address, balance2 + 1n), "estimate");
  eq(e3.code, "CALL_EXCEPTION", "estimateGas error code");
  // ethers decodes custom errors only for calls; for estimateGas the revert data is raw.
  eq(token.interface.parseError(e3.data ?? "0x")?.name, "ERC20InsufficientBalance", "estimateGas revert data");
}

section("reverting transaction with manual gasLimit");
{
  const poor = token.connect(w2);
  const nonceBefore = await provider.getTransactionCount(w2.address, "latest");
  const ethBefore = await provider.getBalance(w2.address);
  const tokensBefore = await token.balanceOf(w2.address);
  const t = await poor.transfer(w0.address, tokensBefore + 1n, { gasLimit: 120_000n });
  const r = await mined(t.hash, "reverting transfer");
  eq(r.status, 0, "reverted receipt status");
  check(r.gasUsed > 21_000n && r.gasUsed <= 120_000n, `reverted gasUsed ${r.gasUsed}`);
  eq(r.logs.length, 0, "reverted receipt logs");
  eq(await provider.getTransactionCount(w2.address, "latest"), nonceBefore + 1, "nonce after revert");
  eq(await token.balanceOf(w2.address), tokensBefore, "tokens unchanged by revert");
  eq(await provider.getBalance(w2.address), ethBefore - r.gasUsed * r.gasPrice, "gas charged");
  const e = await rejects(t.wait(), "wait() on a reverted tx");
  eq(e.code, "CALL_EXCEPTION", "wait() error code");
}

section("transaction types");
const sink = Wallet.createRandom().address;
const typed = {};
for (const type of [0, 1, 2]) {
  const req = { to: sink, value: 1000n + BigInt(type), type };
  if (type === 1) req.accessList = [{ address: tokenAddr, storageKeys: [] }];
  const t = await w1.sendTransaction(req);
  const r = await mined(t.hash, `type ${type} transfer`);
  eq(r.status, 1, `type ${type} status`);
  eq(r.type, type, `type ${type} receipt type`);
  eq(r.gasUsed, type === 1 ? 21_000n + 2_400n : 21_000n, `type ${type} gasUsed`);
  const got = await provider.getTransaction(t.hash);
  eq(got.type, type, `type ${type} getTransaction type`);
  eq(got.chainId, CHAIN_ID, `type ${type} chain id`);
  eq(got.from, w1.address, `type ${type} from`);
  eq(got.to, sink, `type ${type} to`);
  eq(got.value, 1000n + BigInt(type), `type ${type} value`);
  eq(got.blockHash, r.blockHash, `type ${type} block hash`);
  eq(got.hash, t.hash, `type ${type} hash`);
  typed[type] = { t, r };
}
{
  // EIP-155: the legacy v encodes the chain id.
  const raw = await provider.send("eth_getTransactionByHash", [typed[0].t.hash]);
  const v = BigInt(raw.v);
  check(v === CHAIN_ID * 2n + 35n || v === CHAIN_ID * 2n + 36n, `legacy v ${v} is not EIP-155`);
  eq(raw.type, "0x0", "legacy raw type");
  const raw2 = await provider.send("eth_getTransactionByHash", [typed[2].t.hash]);
  eq(raw2.type, "0x2", "1559 raw type");
  check(raw2.maxFeePerGas != null && raw2.maxPriorityFeePerGas != null, "1559 fee fields");
}
eq(await provider.getBalance(sink), 3003n, "sink balance after three typed transfers");

section("blocks");
{
  const r = typed[2].r;
  const light = await provider.getBlock(r.blockNumber);
  eq(light.hash, r.blockHash, "block hash");
  eq(light.number, r.blockNumber, "block number");
  check(light.transactions.includes(r.hash), "block tx hashes include the transfer");
  const full = await provider.getBlock(r.blockNumber, true);
  const tx = full.prefetchedTransactions.find((t) => t.hash === r.hash);
  check(tx != null, "full block includes the transfer object");
  eq(tx.from, w1.address, "full block tx from");
  eq(full.transactions.length, light.transactions.length, "full vs light tx count");
  const parent = await provider.getBlock(r.blockNumber - 1);
  eq(light.parentHash, parent.hash, "parent hash links");
  const head = await provider.getBlockNumber();
  check(head >= r.blockNumber, "head behind a mined block");
  check((await provider.getBlock(head + 1000)) == null, "a future block is null");
  const byHash = await provider.getBlock(r.blockHash);
  eq(byHash.number, r.blockNumber, "block by hash");
  check(light.baseFeePerGas != null, "block has baseFeePerGas");
}

section("eth_feeHistory");
{
  const head = await provider.getBlockNumber();
  const n = Math.min(4, head);
  const fh = await provider.send("eth_feeHistory", ["0x" + n.toString(16), "latest", [10, 90]]);
  eq(BigInt(fh.oldestBlock), BigInt(head - n + 1), "oldestBlock");
  eq(fh.baseFeePerGas.length, n + 1, "baseFeePerGas length");
  eq(fh.gasUsedRatio.length, n, "gasUsedRatio length");
  eq(fh.reward.length, n, "reward length");
  check(fh.reward.every((r) => r.length === 2), "two reward percentiles per block");
  check(fh.gasUsedRatio.every((x) => x >= 0 && x <= 1), "gasUsedRatio in [0, 1]");
  const fee = await provider.getFeeData();
  check(fee.gasPrice != null && fee.maxFeePerGas != null, "getFeeData fields");
}

section("nonces latest vs pending");
{
  const start = await provider.getTransactionCount(w0.address, "latest");
  eq(await provider.getTransactionCount(w0.address, "pending"), start, "idle pending == latest");
  const N = 5;
  const hashes = [];
  for (let i = 0; i < N; i++) {
    const t = await w0.sendTransaction({ to: sink, value: 1n, nonce: start + i, type: 2 });
    hashes.push(t.hash);
  }
  const [pending, latest] = await Promise.all([
    provider.getTransactionCount(w0.address, "pending"),
    provider.getTransactionCount(w0.address, "latest"),
  ]);
  eq(pending, start + N, "pending nonce counts pooled transactions");
  check(latest >= start && latest <= start + N, `latest nonce ${latest} out of range`);
  for (const h of hashes) eq((await mined(h, "nonce burst")).status, 1, "burst status");
  eq(await provider.getTransactionCount(w0.address, "latest"), start + N, "latest after mining");
  eq(await provider.getTransactionCount(w0.address, "pending"), start + N, "pending after mining");
}

provider.destroy();
console.log(`erc20.mjs: ok (token ${tokenAddr})`);
process.exit(0);
