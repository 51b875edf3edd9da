// The agent desk page: queue with SLA timers, case view, actions, live updates. No build step.
"use strict";

const state = { cases: [], current: null, currentCase: null, me: null, recheck: null, drafts: {}, sending: {}, inFlight: {}, teams: [], canned: [], typedAt: 0, audio: null };
const SESSION_ENDED = 4401;  // the desk closed the live feed because this session was signed out or expired
const QUEUED_RECHECK_MS = 2000;  // a queued message's delivery is looked up again this often
const $ = (id) => document.getElementById(id);
const LANGUAGE_NAMES = { en: "English", ko: "Korean", zh: "Chinese" };  // shown as written: no translation
// Symbols the common system fonts have (no emoji font needed, no image to load).
const CHANNELS = { telegram: ["\u2708", "Telegram"], twitter: ["X", "X"], rest: ["\u2709", "Web"] };
const CLOSED = ["resolved", "cancelled"];
const SEARCH_DELAY_MS = 300;
const TYPING_EVERY_MS = 4000;  // the desk throttles too; this spares it the keystrokes in between
const SOUND_KEY = "desk.p1Sound";  // localStorage: "on" once the agent asked for a sound with P1 alerts
const CHIME_HZ = [880, 660];  // two falling tones
const CHIME_TONE_S = 0.25;

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  if (response.status === 401) { location.href = "/login"; throw new Error("signed out"); }
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function post(path, body) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
}

function duration(ms) {
  const sign = ms < 0 ? "-" : "";
  const s = Math.floor(Math.abs(ms) / 1000);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return sign + (h ? h + "h " : "") + m + "m " + String(r).padStart(2, "0") + "s";
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function channelIcon(channel) {
  const [icon, name] = CHANNELS[channel] || ["?", channel];
  const span = document.createElement("span");
  span.className = "channel channel-" + channel;
  span.textContent = icon;
  span.title = name;
  span.setAttribute("aria-label", name);
  return span;
}

function customerCell(row, c) {
  const td = cell(row, "", "customer");
  const name = document.createElement("span");
  name.className = "customer-name";
  name.textContent = c.customer.name;
  name.title = c.customer.handle;
  const language = document.createElement("span");
  language.className = "lang";
  language.textContent = c.language.toUpperCase();
  language.title = LANGUAGE_NAMES[c.language] || c.language;
  td.append(channelIcon(c.channel), " ", name, " ", language);
}

function issueCell(row, c) {
  const td = cell(row, c.intent.replace(/_/g, " "), "issue");
  const id = document.createElement("small");
  id.className = "case-id";
  id.textContent = c.id;
  const team = document.createElement("small");
  team.className = "team";
  team.textContent = c.team;
  td.append(" ", id, " ", team);
}

function renderQueue() {
  const body = $("queue").querySelector("tbody");
  body.textContent = "";
  $("queue-empty").hidden = state.cases.length > 0;
  for (const c of state.cases) {
    const row = document.createElement("tr");
    row.className = "case-row" + (c.id === state.current ? " current" : "");
    row.dataset.caseId = c.id;
    customerCell(row, c);
    issueCell(row, c);
    cell(row, "P" + c.priority, "priority p" + c.priority);
    cell(row, c.status + (c.assignee ? " (" + c.assignee + ")" : "") + (c.rating ? " · CSAT " + c.rating + "/5" : ""), "status");
    cell(row, "", "waiting").dataset.since = c.waiting_since ? Date.parse(c.waiting_since) : "";
    slaCell(cell(row, "", "sla"), c);
    row.addEventListener("click", () => openCase(c.id));
    body.appendChild(row);
  }
  tick();
}

// The SLA is the time to the first agent reply: once stopped it shows "met" or "breached".
function slaCell(el, c) {
  el.dataset.due = c.sla_due_at;
  el.dataset.state = c.sla_state;
  return el;
}

function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll(".waiting")) {
    el.textContent = el.dataset.since ? duration(now - Number(el.dataset.since)) : "answered";
  }
  for (const el of document.querySelectorAll(".sla")) {
    const state = el.dataset.state, left = Number(el.dataset.due) - now;
    if (state === "running") el.textContent = left >= 0 ? duration(left) + " left" : "overdue " + duration(-left);
    else el.textContent = state;
    el.classList.toggle("overdue", state === "breached" || (state === "running" && left < 0));
    el.classList.toggle("met", state === "met");
  }
}

