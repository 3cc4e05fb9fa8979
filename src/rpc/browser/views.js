// The browser's views. Each renders into `el` from JSON-RPC reads only; `ctx` gives links
// in the current group (`ctx.link`), a check that the view is still the one on screen
// (`ctx.alive`) and a way to run something every few seconds while it is (`ctx.every`).

import { call, batch, num, big, hex, RpcError } from "./rpc.js";
import { drawChart } from "./charts.js";

// ---------- formatting ----------

export function esc(s) {
  return String(s ?? "").replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
}

function short(h, keep = 8) {
  if (!h) return "";
  return h.length > 2 * keep + 3 ? `${h.slice(0, keep + 2)}…${h.slice(-keep)}` : h;
}

function thousands(n) {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Wei as ether with up to 6 decimals, e.g. "9,999.999979". */
function ether(wei) {
  const w = big(wei);
  const neg = w < 0n;
  const a = neg ? -w : w;
  const whole = a / 10n ** 18n;
  let frac = (a % 10n ** 18n).toString().padStart(18, "0").slice(0, 6).replace(/0+$/, "");
  if (frac === "" && a % 10n ** 18n !== 0n) frac = "000000…";
  return `${neg ? "-" : ""}${thousands(whole.toString())}${frac ? "." + frac : ""}`;
}

/** An amount for people: ether, or wei when it is below a millionth of an ether. */
function amount(wei) {
  const w = big(wei);
  if (w === 0n) return "0";
  if (w < 10n ** 12n) return `${thousands(w.toString())} wei`;
  return `${ether(w)} ether`;
}

function gwei(wei) {
  const w = big(wei);
  const g = Number(w) / 1e9;
  return g >= 100 ? g.toFixed(0) : g.toFixed(g >= 1 ? 2 : 4);
}

function when(ts) {
  const d = new Date(ts * 1000);
  return d.toLocaleString();
}

function ago(ts) {
  const s = Math.max(0, Math.round(Date.now() / 1000 - ts));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

function timeCell(ts) {
  if (ts === 0) return `<span class="muted">genesis</span>`;
  return `<span title="${esc(when(ts))}">${esc(ago(ts))}</span>`;
}

function mono(s, title) {
  return `<span class="mono" title="${esc(title ?? s)}">${esc(s)}</span>`;
}

function errorBox(e) {
  const msg = e instanceof RpcError || e instanceof Error ? e.message : String(e);
  return `<div class="notice error">Could not read from the node: ${esc(msg)}</div>`;
}

function table(headers, rows, empty = "Nothing to show.") {
  if (rows.length === 0) return `<p class="muted">${esc(empty)}</p>`;
  return `<div class="table-wrap"><table><thead><tr>${headers
    .map((h) => `<th>${h}</th>`)
    .join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`)
    .join("")}</tbody></table></div>`;
}

/** A definition list: [label, html] pairs; an optional third element is a help tooltip. */
function facts(pairs) {
  return `<dl class="facts">${pairs
    .filter((p) => p)
    .map(
      ([k, v, help]) =>
        `<dt${help ? ` title="${esc(help)}"` : ""}>${esc(k)}</dt><dd>${v}</dd>`,
    )
    .join("")}</dl>`;
}

function statusBadge(receipt) {
  if (!receipt) return `<span class="badge pending">Pending</span>`;
  return num(receipt.status) === 1
    ? `<span class="badge ok">Success</span>`
    : `<span class="badge fail">Failed</span>`;
}

function loading(el, what) {
  el.innerHTML = `<p class="muted loading">Loading ${esc(what)}…</p>`;
}

// Links in the current group.
const L = {
  block: (ctx, n) => `<a href="${ctx.link(`/block/${n}`)}">${esc(thousands(n))}</a>`,
  blockHash: (ctx, h) => `<a class="mono" href="${ctx.link(`/block/${h}`)}" title="${esc(h)}">${esc(short(h))}</a>`,
  tx: (ctx, h, full) => `<a class="mono" href="${ctx.link(`/tx/${h}`)}" title="${esc(h)}">${esc(full ? h : short(h, 6))}</a>`,
  addr: (ctx, a, full) =>
    a ? `<a class="mono" href="${ctx.link(`/address/${a}`)}" title="${esc(a)}">${esc(full ? a : short(a, 6))}</a>` : `<span class="muted">—</span>`,
};

/** Blocks `numbers` (transaction hashes only unless `full`), 10 to a batch (a busy chain's
 * blocks are large; the node caps a response's size). */
async function getBlocks(numbers, full = false) {
  const out = [];
  for (let i = 0; i < numbers.length; i += 10) {
    const part = numbers.slice(i, i + 10);
    const rs = await batch(part.map((n) => ["eth_getBlockByNumber", [hex(n), full]]));
    rs.forEach((r) => {
      if (r && !(r instanceof Error)) out.push(r);
    });
  }
  return out;
}

function range(hi, count) {
  const out = [];
  for (let n = hi; n >= 0 && out.length < count; n--) out.push(n);
  return out;
}

// ---------- home: live summary, charts, latest blocks and transactions ----------

export async function home(el, ctx) {
  el.innerHTML = `
    <section class="cards">
      <div class="card"><div class="label">Latest block</div><div class="value" id="latest-block">…</div><div class="sub" id="latest-time"></div></div>
      <div class="card"><div class="label">Transactions (all time)</div><div class="value" id="total-txs">…</div><div class="sub">committed on this chain</div></div>
      <a class="card link" id="pending-card" href="${ctx.link("/pending")}"><div class="label">Waiting transactions</div><div class="value" id="pending-txs">…</div><div class="sub">in this node's pool, not yet in a block <span class="go">· list →</span></div></a>
      <div class="card"><div class="label">Transactions per second</div><div class="value" id="tps-now">…</div><div class="sub" id="tps-sub">measured live</div></div>
      <div class="card"><div class="label">Consensus</div><div class="value small" id="consensus">…</div><div class="sub" id="consensus-sub"></div></div>
    </section>
    <section class="grid3">
      <div class="panel"><h2>Transactions per second <span class="muted">(live)</span></h2><canvas id="chart-tps" class="chart"></canvas></div>
      <div class="panel"><h2>Seconds between blocks <span class="muted">(recent blocks)</span></h2><canvas id="chart-bt" class="chart"></canvas></div>
      <div class="panel"><h2>Waiting transactions <span class="muted">(live)</span> <a class="more" href="${ctx.link("/pending")}">list →</a></h2><canvas id="chart-pending" class="chart"></canvas></div>
    </section>
    <section class="grid2">
      <div class="panel"><h2>Latest blocks <a class="more" href="${ctx.link("/blocks")}">all blocks →</a></h2><div id="latest-blocks"><p class="muted">Loading…</p></div></div>
      <div class="panel"><h2>Latest transactions</h2><div id="latest-txs"><p class="muted">Loading…</p></div></div>
    </section>`;

  const $ = (id) => el.querySelector("#" + id);
  const tpsSamples = []; // {x: time ms, y: tps}
  const pendingSamples = [];
  const blocks = new Map(); // number -> block (hashes only)
  let last = null; // {t, total}
  let shownHead = -1;

  const drawLive = () => {
    const fmtT = (t) => new Date(t).toLocaleTimeString();
    drawChart($("chart-tps"), tpsSamples, { kind: "line", fmtX: fmtT, empty: "measuring…" });
    drawChart($("chart-pending"), pendingSamples, { kind: "line", color: "#c27c0e", fmtX: fmtT, integer: true });
    const nums = [...blocks.keys()].sort((a, b) => a - b);
    const bt = [];
    for (const n of nums) {
      const p = blocks.get(n - 1);
      if (p && n - 1 > 0) bt.push({ x: n, y: num(blocks.get(n).timestamp) - num(p.timestamp) });
    }
    drawChart($("chart-bt"), bt, { kind: "bar", color: "#3b9c6e", fmtX: (x) => `#${x}`, integer: true, empty: "fewer than two blocks" });
  };

  const refresh = async () => {
    const [head, total, pending, cs] = await batch([
      ["eth_blockNumber", []],
      ["bcos_getTotalTransactionCount", []],
      ["bcos_getPendingTxSize", []],
      ["bcos_getConsensusStatus", []],
    ]);
    if (!ctx.alive()) return;
    if (head instanceof Error) throw head;
    const h = num(head);
    const now = Date.now();
    $("latest-block").textContent = thousands(h);
    $("latest-block").dataset.number = String(h);
    if (!(total instanceof Error)) {
      const t = num(total);
      $("total-txs").textContent = thousands(t);
      if (last && now > last.t) {
        const tps = ((t - last.total) * 1000) / (now - last.t);
        tpsSamples.push({ x: now, y: Math.max(0, tps) });
        if (tpsSamples.length > 60) tpsSamples.shift();
        $("tps-now").textContent = tps >= 10 ? tps.toFixed(0) : tps.toFixed(1);
        $("tps-sub").textContent = `over the last ${((now - last.t) / 1000).toFixed(0)} s`;
      }
      last = { t: now, total: t };
    }
    if (!(pending instanceof Error)) {
      $("pending-txs").textContent = thousands(num(pending));
      pendingSamples.push({ x: now, y: num(pending) });
      if (pendingSamples.length > 60) pendingSamples.shift();
    }
    if (!(cs instanceof Error) && cs) {
      $("consensus").textContent = (cs.protocol || "?").toUpperCase();
      const parts = [`${cs.nodes ?? "?"} node${cs.nodes === 1 ? "" : "s"}`];
      if (cs.view !== undefined) parts.push(`${cs.protocol === "raft" ? "term" : "view"} ${cs.view}`);
      if (cs.leader !== undefined && cs.leader !== null) parts.push(`leader #${cs.leader}`);
      $("consensus-sub").textContent = parts.join(" · ");
    }
    if (h !== shownHead) {
      const want = range(h, 30).filter((n) => !blocks.has(n));
      for (const b of await getBlocks(want)) blocks.set(num(b.number), b);
      for (const n of [...blocks.keys()]) if (n < h - 30) blocks.delete(n);
      if (!ctx.alive()) return;
      shownHead = h;
      const top = blocks.get(h);
      if (top) $("latest-time").textContent = `sealed ${ago(num(top.timestamp))}`;
      renderLatest(h);
      await renderLatestTxs(h);
    }
    drawLive();
  };

  const renderLatest = (h) => {
    const rows = range(h, 10)
      .map((n) => blocks.get(n))
      .filter((b) => b)
      .map((b) => [
        L.block(ctx, num(b.number)),
        timeCell(num(b.timestamp)),
        esc(b.transactions.length),
        L.addr(ctx, b.miner),
      ]);
    $("latest-blocks").innerHTML = table(["Block", "Time", "Transactions", "Sealer"], rows);
  };

  const renderLatestTxs = async (h) => {
    const picks = [];
    for (const n of range(h, 30)) {
      const b = blocks.get(n);
      if (!b) continue;
      for (const t of [...b.transactions].reverse()) {
        if (picks.length < 10) picks.push({ hash: typeof t === "string" ? t : t.hash, block: n, ts: num(b.timestamp) });
      }
      if (picks.length >= 10) break;
    }
    const txs = await batch(picks.map((p) => ["eth_getTransactionByHash", [p.hash]]));
    if (!ctx.alive()) return;
    const rows = picks.map((p, i) => {
      const t = txs[i] instanceof Error ? null : txs[i];
      return [
        L.tx(ctx, p.hash),
        L.block(ctx, p.block),
        t ? L.addr(ctx, t.from) : "",
        t ? (t.to ? L.addr(ctx, t.to) : `<span class="muted">new contract</span>`) : "",
        t ? esc(amount(t.value)) : "",
      ];
    });
    $("latest-txs").innerHTML = table(["Transaction", "Block", "From", "To", "Value"], rows, "No transactions in the recent blocks.");
  };

  try {
    await refresh();
  } catch (e) {
    el.insertAdjacentHTML("afterbegin", errorBox(e));
  }
  ctx.every(2000, refresh);
}

