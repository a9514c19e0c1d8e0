// The on-call technician's inbox: the signed-in technician's pages, sorted into waiting for them, in progress
// and done (each newest first), and the team-channel posts, newest first. Who is signed in, the server knows
// by the cookie the technician's secret link set (python -m bot oncall link <id>).
// Under each open case: "Skriv til den, der meldte sagen" opens a box whose words the bot passes on to the
// reporter's chat; the thread (the technician's words, the reporter's answers) shows under the page.
// "Vagten" is always there: "Hvem har vagten?", "Send en testside" and a box for rota requests ("kan nogen
// tage min vagt lørdag kl. 8.00 til søndag kl. 8.00?"); the bot's answers show under it, and what the bot
// sends about the rota (swap offers with "Jeg tager den", test pages, handover notices) is listed there too.
"use strict";

(() => {
  const { t, api, el } = Local;
  const POLL_MS = 2000;
  const GROUPS = ["waiting", "active", "done"];
  const DONE_SHOWN = 5; // the newest handled pages; the rest on request, so weeks of them do not bury the team channel
  const ANSWERS_SHOWN = 3; // the technician's last rota requests and the bot's answers, newest first
  // The bot's own button ids for the two standing questions (bot/oncall/roster.py: WHO_CHOICE, TEST_PAGE_CHOICE).
  const WHO_CHOICE = "rota:who";
  const TEST_PAGE_CHOICE = "rota:test";
  const who = document.getElementById("tech");
  const lists = Object.fromEntries([...GROUPS, "rota", "team", "answers"].map((name) => [name, document.getElementById(name)]));
  let signedIn = false;
  let cursor = 0;
  let entries = { pages: new Map(), team: new Map() };
  const nodes = new Map(); // card key -> { node, signature }
  const replies = new Map(); // entry id -> the bot's messages answering the last press or message there
  const inFlight = new Set(); // entry ids with a press or a message being sent
  const writing = new Set(); // case numbers whose box for writing to the reporter is open
  const drafts = new Map(); // case number -> { text, id }: the words being written, and their delivery id
  let threads = new Map(); // case number -> the words between technician and reporter, oldest first
  const allDone = document.getElementById("all-done");
  let showAllDone = false;
  const askForm = document.getElementById("ask");
  const askText = document.getElementById("ask-text");
  const askButtons = [document.getElementById("ask-who"), document.getElementById("ask-test"), askForm.querySelector("button")];
  let asked = []; // the technician's rota requests, newest first: { id, said, replies, busy }

  // Where a page belongs, by its case's status (the server adds it); by its buttons if the case is unknown.
  function groupOf(entry) {
    if (entry.status === "open") return "waiting";
    if (entry.status === "acknowledged") return "active";
    if (entry.status === "resolved" || entry.status === "cancelled") return "done";
    return entry.choices.length ? "waiting" : "done";
  }

  // What the bot sent about the rota rather than a case: swap offers, test pages, handover notices.
  function isRota(entry) {
    return !entry.case && !entry.thread && entry.role === "bot";
  }

  function isClosed(entry) {
    return entry.status === "resolved" || entry.status === "cancelled";
  }

  function cardItem(entry, feed) {
    const answer = replies.get(entry.id) || [];
    const busy = inFlight.has(entry.id);
    const thread = (entry.case && !entry.thread && threads.get(entry.case)) || [];
    const open = writing.has(entry.case);
    const threadSignature = thread.map((item) => `${item.id}.${item.version}`).join(",");
    return {
      key: `${feed}${entry.id}`,
      signature: [entry.version, entry.status, busy, JSON.stringify(answer), threadSignature, open, Local.state.lang].join("|"),
      build: () => {
        const card = Local.renderMessage(entry, { onChoice: press, enabled: !busy });
        card.classList.add("card");
        card.classList.toggle("closed", isClosed(entry));
        card.append(el("time", "at", Local.formatTime(entry.at)));
        // The answer to the last press sits by the buttons ("Løst" asks its question there).
        answer.forEach((message, i) => {
          const shown = { ...message, id: `${entry.id}-answer-${i}`, role: "bot" };
          const node = Local.renderMessage(shown, { onChoice: (_, choice) => press(entry, choice), enabled: !busy });
          node.className = "reply";
          card.append(node);
        });
        if (thread.length) card.append(threadList(thread));
        if (entry.case && !isClosed(entry)) card.append(...writer(entry, busy));
        return card;
      },
    };
  }

  // The technician's words ("Du: ...") and the reporter's answers, oldest first.
  function threadList(thread) {
    const list = el("div", "thread");
    for (const item of thread) {
      const line = el("p", `said ${item.thread}`);
      line.append(el("strong", "", item.thread === "technician" ? t("thread_you") : item.title), el("span", "", item.text));
      list.append(line);
    }
    return list;
  }

  // "Skriv til den, der meldte sagen", or the open box: a text area, "Send" and "Annuller".
  function writer(entry, busy) {
    const number = entry.case;
    if (!writing.has(number)) {
      const button = el("button", "choice write", t("write_to_reporter"));
      button.type = "button";
      button.addEventListener("click", () => {
        writing.add(number);
        render();
        const box = document.querySelector(`textarea[data-write-case="${number}"]`);
        if (box) box.focus();
      });
      return [button];
    }
    const draft = drafts.get(number) || { text: "", id: Local.newId() };
    drafts.set(number, draft);
    const form = el("form", "write");
    const label = el("label", "", t("write_label"));
    const box = el("textarea");
    box.id = `write-${entry.id}`;
    label.htmlFor = box.id;
    box.rows = 3;
    box.maxLength = 2000;
    box.value = draft.text;
    box.dataset.writeCase = number;
    box.addEventListener("input", () => (draft.text = box.value));
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
    });
    const send = el("button", "choice primary", t("write_send"));
    send.type = "submit";
    send.disabled = busy;
    const cancel = el("button", "choice", t("write_cancel"));
    cancel.type = "button";
    cancel.addEventListener("click", () => {
      writing.delete(number);
      render();
    });
    const buttons = el("div", "choices");
    buttons.append(send, cancel);
    form.append(label, box, buttons);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      write(entry, draft);
    });
    return [form];
  }

  function write(entry, draft) {
    if (!draft.text.trim()) return;
    send(entry, "/local/api/write", { case: entry.case, text: draft.text, delivery_id: draft.id }, (answer) => {
      if (answer.sent) {
        drafts.delete(entry.case);
        writing.delete(entry.case);
      }
    });
  }

  // One request about a card at a time; its answer (or the failure) shows under the card.
  async function send(entry, path, body, onAnswer = () => {}) {
    if (inFlight.has(entry.id)) return;
    inFlight.add(entry.id);
    render();
    try {
      const answer = await api("POST", path, body);
      replies.set(entry.id, answer.replies);
      onAnswer(answer);
    } catch (error) {
      replies.set(entry.id, [{ text: t("press_failed"), choices: [] }]);
    } finally {
      inFlight.delete(entry.id);
      render();
      poll();
    }
  }

  // One rota request: what the technician asked ("Du: hvem har vagten?") and the bot's answer, whose
  // buttons ("Hvem har vagten?", "Send en testside" under the rota) ask again.
  function answerItem(exchange) {
    const asking = asked.some((other) => other.busy);
    return {
      key: `a${exchange.id}`,
      signature: [exchange.busy, asking, JSON.stringify(exchange.replies), Local.state.lang].join("|"),
      build: () => {
        const card = el("article", "msg card answer");
        const line = el("p", "said technician");
        line.append(el("strong", "", t("thread_you")), el("span", "", exchange.said));
        card.append(line);
        exchange.replies.forEach((message, i) => {
          const shown = { ...message, id: `${exchange.id}-${i}`, role: "bot" };
          const onChoice = (_, choice) => ask({ choice: choice.id }, choice.label);
          const node = Local.renderMessage(shown, { onChoice, enabled: !asking });
          node.className = "reply";
          card.append(node);
        });
        if (exchange.busy) card.append(el("p", "empty", t("sending")));
        return card;
      },
    };
  }

  // Ask the bot about the rota, as the signed-in technician: a typed request or one of its buttons.
  async function ask(body, said) {
    if (asked.some((exchange) => exchange.busy)) return;
    const exchange = { id: Local.newId(), said, replies: [], busy: true };
    asked = [exchange, ...asked].slice(0, ANSWERS_SHOWN);
    render();
    try {
      const answer = await api("POST", "/local/api/press", { ...body, delivery_id: exchange.id });
      exchange.replies = answer.replies;
      if (body.text !== undefined && askText.value === body.text) askText.value = "";
    } catch (error) {
      exchange.replies = [{ text: t("press_failed"), choices: [] }];
      if (error.key) signOut(error.key);
    } finally {
      exchange.busy = false;
      render();
      // On a phone the answer may be below the fold: bring it up, without moving the focus.
      const shown = nodes.get(`a${exchange.id}`);
      if (shown) shown.node.scrollIntoView({ block: "nearest" });
      poll(); // a test page or a swap offer the answer speaks of is in the feed now
    }
  }

  function render() {
    const newestFirst = (map) => [...map.values()].sort((a, b) => b.seq - a.seq);
    const grouped = Object.fromEntries(GROUPS.map((name) => [name, []]));
    threads = new Map();
    for (const entry of newestFirst(entries.pages).reverse()) {
      if (entry.thread && entry.case) threads.set(entry.case, [...(threads.get(entry.case) || []), entry]);
    }
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.writeCase : "";
    const withCard = new Set([...entries.pages.values(), ...entries.team.values()].filter((e) => !e.thread).map((e) => e.case));
    grouped.rota = [];
    for (const entry of newestFirst(entries.pages)) {
      if (isRota(entry)) {
        // One replaced by a newer version of itself (a swap offer that was taken) is left out.
        if (!entry.superseded) grouped.rota.push(cardItem(entry, "p"));
      } else if (!entry.thread || !withCard.has(entry.case)) {
        // Words of a thread show under their page; on their own only when the page itself is gone.
        grouped[groupOf(entry)].push(cardItem(entry, "p"));
      }
    }
    grouped.team = newestFirst(entries.team).map((entry) => cardItem(entry, "t"));
    grouped.answers = asked.map(answerItem);
    const asking = asked.some((exchange) => exchange.busy);
    askButtons.forEach((button) => (button.disabled = asking));
    const doneCount = grouped.done.length;
    if (!showAllDone) grouped.done = grouped.done.slice(0, DONE_SHOWN);
    allDone.hidden = grouped.done.length === doneCount;
    allDone.textContent = t("show_all_done", { count: doneCount });
    let built = 0;
    for (const [name, items] of Object.entries(grouped)) {
      built += Local.reconcile(lists[name], items, nodes);
      const count = document.querySelector(`[data-count="${name}"]`);
      const total = name === "done" ? doneCount : items.length;
      if (count) count.textContent = total ? `(${total})` : "";
    }
    lists.rota.closest("section").hidden = !signedIn;
    for (const name of ["active", "done"]) lists[name].closest("section").hidden = grouped[name].length === 0;
    document.getElementById("waiting-empty").hidden = grouped.waiting.length > 0;
    document.getElementById("team-empty").hidden = grouped.team.length > 0;
    const keys = new Set(Object.values(grouped).flatMap((items) => items.map((item) => item.key)));
    for (const key of nodes.keys()) if (!keys.has(key)) nodes.delete(key);
    if (built) Local.settleClamps();
    // A card built again while the technician was writing in it keeps the focus in the box.
    const box = focused && document.querySelector(`textarea[data-write-case="${focused}"]`);
    if (box && document.activeElement !== box) {
      box.focus();
      box.setSelectionRange(box.value.length, box.value.length);
    }
    const waiting = grouped.waiting.length;
    document.title = `${waiting ? `(${waiting}) ` : ""}${t("inbox_title")}`;
  }

  function press(entry, choice) {
    const delivery_id = `${who.dataset.id}:${entry.id}:${entry.version}:${choice.id}`;
    send(entry, "/local/api/press", { choice: choice.id, delivery_id });
  }

  let timer = null;
  let polling = false;
  async function poll() {
    clearTimeout(timer);
    if (!signedIn || polling) return;
    polling = true;
    let wait = POLL_MS;
    try {
      const answer = await api("GET", `/local/api/inbox?after=${cursor}`);
      for (const name of ["pages", "team"]) for (const entry of answer[name]) entries[name].set(entry.id, entry);
      cursor = answer.cursor;
      Local.showStatus(null);
      render();
    } catch (error) {
      if (error.key) signOut(error.key);
      else Local.showStatus(error.status === 403 ? { raw: error.message } : { key: "inbox_offline" });
      wait = POLL_MS * 3;
    } finally {
      polling = false;
      timer = setTimeout(poll, wait);
    }
  }

  document.getElementById("ask-who").addEventListener("click", () => ask({ choice: WHO_CHOICE }, t("rota_who")));
  document.getElementById("ask-test").addEventListener("click", () => ask({ choice: TEST_PAGE_CHOICE }, t("rota_test_page")));
  askForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const said = askText.value.trim();
    if (said) ask({ text: askText.value }, said);
    else askText.focus();
  });
  // Enter sends (a rota request is one line); Shift+Enter is a new line all the same.
  askText.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      askForm.requestSubmit();
    }
  });

  allDone.addEventListener("click", () => {
    showAllDone = true;
    render();
  });

  // No valid inbox cookie (never opened through the link, or the link was revoked): say how to get one.
  function signOut(key) {
    signedIn = false;
    who.closest(".who").hidden = true;
    entries = { pages: new Map(), team: new Map() };
    asked = [];
    render();
    Local.showStatus({ key });
  }

  Local.setupLanguage(render);
  Local.loadConfig("inbox_offline").then((config) => {
    if (!config.technicians.length) {
      Local.showStatus({ key: "no_technicians" });
      return;
    }
    if (!config.technician) {
      signOut("need_link");
      return;
    }
    who.textContent = config.technician.name;
    who.dataset.id = config.technician.id;
    who.closest(".who").hidden = false;
    signedIn = true;
    render();
    poll();
  });
})();
