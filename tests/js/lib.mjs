// Shared helpers for the end-to-end scenarios: argument parsing, checks that stop at the first
// failure, offline solc-js compilation and the dev chain's well-known keys.
import { readFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const HERE = dirname(fileURLToPath(import.meta.url));

/** Chain id of `bcos dev` unless the caller passes --chain-id to the node. */
export const CHAIN_ID = 20200n;

/** Private keys of the first dev accounts (mnemonic "test ... junk", m/44'/60'/0'/0/i). */
export const DEV_KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
];

/** Upper bound on any single awaited event (a receipt, a subscription message). */
export const EVENT_WAIT_MS = 60_000;

let step = "start";
const name = process.argv[1] ? process.argv[1].split("/").pop() : "scenario";

/** The last RPC exchanges of providers passed to `traceRpc`, printed when a scenario fails. */
const RPC_TRACE_MAX = 24;
const rpcTrace = [];

/** Records `provider`'s requests and answers, so a failure shows what was left unanswered. */
export function traceRpc(provider) {
  provider.on("debug", (e) => {
    const what = e.payload ?? e.result ?? e.error;
    const line = `${e.action} ${JSON.stringify(what, (_, v) => (typeof v === "bigint" ? `${v}n` : v))}`;
    rpcTrace.push(line.length > 240 ? `${line.slice(0, 240)}...` : line);
    if (rpcTrace.length > RPC_TRACE_MAX) rpcTrace.shift();
  });
}

export function fail(msg) {
  console.error(`${name}: FAIL at [${step}]: ${msg}`);
  if (rpcTrace.length > 0) console.error(`last RPC exchanges:\n  ${rpcTrace.join("\n  ")}`);
  process.exit(1);
}

/** Marks the start of a named check; failures report the step. */
export function section(s) {
  step = s;
}

export function check(cond, msg) {
  if (!cond) fail(msg);
}

export function eq(actual, expected, what) {
  if (actual !== expected) fail(`${what}: expected ${fmt(expected)}, got ${fmt(actual)}`);
}

function fmt(v) {
  return typeof v === "bigint" ? `${v}n` : JSON.stringify(v);
}

/** Awaits `promise`, failing the scenario if it does not settle within `ms`. */
export async function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Awaits a transaction's receipt by polling eth_getTransactionReceipt (bounded).
 *
 * Not `provider.waitForTransaction`: it compares the receipt's block with a block number read
 * just before and, when the transaction was sealed in between, waits for one more block. A dev
 * chain that seals only when transactions are pending never makes that block, so the wait
 * hangs (observed ~10-20% of the time, HTTP and WebSocket alike). `tx.wait()` does not have
 * this race and is exercised separately.
 */
export async function receiptOf(provider, hash, what = "transaction") {
  const attempts = EVENT_WAIT_MS / RECEIPT_POLL_MS;
  for (let i = 0; i < attempts; i++) {
    const r = await provider.getTransactionReceipt(hash);
    if (r != null) return r;
    await new Promise((resolve) => setTimeout(resolve, RECEIPT_POLL_MS));
  }
  fail(`${what}: no receipt for ${hash} after ${attempts} polls`);
}

const RECEIPT_POLL_MS = 100;

/** Expects `promise` to reject; returns the error. */
export async function rejects(promise, what) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  fail(`${what}: expected an error, call succeeded`);
}

/** `node <script> <rpc-url> [ws-url]`; a whole-run watchdog so a hung node cannot hang CI. */
export function args({ needWs = false } = {}) {
  const [rpc, ws] = process.argv.slice(2);
  if (!rpc || !rpc.startsWith("http://")) fail(`usage: node ${name} <rpc-url> <ws-url>`);
  if (needWs && (!ws || !ws.startsWith("ws://"))) fail(`usage: node ${name} <rpc-url> <ws-url>`);
  setTimeout(() => fail("scenario did not finish within 300 s"), 300_000).unref();
  process.on("unhandledRejection", (e) => fail(`unhandled rejection: ${e?.stack ?? e}`));
  process.on("uncaughtException", (e) => fail(`uncaught exception: ${e?.stack ?? e}`));
  return { rpc, ws };
}

function findImport(path) {
  const file = join(HERE, "node_modules", path);
  if (!existsSync(file)) return { error: `not found: ${path}` };
  return { contents: readFileSync(file, "utf8") };
}

/**
 * Compiles one Solidity source offline (imports come from node_modules) and returns
 * `{ abi, bytecode }` of `contractName`.
 */
export function compile(source, contractName) {
  const input = {
    language: "Solidity",
    sources: { "Main.sol": { content: source } },
    settings: {
      optimizer: { enabled: true, runs: 200 },
      // Paris: no PUSH0/MCOPY, so the bytecode does not depend on the node's hardfork choice.
      evmVersion: "paris",
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  const errors = (out.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length) fail(`solc: ${errors.map((e) => e.formattedMessage).join("\n")}`);
  const c = out.contracts?.["Main.sol"]?.[contractName];
  if (!c) fail(`solc produced no contract ${contractName}`);
  return { abi: c.abi, bytecode: "0x" + c.evm.bytecode.object };
}

/** An OpenZeppelin ERC20 with a string revert and a custom error, for the token scenarios. */
export const TOKEN_SOURCE = `
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

contract TestToken is ERC20 {
    error Denied(address who, uint256 code);

    constructor(uint256 supply) ERC20("Test Token", "TT") {
        _mint(msg.sender, supply);
    }

    function failWithReason() external pure returns (uint256) {
        revert("plain reason");
    }

    function failCustom() external view returns (uint256) {
        revert Denied(msg.sender, 42);
    }
}
`;

export function compileToken() {
  return compile(TOKEN_SOURCE, "TestToken");
}
