// The studio: sign in, compose, a live queue and a gallery, all through the public API.

import { Api, ApiError, Credentials } from "./api.js";
import { Compose } from "./compose.js";
import { EffectsPicker } from "./effects.js";
import { ImagesTab } from "./images.js";
import { curlExample, jwtExample, pythonExample } from "./snippets.js";

const $ = (id) => document.getElementById(id);
const STORE_KEY = "openkling.credentials";
const PAGE_SIZE = 12;
const TERMINAL = new Set(["succeed", "failed"]);

const state = {
  api: null,
  queue: new Map(), // task_id -> { task, family }
  families: new Map(), // task_id -> family, for tasks seen in this page
  requests: new Map(), // task_id -> stored create body (Reuse, examples)
  created: new Set(), // tasks made in this page
  done: new Set(), // tasks seen finished: later (older) news of them is ignored
  page: 1,
  live: null, // AbortController of the event stream
  poller: null,
};

const compose = new Compose();
const effects = new EffectsPicker();
// every door whose tasks the gallery shows (the events stream covers them all)
const FAMILIES = ["text2video", "image2video", "video-extend", "multi-image2video", "effects"];
const images = new ImagesTab({ onCharge: () => refreshBalance() });

// ---- small helpers ----------------------------------------------------------------------

function showAlert(id, error) {
  const box = $(id);
  if (!error) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  const message = error instanceof ApiError || error instanceof Error ? error.message : String(error);
  const detail = [];
  if (error.status) detail.push(`HTTP ${error.status}`);
  if (error.code) detail.push(`code ${error.code}`);
  box.textContent = detail.length ? `${message} (${detail.join(", ")})` : message;
  box.hidden = false;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("aria-") || key.startsWith("data-") || key === "role")
      node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function elapsed(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const m = Math.floor(seconds / 60);
  return `${m}:${String(seconds % 60).padStart(2, "0")}`;
}

function familyOf(taskId) {
  return state.families.get(taskId) || "text2video";
}

// What a task shows as its title: its prompt, or its shots' prompts for a multi-shot task.
function promptOf(req) {
  if (req.multi_prompt && req.multi_prompt.length) {
    return req.multi_prompt.map((shot) => shot.prompt).join(" / ");
  }
  return req.prompt || "(image only)";
}

async function storedRequest(taskId) {
  if (!state.requests.has(taskId)) {
    const path = `/v1/videos/${familyOf(taskId)}/${encodeURIComponent(taskId)}/request`;
    state.requests.set(taskId, await state.api.request("GET", path));
  }
  return state.requests.get(taskId);
}

// ---- sign in ----------------------------------------------------------------------------

function loadCredentials() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
    return saved ? new Credentials(saved) : null;
  } catch {
    return null;
  }
}

function showView(signedIn) {
  $("signin-view").hidden = signedIn;
  $("studio-view").hidden = !signedIn;
  $("account").hidden = !signedIn;
}

async function signIn(credentials) {
  const api = new Api(credentials);
  const costs = await api.request("GET", "/account/costs"); // checks the key
  state.api = api;
  localStorage.setItem(STORE_KEY, JSON.stringify(credentials));
  showView(true);
  showBalance(costs);
  compose.setModels(await api.request("GET", "/v1/models"));
  effects.setScenes(await api.request("GET", "/v1/effects").catch(() => []));
  await loadGallery(1);
  startLive();
  // the images tab failing to load leaves the videos working
  await images.start(api).catch((error) => showAlert("img-alert", error));
}

// The server no longer takes the key (revoked or rotated): back to sign in, saying why.
function signedOut(error) {
  forget();
  showAlert("signin-alert", error);
}

function forget() {
  localStorage.removeItem(STORE_KEY);
  if (state.live) state.live.abort();
  clearInterval(state.poller);
  state.api = null;
  images.stop();
  state.queue.clear();
  state.requests.clear();
  state.created.clear();
  state.done.clear();
  $("queue").replaceChildren();
  $("gallery").replaceChildren();
  $("api-key").value = "";
  $("access-key").value = "";
  $("secret-key").value = "";
  showAlert("signin-alert", null);
  showView(false);
  $("api-key").focus();
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const apiKey = $("api-key").value.trim();
  const accessKey = $("access-key").value.trim();
  const secretKey = $("secret-key").value.trim();
  let credentials;
  if (apiKey) credentials = new Credentials({ apiKey });
  else if (accessKey && secretKey) credentials = new Credentials({ accessKey, secretKey });
  else {
    showAlert("signin-alert", "Paste your API key, or an access key and a secret key.");
    return;
  }
  $("signin-button").disabled = true;
  try {
    await signIn(credentials);
    showAlert("signin-alert", null);
  } catch (error) {
    showView(false);
    showAlert("signin-alert", error);
  } finally {
    $("signin-button").disabled = false;
  }
});

