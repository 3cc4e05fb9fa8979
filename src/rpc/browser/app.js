// The router: every view has a URL in the fragment, e.g. #/block/12, #/tx/0x…,
// #/address/0x…, #/search/<text>, #/nodes, #/pending, #/charts/200. A group other than 0 is a prefix
// (#/g/1/block/12) or a `?group=1` query (after the fragment's path, or in the page URL).

import { call, setGroup, currentGroup } from "./rpc.js";
import * as V from "./views.js";

const main = document.getElementById("view");
let generation = 0;
let timers = [];

/** Parses the fragment into {group, parts}. */
function parse() {
  let h = decodeURIComponent(location.hash.replace(/^#/, ""));
  let group = null;
  const q = h.indexOf("?");
  if (q >= 0) {
    const params = new URLSearchParams(h.slice(q + 1));
    if (params.has("group")) group = Number(params.get("group"));
    h = h.slice(0, q);
  }
  let parts = h.split("/").filter((p) => p !== "");
  if (parts[0] === "g" && /^\d+$/.test(parts[1] || "")) {
    group = Number(parts[1]);
    parts = parts.slice(2);
  }
  if (group === null) {
    const pg = new URLSearchParams(location.search).get("group");
    group = pg !== null && /^\d+$/.test(pg) ? Number(pg) : 0;
  }
  return { group, parts };
}

/** A fragment link to `path` in group `g`. */
function link(path, g = currentGroup()) {
  return "#" + (g ? `/g/${g}` : "") + path;
}

function highlightNav(name) {
  document.querySelectorAll("nav a[data-view]").forEach((a) => {
    a.classList.toggle("active", a.dataset.view === name);
    a.setAttribute("href", link(a.dataset.path));
  });
}

async function route() {
  const gen = ++generation;
  timers.forEach((t) => clearInterval(t));
  timers = [];
  const { group, parts } = parse();
  setGroup(group);
  syncGroupSelect();
  const ctx = {
    group,
    link,
    alive: () => gen === generation,
    every: (ms, fn) => {
      let busy = false;
      const t = setInterval(async () => {
        if (busy || gen !== generation) return;
        busy = true;
        try {
          await fn();
        } catch (e) {
          console.warn("refresh failed", e);
        } finally {
          busy = false;
        }
      }, ms);
      timers.push(t);
    },
  };
  const [view, arg] = parts;
  highlightNav(view || "home");
  document.title = titleOf(view, arg);
  window.scrollTo(0, 0);
  try {
    switch (view) {
      case undefined:
      case "home":
        await V.home(main, ctx);
        break;
      case "blocks":
        await V.blockList(main, ctx, numberOr(arg));
        break;
      case "block":
        await V.block(main, ctx, arg || "");
        break;
      case "tx":
        await V.transaction(main, ctx, arg || "");
        break;
      case "address":
        await V.address(main, ctx, arg || "");
        break;
      case "search":
        document.getElementById("q").value = arg || "";
        await V.search(main, ctx, arg || "");
        break;
      case "nodes":
        await V.nodes(main, ctx);
        break;
      case "pending":
        await V.pending(main, ctx);
        break;
      case "charts":
        await V.charts(main, ctx, numberOr(arg));
        break;
      default:
        main.innerHTML = `<h1>Not found</h1><div class="notice">There is no page “${V.esc(view)}”. <a href="${link("/")}">Back to the overview</a>.</div>`;
    }
  } catch (e) {
    if (gen !== generation) return;
    const msg = e && e.message ? e.message : String(e);
    main.innerHTML = `<h1>Something went wrong</h1><div class="notice error">Could not read from the node: ${V.esc(msg)}</div><p><a href="${link("/")}">Back to the overview</a></p>`;
  }
  if (gen === generation) document.body.dataset.ready = view || "home";
}

/** `arg` as a whole number, else undefined. */
function numberOr(arg) {
  return arg !== undefined && /^\d+$/.test(arg) ? Number(arg) : undefined;
}

function titleOf(view, arg) {
  const short = (s) => (s && s.length > 14 ? s.slice(0, 10) + "…" : s);
  const names = {
    block: `Block ${arg}`,
    blocks: "Blocks",
    tx: `Transaction ${short(arg)}`,
    address: `Address ${short(arg)}`,
    search: "Search",
    nodes: "Nodes",
    pending: "Pending transactions",
    charts: "Charts",
  };
  return `${names[view] || "Overview"} · bcos browser`;
}

// ---------- group selector ----------

let knownGroups = [0];

function syncGroupSelect() {
  const sel = document.getElementById("group");
  const g = currentGroup();
  if (!knownGroups.includes(g)) knownGroups = [...knownGroups, g].sort((a, b) => a - b);
  sel.innerHTML = knownGroups.map((k) => `<option value="${k}"${k === g ? " selected" : ""}>Group ${k}</option>`).join("");
}

async function loadGroups() {
  try {
    const info = await call("bcos_getNodeInfo", [], 0);
    const ids = V.groupIds(info && info.groups);
    if (ids.length) knownGroups = [...new Set([...ids, currentGroup()])].sort((a, b) => a - b);
  } catch (e) {
    console.warn("no group list", e);
  }
  syncGroupSelect();
}

document.getElementById("group").addEventListener("change", (ev) => {
  const g = Number(ev.target.value);
  location.hash = link("/", g).slice(1);
});

// ---------- search box ----------

document.getElementById("search").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const q = document.getElementById("q").value.trim();
  if (!q) return;
  try {
    const found = await V.resolveQuery(q);
    if (found.length === 1) {
      location.hash = link(found[0].path).slice(1);
      return;
    }
  } catch (e) {
    console.warn("search", e);
  }
  location.hash = link(`/search/${encodeURIComponent(q)}`).slice(1);
});

window.addEventListener("hashchange", route);
loadGroups();
route();
