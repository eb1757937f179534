// The pupil's field-trip island (server/templates/trip_pupil.html). The pupil gives a
// nickname (or brings one from /trips/join), joins over the trip's WebSocket, and the page
// follows the teacher: the same stop, and in "follow" mode the same camera, image region
// and recording time. In "explore" mode the pupil moves between stops alone. A question
// opens as a dialog. After a dropped connection the page reconnects with the nickname and
// the resume token kept in sessionStorage, and gets its place and the current state back.
// Every string comes from the host's data-attributes, translated by the server.

import { connectTrip } from "./trip-socket.js";
import { bindStopNav, createStage } from "./trip-stage.js";
import { fill, nextFollow } from "./trip-state.js";

const STORAGE_PREFIX = "museum-trip:";
const REFUSED_NAMES = new Set(["nickname_taken", "bad_nickname", "trip_full"]);

function remembered(code) {
  try {
    return JSON.parse(sessionStorage.getItem(STORAGE_PREFIX + code) ?? "null");
  } catch {
    return null;
  }
}

function remember(code, value) {
  try {
    if (value) sessionStorage.setItem(STORAGE_PREFIX + code, JSON.stringify(value));
    else sessionStorage.removeItem(STORAGE_PREFIX + code);
  } catch {
    // private browsing without storage: the pupil types the nickname again after a reload
  }
}

/** The nickname /trips/join passed in ?nickname=, taken out of the address bar. */
function nicknameFromAddress() {
  const url = new URL(window.location.href);
  const nickname = url.searchParams.get("nickname");
  if (nickname === null) return null;
  url.searchParams.delete("nickname");
  history.replaceState(null, "", url.pathname + url.search + url.hash);
  return nickname.trim() || null;
}

class PupilTrip {
  constructor(host) {
    this.host = host;
    this.text = host.dataset;
    this.code = host.dataset.code;
    this.stage = createStage(host);
    this.follow = null; // {seq, stop, mode, view}
    this.question = null;
    this.ended = false;
    const $ = (name) => host.querySelector(`[data-trip-${name}]`);
    this.ui = {
      status: $("status"),
      you: $("you"),
      hello: $("hello"),
      helloError: $("hello-error"),
      nav: $("nav"),
      mode: $("mode"),
      openQuestion: $("open-question"),
      dialog: $("question"),
      questionText: $("question-text"),
      choices: $("choices"),
      choiceList: $("choice-list"),
      short: $("short"),
      answerError: $("answer-error"),
      answerStatus: $("answer-status"),
      answerForm: $("answer"),
    };
    this.markNav = bindStopNav(host, this.stage, (index) => this.explore(index));
    this.markNav(this.stage.current);
  }

  start() {
    const saved = remembered(this.code);
    const typed = nicknameFromAddress();
    this.me = typed && typed !== saved?.nickname ? { nickname: typed, token: null } : saved;
    this.bindForms();
    if (!this.me?.nickname) this.askNickname("");
    this.setStatus(this.text.connecting);
    this.socket = connectTrip(this.host.dataset.socket, {
      onOpen: () => this.hello(),
      onMessage: (message) => this.receive(message),
      onWaiting: (seconds) => this.setStatus(fill(this.text.reconnecting, { seconds })),
      onEnded: () => this.end(),
    });
  }

  setStatus(text) {
    this.ui.status.textContent = text ?? "";
  }

  // Joining