$("forget").addEventListener("click", forget);

// ---- balance ----------------------------------------------------------------------------

function showBalance(costs) {
  if (costs && costs.balance !== undefined) $("balance-value").textContent = String(costs.balance);
}

async function refreshBalance() {
  try {
    showBalance(await state.api.request("GET", "/account/costs"));
  } catch {
    // the next refresh will try again; the balance is informative only
  }
}

// ---- compose ----------------------------------------------------------------------------

$("compose-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const { family, body } = compose.request();
  const button = $("generate");
  button.disabled = true;
  try {
    const task = await state.api.request("POST", `/v1/videos/${family}`, body);
    showAlert("form-alert", null);
    state.families.set(task.task_id, family);
    state.created.add(task.task_id);
    upsertQueue(task, family);
    refreshBalance();
  } catch (error) {
    showAlert("form-alert", error);
  } finally {
    button.disabled = false;
  }
});

// ---- effects and extensions: other doors, the same queue -------------------------------

async function submitTo(family, body, alertId) {
  const task = await state.api.request("POST", `/v1/videos/${family}`, body);
  showAlert(alertId, null);
  state.families.set(task.task_id, family);
  state.created.add(task.task_id);
  upsertQueue(task, family);
  refreshBalance();
  return task;
}

$("effects-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = $("play-effect");
  button.disabled = true;
  try {
    await submitTo("effects", await effects.request(), "effects-alert");
  } catch (error) {
    showAlert("effects-alert", error);
  } finally {
    button.disabled = false;
  }
});

async function extend(video, button) {
  button.disabled = true;
  try {
    await submitTo("video-extend", { video_id: video.id }, "queue-alert");
  } catch (error) {
    showAlert("queue-alert", error);
  } finally {
    button.disabled = false;
  }
}

// ---- queue ------------------------------------------------------------------------------

function queueItem(taskId) {
  const item = el("li", { class: "queue-item", "data-task-id": taskId });
  const title = el("p", { class: "queue-title" }, el("span", { class: "prompt" }, "…"));
  const status = el("span", { class: "status" });
  const time = el("span", { class: "elapsed", "aria-label": "Elapsed time" });
  const place = el("span", { class: "place", "aria-label": "Place in line" });
  const fill = el("div", { class: "fill" });
  const bar = el(
    "div",
    {
      class: "bar",
      role: "progressbar",
      "aria-valuemin": "0",
      "aria-valuemax": "100",
      "aria-valuenow": "0",
      "aria-label": `Progress of task ${taskId}`,
    },
    fill,
  );
  const cancel = el("button", {
    type: "button",
    class: "quiet danger",
    textContent: "Cancel",
    "aria-label": `Cancel task ${taskId}`,
  });
  cancel.addEventListener("click", () => cancelTask(taskId, cancel));
  item.append(title, el("div", { class: "queue-meta" }, status, place, time, cancel), bar);
  storedRequest(taskId)
    .then((req) => {
      title.firstChild.textContent = promptOf(req);
    })
    .catch(() => {
      title.firstChild.textContent = `Task ${taskId}`;
    });
  return item;
}

function upsertQueue(task, family) {
  if (family) state.families.set(task.task_id, family);
  if (state.done.has(task.task_id)) return;
  const list = $("queue");
  let node = list.querySelector(`[data-task-id="${CSS.escape(task.task_id)}"]`);
  if (TERMINAL.has(task.task_status)) {
    state.done.add(task.task_id);
    if (node) node.remove();
    const was = state.queue.delete(task.task_id);
    renderQueueEmpty();
    if (was || node || state.created.has(task.task_id)) finished(task);
    return;
  }
  state.queue.set(task.task_id, task);
  if (!node) {
    node = queueItem(task.task_id);
    list.prepend(node);
  }
  const progress = Math.max(0, Math.min(100, task.task_progress || 0));
  node.querySelector(".status").textContent = task.task_status;
  node.querySelector(".status").dataset.status = task.task_status;
  node.querySelector(".place").textContent = placeInLine(task);
  const bar = node.querySelector("[role=progressbar]");
  bar.setAttribute("aria-valuenow", String(progress));
  bar.firstChild.style.width = `${progress}%`;
  node.dataset.created = String(task.created_at);
  tick();
  renderQueueEmpty();
}