function queueQuery() {
  const query = new URLSearchParams();
  const search = $("search").value.trim();
  if (search) query.set("q", search);
  query.set("status", $("filter-status").value);
  if ($("filter-priority").value) query.set("priority", $("filter-priority").value);
  if ($("filter-channel").value) query.set("channel", $("filter-channel").value);
  if ($("filter-team").value) query.set("team", $("filter-team").value);
  if ($("filter-mine").checked) query.set("mine", "1");
  return query.toString();
}

async function loadQueue() {
  try {
    state.cases = (await api("/api/queue?" + queueQuery())).cases;
    $("queue-error").textContent = "";
  } catch (error) {
    $("queue-error").textContent = error.message;
    return;
  }
  renderQueue();
}

function list(id, items, render) {
  const el = $(id);
  el.textContent = "";
  for (const item of items) { const li = document.createElement("li"); render(li, item); el.appendChild(li); }
}

async function openCase(caseId) {
  const c = await api("/api/cases/" + encodeURIComponent(caseId));
  if (state.current !== c.id) switchDrafts(c.id);
  state.current = c.id;
  state.currentCase = c;
  document.body.classList.add("case-open");  // at phone width the case replaces the queue
  for (const row of document.querySelectorAll("tr.case-row")) row.classList.toggle("current", row.dataset.caseId === c.id);
  location.hash = "case=" + c.id;
  $("case-pane").hidden = false;
  $("case-title").textContent = "P" + c.priority + " " + c.id + " · " + c.intent;
  $("case-customer").textContent = "";
  $("case-customer").append(channelIcon(c.channel), " " + c.customer.name + (c.customer.name !== c.customer.handle ? " (" + c.customer.handle + ")" : ""));
  $("case-summary").textContent = c.summary;
  $("case-csat").hidden = !c.rating;
  $("case-csat").textContent = c.rating ? "Customer rating (CSAT): " + c.rating + "/5 " + "\u2605".repeat(c.rating) : "";
  $("case-csat-comment").hidden = !c.rating_comment;
  $("case-csat-comment").textContent = c.rating_comment ? "Customer's comment: " + c.rating_comment : "";
  $("case-meta").textContent = "Status: " + c.status + (c.assignee ? " by " + c.assignee : "") + " · team " + c.team
    + " · channel " + c.channel
    + " · customer writes " + (LANGUAGE_NAMES[c.language] || c.language);
  $("case-pane").dataset.status = c.status;
  const closed = CLOSED.includes(c.status);
  $("reopen").hidden = !closed;
  for (const id of ["claim", "resolve", "hand-back", "transfer-form"]) $(id).hidden = closed;
  $("take-over").hidden = !(state.isAdmin && c.status === "claimed" && c.assignee !== state.me);
  $("reply-form").hidden = closed;
  slaCell($("case-sla"), c);
  $("case-waiting").dataset.since = c.waiting_since ? Date.parse(c.waiting_since) : "";
  tick();
  $("priority").value = String(c.priority);
  const dl = $("details"); dl.textContent = "";
  for (const [k, v] of Object.entries(c.details || {})) {
    if (k === "articles_tried") continue;  // listed below, as links
    const dt = document.createElement("dt"); dt.textContent = k.replace(/_/g, " ");
    const dd = document.createElement("dd"); dd.textContent = String(v);
    dl.append(dt, dd);
  }
  $("articles-tried-pane").hidden = !c.articles_tried.length;
  list("articles-tried", c.articles_tried, (li, a) => {
    const link = document.createElement("a");
    link.href = a.url; link.target = "_blank"; link.rel = "noopener";
    link.textContent = a.title;
    li.append(link, " (" + a.id + ")");
  });
  list("attachments", c.attachments, (li, a) => {
    const link = document.createElement("a");
    link.href = "/api/cases/" + c.id + "/attachments/" + a.id;
    link.textContent = a.name + " (" + a.mime_type + ", " + a.size + " bytes)";
    if (a.image) {  // a stored picture is shown; the link opens it at full size
      const img = document.createElement("img");
      img.className = "attachment-preview"; img.src = link.href; img.alt = a.name; img.loading = "lazy";
      link.prepend(img, document.createElement("br"));
    }
    li.appendChild(link);
  });
  list("transcript", c.transcript, (li, t) => {
    li.className = "role-" + t.role;
    li.textContent = t.role + (t.language ? " [" + t.language + "]" : "") + (t.author ? " " + t.author : "") + ": " + t.text;
    if (t.language) li.lang = t.language;
    if (t.delivery) li.append(" ", deliveryBadge(t.delivery));
    if (t.role === "agent" && t.delivery && t.delivery.state === "failed") li.append(" ", backToTheBox(t.text));
  });
  showHistory(c);
  recheckWhileQueued(c);
  loadCanned(c.id);
  list("audit", c.audit, (li, a) => {
    li.textContent = a.at.slice(11, 19) + " " + a.actor + " (" + a.via + ") " + a.action
      + (a.allowed ? "" : " (refused: " + (a.detail.reason || "") + ")");
  });
  $("export-txt").href = "/api/cases/" + c.id + "/export?format=txt";
  $("export-json").href = "/api/cases/" + c.id + "/export?format=json";
}

