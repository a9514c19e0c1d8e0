// The employee's chat: send what they type or press, show the bot's replies and later updates.
//
// What the person sends goes through an outbox, in order. A message the server did not get stays in the
// chat, marked "Ikke sendt endnu", with the phone number in the status line, and is sent again by itself
// when the connection is back: with the same delivery id, so a message that did arrive is answered once.
// A message the server got but failed on is marked "Ikke sendt" and waits for the person's "Send igen".
"use strict";

(() => {
  const { t, api, el, newId } = Local;
  const POLL_MS = 2000;
  const TURN_TIMEOUT_MS = 30000;
  const MAX_RETRY_MS = 30000;
  const log = document.getElementById("log");
  const intro = document.getElementById("intro");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const nameInput = document.getElementById("name");
  const caseBadge = document.getElementById("case");

  // Who the person is, the server knows by its chat cookie; this id only keys this browser's outbox and presses.
  let user = localStorage.getItem("supportbot.user");
  if (!user) {
    user = `u-${newId().replace(/[^A-Za-z0-9]/g, "").slice(0, 20)}`;
    localStorage.setItem("supportbot.user", user);
  }
  nameInput.value = localStorage.getItem("supportbot.name") || "";
  nameInput.addEventListener("change", () => localStorage.setItem("supportbot.name", nameInput.value.trim()));

  const entries = new Map(); // id -> entry from the server
  const nodes = new Map(); // key -> { node, signature }
  let cursor = 0;
  let offline = false; // the last request found no server
  let forbidden = ""; // the server refuses this page (403), in its words
  let notice = null; // a one-off status, e.g. { key: "too_long" }, until the next message gets through
  let stickToEnd = false;

  // The outbox lives in this tab's session storage, so a reload does not lose what was not sent.
  const OUTBOX_KEY = `supportbot.outbox.${user}`;
  let outbox = restoreOutbox(); // [{ id, body: { text | choice, delivery_id }, label, state }]
  let flushing = false;
  let retryAt = 0; // when the poller may resend by itself
  let retryWait = POLL_MS;

  function restoreOutbox() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(OUTBOX_KEY) || "[]");
      const valid = (item) => item && typeof item.label === "string" && item.body && typeof item.body.delivery_id === "string";
      // Whatever was on its way when the tab went away may not have arrived: it goes again, same id.
      return Array.isArray(saved) ? saved.filter(valid).map((item) => ({ ...item, state: item.state === "failed" ? "failed" : "waiting" })) : [];
    } catch (_) {
      return [];
    }
  }

  function saveOutbox() {
    sessionStorage.setItem(OUTBOX_KEY, JSON.stringify(outbox));
  }

  function upsert(list) {
    for (const entry of list || []) {
      const known = entries.get(entry.id);
      if (!known || known.version <= entry.version) entries.set(entry.id, entry);
    }
  }

  function entryItem(entry, lastUser) {
    // Only the newest question's buttons are shown: once the person answers, earlier ones go away.
    const showChoices = entry.role === "bot" && !entry.superseded && entry.seq > lastUser;
    const enabled = showChoices && outbox.length === 0;
    return {
      key: `e${entry.id}`,
      signature: `${entry.version}|${showChoices}|${enabled}|${Local.state.lang}`,
      build: () => {
        const node = Local.renderMessage(entry, { onChoice: press, enabled, showChoices, collapseText: entry.role === "user" });
        node.append(el("time", "at", `${entry.role === "user" ? t("you") : t("bot")} · ${Local.formatTime(entry.at)}`));
        return node;
      },
    };
  }

  function outboxItem(item) {
    return {
      key: `out-${item.id}`,
      signature: `${item.state}|${Local.state.lang}`,
      build: () => {
        const node = Local.renderMessage({ id: `out-${item.id}`, role: "user", text: item.label }, { collapseText: true });
        node.classList.add("pending");
        if (item.state === "sending") {
          node.append(el("time", "at", `${t("you")} · ${t("sending")}`));
          return node;
        }
        node.classList.add("unsent");
        const mark = el("p", "unsent-mark");
        const again = el("button", "link resend", t("resend"));
        again.type = "button";
        again.addEventListener("click", () => {
          retryAt = 0;
          flush();
        });
        mark.append(el("span", "", t(item.state === "failed" ? "failed_mark" : "unsent_mark")), again);
        node.append(mark);
        return node;
      },
    };
  }

  function statusNow() {
    if (outbox.some((item) => item.state === "failed")) return { key: "send_failed" };
    if (outbox.some((item) => item.state === "waiting")) return { key: "unsent" };
    if (forbidden) return { raw: forbidden };
    if (offline) return { key: "offline" };
    return notice;
  }

  function render() {
    const ordered = [...entries.values()].sort((a, b) => a.seq - b.seq);
    const lastUser = Math.max(0, ...ordered.filter((e) => e.role === "user").map((e) => e.seq));
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    const items = [...ordered.map((entry) => entryItem(entry, lastUser)), ...outbox.map(outboxItem)];
    const built = Local.reconcile(log, items, nodes, intro);
    const keys = new Set(items.map((item) => item.key));
    for (const key of nodes.keys()) if (!keys.has(key)) nodes.delete(key);
    if (built) Local.settleClamps(log);
    intro.hidden = items.length > 0;
    const withCase = ordered.filter((e) => e.case).pop();
    caseBadge.hidden = !withCase;
    if (withCase) caseBadge.textContent = t("case_badge", { number: withCase.case });
    if (atBottom || stickToEnd) log.scrollTop = log.scrollHeight;
    stickToEnd = false;
    Local.showStatus(statusNow());
  }

  // Queue what the person sent and send the queue, oldest first.
  function enqueue(body, label) {
    if (outbox.some((item) => item.body.delivery_id === body.delivery_id)) return; // a double click
    outbox.push({ id: newId(), body, label, state: "sending" });
    saveOutbox();
    stickToEnd = true;
    retryAt = 0;
    flush();
  }

  async function flush() {
    if (flushing || !outbox.length) {
      render();
      return;
    }
    flushing = true;
    try {
      while (outbox.length) {
        const item = outbox[0];
        item.state = "sending";
        render();
        let answer;
        try {
          const body = { name: nameInput.value.trim(), lang: Local.state.lang, ...item.body };
          answer = await api("POST", "/local/api/turn", body, { timeout: TURN_TIMEOUT_MS });
        } catch (error) {
          if (failed(item, error)) continue;
          break;
        }
        outbox.shift();
        offline = false;
        forbidden = "";
        notice = null;
        retryWait = POLL_MS;
        upsert(answer.echo ? [answer.echo, ...answer.replies] : answer.replies);
        // The bot answers in the language the person wrote in: the page follows, the toggle still switches.
        const spoken = [...answer.replies].reverse().find((e) => e.role === "bot" && e.language);
        if (spoken) Local.setLanguage(spoken.language);
        stickToEnd = true;
      }
    } finally {
      flushing = false;
      saveOutbox();
      render();
      poll();
    }
  }

  // What a failed send means for the outbox; true when the next message may go right away.
  function failed(item, error) {
    if (error.status === 400) {
      // The server read it and will never take it as it is: back into the box to shorten or fix.
      outbox.shift();
      if (item.body.text && !input.value) input.value = item.body.text;
      notice = { key: /longer|larger/.test(error.message) ? "too_long" : "send_failed" };
      return true;
    }
    if (error.offline) {
      offline = true;
      retryAt = Date.now() + retryWait;
      retryWait = Math.min(retryWait * 2, MAX_RETRY_MS);
    } else if (error.status === 403) {
      forbidden = error.message;
    }
    item.state = error.offline ? "waiting" : "failed";
    for (const later of outbox) if (later.state === "sending") later.state = item.state;
    return false;
  }

  function press(entry, choice) {
    // The id is fixed per button, so a double click or a retry is the same delivery and is answered once.
    enqueue({ choice: choice.id, delivery_id: `${user}:${entry.id}:${entry.version}:${choice.id}` }, choice.label);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    enqueue({ text, delivery_id: newId() }, text);
    input.focus();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  document.getElementById("restart").addEventListener("click", async () => {
    if (!window.confirm(t("new_chat_confirm"))) return;
    try {
      await api("POST", "/local/api/chat/new", {}); // a new chat cookie: the server sees a new person
    } catch (error) {
      Local.showStatus(error.status === 403 ? { raw: error.message } : { key: "offline" });
      return;
    }
    sessionStorage.removeItem(OUTBOX_KEY);
    localStorage.removeItem("supportbot.user");
    window.location.reload();
  });

  let timer = null;
  let polling = false;
  async function poll() {
    clearTimeout(timer);
    if (polling) return;
    polling = true;
    let wait = POLL_MS;
    try {
      const answer = await api("GET", `/local/api/messages?after=${cursor}`);
      upsert(answer.entries);
      cursor = answer.cursor;
      offline = false;
      forbidden = "";
    } catch (error) {
      if (error.status === 403) forbidden = error.message;
      else offline = true;
      wait = POLL_MS * 3;
    } finally {
      polling = false;
      timer = setTimeout(poll, wait);
    }
    // The server is back: what it did not get goes again by itself (a failed one waits for "Send igen").
    if (!offline && !flushing && outbox.length && outbox[0].state === "waiting" && Date.now() >= retryAt) flush();
    else render();
  }

  window.addEventListener("online", () => {
    retryAt = 0;
    poll();
  });

  Local.setupLanguage(render);
  Local.loadConfig("offline").then(() => {
    render();
    poll();
    input.focus();
  });
})();