// "3rd in line, about 2 min": a waiting task's queue_position and queue_eta_seconds.
function ordinal(n) {
  const v = n % 100;
  const suffix = v >= 11 && v <= 13 ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th";
  return `${n}${suffix}`;
}

function aboutWait(seconds) {
  if (seconds < 60) return `about ${Math.max(5, Math.round(seconds / 5) * 5)} s`;
  if (seconds < 5400) return `about ${Math.round(seconds / 60)} min`;
  return `about ${Math.round(seconds / 3600)} h`;
}

function placeInLine(task) {
  if (task.task_status !== "submitted" || !task.queue_position) return "";
  const place = task.queue_position === 1 ? "next in line" : `${ordinal(task.queue_position)} in line`;
  const eta = task.queue_eta_seconds;
  return eta === undefined || eta === null ? place : `${place}, ${aboutWait(eta)}`;
}

function renderQueueEmpty() {
  $("queue-empty").hidden = state.queue.size > 0;
}

function tick() {
  for (const node of $("queue").children) {
    node.querySelector(".elapsed").textContent = elapsed(Date.now() - Number(node.dataset.created));
  }
}
setInterval(tick, 1000);

async function cancelTask(taskId, button) {
  button.disabled = true;
  try {
    const path = `/v1/videos/${familyOf(taskId)}/${encodeURIComponent(taskId)}/cancel`;
    const task = await state.api.request("POST", path);
    showAlert("queue-alert", null);
    upsertQueue(task);
  } catch (error) {
    showAlert("queue-alert", error);
    button.disabled = false;
  }
}

// A task just finished: the balance may have changed (a refund), and page 1 gains a tile.
function finished(task) {
  refreshBalance();
  if (state.page !== 1) return;
  const gallery = $("gallery");
  if (gallery.querySelector(`[data-task-id="${CSS.escape(task.task_id)}"]`)) return;
  gallery.prepend(card(task));
  while (gallery.children.length > PAGE_SIZE) gallery.lastChild.remove();
  $("gallery-empty").hidden = true;
}

// Live updates: one account stream; on a server without it, poll the list instead.
function startLive() {
  if (state.live) state.live.abort();
  const controller = new AbortController();
  state.live = controller;
  let failures = 0;
  const run = async () => {
    while (!controller.signal.aborted) {
      try {
        $("live").textContent = "live";
        $("live").dataset.state = "on";
        await state.api.stream(
          "/v1/events",
          (family, task) => {
            failures = 0;
            upsertQueue(task, family);
          },
          controller.signal,
        );
      } catch (error) {
        if (controller.signal.aborted) return;
        if (error instanceof ApiError && error.status === 404) {
          startPolling();
          return;
        }
        if (error instanceof ApiError && error.status === 401) {
          signedOut(error);
          return;
        }
        failures += 1;
      }
      $("live").textContent = "reconnecting…";
      $("live").dataset.state = "off";
      await new Promise((r) => setTimeout(r, Math.min(10000, 1000 * 2 ** Math.min(failures, 4))));
    }
  };
  run();
}

function startPolling() {
  $("live").textContent = "polling";
  clearInterval(state.poller);
  state.poller = setInterval(async () => {
    try {
      const { tasks } = await listPage(1, 50);
      for (const task of tasks.reverse()) {
        if (!TERMINAL.has(task.task_status) || state.queue.has(task.task_id)) upsertQueue(task);
      }
    } catch {
      // keep trying
    }
  }, 2000);
}

// ---- gallery ----------------------------------------------------------------------------

// One page of each door's tasks, newest first.
async function listPage(page, size) {
  const families = FAMILIES;
  const pages = await Promise.all(
    families.map((family) =>
      state.api
        .request("GET", `/v1/videos/${family}?pageNum=${page}&pageSize=${size}`)
        .then((tasks) => {
          for (const task of tasks) state.families.set(task.task_id, family);
          return tasks;
        }),
    ),
  );
  const full = pages.some((tasks) => tasks.length >= size);
  const tasks = pages.flat().sort((a, b) => b.created_at - a.created_at);
  return { tasks, full };
}

async function loadGallery(page) {
  let listed;
  try {
    listed = await listPage(page, PAGE_SIZE);
  } catch (error) {
    showAlert("queue-alert", error);
    return;
  }
  const { tasks, full } = listed;
  state.page = page;
  $("page-label").textContent = `Page ${page}`;
  $("newer").disabled = page <= 1;
  $("older").disabled = !full;
  const cards = tasks.filter((t) => TERMINAL.has(t.task_status)).map(card);
  $("gallery").replaceChildren(...cards);
  $("gallery-empty").hidden = cards.length > 0;
  if (page === 1) {
    for (const task of tasks) if (!TERMINAL.has(task.task_status)) upsertQueue(task);
  }
}

