// Shared by the chat page and the on-call inbox: texts, the JSON API, the status line and message rendering.
// Everything a person or the bot wrote is set with textContent, never parsed as HTML.
"use strict";

const Local = (() => {
  const CONFIG_KEY = "supportbot.config";
  const state = { config: null, lang: localStorage.getItem("supportbot.lang") || browserLanguage() };
  // Long texts show this many lines until the reader opens them (local.css has the same number).
  const CLAMP_LINES = 6;
  const CLAMP_CANDIDATE_CHARS = 200;
  const TEL = /^\+?[0-9]{3,15}$/;
  const expanded = new Set(); // keys of long texts the reader opened; kept while messages are re-rendered
  let status = null; // what the status line says: { key } from the catalog, or { raw } from the server

  // The browser's preferred language (its Accept-Language) until the person picks one with the toggle;
  // Danish for anything but English, as the provider's customers are Danish companies.
  function browserLanguage() {
    for (const tag of navigator.languages || [navigator.language || ""]) {
      const primary = tag.toLowerCase().split("-")[0];
      if (primary === "da" || primary === "en") return primary;
    }
    return "da";
  }

  // The last config this tab saw, so a page whose server went away still speaks the person's language.
  try {
    state.config = JSON.parse(sessionStorage.getItem(CONFIG_KEY) || "null");
  } catch (_) {
    state.config = null;
  }

  function t(key, params = {}) {
    const texts = (state.config && state.config.texts[state.lang]) || {};
    const template = texts[key] !== undefined ? texts[key] : key;
    return template.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
  }

  function providerParams() {
    const p = (state.config && state.config.provider) || {};
    return { provider: p.name || "", phone: p.phone || "", menu: p.phone_menu || "" };
  }

  // A network failure or a timeout has no status; `offline` tells it apart from an answer with an error.
  async function api(method, path, body, { timeout = 15000 } = {}) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeout);
    const options = { method, headers: { Accept: "application/json" }, cache: "no-store", signal: controller.signal };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, options);
    } catch (_) {
      const error = new Error("no connection");
      error.status = 0;
      error.offline = true;
      throw error;
    } finally {
      clearTimeout(timer);
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      const error = new Error((data && data.error) || `HTTP ${response.status}`);
      error.status = response.status;
      error.key = (data && data.key) || ""; // a catalog key the page can show in the reader's language
      // A proxy or a restarting server answers for the bot: the request did not get through either.
      error.offline = [502, 503, 504].includes(response.status);
      throw error;
    }
    return data;
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  // A tap-to-call link when `digits` is plainly a phone number (digits, an optional leading +), else the text.
  function phone(shown, digits) {
    if (!TEL.test(digits || "")) return document.createTextNode(shown);
    const link = el("a", "tel", shown);
    link.href = `tel:${digits}`;
    return link;
  }

  // Fill every [data-text] / [data-placeholder] / [data-aria-label] with the current language.
  function applyTexts(root = document) {
    const params = providerParams();
    root.querySelectorAll("[data-text]").forEach((n) => (n.textContent = t(n.dataset.text, params)));
    root.querySelectorAll("[data-placeholder]").forEach((n) => (n.placeholder = t(n.dataset.placeholder, params)));
    root.querySelectorAll("[data-aria-label]").forEach((n) => n.setAttribute("aria-label", t(n.dataset.ariaLabel)));
    document.documentElement.lang = state.lang;
    document.querySelectorAll("[data-lang]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.lang === state.lang)));
    renderStatus();
  }

  let languageChanged = null;

  // The toggle, and the bot answering in another language (the person wrote clearly in it), both set it.
  function setLanguage(lang) {
    if (!lang || lang === state.lang || (state.config && !state.config.texts[lang])) return;
    state.lang = lang;
    localStorage.setItem("supportbot.lang", state.lang);
    applyTexts();
    if (languageChanged) languageChanged();
  }

  function setupLanguage(onChange) {
    languageChanged = onChange;
    document.querySelectorAll("[data-lang]").forEach((button) =>
      button.addEventListener("click", () => setLanguage(button.dataset.lang)),
    );
  }

  async function loadConfig(offlineKey) {
    for (let wait = 1000; ; wait = Math.min(wait * 2, 10000)) {
      try {
        state.config = await api("GET", "/local/api/config");
        sessionStorage.setItem(CONFIG_KEY, JSON.stringify(state.config));
        if (!state.config.texts[state.lang]) state.lang = "da";
        showStatus(null);
        applyTexts();
        return state.config;
      } catch (error) {
        showStatus(error.status === 403 ? { raw: error.message } : { key: offlineKey });
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  // The status line: null hides it. It is kept as a catalog key, so a language switch re-words it,
  // and the provider's phone number in it is a tap-to-call link.
  function showStatus(next) {
    if (JSON.stringify(next) === JSON.stringify(status)) return;
    status = next;
    renderStatus();
  }

  function renderStatus() {
    const line = document.getElementById("status");
    if (!line) return;
    line.hidden = !status;
    if (!status) {
      line.replaceChildren();
      return;
    }
    if (status.raw) {
      line.textContent = status.raw;
      return;
    }
    const { phone: number, ...params } = providerParams();
    const parts = t(status.key, params).split("{phone}");
    const tel = state.config && state.config.provider ? state.config.provider.tel : "";
    line.replaceChildren(...parts.flatMap((part, i) => (i ? [phone(number, tel), part] : [part])));
  }

  // `node` shows a text; when it is long it shows CLAMP_LINES lines and a "Vis alt" button after it.
  function collapsible(node, key) {
    const text = node.textContent;
    if (text.length < CLAMP_CANDIDATE_CHARS && text.split("\n").length <= CLAMP_LINES) return [node];
    node.classList.add("clamp");
    node.id = `clamp-${key}`;
    const toggle = el("button", "more");
    toggle.type = "button";
    toggle.setAttribute("aria-controls", node.id);
    const show = (open) => {
      node.classList.toggle("open", open);
      toggle.textContent = t(open ? "show_less" : "show_all");
      toggle.setAttribute("aria-expanded", String(open));
    };
    show(expanded.has(key));
    toggle.addEventListener("click", () => {
      const open = !node.classList.contains("open");
      if (open) expanded.add(key);
      else expanded.delete(key);
      show(open);
    });
    return [node, toggle];
  }

  // After long texts are on the page: hide "Vis alt" where the text fits in its lines after all.
  function settleClamps(root = document) {
    root.querySelectorAll(".more[aria-controls]").forEach((toggle) => {
      const target = document.getElementById(toggle.getAttribute("aria-controls"));
      if (!target || target.classList.contains("open")) return;
      toggle.hidden = target.scrollHeight <= target.clientHeight + 2;
    });
  }

  // One message: optional title, the text, facts as a list, choices as buttons.
  // `onChoice(entry, choice)` is called on a press; `enabled` says whether the buttons work right now;
  // `showChoices` false drops them (a question that was answered or replaced); `collapseText` folds a long text.
  function renderMessage(entry, { onChoice, enabled, showChoices = true, collapseText = false }) {
    const article = el("article", `msg ${entry.role}`);
    article.dataset.id = entry.id;
    article.dataset.key = entry.key || "";
    if (entry.title) article.append(el("h2", "title", entry.title));
    if (entry.text) {
      const text = el("p", "text", entry.text);
      article.append(...(collapseText ? collapsible(text, `${entry.id}-text`) : [text]));
    }
    if (entry.facts && entry.facts.length) {
      const facts = el("dl", "facts");
      entry.facts.forEach((fact, i) => {
        const row = el("div", "fact");
        const value = el("dd");
        if (fact.tel) value.append(phone(fact.value, fact.tel));
        else value.append(...collapsible(el("span", "value", fact.value), `${entry.id}-fact-${i}`));
        row.append(el("dt", "", fact.label), value);
        facts.append(row);
      });
      article.append(facts);
    }
    if (showChoices && entry.choices && entry.choices.length) {
      const choices = el("div", "choices");
      for (const choice of entry.choices) {
        const button = el("button", `choice ${choice.style || ""}`.trim(), choice.label);
        button.type = "button";
        button.dataset.choice = choice.id;
        button.disabled = !enabled;
        button.addEventListener("click", () => onChoice(entry, choice, button));
        choices.append(button);
      }
      article.append(choices);
    }
    return article;
  }

  // Make the nodes after `anchor` in `container` (all of them without one) exactly `items`, in order.
  // Each item is { key, signature, build }; a node is built again only when its signature changed,
  // so polling does not steal focus or close what the reader opened. Returns how many were built.
  function reconcile(container, items, cache, anchor = null) {
    let built = 0;
    let previous = anchor;
    for (const item of items) {
      let cached = cache.get(item.key);
      if (!cached || cached.signature !== item.signature) {
        const node = item.build();
        if (cached) cached.node.remove();
        cached = { node, signature: item.signature };
        cache.set(item.key, cached);
        built += 1;
      }
      const expected = previous ? previous.nextSibling : container.firstChild;
      if (expected !== cached.node) container.insertBefore(cached.node, expected);
      previous = cached.node;
    }
    const rest = () => (previous ? previous.nextSibling : container.firstChild);
    while (rest()) rest().remove();
    return built;
  }

  function formatTime(iso) {
    const moment = new Date(iso);
    if (Number.isNaN(moment.getTime())) return "";
    return moment.toLocaleString(state.lang === "en" ? "en-GB" : "da-DK", {
      weekday: "short",
      hour: "numeric",
      minute: "2-digit",
      timeZone: (state.config && state.config.timezone) || undefined,
    });
  }

  window.addEventListener("resize", () => settleClamps());

  return {
    state,
    t,
    providerParams,
    api,
    newId,
    el,
    applyTexts,
    setLanguage,
    setupLanguage,
    loadConfig,
    showStatus,
    renderMessage,
    reconcile,
    settleClamps,
    formatTime,
  };
})();
