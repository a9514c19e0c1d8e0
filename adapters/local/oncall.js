// The on-call technician's inbox: the signed-in technician's pages, sorted into waiting for them, in progress
// and done (each newest first), and the team-channel posts, newest first. Who is signed in, the server knows
// by the cookie the technician's secret link set (python -m bot oncall link <id>).
"use strict";

(() => {
  const { t, api, el } = Local;
  const POLL_MS = 2000;
  const GROUPS = ["waiting", "active", "done"];
  const DONE_SHOWN = 5; // the newest handled pages; the rest on request, so weeks of them do not bury the team channel
  const who = document.getElementById("tech");
  const lists = Object.fromEntries([...GROUPS, "team"].map((name) => [name, document.getElementById(name)]));
  let signedIn = false;
  let cursor = 0;
  let entries = { pages: new Map(), team: new Map() };
  const nodes = new Map(); // card key -> { node, signature }
  const replies = new Map(); // entry id -> what the bot answered to the last press there
  const inFlight = new Set(); // entry ids with a press being sent
  const allDone = document.getElementById("all-done");
  let showAllDone = false;

  // Where a page belongs, by its case's status (the server adds it); by its buttons if the case is unknown.
  function groupOf(entry) {
    if (entry.status === "open") return "waiting";
    if (entry.status === "acknowledged") return "active";
    if (entry.status === "resolved" || entry.status === "cancelled") return "done";
    return entry.choices.length ? "waiting" : "done";
  }

  function isClosed(entry) {
    return entry.status === "resolved" || entry.status === "cancelled";
  }

  function cardItem(entry, feed) {
    const reply = replies.get(entry.id) || "";
    const busy = inFlight.has(entry.id);
    return {
      key: `${feed}${entry.id}`,
      signature: `${entry.version}|${entry.status}|${busy}|${reply}|${Local.state.lang}`,
      build: () => {
        const card = Local.renderMessage(entry, { onChoice: press, enabled: !busy });
        card.classList.add("card");
        card.classList.toggle("closed", isClosed(entry));
        card.append(el("time", "at", Local.formatTime(entry.at)));
        if (reply) card.append(el("p", "reply", reply));
        return card;
      },
    };
  }

  function render() {
    const newestFirst = (map) => [...map.values()].sort((a, b) => b.seq - a.seq);
    const grouped = Object.fromEntries(GROUPS.map((name) => [name, []]));
    for (const entry of newestFirst(entries.pages)) grouped[groupOf(entry)].push(cardItem(entry, "p"));
    grouped.team = newestFirst(entries.team).map((entry) => cardItem(entry, "t"));
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
    for (const name of ["active", "done"]) lists[name].closest("section").hidden = grouped[name].length === 0;
    document.getElementById("waiting-empty").hidden = grouped.waiting.length > 0;
    document.getElementById("team-empty").hidden = grouped.team.length > 0;
    const keys = new Set(Object.values(grouped).flatMap((items) => items.map((item) => item.key)));
    for (const key of nodes.keys()) if (!keys.has(key)) nodes.delete(key);
    if (built) Local.settleClamps();
    const waiting = grouped.waiting.length;
    document.title = `${waiting ? `(${waiting}) ` : ""}${t("inbox_title")}`;
  }

  async function press(entry, choice) {
    if (inFlight.has(entry.id)) return;
    inFlight.add(entry.id);
    render();
    try {
      const answer = await api("POST", "/local/api/press", {
        choice: choice.id,
        delivery_id: `${who.dataset.id}:${entry.id}:${entry.version}:${choice.id}`,
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

  allDone.addEventListener("click", () => {
    showAllDone = true;
    render();
  });

  // No valid inbox cookie (never opened through the link, or the link was revoked): say how to get one.
  function signOut(key) {
    signedIn = false;
    who.closest(".who").hidden = true;
    entries = { pages: new Map(), team: new Map() };
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
    poll();
  });
})();
