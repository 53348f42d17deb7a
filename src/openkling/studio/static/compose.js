// The compose form: fields from /v1/models, the cost of each choice, the camera preview,
// image drop zones and the multi-shot editor; builds the Kling create body.

const $ = (id) => document.getElementById(id);
const AXES = ["horizontal", "vertical", "pan", "tilt", "roll", "zoom"];
const MODE_LABELS = { std: "Standard (std)", pro: "Professional (pro)" };
const MAX_PROMPT = 2500;
const MAX_SHOTS = 6;

// Where each preset camera move goes, in the preview's own axis units.
const PRESETS = {
  down_back: { vertical: -4, zoom: -5, tilt: 3 },
  forward_up: { vertical: 4, zoom: 5, tilt: -3 },
  right_turn_forward: { pan: 5, zoom: 4, horizontal: 3 },
  left_turn_forward: { pan: -5, zoom: 4, horizontal: -3 },
};

function option(value, text) {
  const el = document.createElement("option");
  el.value = value;
  el.textContent = text;
  return el;
}

function fillSelect(select, items, keep) {
  const previous = keep ?? select.value;
  select.replaceChildren(...items.map(([value, text]) => option(value, text)));
  if (items.some(([value]) => value === previous)) select.value = previous;
}

// A file's bytes as raw base64 (no data: prefix), which Kling's image fields take.
export function readBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

export class Compose {
  constructor({ onChange } = {}) {
    this.models = [];
    this.images = { image: null, image_tail: null };
    this.onChange = onChange || (() => {});
    this.form = $("compose-form");
    this.preview = null;
    this._bind();
  }

  get model() {
    return this.models.find((m) => m.model_name === $("model").value) || this.models[0];
  }

  setModels(models) {
    // the studio speaks the legacy API: Kling's 2026 models (api "2026") are not offered here
    this.models = models.filter((m) => m.allowed !== false && (m.api || "legacy") === "legacy");
    fillSelect(
      $("model"),
      this.models.map((m) => {
        const extras = [
          !m.text2video && "image only",
          m.audio && "sound",
          m.multi_shot && "multi-shot",
        ];
        const note = extras.filter(Boolean).join(", ");
        return [m.model_name, note ? `${m.model_name} (${note})` : m.model_name];
      }),
    );
    $("images").hidden = !this.models.some((m) => m.image2video);
    this.refresh();
  }

  _bind() {
    const prompt = $("prompt");
    prompt.addEventListener("input", () => this._count());
    for (const id of ["model", "mode", "duration", "aspect-ratio", "sound", "camera-type"]) {
      $(id).addEventListener("change", () => this.refresh());
    }
    $("cfg-scale").addEventListener("input", () => {
      $("cfg-value").textContent = Number($("cfg-scale").value).toFixed(2);
    });
    const axes = $("camera-axes");
    for (const axis of AXES) {
      const wrap = document.createElement("div");
      wrap.className = "axis";
      const label = document.createElement("label");
      label.htmlFor = `axis-${axis}`;
      label.textContent = axis[0].toUpperCase() + axis.slice(1);
      const input = document.createElement("input");
      Object.assign(input, { type: "range", id: `axis-${axis}`, min: -10, max: 10, step: 1 });
      input.value = "0";
      const out = document.createElement("output");
      out.htmlFor = input.id;
      out.id = `axis-${axis}-value`;
      out.textContent = "0";
      input.addEventListener("input", () => {
        out.textContent = input.value;
        this._animateCamera();
      });
      wrap.append(label, input, out);
      axes.append(wrap);
    }
    $("multi-shot").addEventListener("change", () => {
      $("shots").hidden = !$("multi-shot").checked;
      if ($("multi-shot").checked && !$("shot-list").children.length) {
        const total = Number($("duration").value || 5);
        const first = Math.floor(total / 2);
        this.addShot({ prompt: $("prompt").value, duration: first });
        this.addShot({ prompt: "", duration: total - first });
      }
      this._shotsTotal();
    });
    $("add-shot").addEventListener("click", () => this.addShot());
    for (const drop of document.querySelectorAll(".drop")) this._bindDrop(drop);
  }

  _count() {
    const length = $("prompt").value.length;
    const counter = $("prompt-count");
    counter.textContent = `${length} / ${MAX_PROMPT}`;
    counter.classList.toggle("over", length > MAX_PROMPT);
  }

