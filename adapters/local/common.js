// Shared by the chat page and the on-call inbox: texts, the JSON API and message rendering.
// Everything a person or the bot wrote is set with textContent, never parsed as HTML.
"use strict";

const Local = (() => {
  const state = { config: null, lang: localStorage.getItem("supportbot.lang") || "da" };

  function t(key, params = {}) {
    const texts = (state.config && state.config.texts[state.lang]) || {};
    const template = texts[key] !== undefined ? texts[key] : key;
    return template.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
  }

  function providerParams() {
    const p = (state.config && state.config.provider) || {};
    return { provider: p.name || "", phone: p.phone || "", menu: p.phone_menu || "" };
  }

  async function api(method, path, body) {
    const options = { method, headers: { Accept: "application/json" }, cache: "no-store" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      const error = new Error((data && data.error) || `HTTP ${response.status}`);
      error.status = response.status;
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

  // Fill every [data-text] / [data-placeholder] / [data-aria-label] with the current language.
  function applyTexts(root = document) {
    const params = providerParams();
    root.querySelectorAll("[data-text]").forEach((n) => (n.textContent = t(n.dataset.text, params)));
    root.querySelectorAll("[data-placeholder]").forEach((n) => (n.placeholder = t(n.dataset.placeholder, params)));
    root.querySelectorAll("[data-aria-label]").forEach((n) => n.setAttribute("aria-label", t(n.dataset.ariaLabel)));
    document.documentElement.lang = state.lang;
    document.querySelectorAll("[data-lang]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.lang === state.lang)));
  }

  function setupLanguage(onChange) {
    document.querySelectorAll("[data-lang]").forEach((button) =>
      button.addEventListener("click", () => {
        state.lang = button.dataset.lang;
        localStorage.setItem("supportbot.lang", state.lang);
        applyTexts();
        if (onChange) onChange();
      }),
    );
  }

  async function loadConfig() {
    for (let wait = 1000; ; wait = Math.min(wait * 2, 10000)) {
      try {
        state.config = await api("GET", "/local/api/config");
        if (!state.config.texts[state.lang]) state.lang = "da";
        applyTexts();
        return state.config;
      } catch (error) {
        showStatus(error.status === 403 ? error.message : t("offline"));
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  function showStatus(text) {
    const status = document.getElementById("status");
    if (!status) return;
    status.textContent = text || "";
    status.hidden = !text;
  }

  // One message: optional title, the text, facts as a list, choices as buttons.
  // `onChoice(entry, choice)` is called on a press; `enabled` says whether the buttons work right now;
  // `showChoices` false drops them (a question that was answered or replaced).
  function renderMessage(entry, { onChoice, enabled, showChoices = true }) {
    const article = el("article", `msg ${entry.role}`);
    article.dataset.id = entry.id;
    article.dataset.key = entry.key || "";
    if (entry.title) article.append(el("h2", "title", entry.title));
    if (entry.text) article.append(el("p", "text", entry.text));
    if (entry.facts && entry.facts.length) {
      const facts = el("dl", "facts");
      for (const fact of entry.facts) {
        const row = el("div", "fact");
        row.append(el("dt", "", fact.label), el("dd", "", fact.value));
        facts.append(row);
      }
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

  function formatTime(iso) {
    const moment = new Date(iso);
    if (Number.isNaN(moment.getTime())) return "";
    return moment.toLocaleString(state.lang === "en" ? "en-GB" : "da-DK", {
      weekday: "short",
      hour: "2-digit",
      minute: "2-digit",
      timeZone: (state.config && state.config.timezone) || undefined,
    });
  }

  return { state, t, providerParams, api, newId, el, applyTexts, setupLanguage, loadConfig, showStatus, renderMessage, formatTime };
})();
