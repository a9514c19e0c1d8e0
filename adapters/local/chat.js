// The employee's chat: send what they type or press, show the bot's replies and later updates.
"use strict";

(() => {
  const { t, api, el, newId } = Local;
  const POLL_MS = 2000;
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const nameInput = document.getElementById("name");
  const caseBadge = document.getElementById("case");

  let user = localStorage.getItem("supportbot.user");
  if (!user) {
    user = `u-${newId().replace(/[^A-Za-z0-9-]/g, "").slice(0, 24)}`;
    localStorage.setItem("supportbot.user", user);
  }
  nameInput.value = localStorage.getItem("supportbot.name") || "";
  nameInput.addEventListener("change", () => localStorage.setItem("supportbot.name", nameInput.value.trim()));

  const entries = new Map(); // id -> entry from the server
  const nodes = new Map(); // id -> { node, signature }
  let cursor = 0;
  let busy = false;
  let pending = null; // the message being sent, shown until the server has it

  function upsert(list) {
    for (const entry of list || []) {
      const known = entries.get(entry.id);
      if (!known || known.version <= entry.version) entries.set(entry.id, entry);
    }
  }

  function render() {
    const ordered = [...entries.values()].sort((a, b) => a.seq - b.seq);
    const lastUser = Math.max(0, ...ordered.filter((e) => e.role === "user").map((e) => e.seq));
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    let anchor = document.getElementById("intro"); // entries follow the intro, in feed order
    for (const entry of ordered) {
      // Only the newest question's buttons are shown: once the person answers, earlier ones go away.
      const showChoices = entry.role === "bot" && !entry.superseded && entry.seq > lastUser;
      const enabled = showChoices && !busy;
      const signature = `${entry.version}|${showChoices}|${enabled}|${Local.state.lang}`;
      let cached = nodes.get(entry.id);
      if (!cached || cached.signature !== signature) {
        const node = Local.renderMessage(entry, { onChoice: press, enabled, showChoices });
        node.append(el("time", "at", `${entry.role === "user" ? t("you") : t("bot")} · ${Local.formatTime(entry.at)}`));
        if (cached) cached.node.remove();
        cached = { node, signature };
        nodes.set(entry.id, cached);
      }
      if (anchor.nextSibling !== cached.node) log.insertBefore(cached.node, anchor.nextSibling);
      anchor = cached.node;
    }
    for (const [id, cached] of nodes) {
      if (!entries.has(id)) {
        cached.node.remove();
        nodes.delete(id);
      }
    }
    const pendingNode = document.getElementById("pending");
    if (pendingNode) pendingNode.remove();
    if (pending) {
      const node = el("article", "msg user pending", pending);
      node.id = "pending";
      log.append(node);
    }
    document.getElementById("intro").hidden = ordered.length > 0 || Boolean(pending);
    const withCase = ordered.filter((e) => e.case).pop();
    caseBadge.hidden = !withCase;
    if (withCase) caseBadge.textContent = t("case_badge", { number: withCase.case });
    if (atBottom || pending) log.scrollTop = log.scrollHeight;
    form.querySelector("button").disabled = busy;
  }

  async function send(body, echo) {
    if (busy) return false;
    busy = true;
    pending = echo;
    Local.showStatus("");
    render();
    try {
      const answer = await api("POST", "/local/api/turn", {
        user,
        name: nameInput.value.trim(),
        lang: Local.state.lang,
        ...body,
      });
      upsert(answer.echo ? [answer.echo, ...answer.replies] : answer.replies);
      return true;
    } catch (error) {
      Local.showStatus(error.status === 400 && /longer|larger/.test(error.message) ? t("too_long") : t("send_failed", Local.providerParams()));
      return false;
    } finally {
      busy = false;
      pending = null;
      render();
      poll();
    }
  }

  function press(entry, choice) {
    // The id is fixed per button, so a double click or a retry is the same delivery and is answered once.
    send({ choice: choice.id, delivery_id: `${user}:${entry.id}:${entry.version}:${choice.id}` }, choice.label);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim() || busy) return;
    input.value = "";
    const ok = await send({ text, delivery_id: newId() }, text);
    if (!ok && !input.value) input.value = text;
    input.focus();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  document.getElementById("restart").addEventListener("click", () => {
    if (!window.confirm(t("new_chat_confirm"))) return;
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
      const answer = await api("GET", `/local/api/messages?user=${encodeURIComponent(user)}&after=${cursor}`);
      upsert(answer.entries);
      cursor = answer.cursor;
      if (!busy) Local.showStatus("");
      render();
    } catch (error) {
      Local.showStatus(error.status === 403 ? error.message : t("offline"));
      wait = POLL_MS * 3;
    } finally {
      polling = false;
      timer = setTimeout(poll, wait);
    }
  }

  Local.setupLanguage(render);
  Local.loadConfig().then(() => {
    render();
    poll();
    input.focus();
  });
})();
