// The on-call technician's inbox: pages for the chosen technician and team-channel posts, newest first.
"use strict";

(() => {
  const { t, api, el } = Local;
  const POLL_MS = 2000;
  const select = document.getElementById("tech");
  const lists = { pages: document.getElementById("pages"), team: document.getElementById("team") };
  let tech = "";
  let cursor = 0;
  let entries = { pages: new Map(), team: new Map() };
  const replies = new Map(); // entry id -> what the bot answered to the last press there
  const inFlight = new Set(); // entry ids with a press being sent

  function render() {
    for (const [name, list] of Object.entries(lists)) {
      const ordered = [...entries[name].values()].sort((a, b) => b.seq - a.seq);
      list.replaceChildren(
        ...ordered.map((entry) => {
          const card = Local.renderMessage(entry, { onChoice: press, enabled: !inFlight.has(entry.id) });
          card.classList.add("card");
          card.append(el("time", "at", Local.formatTime(entry.at)));
          if (replies.has(entry.id)) card.append(el("p", "reply", replies.get(entry.id)));
          return card;
        }),
      );
      document.getElementById(`${name}-empty`).hidden = ordered.length > 0;
    }
    const waiting = [...entries.pages.values()].filter((e) => e.choices.some((c) => c.id.startsWith("oncall:ack:"))).length;
    document.title = `${waiting ? `(${waiting}) ` : ""}${t("inbox_title")}`;
  }

  async function press(entry, choice) {
    if (inFlight.has(entry.id)) return;
    inFlight.add(entry.id);
    render();
    try {
      const answer = await api("POST", "/local/api/press", {
        tech,
        choice: choice.id,
        delivery_id: `${tech}:${entry.id}:${entry.version}:${choice.id}`,
      });
      replies.set(entry.id, answer.replies.map((m) => [m.title, m.text].filter(Boolean).join("\n")).join("\n\n"));
    } catch (error) {
      replies.set(entry.id, t("press_failed"));
    } finally {
      inFlight.delete(entry.id);
      render();
      poll();
    }
  }

  let timer = null;
  let polling = false;
  async function poll() {
    clearTimeout(timer);
    if (!tech || polling) return;
    polling = true;
    const asked = tech;
    let wait = POLL_MS;
    try {
      const answer = await api("GET", `/local/api/inbox?tech=${encodeURIComponent(tech)}&after=${cursor}`);
      if (asked === tech) {
        for (const name of ["pages", "team"]) for (const entry of answer[name]) entries[name].set(entry.id, entry);
        cursor = answer.cursor;
        Local.showStatus("");
        render();
      }
    } catch (error) {
      Local.showStatus(error.status === 403 ? error.message : t("offline"));
      wait = POLL_MS * 3;
    } finally {
      polling = false;
      timer = setTimeout(poll, wait);
    }
  }

  function choose(id) {
    tech = id;
    localStorage.setItem("supportbot.tech", id);
    cursor = 0;
    entries = { pages: new Map(), team: new Map() };
    replies.clear();
    render();
    poll();
  }

  Local.setupLanguage(render);
  Local.loadConfig().then((config) => {
    if (!config.technicians.length) {
      Local.showStatus(t("no_technicians"));
      return;
    }
    for (const technician of config.technicians) {
      const option = el("option", "", technician.name);
      option.value = technician.id;
      select.append(option);
    }
    const saved = localStorage.getItem("supportbot.tech");
    select.value = config.technicians.some((x) => x.id === saved) ? saved : config.technicians[0].id;
    select.addEventListener("change", () => choose(select.value));
    choose(select.value);
  });
})();