// The customer's other cases on every channel (of the identities an agent linked), newest first, and the links.
function showHistory(c) {
  const body = $("history").querySelector("tbody");
  body.textContent = "";
  $("history-empty").hidden = c.history.length > 0;
  for (const h of c.history) {
    const row = document.createElement("tr");
    row.dataset.caseId = h.id;
    const link = document.createElement("a");
    link.href = "#case=" + h.id; link.className = "history-link"; link.textContent = h.id;
    link.addEventListener("click", (event) => { event.preventDefault(); openCase(h.id); });
    cell(row, "", "case").append(link);
    const who = cell(row, "", "customer");
    who.append(channelIcon(h.channel), " " + h.customer.name);
    who.title = h.customer.handle;
    cell(row, h.intent.replace(/_/g, " "), "issue");
    cell(row, "P" + h.priority, "priority p" + h.priority);
    cell(row, h.status, "status");
    cell(row, h.created_at.slice(0, 16).replace("T", " ") + " UTC", "opened");
    body.appendChild(row);
  }
  list("links", c.links, (li, l) => {
    li.textContent = "Linked: " + l.first + " = " + l.second + " (by " + l.linked_by + ", " + l.at.slice(0, 10) + ")";
    li.append(button("Unlink", "unlink-customer", () => linking("unlink_customer", { first: l.first, second: l.second })));
  });
}

async function linking(action, body) {
  $("link-error").textContent = "";
  try {
    await post("/api/cases/" + state.current + "/" + action, body);
    if (action === "link_customer") $("link-other").value = "";
  } catch (error) {
    $("link-error").textContent = (action === "link_customer" ? "Not linked: " : "Not unlinked: ") + error.message;
  }
  await openCase(state.current);
}

// Canned replies of the case's team, already in the customer's language: inserted for the agent to edit.
async function loadCanned(caseId) {
  const { replies } = await api("/api/cases/" + encodeURIComponent(caseId) + "/canned");
  if (state.current !== caseId) return;
  state.canned = replies;
  const select = $("canned");
  while (select.options.length > 1) select.remove(1);
  for (const r of replies) select.add(new Option(r.title, r.id));
}

function insertCanned() {
  const reply = state.canned.find((r) => r.id === $("canned").value);
  $("canned").value = "";
  if (!reply) return;
  const box = $("reply-text");
  box.value = box.value.trim() ? box.value.trimEnd() + "\n\n" + reply.text : reply.text;
  box.focus();
}