// ---------- block list ----------

export async function blockList(el, ctx, from) {
  loading(el, "blocks");
  const head = num(await call("eth_blockNumber"));
  const top = from === undefined || from > head ? head : from;
  const nums = range(top, 20);
  const [list, certs] = await Promise.all([
    getBlocks(nums),
    batch(nums.map((n) => ["bcos_getBlockCertificate", [hex(n)]])),
  ]);
  if (!ctx.alive()) return;
  const cert = new Map(nums.map((n, i) => [n, certs[i]]));
  const rows = list.map((b) => {
    const n = num(b.number);
    const c = cert.get(n);
    return [
      L.block(ctx, n),
      timeCell(num(b.timestamp)),
      esc(b.transactions.length),
      L.addr(ctx, b.miner),
      esc(thousands(num(b.gasUsed))),
      signersText(c),
    ];
  });
  const older = top - 20 >= 0 ? `<a class="button" href="${ctx.link(`/blocks/${top - 20}`)}">← Older</a>` : "";
  const newer = top < head ? `<a class="button" href="${ctx.link(top + 20 >= head ? "/blocks" : `/blocks/${top + 20}`)}">Newer →</a>` : "";
  el.innerHTML = `<h1>Blocks</h1>
    <p class="muted">Blocks ${esc(thousands(Math.max(0, top - 19)))} to ${esc(thousands(top))}; the latest is ${esc(thousands(head))}.</p>
    <div class="panel">${table(["Block", "Time", "Transactions", "Sealer", "Gas used", "Signed by"], rows)}</div>
    <div class="pager">${newer}${older}</div>`;
}