  // Re-derive the choices the chosen model offers, the cost and the camera preview.
  refresh() {
    const model = this.model;
    if (!model) return;
    fillSelect($("mode"), model.modes.map((m) => [m, MODE_LABELS[m] || m]));
    fillSelect($("duration"), model.durations.map((d) => [String(d), `${d} s`]));
    fillSelect($("aspect-ratio"), model.aspect_ratios.map((r) => [r, r]));
    const camera = $("camera-type");
    fillSelect(camera, [["", "None"], ...model.camera_types.map((t) => [t, t.replace(/_/g, " ")])]);
    camera.disabled = !model.camera;
    $("sound").disabled = !model.audio;
    if (!model.audio) $("sound").checked = false;
    $("sound-hint").textContent = model.audio ? "" : `${model.model_name} makes no audio`;
    $("shots-field").hidden = !model.multi_shot;
    if (!model.multi_shot) $("multi-shot").checked = false;
    $("shots").hidden = !$("multi-shot").checked;
    const hasImage = Boolean(this.images.image || this.images.image_tail);
    $("aspect-field").hidden = hasImage; // image to video takes the image's aspect
    $("camera-axes").hidden = camera.value !== "simple";
    this._count();
    this._shotsTotal();
    this._animateCamera();
    this._cost();
    this.onChange();
  }

  price() {
    const model = this.model;
    if (!model) return null;
    const entry = model.prices.find(
      (p) => p.mode === $("mode").value && String(p.duration) === $("duration").value,
    );
    return entry ? entry.credits : null;
  }

  _cost() {
    const credits = this.price();
    $("cost").textContent =
      credits === null ? "" : `Cost: ${credits} credit${credits === 1 ? "" : "s"}`;
  }

  _axes() {
    const config = {};
    for (const axis of AXES) {
      const value = Number($(`axis-${axis}`).value);
      if (value) config[axis] = value;
    }
    return config;
  }

  _animateCamera() {
    const scene = $("camera-scene");
    const type = $("camera-type").value;
    const move = type === "simple" ? this._axes() : PRESETS[type] || {};
    const v = (axis) => move[axis] || 0;
    const end =
      `translate(${-v("horizontal") * 2.5}px, ${v("vertical") * 2}px) ` +
      `perspective(300px) rotateY(${v("pan") * 2.5}deg) rotateX(${-v("tilt") * 2.5}deg) ` +
      `rotate(${v("roll") * 3}deg) scale(${1 + v("zoom") * 0.05})`;
    if (this.preview) this.preview.cancel();
    if (!Object.keys(move).length || !scene.animate) return;
    this.preview = scene.animate([{ transform: "none" }, { transform: end }], {
      duration: 1800,
      iterations: Infinity,
      direction: "alternate",
      easing: "ease-in-out",
    });
  }

  addShot(shot = { prompt: "", duration: null }) {
    const list = $("shot-list");
    if (list.children.length >= MAX_SHOTS) return;
    const li = document.createElement("li");
    li.className = "shot";
    const n = list.children.length + 1;
    const promptId = `shot-${n}-prompt-${Date.now()}`;
    const secondsId = `${promptId}-s`;
    li.innerHTML = `
      <label class="shot-label"></label>
      <textarea rows="2" maxlength="512"></textarea>
      <div class="row">
        <label class="seconds-label"></label>
        <input type="number" min="1" max="15" step="1" inputmode="numeric">
        <button type="button" class="quiet remove-shot"></button>
      </div>`;
    const [label, secondsLabel] = li.querySelectorAll("label");
    const text = li.querySelector("textarea");
    const seconds = li.querySelector("input");
    text.id = promptId;
    seconds.id = secondsId;
    label.htmlFor = promptId;
    secondsLabel.htmlFor = secondsId;
    text.value = shot.prompt || "";
    seconds.value = String(shot.duration ?? 1);
    seconds.addEventListener("input", () => this._shotsTotal());
    li.querySelector(".remove-shot").addEventListener("click", () => {
      li.remove();
      this._renumberShots();
    });
    list.append(li);
    this._renumberShots();
  }