// A reply the customer's channel refused after the desk took it: its text goes back to the reply box to edit or resend.
function backToTheBox(text) {
  const button = document.createElement("button");
  button.type = "button"; button.className = "back-to-box"; button.textContent = "Back to the reply box";
  button.addEventListener("click", () => { $("reply-text").value = text; $("reply-text").focus(); });
  return button;
}

function deliveryBadge(delivery) {
  const span = document.createElement("span");
  span.className = "delivery delivery-" + delivery.state;
  span.textContent = delivery.state + (delivery.error ? ": " + delivery.error : "");
  return span;
}

// The Telegram channel sends queued messages in another process: look again until none is queued.
function recheckWhileQueued(c) {
  clearTimeout(state.recheck);
  if (!c.transcript.some((t) => t.delivery && t.delivery.state === "queued")) return;
  state.recheck = setTimeout(() => {
    if (state.current !== c.id) return;
    openCase(c.id).catch((error) => { $("message").textContent = error.message; });
  }, QUEUED_RECHECK_MS);
}

async function act(action, body) {
  $("message").textContent = "";
  try {
    await post("/api/cases/" + state.current + "/" + action, body);
  } catch (error) {
    $("message").textContent = error.message;
  }
  await refresh();
}

async function refresh() {
  await Promise.all([openCase(state.current), loadQueue()]);
}

// Reply and note each have their own box; the text stays there until the desk took it.
// A reply keeps its request id while its text is kept, unedited, after "Not sent": a desk that
// recorded it and died before answering does not say it twice when the agent sends it again.
// One send at a time per box: a double click is not two replies.
async function send(action, box, errorLine) {
  errorLine.textContent = "";
  if (!box.value.trim()) { errorLine.textContent = "Nothing to send."; return; }
  const caseId = state.current, slot = caseId + ":" + box.id, kept = state.sending[slot];
  if (state.inFlight[slot]) return;
  const request = kept && kept.text === box.value ? kept : { text: box.value, id: newRequestId() };
  state.sending[slot] = request;
  state.inFlight[slot] = true;
  try {
    const body = action === "reply" ? { text: request.text, request_id: request.id } : { text: request.text };
    await post("/api/cases/" + caseId + "/" + action, body);
    delete state.drafts[slot];
    delete state.sending[slot];
    if (state.current === caseId) box.value = "";  // the agent may have opened another case meanwhile
  } catch (error) {
    if (state.current === caseId) errorLine.textContent = "Not sent: " + error.message + " (your text is kept)";
  } finally {
    delete state.inFlight[slot];
  }
  await refresh();
}

function newRequestId() {
  return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
}

// The Telegram customer sees "typing..." while the agent who claimed their case writes a reply.
function reportTyping() {
  const c = state.currentCase;
  if (!c || c.channel !== "telegram" || c.status !== "claimed" || c.assignee !== state.me) return;
  if (Date.now() - state.typedAt < TYPING_EVERY_MS) return;
  state.typedAt = Date.now();
  post("/api/cases/" + c.id + "/typing").catch(() => {});  // cosmetic: a failure must not disturb the agent
}

// Each case keeps its own unsent reply and note while the agent looks at another one.
function switchDrafts(nextId) {
  for (const id of ["reply-text", "note-text"]) {
    if (state.current) state.drafts[state.current + ":" + id] = $(id).value;
    $(id).value = state.drafts[nextId + ":" + id] || "";
  }
  $("reply-error").textContent = ""; $("note-error").textContent = "";
}

function showDuty(me) {
  $("on-duty").textContent = "On duty: " + (me.on_duty.join(", ") || "nobody");
  $("duty-toggle").textContent = me.is_on_duty ? "Go off duty" : "Go on duty";
  $("duty-toggle").dataset.onDuty = String(me.is_on_duty);
}

function connectLive() {
  const socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  socket.onopen = () => { $("live").textContent = "live"; $("live").className = "online"; };
  socket.onclose = (event) => {
    if (event.code === SESSION_ENDED) { location.href = "/login"; return; }
    $("live").textContent = "offline"; $("live").className = "offline";
    setTimeout(connectLive, 2000);
  };
  socket.onmessage = async (message) => {
    const event = JSON.parse(message.data);
    notifyP1(event);
    await loadQueue();
    if (state.current && event.case && event.case.id === state.current) await openCase(state.current);
  };
}

