// Pay station: a person logs in (card or username + password) at this kiosk, inserts cash
// (the kiosk's bridge reports each note; the balance rises as the server credits it) or
// redeems a top-up card, then presses Done. Talks only to the device API with the kiosk's
// device token, which arrives in the URL fragment (#token=…) and is kept in sessionStorage.
// Text goes in with textContent only.
"use strict";

(() => {
  const TOKEN_KEY = "printwarden.kiosk.token";
  const API = new URL("../api/v1/", window.location.href);
  const POLL_MS = 1000;
  const IDLE_MS = 90000;
  const $ = (id) => document.getElementById(id);
  const [code, digits] = (document.querySelector('meta[name="currency"]').content || "USD 2")
    .split(" ");
  const state = { token: "", session: null, balance: null, lastChange: 0, timer: 0 };

  function money(minor) {
    const scale = 10 ** Number(digits);
    const sign = minor < 0 ? "-" : "";
    const whole = Math.floor(Math.abs(minor) / scale);
    const part = String(Math.abs(minor) % scale).padStart(Number(digits), "0");
    return `${sign}${whole}${Number(digits) ? "." + part : ""} ${code}`;
  }

  function show(name) {
    for (const screen of ["setup", "idle", "session"]) {
      $(`screen-${screen}`).hidden = screen !== name;
    }
    if (name === "idle") $("card-input").focus();
  }

  function error(text) { $("error").textContent = text || ""; }

  async function call(method, path, body) {
    const response = await fetch(new URL(path, API), {
      method,
      headers: { Authorization: `Bearer ${state.token}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const found = response.status === 204 ? {} : await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(found.detail || `the server answered ${response.status}`);
    return found;
  }

  async function login(body) {
    error("");
    try {
      const session = await call("POST", "device/sessions", body);
      state.session = session.session_id;
      state.balance = session.balance;
      state.lastChange = Date.now();
      $("user-name").textContent = session.full_name || session.username;
      $("added").textContent = "";
      render(session.balance);
      show("session");
      poll();
    } catch (exc) { error(exc.message); }
  }

  function render(balance) {
    if (state.balance !== null && balance > state.balance) {
      $("added").textContent = `Added ${money(balance - state.balance)}`;
      state.lastChange = Date.now();
    }
    state.balance = balance;
    $("balance").textContent = money(balance);
  }

  async function poll() {
    clearTimeout(state.timer);
    if (!state.session) return;
    try {
      const session = await call("GET", `device/sessions/${state.session}`);
      render(session.balance);
      const kiosk = await call("GET", "device/kiosk");
      $("denominations").textContent = kiosk.denominations.map(money).join(", ");
      $("accepting").textContent = kiosk.accepting ? "Ready for cash" : "Not taking cash now";
      if (Date.now() - state.lastChange > IDLE_MS) return logout();
    } catch (exc) {
      error(exc.message);
      if (/session/i.test(exc.message)) return logout();
    }
    state.timer = setTimeout(poll, POLL_MS);
  }

  async function logout() {
    clearTimeout(state.timer);
    const session = state.session;
    state.session = null;
    state.balance = null;
    if (session) await call("DELETE", `device/sessions/${session}`).catch(() => {});
    show("idle");
  }

  async function redeem(event) {
    event.preventDefault();
    error("");
    try {
      const done = await call("POST", `device/sessions/${state.session}/topup-cards/redeem`,
        { code: $("code").value });
      $("code").value = "";
      render(done.balance);
    } catch (exc) { error(exc.message); }
  }

  async function start() {
    const fragment = new URLSearchParams(window.location.hash.slice(1));
    if (fragment.get("token")) {
      sessionStorage.setItem(TOKEN_KEY, fragment.get("token"));
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    state.token = sessionStorage.getItem(TOKEN_KEY) || "";
    $("kiosk-name").textContent = decodeURIComponent(window.location.pathname.split("/").pop());
    if (!state.token) {
      $("setup-detail").textContent = "This page needs the kiosk's device token (#token=…).";
      return;
    }
    $("card-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const number = $("card-input").value.trim();
      $("card-input").value = "";
      if (number) login({ method: "card", card_number: number });
    });
    $("password-form").addEventListener("submit", (event) => {
      event.preventDefault();
      login({ method: "password", username: $("username").value, password: $("password").value });
      $("password").value = "";
    });
    $("redeem-form").addEventListener("submit", redeem);
    $("done").addEventListener("click", logout);
    show("idle");
  }

  start();
})();