  bindForms() {
    const { hello, answerForm, openQuestion, dialog } = this.ui;
    hello.addEventListener("submit", (event) => {
      event.preventDefault();
      const nickname = new FormData(hello).get("nickname")?.toString().trim();
      if (!nickname) return;
      this.me = { nickname, token: null };
      this.hello();
    });
    answerForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.answer();
    });
    this.host.querySelector("[data-trip-later]").addEventListener("click", () => dialog.close());
    openQuestion.addEventListener("click", () => this.showQuestion());
  }

  askNickname(error) {
    const { hello, helloError } = this.ui;
    hello.hidden = false;
    helloError.hidden = !error;
    helloError.textContent = error;
    const input = hello.querySelector("input[name=nickname]");
    if (this.me?.nickname) input.value = this.me.nickname;
    input.focus();
  }

  hello() {
    if (!this.me?.nickname || this.ended) return;
    const message = { type: "hello", nickname: this.me.nickname };
    if (this.me.token) message.token = this.me.token;
    this.socket?.send(message);
  }

  // Messages from the server

  receive(message) {
    switch (message.type) {
      case "state":
        return this.joined(message);
      case "move":
        return this.moved(message);
      case "question":
        if (nextFollow(this.follow, message)) this.follow.seq = message.seq;
        return this.setQuestion(message.question, null);
      case "answered":
        return this.answered(message);
      case "ended":
        return this.end();
      case "error":
        return this.refused(message);
      default:
        return undefined;
    }
  }

  joined(state) {
    const { you } = state;
    this.me = { nickname: you.nickname, token: you.token ?? this.me?.token ?? null };
    remember(this.code, this.me);
    this.ui.hello.hidden = true;
    this.ui.you.hidden = false;
    this.ui.you.textContent = fill(this.text.you, { nickname: you.nickname });
    this.follow = nextFollow(null, state);
    this.showFollow(true);
    this.setQuestion(state.question, state.answer ?? null);
  }

  moved(message) {
    const follow = nextFollow(this.follow, message);
    if (!follow) return;
    const modeChanged = follow.mode !== this.follow?.mode;
    this.follow = follow;
    this.showFollow(modeChanged || message.kind !== "view");
  }

  showFollow(jump) {
    const { stop, mode, view } = this.follow;
    const following = mode === "follow";
    this.ui.nav.hidden = following;
    this.ui.mode.hidden = false;
    this.ui.mode.textContent = following
      ? this.text.following
      : `${this.text.exploring} ${fill(this.text.teacherAt, { number: stop + 1 })}`;
    this.setStatus("");
    if (following || (jump && this.stage.current < 0)) {
      this.stage.show(stop);
      this.markNav(stop);
      this.stage.applyView(view);
    }
  }

  explore(index) {
    if (this.follow?.mode === "follow") return;
    this.stage.show(index);
    this.markNav(index);
  }

  // Questions

  setQuestion(question, mine) {
    const { dialog, openQuestion, answerStatus } = this.ui;
    if (!question) {
      if (this.question) {
        answerStatus.hidden = false;
        answerStatus.textContent = this.text.questionClosed;
        if (dialog.open) dialog.close();
      }
      this.question = null;
      openQuestion.hidden = true;
      return;
    }
    const isNew = question.id !== this.question?.id;
    this.question = question;
    openQuestion.hidden = false;
    if (isNew) this.fillQuestion(question, mine);
    if (isNew && !mine) this.showQuestion();
  }

  fillQuestion(question, mine) {
    const { questionText, choices, choiceList, short, answerError, answerStatus } = this.ui;
    questionText.textContent = question.text;
    answerError.hidden = true;
    answerStatus.hidden = !mine;
    answerStatus.textContent = mine ? this.text.answered : "";
    choices.hidden = question.kind !== "choice";
    short.hidden = question.kind !== "short";
    const doc = this.host.ownerDocument;
    choiceList.replaceChildren(
      ...(question.options ?? []).map((option, index) => {
        const label = doc.createElement("label");
        label.className = "trip-choice";
        const input = doc.createElement("input");
        Object.assign(input, { type: "radio", name: "choice", value: String(index), checked: mine?.choice === index });
        label.append(input, ` ${option}`);
        return label;
      }),
    );
    short.querySelector("textarea").value = mine?.text ?? "";
  }

  showQuestion() {
    const { dialog } = this.ui;
    if (!this.question || dialog.open) return;
    dialog.showModal();
  }

  answer() {
    const { question } = this;
    if (!question) return;
    const form = new FormData(this.ui.answerForm);
    const message = { type: "answer", question_id: question.id };
    if (question.kind === "choice") {
      const choice = form.get("choice");
      if (choice === null) return;
      message.choice = Number(choice);
    } else {
      const text = form.get("text")?.toString().trim();
      if (!text) return;
      message.text = text;
    }
    this.socket.send(message);
  }

  answered(message) {
    const { answerStatus, answerError, dialog } = this.ui;
    if (message.question_id !== this.question?.id) return;
    answerError.hidden = true;
    answerStatus.hidden = false;
    answerStatus.textContent = this.text.answered;
    if (dialog.open) dialog.close();
    this.setStatus(this.text.answered);
  }

  refused(error) {
    if (REFUSED_NAMES.has(error.code)) {
      this.me = { nickname: this.me?.nickname, token: null };
      remember(this.code, null);
      this.askNickname(error.message);
    } else if (this.ui.dialog.open) {
      this.ui.answerError.hidden = false;
      this.ui.answerError.textContent = error.message;
    } else {
      this.setStatus(error.message);
    }
  }

  end() {
    if (this.ended) return;
    this.ended = true;
    remember(this.code, null);
    if (this.ui.dialog.open) this.ui.dialog.close();
    this.ui.hello.hidden = true;
    this.ui.openQuestion.hidden = true;
    this.ui.nav.hidden = false; // the exhibition stays open to look around
    this.ui.mode.hidden = true;
    this.follow = { ...(this.follow ?? { seq: 0, view: {} }), stop: this.stage.current, mode: "explore" };
    this.host.dataset.tripState = "ended";
    this.setStatus(this.text.ended);
  }
}

/** Mount the pupil's trip; returns false when the host is already mounted. */
export function mount(host) {
  if (host.dataset.mounted) return false;
  host.dataset.mounted = "true";
  const trip = new PupilTrip(host);
  host.trip = trip;
  trip.start();
  return true;
}