// Agents: everyone sees who they are; an admin adds agents, links Telegram ids, changes roles, removes.
async function loadAgents() {
  const { agents, is_admin } = await api("/api/agents");
  fillAgentChoices(agents);
  const body = $("agents").querySelector("tbody");
  body.textContent = "";
  for (const a of agents) {
    const row = document.createElement("tr");
    row.dataset.agent = a.name;
    cell(row, a.name);
    cell(row, a.role);
    cell(row, a.telegram_user_id === null ? "not linked" : String(a.telegram_user_id), "telegram-id");
    const teams = cell(row, is_admin ? "" : a.teams.join(", "), "teams");
    if (is_admin && a.active) {
      for (const team of state.teams) {
        const box = document.createElement("input");
        box.type = "checkbox"; box.value = team; box.checked = a.teams.includes(team);
        box.addEventListener("change", () => changeAgent(a.name, {
          teams: [...teams.querySelectorAll("input:checked")].map((b) => b.value),
        }));
        const label = document.createElement("label");
        label.append(box, " " + team + " ");
        teams.appendChild(label);
      }
    }
    cell(row, a.active ? "active" : "removed");
    const actions = cell(row, "");
    if (is_admin && a.active) {
      const input = document.createElement("input");
      input.className = "link-telegram"; input.inputMode = "numeric"; input.placeholder = "Telegram user id";
      input.value = a.telegram_user_id === null ? "" : String(a.telegram_user_id);
      const save = button("Link", "save-telegram", () => changeAgent(a.name, { telegram_user_id: input.value.trim() ? Number(input.value) : null }));
      const role = button(a.role === "admin" ? "Make agent" : "Make admin", "toggle-role",
        () => changeAgent(a.name, { role: a.role === "admin" ? "agent" : "admin" }));
      const remove = button("Remove", "remove-agent", () => changeAgent(a.name, { active: false }));
      const reset = button("Reset password", "reset-password", () => {
        const password = prompt("New password for " + a.name + " (at least 10 characters)");
        if (password) changeAgent(a.name, { password });
      });
      actions.append(input, save, role, reset, remove);
    } else if (is_admin) {
      actions.append(button("Restore", "restore-agent", () => changeAgent(a.name, { active: true })));
    }
    body.appendChild(row);
  }
  for (const el of document.querySelectorAll(".admin-only")) el.hidden = !is_admin;
  await loadRouting();
}

// Teams and routing: everyone reads them; an admin edits the document and saves it (the desk checks it).
async function loadRouting() {
  showRouting(await api("/api/routing"));
}

function showRouting(r) {
  $("routing-text").value = JSON.stringify({ teams: r.teams, default: r.default, routes: r.routes }, null, 2);
  $("routing-text").readOnly = !r.is_admin;
  $("routing-intents").textContent = r.known_intents.join(", ");
  $("routing-source").textContent = r.source === "desk"
    ? "Saved on the desk by " + r.updated_by + " at " + r.updated_at.slice(0, 16).replace("T", " ") + " UTC."
    : "From the teams file (nobody changed it on the desk yet).";
  state.teams = r.teams;
  for (const [id, keep] of [["filter-team", 2], ["transfer-team", 1]]) {
    const chosen = $(id).value;
    options($(id), r.teams, keep);
    $(id).value = chosen;
  }
}

async function saveRouting(event) {
  event.preventDefault();
  $("routing-error").textContent = "";
  let document_;
  try { document_ = JSON.parse($("routing-text").value); } catch (error) {
    $("routing-error").textContent = "Not saved: this is not valid JSON (" + error.message + ")";
    return;
  }
  try {
    showRouting(await post("/api/routing", document_));
  } catch (error) {
    $("routing-error").textContent = "Not saved: " + error.message;
    return;
  }
  await loadAgents();
}

function options(select, values, keepFirst) {
  while (select.options.length > keepFirst) select.remove(keepFirst);
  for (const value of values) select.add(new Option(value, value));
}

