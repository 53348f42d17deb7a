// The effects picker: the scenes the server offers (GET /v1/effects), one picture for a
// single-image scene and two (left, right) for a dual one, sent to POST /v1/videos/effects.

import { readBase64 } from "./compose.js";

const $ = (id) => document.getElementById(id);

export class EffectsPicker {
  constructor() {
    this.scenes = [];
    $("effect-scene").addEventListener("change", () => this.show());
  }

  setScenes(scenes) {
    this.scenes = scenes;
    const select = $("effect-scene");
    select.replaceChildren(
      ...scenes.map((scene) => {
        const option = document.createElement("option");
        option.value = scene.effect_scene;
        option.textContent = scene.effect_scene.replace(/_/g, " ");
        return option;
      }),
    );
    this.show();
  }

  get scene() {
    return this.scenes.find((s) => s.effect_scene === $("effect-scene").value) || null;
  }

  show() {
    const scene = this.scene;
    const dual = Boolean(scene && scene.kind === "dual");
    $("effect-second").hidden = !dual;
    $("effect-image-label").textContent = dual ? "Left picture" : "Picture";
    $("effect-about").textContent = scene ? scene.prompt : "";
    $("effect-cost").textContent = scene
      ? `${scene.credits} credits · ${scene.duration} s · ${dual ? "two pictures" : "one picture"}`
      : "";
  }

  // The create body; throws an Error naming what is missing.
  async request() {
    const scene = this.scene;
    if (!scene) throw new Error("Choose an effect.");
    const first = $("effect-image").files[0];
    if (!first) throw new Error("Choose a picture (JPG or PNG).");
    if (scene.kind !== "dual") {
      return { effect_scene: scene.effect_scene, input: { image: await readBase64(first) } };
    }
    const second = $("effect-image-2").files[0];
    if (!second) throw new Error("This effect takes two pictures: choose the right one too.");
    const images = [await readBase64(first), await readBase64(second)];
    return { effect_scene: scene.effect_scene, input: { images } };
  }
}
