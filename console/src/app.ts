// The Switchboard admin console: one page, no framework (decision 0031).
// Views are chosen by the URL fragment (#overview, #connections, ...);
// each renders into <main> with DOM calls (never innerHTML, so nothing a
// connection sends can become markup). Data comes from the console's JSON
// API (api/...) and, for actions, from the management API passed through
// it (api/manage/{stage}/@...). Live views poll every POLL_MS.

const POLL_MS = 2000;

// base is the console's path ("/admin/"): the API is relative to it.
const base = location.pathname.replace(/[^/]*$/, "");

interface Session { principal: string; key: string; csrf: string; expires: string; development: boolean }

let session: Session | null = null;
let pollTimer: number | undefined;
let stages: string[] = [];
let currentStage = "";

// ---- DOM helpers -------------------------------------------------------

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | boolean | ((ev: Event) => void) | undefined>;

function h(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag: string, attrs: Record<string, string>, ...children: Node[]): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

const main = () => document.getElementById("main") as HTMLElement;

function say(text: string): void {
  const st = document.getElementById("status");
  if (st) st.textContent = text;
}

// ---- API ---------------------------------------------------------------

class APIError extends Error {
  constructor(public status: number, message: string) { super(message); }
}

async function call(method: string, path: string, body?: BodyInit, contentType?: string): Promise<any> {
  const headers: Record<string, string> = {};
  if (method !== "GET" && session) headers["X-CSRF-Token"] = session.csrf;
  if (contentType) headers["Content-Type"] = contentType;
  const res = await fetch(base + path, { method, headers, body, credentials: "same-origin" });
  const text = await res.text();
  let data: any = null;
  if (text) { try { data = JSON.parse(text); } catch { data = text; } }
  if (res.status === 401 && path !== "api/session") { session = null; showSignIn("Your session ended; sign in again."); }
  if (!res.ok) throw new APIError(res.status, (data && (data.message || data.Message)) || res.statusText);
  return data;
}

const get = (path: string) => call("GET", path);
const seg = (v: string) => encodeURIComponent(v);
const manage = (stage: string, rest: string) => `api/manage/${seg(stage)}/${rest}`;

// ---- formatting --------------------------------------------------------

