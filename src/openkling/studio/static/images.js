// The Images tab: pictures from /v1/images/generations (a prompt, n, aspect ratio, resolution
// and an optional reference picture), their cost before the click, and each task's pictures
// as they finish (polled: the image door has no event stream).

const $ = (id) => document.getElementById(id);
const PATH = "/v1/images/generations";
const MAX_PROMPT = 2500;

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    node.setAttribute(key, value === true ? "" : String(value));
  }
  node.append(...children);
  return node;
}

function option(value, label = value) {
  return el("option", { value }, label);
}

function alertBox(error) {
  const box = $("img-alert");
  box.hidden = !error;
  box.textContent = error ? error.message || String(error) : "";
}

// A file as raw base64 (no data: prefix), as Kling takes images.
function base64Of(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
    reader.onerror = () => reject(new Error(`Cannot read ${file.name}`));
    reader.readAsDataURL(file);
  });
}

export class ImagesTab {
  // onCharge(): credits moved (a task made, or refunded): the balance is shown again
  constructor({ onCharge = () => {} } = {}) {
    this.onCharge = onCharge;
    this.api = null;
    this.models = new Map();
    this.prompts = new Map(); // task id -> prompt, for tasks made in this page
    this.items = new Map(); // task id -> its list item
    this.timer = null;
    $("tab-videos").addEventListener("click", () => this.select("videos"));
    $("tab-images").addEventListener("click", () => this.select("images"));
    $("img-prompt").addEventListener("input", () => {
      $("img-prompt-count").textContent = `${$("img-prompt").value.length} / ${MAX_PROMPT}`;
    });
    $("img-fidelity").addEventListener("input", () => {
      $("img-fidelity-value").textContent = Number($("img-fidelity").value).toFixed(2);
    });
    for (const id of ["img-model", "img-count", "img-reference"]) {
      $(id).addEventListener("input", () => this.showCost());
      $(id).addEventListener("change", () => this.showCost());
    }
    $("img-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.create();
    });
  }

  // Signed in: the image models, and the account's image tasks.
  async start(api) {
    this.api = api;
    $("tabs").hidden = false;
    const models = await api.request("GET", "/v1/images/models");
    this.models = new Map(models.filter((m) => m.allowed !== false).map((m) => [m.model_name, m]));
    $("img-model").replaceChildren(...[...this.models.keys()].map((name) => option(name)));
    const first = models[0] || { aspect_ratios: ["16:9"], resolutions: ["1k"] };
    $("img-aspect").replaceChildren(...first.aspect_ratios.map((r) => option(r)));
    $("img-resolution").replaceChildren(...first.resolutions.map((r) => option(r)));
    this.showCost();
    const tasks = await api.request("GET", `${PATH}?pageNum=1&pageSize=30`);
    $("img-results").replaceChildren();
    this.items.clear();
    for (const task of tasks.reverse()) this.show(task);
    this.poll();
  }

  stop() {
    this.api = null;
    clearTimeout(this.timer);
    $("tabs").hidden = true;
    $("img-results").replaceChildren();
    this.items.clear();
    this.select("videos");
  }

  select(name) {
    const images = name === "images";
    $("tab-images").setAttribute("aria-selected", String(images));
    $("tab-videos").setAttribute("aria-selected", String(!images));
    if (this.api) {
      $("images-view").hidden = !images;
      $("studio-view").hidden = images;
    } else {
      $("images-view").hidden = true;
    }
  }

  count() {
    const n = Number.parseInt($("img-count").value, 10);
    return Number.isInteger(n) ? n : 1;
  }

  showCost() {
    const model = this.models.get($("img-model").value);
    if (!model) {
      $("img-cost").textContent = "";
      return;
    }
    const input = $("img-reference").files.length ? "image" : "text";
    const each = model.prices.find((p) => p.input === input).credits_per_image;
    const n = this.count();
    $("img-cost").textContent = `${n} × ${each} = ${n * each} credits`;
  }

  async create() {
    const prompt = $("img-prompt").value;
    const n = this.count();
    if (!prompt.trim()) return alertBox("Write what the pictures should show.");
    if (n < 1 || n > 9) return alertBox("Number of pictures: 1 to 9.");
    const body = {
      model_name: $("img-model").value,
      prompt,
      n,
      aspect_ratio: $("img-aspect").value,
      resolution: $("img-resolution").value,
    };
    if ($("img-negative").value.trim()) body.negative_prompt = $("img-negative").value;
    const button = $("img-generate");
    button.disabled = true;
    try {
      const file = $("img-reference").files[0];
      if (file) {
        body.image = await base64Of(file);
        body.image_fidelity = Number($("img-fidelity").value);
      }
      const task = await this.api.request("POST", PATH, body);
      alertBox(null);
      this.prompts.set(task.task_id, prompt);
      this.show(task);
      this.onCharge();
      this.poll();
    } catch (error) {
      alertBox(error);
    } finally {
      button.disabled = false;
    }
  }

  // One task's item: its status, then its pictures in index order.
  show(task) {
    let item = this.items.get(task.task_id);
    if (!item) {
      item = el("li", { class: "image-task", "data-task-id": task.task_id });
      this.items.set(task.task_id, item);
      $("img-results").prepend(item);
    }
    $("img-empty").hidden = this.items.size > 0;
    const prompt = this.prompts.get(task.task_id);
    const status =
      task.task_status === "succeed"
        ? `${task.task_result.images.length} picture(s), ${task.final_unit_deduction} credits`
        : task.task_status === "failed"
          ? `failed: ${task.task_status_msg}`
          : `${task.task_status} ${task.task_progress || 0}%`;
    const meta = el("p", { class: "meta" }, `${prompt ? `“${prompt}” — ` : ""}${status}`);
    item.dataset.status = task.task_status;
    const children = [meta];
    if (task.task_status === "succeed") {
      const grid = el("div", { class: "image-grid" });
      for (const image of [...task.task_result.images].sort((a, b) => a.index - b.index)) {
        const alt = `Picture ${image.index + 1}${prompt ? ` of ${prompt}` : ""}`;
        grid.append(
          el("a", { href: image.url, target: "_blank", rel: "noopener" },
            el("img", { src: image.url, alt, loading: "lazy" })),
        );
      }
      children.push(grid);
    }
    item.replaceChildren(...children);
  }

  // Every unfinished task, once a second, until none is left.
  poll() {
    clearTimeout(this.timer);
    const open = [...this.items.entries()].filter(
      ([, item]) => item.dataset.status !== "succeed" && item.dataset.status !== "failed",
    );
    if (!open.length || !this.api) return;
    this.timer = setTimeout(async () => {
      for (const [taskId] of open) {
        try {
          const task = await this.api.request("GET", `${PATH}/${taskId}`);
          this.show(task);
          if (task.task_status === "failed") this.onCharge(); // refunded
        } catch (error) {
          alertBox(error);
        }
      }
      this.poll();
    }, 1000);
  }
}