function signersText(c) {
  if (!c || c instanceof Error) return `<span class="muted">—</span>`;
  if (c.kind === "pbft-bls") {
    const s = Array.isArray(c.signers) && c.signers.length ? c.signers : c.signerPositions || [];
    return esc(`${s.length} node${s.length === 1 ? "" : "s"}`);
  }
  if (c.kind === "none") return `<span class="muted">no certificate</span>`;
  return esc(c.kind);
}

// ---------- one block ----------

export async function block(el, ctx, id) {
  loading(el, "block");
  const isHash = /^0x[0-9a-fA-F]{64}$/.test(id);
  if (!isHash && !/^\d+$/.test(id)) {
    el.innerHTML = `<h1>Block</h1><div class="notice">“${esc(id)}” is not a block number or block hash.</div>`;
    return;
  }
  const b = isHash
    ? await call("eth_getBlockByHash", [id, true])
    : await call("eth_getBlockByNumber", [hex(id), true]);
  if (!ctx.alive()) return;
  if (!b) {
    el.innerHTML = `<h1>Block</h1><div class="notice">No block ${esc(id)} on this chain (yet).</div>`;
    return;
  }
  const n = num(b.number);
  const [cert, head, parent] = await batch([
    ["bcos_getBlockCertificate", [hex(n)]],
    ["eth_blockNumber", []],
    ["eth_getBlockByNumber", [hex(Math.max(0, n - 1)), false]],
  ]);
  const txs = b.transactions;
  const shown = txs.slice(0, 200);
  const receipts = await batch(shown.map((t) => ["eth_getTransactionReceipt", [t.hash]]));
  if (!ctx.alive()) return;
  const ts = num(b.timestamp);
  const gap = n > 1 && parent && !(parent instanceof Error) ? ts - num(parent.timestamp) : null;
  const gasUsed = num(b.gasUsed);
  const gasLimit = num(b.gasLimit);
  const h = head instanceof Error ? n : num(head);

  let certHtml = `<p class="muted">No certificate could be read.</p>`;
  if (cert && !(cert instanceof Error)) {
    if (cert.kind === "pbft-bls") {
      const signers = Array.isArray(cert.signers) && cert.signers.length ? cert.signers : null;
      certHtml = facts([
        ["Kind", "PBFT commit certificate (one BLS aggregate signature)"],
        ["View", esc(cert.view)],
        ["Signed by nodes", signers ? esc(signers.map((s) => `#${s}`).join(", ")) : `<span class="muted">member list unknown</span>`, "Node indexes of the validators whose votes the certificate aggregates"],
        ["Signer positions", esc((cert.signerPositions || []).join(", ")), "Positions in the validator set of this height"],
        ["Signed digest", mono(short(cert.digest, 12), cert.digest)],
        ["Aggregate signature", mono(short(cert.aggregate, 12), cert.aggregate)],
      ]);
    } else if (cert.kind === "none") {
      certHtml = `<p class="muted">This block carries no commit certificate (the genesis block, or a chain run by one node or by Raft).</p>`;
    } else {
      certHtml = facts([["Kind", esc(cert.kind)], ["Raw", mono(short(cert.raw, 16), cert.raw)]]);
    }
  }

  const rows = shown.map((t, i) => {
    const r = receipts[i] instanceof Error ? null : receipts[i];
    return [
      esc(num(t.transactionIndex)),
      L.tx(ctx, t.hash),
      L.addr(ctx, t.from),
      t.to ? L.addr(ctx, t.to) : `<span class="muted">new contract</span>`,
      esc(amount(t.value)),
      statusBadge(r),
    ];
  });
  const nav = `<div class="pager">${n > 0 ? `<a class="button" href="${ctx.link(`/block/${n - 1}`)}">← Block ${esc(thousands(n - 1))}</a>` : ""}${
    n < h ? `<a class="button" href="${ctx.link(`/block/${n + 1}`)}">Block ${esc(thousands(n + 1))} →</a>` : ""
  }</div>`;
  el.innerHTML = `<h1>Block <span id="block-number">${esc(thousands(n))}</span></h1>
    ${nav}
    <div class="grid2">
      <div class="panel"><h2>Overview</h2>${facts([
        ["Block number", esc(thousands(n))],
        ["Time", n === 0 ? "genesis (written when the chain was set up)" : `${esc(when(ts))} <span class="muted">(${esc(ago(ts))})</span>`],
        ["Transactions", esc(txs.length)],
        gap !== null ? ["Time since previous block", `${esc(gap)} s`] : null,
        ["Sealer", L.addr(ctx, b.miner, true), "The fee recipient named by the node that sealed (proposed) this block"],
        ["Gas used", `${esc(thousands(gasUsed))} <span class="muted">of ${esc(thousands(gasLimit))} (${gasLimit ? ((100 * gasUsed) / gasLimit).toFixed(1) : 0}%)</span>`],
        b.baseFeePerGas ? ["Base fee", `${esc(gwei(b.baseFeePerGas))} gwei`] : null,
        ["Confirmations", esc(thousands(h - n)), "Blocks committed after this one; every committed block is final"],
      ])}</div>
      <div class="panel"><h2>Commit certificate</h2>${certHtml}</div>
    </div>
    <div class="panel"><h2>Transactions in this block</h2>${table(["#", "Hash", "From", "To", "Value", "Status"], rows, "This block has no transactions.")}
      ${txs.length > shown.length ? `<p class="muted">Showing the first ${shown.length} of ${txs.length}.</p>` : ""}</div>
    <div class="panel"><h2>Technical details</h2>${facts([
      ["Block hash", mono(b.hash)],
      ["Parent hash", n > 0 ? L.blockHash(ctx, b.parentHash) : mono(b.parentHash)],
      ["State root", mono(b.stateRoot)],
      ["Transactions root", mono(b.transactionsRoot)],
      ["Receipts root", mono(b.receiptsRoot)],
      ["Size", `${esc(thousands(num(b.size) ?? 0))} bytes`],
    ])}</div>`;
}