function fillAgentChoices(agents) {
  const chosen = $("transfer-agent").value;
  options($("transfer-agent"), agents.filter((a) => a.active).map((a) => a.name), 1);
  $("transfer-agent").value = chosen;
}

function button(text, cls, onClick) {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = text; b.className = cls;
  b.addEventListener("click", onClick);
  return b;
}

async function changeAgent(name, body) {
  $("agents-error").textContent = "";
  try { await post("/api/agents/" + encodeURIComponent(name), body); } catch (error) { $("agents-error").textContent = error.message; }
  await loadAgents();
}

// A browser notification for a new P1 or a P1 re-alert while the tab is open (after the agent allowed it).
function setUpNotifications() {
  if (!("Notification" in window)) return;
  const offer = () => { $("enable-notifications").hidden = Notification.permission !== "default"; };
  offer();
  $("enable-notifications").addEventListener("click", async () => { await Notification.requestPermission(); offer(); });
}

function notifyP1(event) {
  const c = event.case;
  const realert = event.event === "p1_realert";
  if (!c || !(realert || (event.event === "case_opened" && c.priority === 1))) return;
  if ($("alert-sound").checked) chime();
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const title = (realert ? "Still unclaimed P1: " : "New P1: ") + c.id;
  const shown = new Notification(title, { body: c.intent.replace(/_/g, " ") + " · " + c.summary, tag: c.id + ":" + event.event });
  shown.onclick = () => { window.focus(); openCase(c.id); };
}

// An optional sound with each P1 alert: off until the agent turns it on; this browser remembers the choice.
// Two short tones made by WebAudio (nothing to download). A browser starts sound only after a click or key
// on the page, so the context is made, or woken, by the agent's first one.
function setUpSound() {
  const box = $("alert-sound");
  box.checked = localStorage.getItem(SOUND_KEY) === "on";
  box.addEventListener("change", () => {
    localStorage.setItem(SOUND_KEY, box.checked ? "on" : "off");
    if (box.checked) chime();  // the agent hears what to listen for
  });
  const wake = () => { if (box.checked) audioContext(); };
  document.addEventListener("pointerdown", wake, { once: true });
  document.addEventListener("keydown", wake, { once: true });
}

function audioContext() {
  if (!state.audio && window.AudioContext) state.audio = new AudioContext();
  if (state.audio && state.audio.state === "suspended") state.audio.resume();
  return state.audio;
}

function chime() {
  const audio = audioContext();
  if (!audio) return;
  const start = audio.currentTime;
  CHIME_HZ.forEach((hz, i) => {
    const at = start + i * CHIME_TONE_S;
    const tone = audio.createOscillator(), volume = audio.createGain();
    tone.frequency.value = hz;
    volume.gain.setValueAtTime(0.0001, at);
    volume.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
    volume.gain.exponentialRampToValueAtTime(0.0001, at + CHIME_TONE_S - 0.02);
    tone.connect(volume).connect(audio.destination);
    tone.start(at);
    tone.stop(at + CHIME_TONE_S);
  });
}

// Keyboard: n next case, c claim, r reply, e resolve, / search; Ctrl+Enter sends from a box, Escape leaves it.
function nextCase() {
  if (!state.cases.length) return;
  const at = state.cases.findIndex((c) => c.id === state.current);
  openCase(state.cases[(at + 1) % state.cases.length].id);
}

function onKey(event) {
  const target = event.target;
  if (target.matches("input, textarea, select")) {
    if (event.key === "Escape") target.blur();
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.form && target.tagName === "TEXTAREA") {
      event.preventDefault();
      target.form.requestSubmit();
    }
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const withCase = (fn) => () => { if (state.current) fn(); };
  const keys = {
    n: nextCase,
    c: withCase(() => act("claim")),
    r: withCase(() => $("reply-text").focus()),
    e: withCase(() => act("resolve")),
    "/": () => $("search").focus(),
  };
  if (keys[event.key]) { event.preventDefault(); keys[event.key](); }
}

