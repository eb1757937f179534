// Loading the room's media: nearest exhibits first, a model's smallest level
// first, then the level its distance calls for (room-layout.js decides both).
// A level that fails stays failed; the exhibit keeps its outline or blank
// frame, and the page's list still links it.

import * as THREE from "three";
import { createGLTFLoader } from "./model-loader.js";
import { loadOrder, lodIndex, nextLevel, shownLevel } from "./room-layout.js";
import { fitModel, placePicture, showModel } from "./room-scene.js";

const LOADS_AT_ONCE = 2;

export class ExhibitLoader {
  /** ``onChange()`` is called whenever something new can be drawn. */
  constructor(plan, exhibits, stands, onChange) {
    this.plan = plan;
    this.exhibits = exhibits;
    this.stands = stands;
    this.onChange = onChange;
    this.pose = plan.start;
    this.active = 0;
    this.gltf = createGLTFLoader();
    this.textures = new THREE.TextureLoader();
    this.slots = exhibits.map((exhibit, index) => ({
      levels: new Map(), // level -> fitted model
      failed: new Set(), // levels that could not be loaded
      pending: false,
      // A text panel is drawn with the room; models and pictures wait for their files.
      ready: plan.items[index].type !== "model" && !exhibit.picture,
    }));
  }

  /** Exhibits showing their media (or needing none). */
  get loaded() {
    return this.slots.filter((slot) => slot.ready).length;
  }

  /** Exhibits shown or given up on: when every one is, loading is over. */
  get settled() {
    return this.slots.filter((slot) => slot.ready || slot.failed.has(0)).length;
  }

  levels(index) {
    return [...this.slots[index].levels.keys()].sort((a, b) => a - b);
  }

  ready(index) {
    return this.slots[index].ready;
  }

  /** The visitor stands at ``pose``: show each model's fitting level, fetch what is missing. */
  update(pose) {
    this.pose = pose;
    this.plan.items.forEach((item, index) => item.type === "model" && this.show(index));
    this.pump();
  }

  wanted(index) {
    const item = this.plan.items[index];
    if (item.type !== "model") return 0;
    const distance = Math.hypot(item.x - this.pose.x, item.z - this.pose.z);
    return lodIndex(this.exhibits[index].lods.length, distance, item.display.largest);
  }

  show(index) {
    const slot = this.slots[index];
    const level = shownLevel(new Set(slot.levels.keys()), this.wanted(index));
    if (level >= 0 && showModel(this.stands[index], slot.levels.get(level))) this.onChange();
  }

  /** The next file to fetch: every exhibit's first, nearest first; then finer model levels. */
  nextTask() {
    const order = loadOrder(this.plan.items, this.pose);
    const idle = order.filter((index) => !this.slots[index].pending);
    const first = idle.find((index) => !this.slots[index].ready && !this.slots[index].failed.has(0));
    if (first !== undefined) return { index: first, level: 0 };
    for (const index of idle) {
      if (this.plan.items[index].type !== "model") continue;
      const level = nextLevel(new Set(this.slots[index].levels.keys()), this.wanted(index));
      if (level >= 0 && !this.slots[index].failed.has(level)) return { index, level };
    }
    return null;
  }

  pump() {
    while (this.active < LOADS_AT_ONCE) {
      const task = this.nextTask();
      if (!task) break;
      this.load(task);
    }
  }

  async load({ index, level }) {
    const slot = this.slots[index];
    slot.pending = true;
    this.active += 1;
    try {
      if (this.plan.items[index].type === "model") {
        const gltf = await this.gltf.loadAsync(this.exhibits[index].lods[level].url);
        slot.levels.set(level, fitModel(gltf.scene, this.plan.items[index].display));
        this.show(index);
      } else {
        placePicture(this.stands[index], await this.textures.loadAsync(this.exhibits[index].picture.src));
      }
      slot.ready = true;
    } catch {
      slot.failed.add(level);
    } finally {
      slot.pending = false;
      this.active -= 1;
      this.onChange();
      this.pump();
    }
  }
}