function age(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

function num(v: number): string {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function ms(v: number | null | undefined): string {
  return v === null || v === undefined ? "–" : `${(v * 1000).toFixed(v < 0.01 ? 2 : 1)} ms`;
}

// payloadText shows a publication's bytes as the management API gives them.
function payloadText(p: any): string {
  if (p.text !== undefined) return p.text;
  if (p.b64 !== undefined) return `base64: ${p.b64}`;
  return JSON.stringify(p.data);
}

// ---- sign-in -----------------------------------------------------------

function showSignIn(message = ""): void {
  stopPolling();
  (document.getElementById("nav") as HTMLElement).hidden = true;
  (document.getElementById("signout") as HTMLElement).hidden = true;
  (document.getElementById("who") as HTMLElement).textContent = "";
  const err = h("p", { id: "signin-error", class: "error", role: "alert" }, message);
  const input = h("input", { id: "key", name: "key", type: "password", autocomplete: "current-password", required: true }) as HTMLInputElement;
  const form = h("form", { class: "signin panel", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    h("p", {}, "Sign in with one of this server's management API keys (management.apiKeys)."),
    h("label", { for: "key" }, "Management API key", input),
    h("p", {}, h("button", { type: "submit", id: "signin" }, "Sign in")),
    err);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    try {
      session = await call("POST", "api/session", JSON.stringify({ key: input.value }), "application/json");
      input.value = "";
      await start();
    } catch (e) {
      err.textContent = `Sign-in failed: ${(e as Error).message}`;
    }
  });
  main().replaceChildren(form);
  document.title = "Sign in · Switchboard admin console";
  input.focus();
}

async function signOut(): Promise<void> {
  try { await call("DELETE", "api/session"); } catch { /* signed out either way */ }
  session = null;
  showSignIn("Signed out.");
}

// ---- routing and polling ----------------------------------------------

type View = { title: string; render: (root: HTMLElement) => Promise<void> | void; poll?: () => Promise<void> };

const views: Record<string, View> = {
  overview: { title: "Overview", render: renderOverview, poll: refreshOverview },
  connections: { title: "Connections", render: renderConnections, poll: async () => { await refreshConnections(); await refreshConnection(); } },
  channels: { title: "Channels", render: renderChannels, poll: async () => { await refreshChannels(); await refreshChannel(); } },
  users: { title: "Users", render: renderUsers, poll: () => refreshUsers() },
  nodes: { title: "Nodes", render: renderNodes, poll: refreshNodes },
  config: { title: "Configuration", render: renderConfig },
};

function stopPolling(): void {
  if (pollTimer !== undefined) clearInterval(pollTimer);
  pollTimer = undefined;
}

async function route(): Promise<void> {
  if (!session) return;
  stopPolling();
  openConn = null;
  openChan = null;
  const name = location.hash.replace(/^#/, "") || "overview";
  const view = views[name] ?? views.overview;
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.getAttribute("href") === `#${name}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = `${view.title} · Switchboard admin console`;
  const root = h("div", { id: `view-${name}` });
  main().replaceChildren(h("h1", {}, view.title), root);
  try {
    await view.render(root);
  } catch (e) {
    root.append(h("p", { class: "error", role: "alert" }, (e as Error).message));
  }
  if (view.poll) {
    const poll = view.poll;
    pollTimer = window.setInterval(() => { poll().catch((e) => say(`Refresh failed: ${(e as Error).message}`)); }, POLL_MS);
  }
}

async function start(): Promise<void> {
  (document.getElementById("nav") as HTMLElement).hidden = false;
  (document.getElementById("signout") as HTMLElement).hidden = false;
  (document.getElementById("who") as HTMLElement).textContent = session!.development
    ? "Development mode: no credentials" : `Signed in with key “${session!.key}”`;
  stages = (await get("api/stages")).stages;
  if (!stages.includes(currentStage)) currentStage = stages[0] ?? "";
  await route();
}

// stagePicker is the stage <select> of a view.
function stagePicker(id: string, onChange: () => void): HTMLElement {
  const sel = h("select", { id, name: "stage" }, ...stages.map((st) => h("option", { value: st, selected: st === currentStage }, st))) as HTMLSelectElement;
  sel.addEventListener("change", () => { currentStage = sel.value; onChange(); });
  return h("label", { for: id }, "Stage", sel);
}

// replaceKeepingFocus replaces el's children, and gives the focus back to
// the new element that matches the one focused before (same id, or same
// aria-label): the live views re-render every poll, and a keyboard user
// must not lose their place.
function replaceKeepingFocus(el: HTMLElement, ...nodes: Node[]): void {
  const active = document.activeElement;
  let selector = "";
  if (active && el.contains(active)) {
    if (active.id) selector = `#${CSS.escape(active.id)}`;
    else if (active.getAttribute("aria-label")) selector = `[aria-label="${CSS.escape(active.getAttribute("aria-label")!)}"]`;
  }
  el.replaceChildren(...nodes);
  if (selector) (el.querySelector(selector) as HTMLElement | null)?.focus();
}

function table(caption: string, heads: string[], rows: Node[][], id?: string): HTMLElement {
  return h("table", { id },
    h("caption", { class: "muted" }, caption),
    h("thead", {}, h("tr", {}, ...heads.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, ...rows.map((cells) => h("tr", {}, ...cells.map((c) => h("td", {}, c))))));
}

// ---- overview ----------------------------------------------------------

interface Sample { t: string; connections: number; handshakes: number; messages: number; deliveries: number; p50: number | null; p99: number | null; errors: Record<string, number> }

function chart(label: string, series: (number | null)[][]): SVGElement {
  const W = 300, H = 70;
  const all = series.flat().filter((v): v is number => v !== null);
  const top = Math.max(1e-9, ...all);
  const n = Math.max(2, ...series.map((s) => s.length));
  const lines = series.map((vals, i) => {
    let d = "";
    vals.forEach((v, j) => {
      if (v === null) return;
      const x = (j / (n - 1)) * W, y = H - 2 - (v / top) * (H - 4);
      d += `${d === "" ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`;
    });
    return s("path", { d, class: i === 0 ? "line" : "line2" });
  });
  return s("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": label },
    s("title", {}, document.createTextNode(label)),
    s("line", { x1: "0", y1: String(H - 1), x2: String(W), y2: String(H - 1), class: "axis" }),
    ...lines);
}

async function renderOverview(root: HTMLElement): Promise<void> {
  root.append(h("p", { class: "muted" }, "Sampled every second from this node's Prometheus metrics; the last 10 minutes."),
    h("div", { id: "overview-cards", class: "cards" }), h("div", { id: "overview-errors" }));
  await refreshOverview();
}

async function refreshOverview(): Promise<void> {
  const data = await get("api/overview");
  const samples: Sample[] = data.samples;
  const cards = document.getElementById("overview-cards");
  const errs = document.getElementById("overview-errors");
  if (!cards || !errs) return;
  const last = samples[samples.length - 1];
  const peak = (series: (number | null)[][]) => Math.max(0, ...series.flat().filter((v): v is number => v !== null));
  const card = (id: string, title: string, value: string, label: string, ...series: (number | null)[][]) =>
    h("section", { class: "card", id, "aria-labelledby": `${id}-h` }, h("h2", { id: `${id}-h` }, title),
      h("p", { class: "value" }, value), chart(label, series),
      h("p", { class: "peak muted" }, id === "card-latency" ? `peak ${ms(peak(series))}` : id === "card-connections" ? `peak ${peak(series)}` : `peak ${num(peak(series))}`));
  const minutes = Math.round(samples.length / 60);
  const over = `over the last ${minutes || "<1"} min`;
  cards.replaceChildren(
    card("card-connections", "Connections", last ? String(last.connections) : "–", `Open connections ${over}`, samples.map((x) => x.connections)),
    card("card-handshakes", "Handshakes/s", last ? num(last.handshakes) : "–", `Handshakes per second ${over}`, samples.map((x) => x.handshakes)),
    card("card-messages", "Messages/s", last ? num(last.messages) : "–", `Messages received per second ${over}`, samples.map((x) => x.messages)),
    card("card-deliveries", "Deliveries/s", last ? num(last.deliveries) : "–", `Deliveries per second ${over}`, samples.map((x) => x.deliveries)),
    card("card-errors", "Errors and rejections/s", last ? num(Object.values(last.errors).reduce((a, b) => a + b, 0)) : "–",
      `Errors and rejections per second, all reasons, ${over}`, samples.map((x) => Object.values(x.errors).reduce((a, b) => a + b, 0))),
    card("card-latency", "Integration latency p50 / p99", last ? `${ms(last.p50)} / ${ms(last.p99)}` : "–",
      `Integration latency, p50 (blue) and p99 (red), ${over}`, samples.map((x) => x.p50), samples.map((x) => x.p99)),
  );
  const totals: Record<string, number> = {};
  for (const x of samples) for (const [k, v] of Object.entries(x.errors)) totals[k] = (totals[k] ?? 0) + v * data.interval;
  const rows = Object.entries(totals).sort((a, b) => b[1] - a[1]).map(([k, v]) => [document.createTextNode(k), document.createTextNode(v.toFixed(0)),
    h("span", { class: "spark" }, chart(`${k} per second ${over}`, [samples.map((x) => x.errors[k] ?? 0)]))]);
  errs.replaceChildren(h("h2", {}, "Errors and rejections by reason"),
    rows.length ? table(`Counted ${over}`, ["Reason", "Count", "Per second"], rows, "errors-table") : h("p", { class: "muted" }, `None ${over}.`));
}

// ---- connections -------------------------------------------------------

let connField = "id", connQuery = "";

async function renderConnections(root: HTMLElement): Promise<void> {
  const q = h("input", { id: "conn-q", name: "q", type: "search", value: connQuery }) as HTMLInputElement;
  const field = h("select", { id: "conn-field", name: "field" },
    ...[["id", "Connection id"], ["user", "User"], ["channel", "Channel"], ["ip", "Source IP"]].map(([v, t]) => h("option", { value: v, selected: v === connField }, t))) as HTMLSelectElement;
  const form = h("form", { class: "row", role: "search", "aria-label": "Search connections" },
    stagePicker("conn-stage", () => refreshConnections()),
    h("label", { for: "conn-field" }, "Search by", field),
    h("label", { for: "conn-q" }, "Contains", q),
    h("button", { type: "submit", id: "conn-search" }, "Search"));
  form.addEventListener("submit", (ev) => { ev.preventDefault(); connField = field.value; connQuery = q.value; refreshConnections().catch((e) => say(e.message)); });
  root.append(form, h("div", { id: "conn-results", "aria-live": "polite" }), h("div", { id: "conn-detail" }));
  await refreshConnections();
}

async function refreshConnections(): Promise<void> {
  const out = document.getElementById("conn-results");
  if (!out || !currentStage) return;
  const data = await get(`api/connections?stage=${seg(currentStage)}&field=${seg(connField)}&q=${seg(connQuery)}`);
  const rows = (data.connections as any[]).map((c) => [
    h("code", {}, c.connectionId), document.createTextNode(c.user ?? ""), document.createTextNode(c.sourceIp),
    document.createTextNode((c.channels as string[]).join(", ")), document.createTextNode(age(c.connectedAt)),
    h("button", { type: "button", class: "secondary", "data-inspect": c.connectionId, "aria-label": `Inspect ${c.connectionId}`, onclick: () => inspectConnection(currentStage, c) }, "Inspect"),
  ]);
  replaceKeepingFocus(out, rows.length
    ? table(`${rows.length} connection${rows.length === 1 ? "" : "s"}${data.truncated ? " (more not shown; narrow the search)" : ""}`,
      ["Connection id", "User", "Source IP", "Channels", "Age", "Action"], rows, "conn-table")
    : h("p", { class: "muted", id: "conn-none" }, "No connection matches."));
}

// openConn is the connection whose panel is open; the poll refreshes it.
let openConn: { stage: string; id: string } | null = null;

function connectionFacts(c: any): HTMLElement {
  return h("dl", { class: "facts" },
    h("dt", {}, "User"), h("dd", {}, c.user || "(none)"),
    h("dt", {}, "Source IP"), h("dd", {}, c.sourceIp),
    h("dt", {}, "User agent"), h("dd", {}, c.userAgent || "(none)"),
    h("dt", {}, "Connected"), h("dd", {}, `${c.connectedAt} (${age(c.connectedAt)} ago)`),
    h("dt", {}, "Last active"), h("dd", {}, c.lastActiveAt),
    h("dt", {}, "Channels"), h("dd", {}, (c.channels as string[]).join(", ") || "(none)"),
    h("dt", {}, "Send queue"), h("dd", { id: "conn-sendq" }, bytes(c.sendQueueBytes ?? 0)),
    h("dt", {}, "Inbox"), h("dd", { id: "conn-inbox" }, `${c.inbox ?? 0} message${c.inbox === 1 ? "" : "s"} waiting for the backend`));
}

// bytes formats a byte count for people.
function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1 << 20)).toFixed(1)} MiB`;
}

function inspectConnection(stage: string, c: any): void {
  const detail = document.getElementById("conn-detail");
  if (!detail) return;
  openConn = { stage, id: c.connectionId };
  const msg = h("textarea", { id: "send-data", name: "data" }) as HTMLTextAreaElement;
  const send = h("form", { class: "row", "aria-label": "Send a message" },
    h("label", { for: "send-data" }, "Message to send", msg),
    h("button", { type: "submit", id: "send" }, "Send"));
  send.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try { await call("POST", manage(stage, `@connections/${seg(c.connectionId)}`), msg.value, "text/plain"); say(`Sent to ${c.connectionId}.`); msg.value = ""; }
    catch (e) { say(`Send failed: ${(e as Error).message}`); }
  });
  const disconnect = h("button", { type: "button", class: "danger", id: "disconnect", onclick: async () => {
    if (!window.confirm(`Disconnect ${c.connectionId}?`)) return;
    try { await call("DELETE", manage(stage, `@connections/${seg(c.connectionId)}`)); say(`Disconnected ${c.connectionId}.`); openConn = null; detail.replaceChildren(); await refreshConnections(); }
    catch (e) { say(`Disconnect failed: ${(e as Error).message}`); }
  } }, "Disconnect");
  detail.replaceChildren(h("section", { class: "panel", "aria-labelledby": "conn-detail-h", id: "conn-panel" },
    h("h2", { id: "conn-detail-h", tabindex: "-1" }, "Connection ", h("code", {}, c.connectionId)),
    h("div", { id: "conn-live" }, connectionFacts(c)),
    send, h("p", {}, disconnect)));
  (detail.querySelector("h2") as HTMLElement).focus();
}

// refreshConnection updates the open connection's facts, or says it closed.
async function refreshConnection(): Promise<void> {
  const live = document.getElementById("conn-live");
  if (!live || !openConn) return;
  const { stage, id } = openConn;
  const data = await get(`api/connections?stage=${seg(stage)}&field=id&q=${seg(id)}`);
  const c = (data.connections as any[]).find((x) => x.connectionId === id);
  if (openConn?.id !== id) return;
  live.replaceChildren(c ? connectionFacts(c) : h("p", { class: "error", id: "conn-closed" }, "This connection is closed."));
}

// ---- channels ----------------------------------------------------------

let chanPrefix = "";

async function renderChannels(root: HTMLElement): Promise<void> {
  const prefix = h("input", { id: "chan-prefix", name: "prefix", type: "search", value: chanPrefix }) as HTMLInputElement;
  const form = h("form", { class: "row", role: "search", "aria-label": "Find channels" },
    stagePicker("chan-stage", () => refreshChannels()),
    h("label", { for: "chan-prefix" }, "Name starts with", prefix),
    h("button", { type: "submit" }, "List"));
  form.addEventListener("submit", (ev) => { ev.preventDefault(); chanPrefix = prefix.value; refreshChannels().catch((e) => say(e.message)); });
  const name = h("input", { id: "chan-open", name: "channel" }) as HTMLInputElement;
  const open = h("form", { class: "row", "aria-label": "Open a channel" },
    h("label", { for: "chan-open" }, "Channel", name), h("button", { type: "submit", id: "chan-open-btn" }, "Open"));
  open.addEventListener("submit", (ev) => { ev.preventDefault(); if (name.value) openChannel(currentStage, name.value).catch((e) => say(e.message)); });
  root.append(form, h("div", { id: "chan-results" }), open, h("div", { id: "chan-detail" }));
  await refreshChannels();
}

async function refreshChannels(): Promise<void> {
  const out = document.getElementById("chan-results");
  if (!out || !currentStage) return;
  const data = await get(`api/channels?stage=${seg(currentStage)}&prefix=${seg(chanPrefix)}`);
  const rows = (data.channels as any[]).map((c) => [h("code", {}, c.channel), document.createTextNode(String(c.members)),
    h("button", { type: "button", class: "secondary", "aria-label": `Open ${c.channel}`, onclick: () => openChannel(currentStage, c.channel).catch((e) => say(e.message)) }, "Open")]);
  replaceKeepingFocus(out, rows.length ? table(`${rows.length} occupied channel${rows.length === 1 ? "" : "s"}`, ["Channel", "Members", "Action"], rows, "chan-table")
    : h("p", { class: "muted" }, "No occupied channel."));
}

// openChan is the channel whose panel is open; the poll refreshes it.
let openChan: { stage: string; channel: string } | null = null;

// HISTORY_SHOWN publications, the newest, are shown in a channel's panel.
const HISTORY_SHOWN = 50;

async function openChannel(stage: string, channel: string): Promise<void> {
  const detail = document.getElementById("chan-detail");
  if (!detail) return;
  openChan = { stage, channel };
  const data = h("textarea", { id: "publish-data", name: "data" }) as HTMLTextAreaElement;
  const pub = h("form", { class: "row", "aria-label": "Publish to the channel" },
    h("label", { for: "publish-data" }, "Message to publish", data), h("button", { type: "submit", id: "publish" }, "Publish"));
  pub.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await call("POST", manage(stage, `@channels/${seg(channel)}`), data.value, "text/plain");
      say(`Published to ${channel}: ${r.recipients} recipient${r.recipients === 1 ? "" : "s"}${r.offset ? `, offset ${r.offset}` : ""}.`);
      data.value = "";
      await refreshChannel();
    } catch (e) { say(`Publish failed: ${(e as Error).message}`); }
  });
  detail.replaceChildren(h("section", { class: "panel", id: "chan-panel", "aria-labelledby": "chan-detail-h" },
    h("h2", { id: "chan-detail-h", tabindex: "-1" }, "Channel ", h("code", {}, channel)),
    h("div", { id: "chan-live" }), h("h3", {}, "Publish"), pub));
  await refreshChannel();
  (detail.querySelector("h2") as HTMLElement).focus();
}

// refreshChannel reads the open channel's members, presence and newest
// history through the management API.
async function refreshChannel(): Promise<void> {
  const live = document.getElementById("chan-live");
  if (!live || !openChan) return;
  const { stage, channel } = openChan;
  const info = await get(manage(stage, `@channels/${seg(channel)}`));
  let history: any = null, historyNote = "";
  if (info.epoch) {
    const since = Math.max(0, info.offset - HISTORY_SHOWN);
    try { history = await get(manage(stage, `@channels/${seg(channel)}/history?since=${since}&limit=${HISTORY_SHOWN}`)); }
    catch (e) { historyNote = (e as Error).message; }
  } else {
    historyNote = "This channel's namespace keeps no history.";
  }
  if (openChan?.channel !== channel || openChan.stage !== stage) return;
  const presence = info.presence as any[] | undefined;
  const pubs = (history?.publications ?? []) as any[];
  replaceKeepingFocus(live,
    h("dl", { class: "facts" },
      h("dt", {}, "Members"), h("dd", {}, String(info.members)),
      h("dt", {}, "Stream"), h("dd", {}, info.epoch ? `epoch ${info.epoch}, offset ${info.offset}` : "no history kept")),
    h("h3", {}, "Presence"),
    presence ? (presence.length ? table("Members", ["Connection id", "User", "Info"],
      presence.map((m) => [h("code", {}, m.connectionId), document.createTextNode(m.user ?? ""), document.createTextNode(m.info ? JSON.stringify(m.info) : "")]), "presence-table")
      : h("p", { class: "muted" }, "Nobody.")) : h("p", { class: "muted" }, "This channel's namespace keeps no presence."),
    h("h3", {}, "History"),
    history ? (pubs.length ? table(`The newest ${pubs.length} publication(s), offsets ${pubs[0].offset} to ${pubs[pubs.length - 1].offset}${history.truncated ? "; older ones were dropped" : ""}`,
      ["Offset", "Time", "Data"], pubs.map((p) => [document.createTextNode(String(p.offset)), document.createTextNode(p.time), h("code", {}, payloadText(p))]), "history-table")
      : h("p", { class: "muted" }, "No publication kept.")) : h("p", { class: "muted" }, historyNote));
}

// ---- users -------------------------------------------------------------

let userQuery = "";

async function renderUsers(root: HTMLElement): Promise<void> {
  const q = h("input", { id: "user-q", name: "q", type: "search", value: userQuery }) as HTMLInputElement;
  const form = h("form", { class: "row", role: "search", "aria-label": "Find users" },
    stagePicker("user-stage", () => refreshUsers()),
    h("label", { for: "user-q" }, "User id contains", q), h("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", (ev) => { ev.preventDefault(); userQuery = q.value; refreshUsers().catch((e) => say(e.message)); });
  root.append(form, h("div", { id: "user-results" }), h("div", { id: "user-detail" }));
  await refreshUsers();
}

async function refreshUsers(): Promise<void> {
  const out = document.getElementById("user-results");
  if (!out || !currentStage) return;
  const data = await get(`api/users?stage=${seg(currentStage)}&q=${seg(userQuery)}`);
  const rows = (data.users as any[]).map((u) => [h("code", {}, u.user), document.createTextNode(String(u.connections)),
    h("button", { type: "button", class: "secondary", "aria-label": `Open user ${u.user}`, onclick: () => openUser(currentStage, u.user).catch((e) => say(e.message)) }, "Open")]);
  replaceKeepingFocus(out, rows.length ? table(`${rows.length} user${rows.length === 1 ? "" : "s"}; ${data.anonymous} connection(s) without a user`, ["User", "Connections", "Action"], rows, "user-table")
    : h("p", { class: "muted" }, `No user. ${data.anonymous} connection(s) without a user.`));
}

async function openUser(stage: string, user: string): Promise<void> {
  const detail = document.getElementById("user-detail");
  if (!detail) return;
  const info = await get(manage(stage, `@users/${seg(user)}`));
  const disconnect = h("button", { type: "button", class: "danger", onclick: async () => {
    if (!window.confirm(`Disconnect every connection of ${user}?`)) return;
    try { const r = await call("DELETE", manage(stage, `@users/${seg(user)}`)); say(`Disconnected ${r.disconnected} connection(s) of ${user}.`); await refreshUsers(); }
    catch (e) { say(`Disconnect failed: ${(e as Error).message}`); }
  } }, "Disconnect all");
  detail.replaceChildren(h("section", { class: "panel", "aria-labelledby": "user-detail-h" },
    h("h2", { id: "user-detail-h" }, "User ", h("code", {}, user)),
    table("Connections", ["Connection id", "Source IP", "Connected"], (info.connections as any[]).map((c) =>
      [h("code", {}, c.connectionId), document.createTextNode(c.identity?.sourceIp ?? ""), document.createTextNode(age(c.connectedAt))])),
    h("p", {}, disconnect)));
}

// ---- nodes and configuration ------------------------------------------

async function renderNodes(root: HTMLElement): Promise<void> {
  root.append(h("div", { id: "nodes-list" }));
  await refreshNodes();
}

async function refreshNodes(): Promise<void> {
  const out = document.getElementById("nodes-list");
  if (!out) return;
  const data = await get("api/nodes");
  const rows = (data.nodes as any[]).map((n) => [document.createTextNode(n.id + (n.self ? " (this node)" : "")), h("code", {}, n.incarnation ?? ""),
    document.createTextNode(n.advertise ?? ""), document.createTextNode(`${n.startedAt} (${age(n.startedAt)} ago)`)]);
  out.replaceChildren(h("p", { class: "muted" }, data.clustered ? "The cluster's live nodes, from the node registry in Redis." : "Not clustered: this process is the only node."),
    table(`${rows.length} node${rows.length === 1 ? "" : "s"}`, ["Node", "Incarnation", "Internal address", "Started"], rows, "nodes-table"));
}

async function renderConfig(root: HTMLElement): Promise<void> {
  const data = await get("api/config");
  root.append(h("p", { class: "muted" }, "The configuration in force (after reloads), with defaults left out and every secret replaced by [redacted]."),
    h("pre", { id: "config-yaml", tabindex: "0", "aria-label": "Configuration" }, data.yaml));
}

// ---- start -------------------------------------------------------------

async function boot(): Promise<void> {
  (document.getElementById("signout") as HTMLElement).addEventListener("click", () => { signOut(); });
  window.addEventListener("hashchange", () => { route(); });
  try {
    session = await call("GET", "api/session");
    await start();
  } catch {
    showSignIn();
  }
}

document.addEventListener("DOMContentLoaded", () => { boot(); });
