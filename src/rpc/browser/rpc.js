// JSON-RPC over HTTP POST to the page's own origin: `/` for group 0, `/g/<g>` for group g.
// The browser only reads: it never signs or sends a transaction.

let group = 0;
let nextId = 1;

/** Per-call timeout: a stalled node shows an error instead of a spinner forever. */
const TIMEOUT_MS = 10000;

export class RpcError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

export function setGroup(g) {
  group = Number.isInteger(g) && g >= 0 ? g : 0;
}

export function currentGroup() {
  return group;
}

export function endpoint(g = group) {
  return g === 0 ? "/" : `/g/${g}`;
}

async function post(body, g) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
  try {
    const rp = await fetch(endpoint(g), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: ctl.signal,
    });
    if (!rp.ok) {
      const text = await rp.text().catch(() => "");
      throw new RpcError(`HTTP ${rp.status}: ${text.slice(0, 200)}`, rp.status);
    }
    return await rp.json();
  } catch (e) {
    if (e.name === "AbortError") throw new RpcError("the node did not answer in time", -1);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** One call; resolves to its result or throws an RpcError. */
export async function call(method, params = [], g = group) {
  const rp = await post({ jsonrpc: "2.0", id: nextId++, method, params }, g);
  if (rp.error) throw new RpcError(rp.error.message, rp.error.code);
  return rp.result;
}

/**
 * Several calls in one JSON-RPC batch: `calls` is a list of [method, params]. Resolves to
 * a list, in order, of each result or an RpcError (a failed call does not fail the rest).
 */
export async function batch(calls, g = group) {
  if (calls.length === 0) return [];
  const first = nextId;
  nextId += calls.length;
  const body = calls.map(([method, params], i) => ({
    jsonrpc: "2.0",
    id: first + i,
    method,
    params: params || [],
  }));
  const rp = await post(body, g);
  if (!Array.isArray(rp)) {
    const msg = rp && rp.error ? rp.error.message : "batch refused";
    throw new RpcError(msg, rp && rp.error ? rp.error.code : -1);
  }
  const byId = new Map(rp.map((r) => [r.id, r]));
  return body.map((req) => {
    const r = byId.get(req.id);
    if (!r) return new RpcError("no answer", -1);
    if (r.error) return new RpcError(r.error.message, r.error.code);
    return r.result;
  });
}

/** A hex quantity (or a number) as a Number; null stays null. */
export function num(q) {
  if (q === null || q === undefined) return null;
  if (typeof q === "number") return q;
  return Number(BigInt(q));
}

/** A hex quantity as a BigInt. */
export function big(q) {
  if (q === null || q === undefined) return 0n;
  return BigInt(q);
}

export function hex(n) {
  return "0x" + BigInt(n).toString(16);
}