async function start() {
  const me = await api("/api/me");
  $("agent").textContent = "Signed in as " + me.agent;
  state.me = me.agent;
  state.isAdmin = me.is_admin;
  showDuty(me);
  state.teams = me.all_teams;
  options($("filter-team"), me.all_teams, 2);
  options($("transfer-team"), me.all_teams, 1);
  fillAgentChoices((await api("/api/agents")).agents);
  $("duty-toggle").addEventListener("click", async () => {
    showDuty(await post("/api/duty", { on_duty: $("duty-toggle").dataset.onDuty !== "true" }));
  });
  $("show-agents").addEventListener("click", async () => {  // the agents page replaces queue and case while open
    const open = document.body.classList.toggle("agents-open");
    $("agents-pane").hidden = !open;
    $("show-agents").textContent = open ? "Back to the queue" : "Agents";
    if (open) await loadAgents();
  });
  $("agent-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("agents-error").textContent = "";
    const telegram = $("new-agent-telegram").value.trim();
    try {
      await post("/api/agents", {
        name: $("new-agent-name").value, password: $("new-agent-password").value, role: $("new-agent-role").value,
        telegram_user_id: telegram ? Number(telegram) : null,
      });
      $("agent-form").reset();
    } catch (error) { $("agents-error").textContent = error.message; }
    await loadAgents();
  });
  $("claim").addEventListener("click", () => act("claim"));
  $("take-over").addEventListener("click", () => act("claim", { take_over: true }));
  $("resolve").addEventListener("click", () => act("resolve"));
  $("hand-back").addEventListener("click", () => act("hand_back"));
  $("reopen").addEventListener("click", () => act("reopen"));
  $("canned").addEventListener("change", insertCanned);
  $("link-form").addEventListener("submit", (event) => {
    event.preventDefault();
    linking("link_customer", { other: $("link-other").value });
  });
  $("routing-form").addEventListener("submit", saveRouting);
  $("transfer-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { team: $("transfer-team").value || null, agent: $("transfer-agent").value || null, note: $("transfer-note").value };
    $("message").textContent = "";
    try {
      await post("/api/cases/" + state.current + "/transfer", body);
      $("transfer-form").reset();
    } catch (error) { $("message").textContent = "Not transferred: " + error.message; }
    await refresh();
  });
  $("back-to-queue").addEventListener("click", () => { document.body.classList.remove("case-open"); });
  document.addEventListener("keydown", onKey);
  setUpNotifications();
  setUpSound();
  let searchTimer = null;
  $("search").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(loadQueue, SEARCH_DELAY_MS); });
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); loadQueue(); });
  for (const id of ["filter-status", "filter-priority", "filter-channel", "filter-team", "filter-mine"]) $(id).addEventListener("change", loadQueue);
  $("priority").addEventListener("change", () => act("priority", { priority: Number($("priority").value) }));
  $("reply-form").addEventListener("submit", (event) => { event.preventDefault(); send("reply", $("reply-text"), $("reply-error")); });
  $("reply-text").addEventListener("input", reportTyping);
  for (const id of ["reply-text", "note-text"]) {  // an edited text is a new message, with a new request id
    $(id).addEventListener("input", () => { delete state.sending[state.current + ":" + id]; });
  }
  $("note-form").addEventListener("submit", (event) => { event.preventDefault(); send("note", $("note-text"), $("note-error")); });
  $("file-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = $("file-input").files[0];
    if (!file) return;
    const body = new FormData();
    body.append("file", file);
    $("message").textContent = "";
    try {
      await api("/api/cases/" + state.current + "/file", { method: "POST", body });
    } catch (error) {
      $("message").textContent = error.message;
    }
    $("file-input").value = "";
    await openCase(state.current);
  });
  await loadQueue();
  const wanted = new URLSearchParams(location.hash.slice(1)).get("case");
  if (wanted) await openCase(wanted);
  connectLive();
  setInterval(tick, 1000);
  setInterval(loadQueue, 30000);  // a safety net for missed live events; reading is not activity: it keeps nobody on duty
  setInterval(async () => showDuty(await api("/api/me")), 30000);
}

start();