// ---------- one transaction ----------

export async function transaction(el, ctx, hash) {
  loading(el, "transaction");
  if (!/^0x[0-9a-fA-F]{64}$/.test(hash)) {
    el.innerHTML = `<h1>Transaction</h1><div class="notice">“${esc(hash)}” is not a transaction hash (0x and 64 hex digits).</div>`;
    return;
  }
  const [t, r] = await batch([
    ["eth_getTransactionByHash", [hash]],
    ["eth_getTransactionReceipt", [hash]],
  ]);
  if (!ctx.alive()) return;
  if (t instanceof Error) throw t;
  if (!t) {
    el.innerHTML = `<h1>Transaction</h1><div class="notice">No transaction ${mono(hash)} is known to this node, neither committed nor waiting in its pool.</div>`;
    return;
  }
  const receipt = r instanceof Error ? null : r;
  const inBlock = t.blockNumber !== null && t.blockNumber !== undefined;
  let ts = null;
  if (inBlock) {
    const b = await call("eth_getBlockByNumber", [t.blockNumber, false]);
    if (b) ts = num(b.timestamp);
  }
  if (!ctx.alive()) return;
  const gasLimit = num(t.gas);
  const gasUsed = receipt ? num(receipt.gasUsed) : null;
  const price = receipt && receipt.effectiveGasPrice ? receipt.effectiveGasPrice : t.effectiveGasPrice || t.gasPrice || t.maxFeePerGas;
  const fee = receipt && price ? big(receipt.gasUsed) * big(price) : null;
  const types = { 0: "Legacy", 1: "EIP-2930 (access list)", 2: "EIP-1559 (dynamic fee)" };
  const input = t.input || "0x";
  const logs = receipt ? receipt.logs || [] : [];
  const logRows = logs.map((l) => [
    esc(num(l.logIndex)),
    L.addr(ctx, l.address),
    (l.topics || []).map((tp, i) => `<div class="mono small">${i}: ${esc(tp)}</div>`).join(""),
    `<span class="mono small break">${esc(l.data)}</span>`,
  ]);

  el.innerHTML = `<h1>Transaction ${statusBadge(receipt)}</h1>
    <p class="mono break" id="tx-hash">${esc(t.hash)}</p>
    ${inBlock ? "" : `<div class="notice">This transaction is waiting in the node's pool and is not in a block yet. This page shows it as the node knows it now.</div>`}
    <div class="grid2">
      <div class="panel"><h2>Overview</h2>${facts([
        ["Status", receipt ? (num(receipt.status) === 1 ? "Success" : "Failed (reverted)") : "Pending"],
        ["Block", inBlock ? `<span id="tx-block">${L.block(ctx, num(t.blockNumber))}</span>` : `<span class="muted">not yet in a block</span>`],
        ["Position in block", inBlock ? esc(num(t.transactionIndex)) : "—"],
        ["Time", ts !== null ? `${esc(when(ts))} <span class="muted">(${esc(ago(ts))})</span>` : "—"],
        ["From", `<span id="tx-from">${L.addr(ctx, t.from, true)}</span>`],
        ["To", t.to ? L.addr(ctx, t.to, true) : receipt && receipt.contractAddress ? `New contract ${L.addr(ctx, receipt.contractAddress, true)}` : `<span class="muted">contract creation</span>`],
        ["Value", esc(amount(t.value))],
      ])}</div>
      <div class="panel"><h2>Fees and details</h2>${facts([
        ["Fee", fee !== null ? esc(amount(fee)) : "—"],
        ["Gas used", gasUsed !== null ? `${esc(thousands(gasUsed))} <span class="muted">of a ${esc(thousands(gasLimit))} limit</span>` : `limit ${esc(thousands(gasLimit))}`],
        ["Gas price", price ? `${esc(gwei(price))} gwei` : "—"],
        ["Nonce", esc(num(t.nonce)), "The sender's transaction counter"],
        ["Type", esc(types[num(t.type)] ?? `type ${num(t.type)}`)],
        ["Chain id", t.chainId ? esc(num(t.chainId)) : "—"],
        ["Input data", input === "0x" ? `<span class="muted">none (a plain transfer)</span>` : `<span class="mono small break">${esc(input.length > 514 ? input.slice(0, 514) + "…" : input)}</span> <span class="muted">(${(input.length - 2) / 2} bytes)</span>`],
      ])}</div>
    </div>
    <div class="panel"><h2>Logs (events) <span class="muted">${receipt ? logs.length : ""}</span></h2>${
      receipt ? table(["#", "Emitted by", "Topics", "Data"], logRows, "This transaction emitted no logs.") : `<p class="muted">Logs appear once the transaction is in a block.</p>`
    }</div>`;
}

// ---------- one address ----------

const SCAN_BLOCKS = 100;

export async function address(el, ctx, addr) {
  loading(el, "address");
  if (!/^0x[0-9a-fA-F]{40}$/.test(addr)) {
    el.innerHTML = `<h1>Address</h1><div class="notice">“${esc(addr)}” is not an address (0x and 40 hex digits).</div>`;
    return;
  }
  const [bal, nonce, pnonce, code, head] = await batch([
    ["eth_getBalance", [addr, "latest"]],
    ["eth_getTransactionCount", [addr, "latest"]],
    ["eth_getTransactionCount", [addr, "pending"]],
    ["eth_getCode", [addr, "latest"]],
    ["eth_blockNumber", []],
  ]);
  if (!ctx.alive()) return;
  for (const v of [bal, nonce, code, head]) if (v instanceof Error) throw v;
  const codeBytes = (code.length - 2) / 2;
  const waiting = pnonce instanceof Error ? null : num(pnonce) - num(nonce);
  el.innerHTML = `<h1>${codeBytes > 0 ? "Contract" : "Account"}</h1>
    <p class="mono break" id="address">${esc(addr)}</p>
    <section class="cards">
      <div class="card"><div class="label">Balance</div><div class="value small" id="balance">${esc(ether(bal))}</div><div class="sub">ether</div></div>
      <div class="card"><div class="label">Transactions sent</div><div class="value" id="nonce">${esc(thousands(num(nonce)))}</div><div class="sub">committed (the account's nonce)</div></div>
      <div class="card"><div class="label">Waiting to be committed</div><div class="value">${waiting === null ? "—" : esc(waiting)}</div><div class="sub">sent by this address, in the pool</div></div>
      <div class="card"><div class="label">Code size</div><div class="value">${esc(thousands(codeBytes))}</div><div class="sub">bytes${codeBytes > 0 ? " (a smart contract)" : " (no code: a plain account)"}</div></div>
    </section>
    <div class="panel"><h2>Recent transactions <span class="muted">(from or to this address in the last ${SCAN_BLOCKS} blocks)</span></h2><div id="addr-txs"><p class="muted">Searching…</p></div></div>`;
  const h = num(head);
  const want = addr.toLowerCase();
  const found = [];
  const nums = range(h, SCAN_BLOCKS);
  for (let i = 0; i < nums.length && found.length < 50; i += 10) {
    const bs = await getBlocks(nums.slice(i, i + 10), true);
    if (!ctx.alive()) return;
    for (const b of bs) {
      for (const t of b.transactions) {
        if ((t.from || "").toLowerCase() === want || (t.to || "").toLowerCase() === want) {
          found.push({ t, ts: num(b.timestamp) });
        }
      }
    }
  }
  const rows = found.slice(0, 50).map(({ t, ts }) => [
    L.tx(ctx, t.hash),
    L.block(ctx, num(t.blockNumber)),
    timeCell(ts),
    (t.from || "").toLowerCase() === want ? `<span class="badge out">out</span>` : `<span class="badge in">in</span>`,
    (t.from || "").toLowerCase() === want ? (t.to ? L.addr(ctx, t.to) : `<span class="muted">new contract</span>`) : L.addr(ctx, t.from),
    esc(amount(t.value)),
  ]);
  el.querySelector("#addr-txs").innerHTML = table(["Transaction", "Block", "Time", "", "Counterparty", "Value"], rows, `No transactions of this address in blocks ${Math.max(0, h - SCAN_BLOCKS + 1)} to ${h}.`);
}

// ---------- search ----------

/**
 * What `q` finds: a list of {kind, label, path}. A number is a block; 0x + 40 hex digits an
 * address; 0x + 64 hex digits a transaction or a block hash.
 */
export async function resolveQuery(q) {
  q = q.trim();
  const out = [];
  if (/^\d+$/.test(q)) {
    const b = await call("eth_getBlockByNumber", [hex(q), false]);
    if (b) out.push({ kind: "Block", label: `Block ${thousands(num(b.number))}`, path: `/block/${num(b.number)}` });
  } else if (/^(0x)?[0-9a-fA-F]{40}$/.test(q)) {
    const a = q.startsWith("0x") ? q : "0x" + q;
    out.push({ kind: "Address", label: a, path: `/address/${a}` });
  } else if (/^(0x)?[0-9a-fA-F]{64}$/.test(q)) {
    const h = q.startsWith("0x") ? q : "0x" + q;
    const [t, b] = await batch([
      ["eth_getTransactionByHash", [h]],
      ["eth_getBlockByHash", [h, false]],
    ]);
    if (t && !(t instanceof Error)) {
      const where = t.blockNumber ? `in block ${thousands(num(t.blockNumber))}` : "waiting in the pool";
      out.push({ kind: "Transaction", label: `${h} (${where})`, path: `/tx/${h}` });
    }
    if (b && !(b instanceof Error)) {
      out.push({ kind: "Block", label: `Block ${thousands(num(b.number))} (${h})`, path: `/block/${num(b.number)}` });
    }
  }
  return out;
}

export async function search(el, ctx, q) {
  loading(el, "search results");
  const found = await resolveQuery(q);
  if (!ctx.alive()) return;
  const rows = found.map((f) => `<li class="result"><span class="badge kind">${esc(f.kind)}</span> <a class="mono break" href="${ctx.link(f.path)}">${esc(f.label)}</a></li>`);
  el.innerHTML = `<h1>Search</h1>
    <p>Results for <span class="mono break">${esc(q)}</span>:</p>
    ${found.length ? `<ul class="results" id="search-results">${rows.join("")}</ul>` : `<div class="notice" id="search-results">Nothing found. Search for a block number, a block or transaction hash (0x and 64 hex digits) or an address (0x and 40 hex digits).</div>`}`;
}

// ---------- nodes ----------

/** This node's own id (bcos_getNodeInfo's nodeId; a single dev node has none). */
function ownNodeId(info) {
  for (const v of [info.nodeId]) {
    if (typeof v === "string" && v) return v;
  }
  return null;
}

/** The peers table from bcos_getPeers (or why there is none). */
function peersHtml(ctx, peers) {
  if (peers instanceof Error) {
    return `<p class="muted">This node does not list its peers (${esc(peers.message)}).</p>`;
  }
  const list = Array.isArray(peers) ? peers : [];
  const rows = list.map((p) => {
    const i = esc(p.nodeIndex);
    return [
      esc(`#${p.nodeIndex}`),
      p.nodeId ? `<span class="mono" id="peer-${i}-id" title="${esc(p.nodeId)}">${esc(p.nodeId)}</span>` : `<span class="muted" id="peer-${i}-id">not in this group</span>`,
      p.p2pAddr ? `<span class="mono">${esc(p.p2pAddr)}</span>` : `<span class="muted">—</span>`,
      p.connected
        ? `<span class="badge ok" id="peer-${i}-state">connected</span>`
        : `<span class="badge fail" id="peer-${i}-state">not connected</span>`,
      esc(thousands(p.connects ?? 0)),
      esc(thousands(p.disconnects ?? 0)),
    ];
  });
  return table(
    ["Node", "Node id", "P2P address", "Link", `<span title="Times the link came up">Connects</span>`, `<span title="Times the link went down">Disconnects</span>`],
    rows,
    "No peers: this node runs alone.",
  );
}