  _renumberShots() {
    [...$("shot-list").children].forEach((li, i) => {
      li.querySelector(".shot-label").textContent = `Shot ${i + 1} prompt`;
      li.querySelector(".seconds-label").textContent = `Shot ${i + 1} seconds`;
      li.querySelector(".remove-shot").textContent = `Remove shot ${i + 1}`;
    });
    $("add-shot").disabled = $("shot-list").children.length >= MAX_SHOTS;
    this._shotsTotal();
  }

  _shots() {
    return [...$("shot-list").children].map((li, i) => ({
      index: i + 1,
      prompt: li.querySelector("textarea").value,
      duration: li.querySelector("input").value,
    }));
  }

  _shotsTotal() {
    const total = this._shots().reduce((sum, s) => sum + Number(s.duration || 0), 0);
    $("shots-total").textContent = $("multi-shot").checked
      ? `Shots add up to ${total} s of ${$("duration").value} s`
      : "";
  }

  _bindDrop(drop) {
    const slot = drop.dataset.slot;
    const input = drop.querySelector("input");
    const img = drop.querySelector("img");
    const remove = drop.querySelector(".remove");
    const take = async (file) => {
      if (!file) return;
      this.images[slot] = { base64: await readBase64(file), name: file.name };
      img.src = URL.createObjectURL(file);
      img.alt = `${slot === "image" ? "Image" : "End frame"}: ${file.name}`;
      img.hidden = false;
      remove.hidden = false;
      drop.classList.add("filled");
      this.refresh();
    };
    input.addEventListener("change", () => take(input.files[0]));
    drop.addEventListener("dragover", (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (event) => {
      event.preventDefault();
      drop.classList.remove("over");
      take(event.dataTransfer.files[0]);
    });
    remove.addEventListener("click", () => {
      this.images[slot] = null;
      input.value = "";
      img.hidden = true;
      img.removeAttribute("src");
      remove.hidden = true;
      drop.classList.remove("filled");
      this.refresh();
    });
  }

  // The family (text2video or image2video) and the Kling create body for the form as it is.
  request() {
    const body = {
      model_name: $("model").value,
      prompt: $("prompt").value,
      negative_prompt: $("negative-prompt").value,
      mode: $("mode").value,
      duration: $("duration").value,
      cfg_scale: Number($("cfg-scale").value),
    };
    const hasImage = Boolean(this.images.image || this.images.image_tail);
    if (!body.negative_prompt) delete body.negative_prompt;
    if (!hasImage) body.aspect_ratio = $("aspect-ratio").value;
    if (this.images.image) body.image = this.images.image.base64;
    if (this.images.image_tail) body.image_tail = this.images.image_tail.base64;
    const type = $("camera-type").value;
    if (type === "simple") body.camera_control = { type, config: this._axes() };
    else if (type) body.camera_control = { type };
    if (this.model && this.model.audio) body.sound = $("sound").checked ? "on" : "off";
    if ($("multi-shot").checked && this.model && this.model.multi_shot) {
      body.multi_shot = true;
      body.shot_type = "customize";
      body.multi_prompt = this._shots();
    }
    const seed = $("seed").value.trim();
    if (seed !== "") body.seed = Number(seed);
    return { family: hasImage ? "image2video" : "text2video", body };
  }

  // Reuse: put a stored create body (with its seed) back into the form.
  fill(body) {
    $("model").value = body.model_name;
    this.refresh();
    $("prompt").value = body.prompt || "";
    $("negative-prompt").value = body.negative_prompt || "";
    $("mode").value = body.mode || "std";
    $("duration").value = String(body.duration || "5");
    if (body.aspect_ratio) $("aspect-ratio").value = body.aspect_ratio;
    $("cfg-scale").value = String(body.cfg_scale ?? 0.5);
    $("cfg-value").textContent = Number($("cfg-scale").value).toFixed(2);
    const camera = body.camera_control;
    $("camera-type").value = camera ? camera.type : "";
    for (const axis of AXES) {
      const value = (camera && camera.config && camera.config[axis]) || 0;
      $(`axis-${axis}`).value = String(value);
      $(`axis-${axis}-value`).textContent = String(value);
    }
    $("sound").checked = body.sound === "on" || body.sound === true;
    $("seed").value = body.seed ?? "";
    $("shot-list").replaceChildren();
    $("multi-shot").checked = Boolean(body.multi_shot && body.multi_prompt);
    for (const shot of body.multi_prompt || []) this.addShot(shot);
    this.refresh();
  }
}