$("newer").addEventListener("click", () => loadGallery(Math.max(1, state.page - 1)));
$("older").addEventListener("click", () => loadGallery(state.page + 1));

function card(task) {
  const id = task.task_id;
  const item = el("li", { class: "tile", "data-task-id": id, "data-status": task.task_status });
  const video = task.task_result && task.task_result.videos && task.task_result.videos[0];
  if (task.task_status === "succeed" && video) {
    const player = el("video", {
      controls: true,
      preload: "metadata",
      playsInline: true,
      muted: false,
      src: video.url,
      "aria-label": `Video of task ${id}`,
    });
    if (video.cover_url) player.poster = video.cover_url;
    item.append(player);
  } else {
    item.append(
      el(
        "div",
        { class: "failed-box" },
        el("strong", {}, "Failed"),
        el("p", { class: "status-msg" }, task.task_status_msg || "no reason given"),
      ),
    );
  }
  const prompt = el("p", { class: "prompt" }, "…");
  const meta = el("p", { class: "meta" });
  const when = new Date(task.created_at).toLocaleString([], {
    dateStyle: "medium",
    timeStyle: "short",
  });
  meta.textContent = `${when} · ${task.final_unit_deduction} credits${video ? ` · ${video.duration} s` : ""}`;
  storedRequest(id)
    .then((req) => {
      prompt.textContent = promptOf(req);
      meta.textContent = `${req.model_name} · ${req.mode} · ${meta.textContent}`;
    })
    .catch(() => {
      prompt.textContent = `Task ${id}`;
    });
  const actions = el("div", { class: "actions" });
  if (video) {
    actions.append(
      el("a", {
        class: "button quiet",
        href: video.url,
        download: `${id}.mp4`,
        textContent: "Download",
        "aria-label": `Download video of task ${id}`,
      }),
    );
  }
  const button = (text, label, handler) => {
    const b = el("button", { type: "button", class: "quiet", textContent: text, "aria-label": label });
    b.addEventListener("click", handler);
    return b;
  };
  if (video) {
    const more = button("Extend", `Extend the video of task ${id} by 5 seconds`, () =>
      extend(video, more),
    );
    actions.append(more);
  }
  actions.append(
    button("Reuse", `Reuse the settings of task ${id}`, () => reuse(id)),
    button("Copy as curl", `Copy as curl (task ${id})`, () => snippet(id, "curl")),
    button("Copy as Python", `Copy as Python (task ${id})`, () => snippet(id, "python")),
    button("JWT example", `JWT example for task ${id}`, () => snippet(id, "jwt")),
  );
  item.append(prompt, meta, actions);
  return item;
}

async function reuse(taskId) {
  try {
    compose.fill(await storedRequest(taskId));
    showAlert("form-alert", null);
    $("compose-title").scrollIntoView({ block: "start" });
    $("prompt").focus({ preventScroll: true });
  } catch (error) {
    showAlert("form-alert", error);
  }
}

// ---- examples ---------------------------------------------------------------------------

const EXAMPLES = {
  curl: ["Copy as curl", curlExample],
  python: ["Copy as Python (SDK)", pythonExample],
  jwt: ["JWT example (Python, requests)", jwtExample],
};

async function snippet(taskId, kind) {
  const [title, make] = EXAMPLES[kind];
  let body;
  try {
    body = await storedRequest(taskId);
  } catch (error) {
    showAlert("queue-alert", error);
    return;
  }
  const family = familyOf(taskId);
  if (family === "image2video" && !body.image) {
    body = { ...body, image: "<the image as raw base64, no data: prefix, or an https URL>" };
  }
  const text = make(location.origin, family, body);
  $("snippet-title").textContent = title;
  $("snippet-code").textContent = text;
  $("snippet-status").textContent = "";
  $("snippet-dialog").showModal();
  await copy(text);
}

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    $("snippet-status").textContent = "Copied to the clipboard.";
  } catch {
    $("snippet-status").textContent = "Select the text below and copy it.";
  }
}

$("snippet-copy").addEventListener("click", () => copy($("snippet-code").textContent));
$("snippet-close").addEventListener("click", () => $("snippet-dialog").close());

// ---- start ------------------------------------------------------------------------------

const saved = loadCredentials();
if (saved) {
  signIn(saved).catch((error) => {
    showView(false);
    showAlert("signin-alert", error);
  });
} else {
  showView(false);
}