export async function nodes(el, ctx) {
  loading(el, "node information");
  const [info, cs, peerCount, pending, groups, peers] = await batch([
    ["bcos_getNodeInfo", []],
    ["bcos_getConsensusStatus", []],
    ["net_peerCount", []],
    ["bcos_getPendingTxSize", []],
    ["bcos_getGroupList", []],
    ["bcos_getPeers", []],
  ]);
  if (!ctx.alive()) return;
  if (info instanceof Error) throw info;
  const c = cs instanceof Error ? {} : cs || {};
  const p2p = info.p2p || null;
  const memberNodes = Array.isArray(c.memberNodes) ? c.memberNodes : [];
  const members = Array.isArray(c.members) ? c.members : [];
  const validators = new Set(members);
  const ownId = ownNodeId(info);
  const idOf = new Map(Array.isArray(peers) ? peers.map((p) => [p.nodeIndex, p.nodeId]) : []);
  if (ownId && c.nodeIndex !== undefined) idOf.set(c.nodeIndex, ownId);
  const rows = memberNodes.map((nodeIdx, pos) => {
    const tags = [];
    if (c.leader === pos) tags.push(`<span class="badge ok">leader</span>`);
    if (nodeIdx === c.nodeIndex) tags.push(`<span class="badge kind">this node</span>`);
    const role = members.length ? (validators.has(pos) || validators.has(nodeIdx) ? "validator" : "observer") : "member";
    const id = idOf.get(nodeIdx);
    return [esc(`#${nodeIdx}`), id ? mono(short(id, 6), id) : `<span class="muted">—</span>`, esc(pos), esc(role), tags.join(" ")];
  });
  const groupList = groupIds(groups instanceof Error ? info.groups : groups);
  const groupInfo = Array.isArray(groups) ? groups : Array.isArray(info.groups) ? info.groups : [];
  const groupRows = groupInfo
    .filter((g) => g && typeof g === "object")
    .map((g) => [
      `<a href="${ctx.link("/", Number(g.group))}">Group ${esc(g.group)}</a>`,
      esc(g.chainId ?? "—"),
      esc(String(g.consensus ?? "—").toUpperCase()),
      esc(Array.isArray(g.members) ? g.members.map((m) => `#${m}`).join(", ") : "—"),
      esc(g.blockNumber === undefined ? "—" : thousands(g.blockNumber)),
      g.status === "running" ? `<span class="badge ok">running</span>` : esc(g.status ?? "—"),
    ]);
  const connectedText = () => {
    if (Array.isArray(peers) && peers.length) return `${peers.filter((p) => p.connected).length} of ${peers.length} configured`;
    if (p2p) return `${p2p.peersConnected} of ${p2p.peersConfigured} configured`;
    return peerCount instanceof Error ? "—" : String(num(peerCount));
  };
  el.innerHTML = `<h1>Nodes</h1>
    <p class="muted">What the node serving this page reports: itself, its P2P peers and the consensus members. The other nodes' heights and counters are on their own browser pages.</p>
    <div class="grid2">
      <div class="panel"><h2>This node</h2>${facts([
        ["Node index", info.nodeIndex === null || info.nodeIndex === undefined ? "— (a single dev node)" : esc(`#${info.nodeIndex}`)],
        ["Node id", ownId ? `<span class="mono" id="own-node-id">${esc(ownId)}</span>` : `<span class="muted">none (a single node without P2P)</span>`, "The address of the node's P2P key, which its peers know it by"],
        ["Software", esc(info.version)],
        ["Chain id", esc(info.chainId)],
        ["Group", esc(info.group ?? 0)],
        ["Groups served", esc(groupList.length ? groupList.join(", ") : "0")],
        ["Block height", `<span id="node-height">${esc(thousands(info.blockNumber))}</span>`],
        ["Peers connected", `<span id="peers-connected">${esc(connectedText())}</span>`],
        ["Waiting transactions", pending instanceof Error ? "—" : `<a href="${ctx.link("/pending")}">${esc(thousands(num(pending)))}</a>`],
        ["Storage I/O", esc(info.ioBackend ?? "—")],
        ["JSON-RPC endpoint", mono(location.origin + (ctx.group ? `/g/${ctx.group}` : "/"))],
      ])}</div>
      <div class="panel"><h2>Consensus</h2>${facts([
        ["Protocol", esc((c.protocol || info.consensus || "?").toUpperCase())],
        ["Nodes", esc(c.nodes ?? "—")],
        [c.protocol === "raft" ? "Term" : "View", esc(c.view ?? "—"), "Increases whenever the leader changes"],
        ["Leader", c.leader === null || c.leader === undefined ? "unknown" : esc(memberNodes.length ? `node #${memberNodes[c.leader] ?? c.leader}` : `#${c.leader}`)],
        ["Next height", esc(c.nextHeight ?? "—")],
        c.timeoutMs ? ["Round timeout", `${esc(c.timeoutMs)} ms`] : null,
      ])}</div>
    </div>
    <div class="panel"><h2>Peers <span class="muted">(this node's P2P links, live)</span></h2><div id="peers">${peersHtml(ctx, peers)}</div></div>
    ${groupRows.length ? `<div class="panel"><h2>Groups on this node</h2>${table(["Group", "Chain id", "Consensus", "Member nodes", "Height", "Status"], groupRows)}</div>` : ""}
    <div class="panel"><h2>Consensus members</h2>${table(["Node", "Node id", "Position", "Role", ""], rows, "This node runs alone (no consensus members).")}</div>
    ${p2p ? `<div class="panel"><h2>Network counters</h2>${facts(Object.entries(p2p).map(([k, v]) => [k, esc(v)]))}</div>` : ""}`;
  // Links come and go: the peers table follows them.
  ctx.every(5000, async () => {
    let fresh;
    try {
      fresh = await call("bcos_getPeers");
    } catch (e) {
      fresh = e;
    }
    if (!ctx.alive()) return;
    const box = el.querySelector("#peers");
    if (box) box.innerHTML = peersHtml(ctx, fresh);
    if (Array.isArray(fresh) && fresh.length) {
      const n = el.querySelector("#peers-connected");
      if (n) n.textContent = `${fresh.filter((p) => p.connected).length} of ${fresh.length} configured`;
    }
  });
}

// ---------- the pool's waiting transactions ----------

/** Transactions bcos_getPendingTransactions is asked for. */
const PENDING_SHOWN = 100;

export async function pending(el, ctx) {
  el.innerHTML = `<h1>Waiting transactions</h1>
    <p class="muted">Transactions in this node's pool, not yet in a block: senders in the order they arrived, each sender's in nonce order. A transaction whose nonce is ahead of its sender's next one waits until the gap is filled. Refreshed every 3 s.</p>
    <section class="cards">
      <div class="card"><div class="label">In the pool</div><div class="value" id="pending-size">…</div><div class="sub">transactions waiting in this node's pool</div></div>
      <div class="card"><div class="label">Shown</div><div class="value" id="pending-shown">…</div><div class="sub" id="pending-shown-sub">the first ${PENDING_SHOWN} at most</div></div>
      <div class="card"><div class="label">Senders</div><div class="value" id="pending-senders">…</div><div class="sub">among those shown</div></div>
    </section>
    <div class="panel"><h2>Waiting transactions <span class="muted" id="pending-updated"></span></h2><div id="pending-list"><p class="muted">Loading…</p></div></div>`;
  const $ = (id) => el.querySelector("#" + id);
  const refresh = async () => {
    const [size, txs] = await batch([
      ["bcos_getPendingTxSize", []],
      ["bcos_getPendingTransactions", [PENDING_SHOWN]],
    ]);
    if (!ctx.alive()) return;
    if (txs instanceof Error) throw txs;
    const list = Array.isArray(txs) ? txs : [];
    const poolSize = size instanceof Error ? null : num(size);
    $("pending-size").textContent = poolSize === null ? "—" : thousands(poolSize);
    $("pending-shown").textContent = thousands(list.length);
    $("pending-shown-sub").textContent =
      poolSize !== null && poolSize > list.length ? `the first ${list.length} of ${thousands(poolSize)}` : `the first ${PENDING_SHOWN} at most`;
    $("pending-senders").textContent = thousands(new Set(list.map((t) => (t.from || "").toLowerCase())).size);
    $("pending-updated").textContent = `(as of ${new Date().toLocaleTimeString()})`;
    const rows = list.map((t) => {
      const price = t.gasPrice ?? t.maxFeePerGas;
      return [
        L.tx(ctx, t.hash),
        L.addr(ctx, t.from),
        t.to ? L.addr(ctx, t.to) : `<span class="muted">new contract</span>`,
        esc(thousands(num(t.nonce))),
        esc(amount(t.value)),
        price === undefined || price === null
          ? `<span class="muted">—</span>`
          : `${esc(gwei(price))} gwei${t.gasPrice === undefined || t.gasPrice === null ? ` <span class="muted" title="An EIP-1559 transaction: the most it pays per gas (its max fee)">max</span>` : ""}`,
      ];
    });
    $("pending-list").innerHTML = table(["Transaction", "From", "To", "Nonce", "Value", "Gas price"], rows, "None waiting: the pool is empty.");
  };
  try {
    await refresh();
  } catch (e) {
    if (!ctx.alive()) return;
    $("pending-list").innerHTML = errorBox(e);
  }
  ctx.every(3000, refresh);
}

/** Group ids from bcos_getGroupList / node info: a list of numbers or of objects. */
export function groupIds(v) {
  if (!v) return [];
  if (!Array.isArray(v)) v = v.groups || v.groupList || [];
  return v
    .map((g) => (typeof g === "object" && g !== null ? g.group ?? g.id ?? g.groupId : g))
    .map((g) => Number(g))
    .filter((g) => Number.isInteger(g) && g >= 0)
    .sort((a, b) => a - b);
}

// ---------- historical charts ----------

export async function charts(el, ctx, count) {
  const n = [50, 100, 200, 500].includes(count) ? count : 100;
  loading(el, `the last ${n} blocks`);
  const head = num(await call("eth_blockNumber"));
  const list = (await getBlocks(range(head, n + 1))).sort((a, b) => num(a.number) - num(b.number));
  if (!ctx.alive()) return;
  const choose = [50, 100, 200, 500]
    .map((k) => (k === n ? `<span class="button active">${k}</span>` : `<a class="button" href="${ctx.link(`/charts/${k}`)}">${k}</a>`))
    .join("");
  // The genesis block is written at set-up, not sealed: its time says nothing about the chain.
  const body = list.filter((b) => num(b.number) > 0).slice(-n);
  const ts = (b) => num(b.timestamp);
  const pts = { txs: [], bt: [], gas: [], tps: [] };
  body.forEach((b, i) => {
    const x = num(b.number);
    pts.txs.push({ x, y: b.transactions.length });
    pts.gas.push({ x, y: num(b.gasUsed) });
    if (i > 0) pts.bt.push({ x, y: ts(b) - ts(body[i - 1]) });
  });
  // TPS over a sliding window of 10 blocks: block times are whole seconds.
  for (let i = 10; i < body.length; i++) {
    let txs = 0;
    for (let j = i - 9; j <= i; j++) txs += body[j].transactions.length;
    const dt = ts(body[i]) - ts(body[i - 10]);
    pts.tps.push({ x: num(body[i].number), y: dt > 0 ? txs / dt : 0 });
  }
  const total = pts.txs.reduce((s, p) => s + p.y, 0);
  const span = body.length > 1 ? ts(body[body.length - 1]) - ts(body[0]) : 0;
  const afterFirst = body.length > 1 ? total - body[0].transactions.length : 0;
  el.innerHTML = `<h1>Charts <span class="muted">over the last blocks</span></h1>
    <div class="pager">Blocks: ${choose}</div>
    <section class="cards">
      <div class="card"><div class="label">Blocks</div><div class="value">${esc(pts.txs.length)}</div><div class="sub">${pts.txs.length ? `#${esc(pts.txs[0].x)} to #${esc(pts.txs[pts.txs.length - 1].x)}` : ""}</div></div>
      <div class="card"><div class="label">Transactions</div><div class="value">${esc(thousands(total))}</div><div class="sub">in those blocks</div></div>
      <div class="card"><div class="label">Average TPS</div><div class="value">${span > 0 ? esc((afterFirst / span).toFixed(1)) : "—"}</div><div class="sub">over ${esc(thousands(span))} s</div></div>
      <div class="card"><div class="label">Average block time</div><div class="value">${pts.bt.length ? esc((span / pts.bt.length).toFixed(1)) : "—"}</div><div class="sub">seconds (an idle chain seals no blocks)</div></div>
    </section>
    <div class="grid2">
      <div class="panel"><h2>Transactions per block</h2><canvas id="hist-txs" class="chart"></canvas></div>
      <div class="panel"><h2>Transactions per second <span class="muted">(10-block window)</span></h2><canvas id="hist-tps" class="chart"></canvas></div>
      <div class="panel"><h2>Seconds between blocks</h2><canvas id="hist-bt" class="chart"></canvas></div>
      <div class="panel"><h2>Gas used per block</h2><canvas id="hist-gas" class="chart"></canvas></div>
    </div>`;
  const fx = (x) => `#${x}`;
  drawChart(el.querySelector("#hist-txs"), pts.txs, { kind: "bar", fmtX: fx, integer: true });
  drawChart(el.querySelector("#hist-tps"), pts.tps, { kind: "line", fmtX: fx, empty: "needs more than 10 blocks" });
  drawChart(el.querySelector("#hist-bt"), pts.bt, { kind: "bar", color: "#3b9c6e", fmtX: fx, integer: true, empty: "needs two blocks" });
  drawChart(el.querySelector("#hist-gas"), pts.gas, { kind: "bar", color: "#7b5cc4", fmtX: fx });
}
