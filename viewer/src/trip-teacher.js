// The teacher's field-trip console (server/templates/trip_teacher.html): move the class
// from stop to stop, switch between "follow me" and "explore", ask a question and watch
// the answers arrive as bars, see who has joined, end the trip. Turning a 3D model,
// zooming an image or playing a recording here is sent to the class as the teacher's view
// (at most ten times a second). Every string comes from the host's data-attributes.

import { connectTrip } from "./trip-socket.js";
import { bindStopNav, createStage } from "./trip-stage.js";
import { VIEW_INTERVAL, bars, fill, nextFollow, throttle } from "./trip-state.js";

class TeacherTrip {
  constructor(host) {
    this.host = host;
    this.text = host.dataset;
    this.stage = createStage(host);
    this.stops = JSON.parse(host.dataset.stops || "[]");
    this.follow = null;
    this.question = null;
    const $ = (name) => host.querySelector(`[data-trip-${name}]`);
    this.ui = {
      status: $("status"),
      nav: $("nav"),
      ask: $("ask"),
      askError: $("ask-error"),
      closeQuestion: $("close-question"),
      results: $("results"),
      people: $("people"),
      peopleCount: $("people-count"),
      end: $("end"),
    };
    this.markNav = bindStopNav(host, this.stage, (index) => this.goto(index));
  }

  start() {
    this.bindControls();
    this.setStatus(this.text.connecting);
    this.socket = connectTrip(this.host.dataset.socket, {
      onMessage: (message) => this.receive(message),
      onWaiting: (seconds) => this.setStatus(fill(this.text.reconnecting, { seconds })),
      onEnded: () => this.setStatus(this.text.ended),
    });
  }

  setStatus(text) {
    this.ui.status.textContent = text ?? "";
  }

  bindControls() {
    const { host, ui } = this;
    for (const section of host.querySelectorAll("[data-trip-controls]")) section.hidden = false;
    ui.nav.hidden = false;
    for (const radio of host.querySelectorAll("input[name=mode]")) {
      radio.addEventListener("change", () => this.socket.send({ type: "mode", mode: radio.value }));
    }
    ui.ask.addEventListener("submit", (event) => {
      event.preventDefault();
      this.ask();
    });
    ui.closeQuestion.addEventListener("click", () => this.socket.send({ type: "close_question" }));
    ui.end.addEventListener("submit", (event) => {
      if (!window.confirm(this.text.endConfirm)) event.preventDefault();
    });
    const sendView = throttle((detail) => this.sendView(detail), VIEW_INTERVAL);
    host.querySelector("[data-trip-stage]").addEventListener("museum:viewchange", (event) => sendView(event.detail));
  }

  // Moving the class

  goto(index) {
    if (index === this.stage.current) return;
    this.stage.show(index);
    this.markNav(index);
    this.socket.send({ type: "goto", stop: index });
  }

  sendView(detail) {
    const asset = this.stage.asset;
    if (!asset || !detail) return;
    for (const name of ["camera", "region", "media"]) {
      if (detail[name]) this.socket.send({ type: "view", [name]: { ...detail[name], asset } });
    }
  }

  // Messages from the server

  receive(message) {
    const follow = nextFollow(this.follow, message);
    if (follow) this.follow = follow;
    switch (message.type) {
      case "state":
        this.setStatus(this.text.live);
        this.showStop(message.stop);
        this.setMode(message.mode);
        this.setQuestion(message.question);
        this.showResults(message.results);
        this.showPeople(message.participants);
        break;
      case "move":
        if (follow && message.kind === "goto") this.showStop(message.stop);
        if (follow && message.kind === "mode") this.setMode(message.mode);
        break;
      case "question":
        this.setQuestion(message.question);
        break;
      case "results":
        this.showResults(message.results);
        break;
      case "participants":
        this.showPeople(message.participants);
        break;
      case "ended":
        this.setStatus(this.text.ended);
        this.host.dataset.tripState = "ended";
        break;
      case "error":
        this.setStatus(message.message);
        break;
      default:
    }
  }

  showStop(index) {
    this.stage.show(index);
    this.markNav(index);
    this.host.dataset.stop = String(index);
  }

  setMode(mode) {
    for (const radio of this.host.querySelectorAll("input[name=mode]")) radio.checked = radio.value === mode;
  }

  // Questions and answers

  ask() {
    const { ask, askError } = this.ui;
    const form = new FormData(ask);
    const kind = form.get("kind");
    const question = { text: form.get("text")?.toString().trim() ?? "", kind };
    if (!question.text) return;
    if (kind === "choice") {
      question.options = form.getAll("option").map((value) => value.toString().trim()).filter(Boolean);
      if (question.options.length < 2) {
        askError.hidden = false;
        askError.textContent = this.text.needOptions;
        return;
      }
    }
    askError.hidden = true;
    this.socket.send({ type: "ask", question });
  }

  setQuestion(question) {
    this.question = question;
    this.ui.closeQuestion.disabled = !question;
    if (question) this.ui.ask.reset();
  }

  showResults(results) {
    const doc = this.host.ownerDocument;
    const box = this.ui.results;
    if (!results) {
      box.replaceChildren(Object.assign(doc.createElement("p"), { textContent: this.text.noQuestion }));
      return;
    }
    const heading = doc.createElement("p");
    const state = results.open ? this.text.openQuestion : this.text.closedQuestion;
    heading.textContent = `${results.text} · ${fill(this.text.answers, { count: results.total })} · ${state}`;
    const parts = [heading];
    if (results.kind === "choice") {
      const list = doc.createElement("ol");
      list.className = "trip-bars";
      for (const bar of bars(results.options, results.counts)) {
        const item = doc.createElement("li");
        const label = doc.createElement("span");
        label.textContent = fill(this.text.optionCount, { option: bar.label, count: bar.count });
        const meter = doc.createElement("progress");
        Object.assign(meter, { max: Math.max(1, results.total), value: bar.count });
        meter.setAttribute("aria-label", label.textContent);
        item.dataset.count = String(bar.count);
        item.append(label, meter);
        list.append(item);
      }
      parts.push(list);
    } else {
      const list = doc.createElement("ul");
      list.className = "trip-short-answers";
      for (const given of results.answers) {
        const item = doc.createElement("li");
        const name = doc.createElement("strong");
        name.textContent = given.nickname;
        item.append(name, `: ${given.text}`);
        list.append(item);
      }
      parts.push(list);
    }
    box.replaceChildren(...parts);
  }

  showPeople(people) {
    const doc = this.host.ownerDocument;
    const connected = people.filter((person) => person.connected).length;
    this.ui.peopleCount.textContent = people.length
      ? fill(this.text.pupils, { count: people.length, connected })
      : this.text.noPupils;
    this.ui.people.replaceChildren(
      ...people.map((person) => {
        const item = doc.createElement("li");
        item.textContent = person.connected ? person.nickname : `${person.nickname} (${this.text.away})`;
        if (!person.connected) item.className = "trip-away";
        return item;
      }),
    );
  }
}

/** Mount the teacher's console; returns false when the host is already mounted. */
export function mount(host) {
  if (host.dataset.mounted) return false;
  host.dataset.mounted = "true";
  const trip = new TeacherTrip(host);
  host.trip = trip;
  trip.start();
  return true;
}
