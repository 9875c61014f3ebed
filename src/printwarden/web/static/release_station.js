// Release station: log in at this device (card, ID + PIN, or username + password), then
// release or cancel held jobs at its printer. Talks only to the device API, with the
// station's device token, which arrives in the URL fragment (#token=…) and is kept in
// sessionStorage. Everything shown comes from the server; text goes in with textContent only.
"use strict";

(() => {
  const TOKEN_KEY = "printwarden.release-station.token";
  const API = new URL("../api/v1/", window.location.href);
  const REQUEST_TIMEOUT_MS = 15000;
  const SETUP_RETRY_MS = 10000;
  const MESSAGE_MS = 20000;
  const CARD_STALE_MS = 3000;
  const WARN_SECONDS = 10;
  const DEFAULT_IDLE_SECONDS = 30;
  const SCAN_POLL_MS = 1000;
  const SCAN_WAIT_MS = 180000;
  const SCAN_STATES = {
    delivered: "Delivered",
    failed: "Not delivered",
    abandoned: "Not completed",
  };
  const JOB_STATES = {
    releasing: "Sent to the printer",
    printed: "Printed",
    canceled: "Canceled",
    expired: "Expired",
  };

  const $ = (id) => document.getElementById(id);
  const el = {
    station: $("station-name"),
    error: $("error"),
    status: $("status"),
    main: document.querySelector("main"),
    setupTitle: $("setup-title"),
    setupDetail: $("setup-detail"),
    idlePrompt: $("idle-prompt"),
    idlePrinter: $("idle-printer"),
    cardForm: $("card-form"),
    cardInput: $("card-input"),
    showIdentity: $("show-identity"),
    showPassword: $("show-password"),
    identityForm: $("identity-form"),
    passwordForm: $("password-form"),
    userName: $("user-name"),
    userBalance: $("user-balance"),
    idleWarning: $("idle-warning"),
    logout: $("logout"),
    accountForm: $("account-form"),
    accountOptions: $("account-options"),
    accountPinRow: $("account-pin-row"),
    accountPin: $("account-pin"),
    jobs: $("jobs"),
    jobControls: $("job-controls"),
    jobsEmpty: $("jobs-empty"),
    releaseAll: $("release-all"),
    jobTemplate: $("job-template"),
    scanSection: $("scan-section"),
    scanActions: $("scan-actions"),
    scanControls: $("scan-controls"),
    scanState: $("scan-state"),
  };
  const screens = ["setup", "idle", "identity", "password", "session"];

  const station = decodeURIComponent(window.location.pathname.split("/").pop() || "");
  const idleSeconds = positiveInt(
    new URLSearchParams(window.location.search).get("idle"),
    DEFAULT_IDLE_SECONDS,
  );

  const state = {
    token: "",
    device: null,
    session: null,
    jobs: [],
    screen: "setup",
    busy: false,
    idleDeadline: 0,
    setupRetry: 0,
    messageTimer: 0,
    cardTimer: 0,
  };

  // --- helpers ------------------------------------------------------------------------------

  function positiveInt(text, fallback) {
    const value = Number.parseInt(text || "", 10);
    return Number.isInteger(value) && value > 0 && value <= 86400 ? value : fallback;
  }

  /** The configured currency, from the page: its code and minor digits ("USD 2"). */
  const currency = (() => {
    const meta = document.querySelector('meta[name="currency"]');
    const [code, digits] = (meta ? meta.content : "USD 2").split(" ");
    const places = Number.parseInt(digits, 10);
    const scale = Number.isInteger(places) && places >= 0 && places <= 4 ? places : 2;
    try {
      return {
        scale,
        format: new Intl.NumberFormat("en", {
          style: "currency", currency: code,
          minimumFractionDigits: scale, maximumFractionDigits: scale,
        }),
      };
    } catch {
      return { scale, format: null }; // an unknown code: plain decimals
    }
  })();

  /** Minor units as money in the configured currency: 1234 -> "$12.34", -5 -> "-$0.05". */
  function money(cents) {
    if (typeof cents !== "number" || !Number.isFinite(cents)) return "—";
    const units = Math.round(cents) / 10 ** currency.scale; // display only: exact to the cent
    if (currency.format) return currency.format.format(units);
    return units.toFixed(currency.scale);
  }

  function plural(count, one, many) {
    return `${count} ${count === 1 ? one : many}`;
  }

  function storage() {
    try {
      return window.sessionStorage;
    } catch {
      return null;
    }
  }

  // --- messages -----------------------------------------------------------------------------

  function say({ status = "", error = "" }) {
    window.clearTimeout(state.messageTimer);
    el.status.textContent = status;
    el.error.textContent = error;
    if (status || error) {
      state.messageTimer = window.setTimeout(() => say({}), MESSAGE_MS);
    }
  }

  // --- the device API -----------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(method, path, body, extraHeaders = {}) {
    const controller = new AbortController();
    const timer = window.setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    const headers = {
      ...extraHeaders,
      Accept: "application/json",
      Authorization: `Bearer ${state.token}`,
    };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(new URL(path, API), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
        cache: "no-store",
        credentials: "omit",
      });
    } catch {
      throw new ApiError(
        0,
        controller.signal.aborted
          ? "The print server did not answer in time. Please try again."
          : "The print server cannot be reached. Please try again.",
      );
    } finally {
      window.clearTimeout(timer);
    }
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, problemText(response, data));
    return data;
  }

  /** The message of an RFC 9457 problem document: its detail, else its title. */
  function problemText(response, data) {
    if (data && typeof data === "object") {
      if (typeof data.detail === "string" && data.detail) return data.detail;
      if (typeof data.title === "string" && data.title) return data.title;
    }
    return `The print server answered ${response.status} ${response.statusText}.`.trim();
  }

  function sessionPath(suffix = "") {
    return `device/sessions/${encodeURIComponent(state.session.session_id)}${suffix}`;
  }

  // --- screens ------------------------------------------------------------------------------

  function show(screen) {
    state.screen = screen;
    for (const name of screens) $(`screen-${name}`).hidden = name !== screen;
    if (screen === "idle") focusCard();
    const first = $(`screen-${screen}`).querySelector("input:not(.visually-hidden)");
    if (first && screen !== "session") first.focus();
  }

  function setup(title, detail) {
    el.setupTitle.textContent = title;
    el.setupDetail.textContent = detail;
    show("setup");
  }

  function focusCard() {
    if (state.screen === "idle" && document.activeElement !== el.cardInput) el.cardInput.focus();
  }

  async function withBusy(action) {
    if (state.busy) return;
    state.busy = true;
    el.main.setAttribute("aria-busy", "true");
    el.jobControls.disabled = true;
    el.scanControls.disabled = true;
    try {
      await action();
    } finally {
      state.busy = false;
      el.main.removeAttribute("aria-busy");
      el.jobControls.disabled = false;
      el.scanControls.disabled = false;
      touch();
    }
  }

  // --- start-up: token from the fragment, then the device -----------------------------------

  function readToken() {
    const fragment = new URLSearchParams(window.location.hash.slice(1));
    const fromUrl = fragment.get("token");
    const store = storage();
    if (fromUrl) {
      if (store) store.setItem(TOKEN_KEY, fromUrl);
      // Out of sight: the address bar, history and anyone glancing at the screen.
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
      return fromUrl;
    }
    return (store && store.getItem(TOKEN_KEY)) || state.token;
  }

  async function connect() {
    window.clearTimeout(state.setupRetry);
    if (state.session) end();
    el.station.textContent = station;
    state.token = readToken();
    if (!state.token) {
      setup(
        "This station is not set up",
        "Open this page with the station's device token: /release/<station>#token=…",
      );
      return;
    }
    try {
      const device = await api("GET", "device");
      if (station && device.name !== station) {
        setup(
          "Wrong station",
          `This page is for station “${station}” but its token belongs to “${device.name}”.`,
        );
        return;
      }
      state.device = device;
    } catch (error) {
      setup("This station is not available", error.message);
      state.setupRetry = window.setTimeout(connect, SETUP_RETRY_MS);
      return;
    }
    prepareIdle();
    show("idle");
  }

  function prepareIdle() {
    const methods = state.device.login_methods || ["card", "identity", "password"];
    const card = methods.includes("card");
    el.idlePrompt.textContent = card ? "Swipe your card" : "Log in to release your jobs";
    el.cardInput.disabled = !card;
    el.showIdentity.hidden = !methods.includes("identity");
    el.showPassword.hidden = !methods.includes("password");
    el.station.textContent = state.device.name;
    el.idlePrinter.textContent = state.device.printer
      ? `Jobs are released to printer ${state.device.printer}.`
      : "";
  }

  // --- logging in ---------------------------------------------------------------------------

  async function login(body) {
    await withBusy(async () => {
      say({});
      let session;
      try {
        session = await api("POST", "device/sessions", body);
      } catch (error) {
        say({ error: error.message });
        if (state.screen === "idle") focusCard();
        return;
      }
      begin(session);
      try {
        await loadJobs(session.session_id);
      } catch (error) {
        await failed(error, session.session_id);
      }
    });
  }

  function submitCard() {
    window.clearTimeout(state.cardTimer);
    const number = el.cardInput.value.trim();
    el.cardInput.value = "";
    if (number && state.screen === "idle") login({ method: "card", card_number: number });
  }

  el.cardForm.addEventListener("submit", (event) => {
    event.preventDefault();
    submitCard();
  });

  // A partial read (no Enter) must not prefix the next card.
  el.cardInput.addEventListener("input", () => {
    window.clearTimeout(state.cardTimer);
    state.cardTimer = window.setTimeout(() => {
      el.cardInput.value = "";
    }, CARD_STALE_MS);
  });

  // On the idle screen the card reader's keystrokes reach the card input wherever focus is.
  document.addEventListener("keydown", (event) => {
    if (state.screen !== "idle" || event.target === el.cardInput || el.cardInput.disabled) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key.length === 1 && event.key !== " ") {
      event.preventDefault();
      el.cardInput.value += event.key;
      el.cardInput.dispatchEvent(new Event("input"));
      el.cardInput.focus();
    } else if (event.key === "Enter" && el.cardInput.value) {
      event.preventDefault();
      submitCard();
    }
  });

  $("screen-idle").addEventListener("click", (event) => {
    if (!event.target.closest("button")) focusCard();
  });
  window.addEventListener("focus", focusCard);

  el.showIdentity.addEventListener("click", () => {
    say({});
    touch();
    show("identity");
  });
  el.showPassword.addEventListener("click", () => {
    say({});
    touch();
    show("password");
  });
  for (const back of document.querySelectorAll("button.back")) {
    back.addEventListener("click", () => {
      back.form.reset();
      show("idle");
    });
  }

  el.identityForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = el.identityForm;
    const body = {
      method: "identity",
      identity_number: form.elements.identity_number.value.trim(),
      pin: form.elements.pin.value,
    };
    form.elements.pin.value = "";
    login(body).then(() => {
      if (state.session) form.reset();
    });
  });

  el.passwordForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = el.passwordForm;
    const body = {
      method: "password",
      username: form.elements.username.value.trim(),
      password: form.elements.password.value,
    };
    form.elements.password.value = "";
    login(body).then(() => {
      if (state.session) form.reset();
    });
  });

  // --- the session --------------------------------------------------------------------------

  function begin(session) {
    state.session = session;
    state.jobs = [];
    renderSession();
    renderJobs();
    renderScanActions([]);
    el.scanState.textContent = "";
    show("session");
    el.userName.focus();
    touch();
    if (state.device && state.device.scanner) loadScanActions(session.session_id);
  }

  // --- scanning at the station's network scanner --------------------------------------------

  async function loadScanActions(sid) {
    try {
      const data = await api("GET", sessionPath("/scan-actions"));
      if (!state.session || state.session.session_id !== sid) return;
      renderScanActions((data && data.actions) || []);
    } catch {
      renderScanActions([]); // scanning is not offered here now: the jobs still are
    }
  }

  function renderScanActions(actions) {
    el.scanSection.hidden = actions.length === 0;
    el.scanActions.replaceChildren(
      ...actions.map((action) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "big secondary scan-action";
        button.textContent = action.name;
        button.addEventListener("click", () => scanWith(action.name));
        return button;
      }),
    );
  }

  async function scanWith(name) {
    await withBusy(async () => {
      const sid = state.session && state.session.session_id;
      if (!sid) return;
      let scan;
      try {
        scan = await api("POST", sessionPath("/scans"), { action: name, from_scanner: true });
      } catch (error) {
        await failed(error, sid);
        return;
      }
      el.scanState.textContent = `Scanning with “${name}”…`;
      const ended = await followScan(scan);
      el.scanState.textContent = ended;
      say({ status: ended });
      try {
        await refreshSession(sid);
      } catch (error) {
        await failed(error, sid);
      }
    });
  }

  /** Poll the scan until it is delivered, failed or abandoned; how it ended, in words. */
  async function followScan(scan) {
    const path = `device/scans/${encodeURIComponent(scan.scan_id)}`;
    const headers = { "X-Scan-Token": scan.upload_token };
    const deadline = Date.now() + SCAN_WAIT_MS;
    while (Date.now() < deadline) {
      await new Promise((resolve) => window.setTimeout(resolve, SCAN_POLL_MS));
      touch();
      let found;
      try {
        found = await api("GET", path, undefined, headers);
      } catch (error) {
        return error.message;
      }
      const words = SCAN_STATES[found.stage];
      if (words) {
        const pages = plural(found.pages, "page", "pages");
        const detail = found.delivered_to || found.detail;
        return `${words}: ${pages}${detail ? ` — ${detail}` : ""}.`;
      }
      el.scanState.textContent = found.stage === "received" ? "Scanned: delivering…" : "Scanning…";
    }
    return "The scan is still being delivered: you will get an email.";
  }

  function renderSession() {
    const session = state.session;
    el.userName.textContent = session.full_name || session.username;
    el.userBalance.textContent = money(session.balance);
    renderAccounts();
  }

  function renderAccounts() {
    const accounts = state.session.accounts || [];
    el.accountForm.hidden = accounts.length < 2;
    el.accountPinRow.hidden = true;
    el.accountPin.value = "";
    el.accountOptions.replaceChildren(
      ...accounts.map((account) => {
        const label = document.createElement("label");
        label.className = "option";
        const input = document.createElement("input");
        input.type = "radio";
        input.name = "account";
        input.value = account.name;
        input.checked = account.name === state.session.account;
        input.dataset.needsPin = account.needs_pin ? "1" : "";
        const text = document.createElement("span");
        text.textContent = account.label || account.name || "Personal";
        label.append(input, text);
        return label;
      }),
    );
  }

  el.accountOptions.addEventListener("change", (event) => {
    const input = event.target;
    if (input.dataset.needsPin) {
      el.accountPinRow.hidden = false;
      el.accountPin.focus();
    } else {
      chooseAccount(input.value, "");
    }
  });

  el.accountForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = el.accountOptions.querySelector("input:checked");
    if (chosen) chooseAccount(chosen.value, el.accountPin.value);
  });

  async function chooseAccount(account, pin) {
    await withBusy(async () => {
      const sid = state.session && state.session.session_id;
      try {
        const session = await api("PUT", sessionPath("/account"), { account, pin });
        if (!state.session || state.session.session_id !== sid) return;
        state.session = session;
        renderSession();
        const chosen = (session.accounts || []).find((a) => a.name === session.account);
        say({ status: `Printing is charged to ${chosen ? chosen.label : "your account"}.` });
        await loadJobs(sid);
      } catch (error) {
        if (state.session) renderAccounts();
        await failed(error, sid);
      }
    });
  }

  async function loadJobs(sid) {
    if (!state.session || state.session.session_id !== sid) return;
    const data = await api("GET", sessionPath("/jobs"));
    if (!state.session || state.session.session_id !== sid) return;
    state.jobs = (data && data.jobs) || [];
    renderJobs();
  }

  async function refreshSession(sid) {
    const session = await api("GET", sessionPath());
    if (!state.session || state.session.session_id !== sid) return;
    state.session = session;
    renderSession();
  }

  function jobFacts(job) {
    const facts = [job.pages == null ? "pages unknown" : plural(job.pages, "page", "pages")];
    if (job.copies > 1) facts.push(`${job.copies} copies`);
    facts.push(job.colour_pages > 0 && !job.grayscale ? "colour" : "black & white");
    if (job.duplex) facts.push("double-sided");
    if (job.owner && state.session && job.owner !== state.session.username) {
      facts.push(`for ${job.owner}`);
    }
    return facts.join(" · ");
  }

  function renderJobs() {
    const items = state.jobs.map((job, index) => {
      const item = el.jobTemplate.content.firstElementChild.cloneNode(true);
      const name = item.querySelector(".job-name");
      name.id = `job-${index}-name`;
      name.textContent = job.document_name || "Untitled document";
      item.querySelector(".job-facts").textContent = jobFacts(job);
      item.querySelector(".job-cost").textContent =
        job.cost == null ? "Cost: unknown" : `Cost: ${money(job.cost)}`;
      const held = job.status === "held";
      const compatible = job.compatible !== false;
      item.querySelector(".job-state").textContent = held
        ? ""
        : JOB_STATES[job.status] || job.status;
      item.querySelector(".job-problem").textContent =
        held && !compatible
          ? `Cannot print here: ${job.incompatible_reason || "not compatible with this printer"}`
          : "";
      const release = item.querySelector(".job-release");
      const cancel = item.querySelector(".job-cancel");
      release.disabled = !held || !compatible;
      cancel.disabled = !held;
      for (const button of [release, cancel]) button.setAttribute("aria-describedby", name.id);
      release.addEventListener("click", () => jobAction(job, "release"));
      cancel.addEventListener("click", () => jobAction(job, "cancel"));
      item.dataset.jobId = job.id;
      return item;
    });
    el.jobs.replaceChildren(...items);
    el.jobsEmpty.hidden = items.length > 0;
    el.releaseAll.disabled = !state.jobs.some((job) => job.status === "held");
  }

  async function jobAction(job, action) {
    await withBusy(async () => {
      const sid = state.session && state.session.session_id;
      if (!sid) return;
      const name = job.document_name || "Untitled document";
      try {
        const path = sessionPath(`/jobs/${encodeURIComponent(job.id)}/${action}`);
        const done = await api("POST", path, {});
        const where = done && done.released_to ? ` to ${done.released_to}` : "";
        say({ status: action === "release" ? `Released “${name}”${where}.` : `Canceled “${name}”.` });
      } catch (error) {
        await failed(error, sid);
      }
      try {
        await loadJobs(sid);
        await refreshSession(sid);
      } catch (error) {
        await failed(error, sid);
      }
    });
  }

  el.releaseAll.addEventListener("click", () =>
    withBusy(async () => {
      const sid = state.session && state.session.session_id;
      if (!sid) return;
      let result;
      try {
        result = await api("POST", sessionPath("/release-all"), {});
      } catch (error) {
        await failed(error, sid);
        return;
      }
      const released = (result && result.released) || [];
      const refused = (result && result.refused) || [];
      const done = released.length
        ? `Released ${plural(released.length, "job", "jobs")}.`
        : "No jobs were released.";
      const status = `${done} You have been logged out.`;
      const error = refused.length
        ? `Not released: ${refused
            .map((job) => `${job.document_name || "Untitled document"} (${job.reason})`)
            .join("; ")}`
        : "";
      end();
      say({ status, error });
    }),
  );

  /** An action failed: show why; if the session or the station's token is gone, end it. */
  async function failed(error, sid) {
    if (!state.session || state.session.session_id !== sid) return;
    if ([401, 403, 404].includes(error.status)) {
      // A missing job, a refused PIN and an ended session look alike: ask about the session.
      try {
        await api("GET", sessionPath());
      } catch (check) {
        if (check.status === 404) {
          end();
          say({ error: "Your session has ended. Please log in again." });
          return;
        }
        if (check.status === 401) {
          end();
          await connect();
          return;
        }
      }
    }
    say({ error: error.message });
  }

  // --- logging out --------------------------------------------------------------------------

  function end() {
    const session = state.session;
    el.idleWarning.textContent = "";
    state.session = null;
    state.jobs = [];
    renderJobs();
    renderScanActions([]);
    el.scanState.textContent = "";
    el.accountOptions.replaceChildren();
    if (state.device) show("idle");
    if (!session) return;
    // Not awaited: the next person may swipe at once. The server also ends idle sessions.
    api("DELETE", `device/sessions/${encodeURIComponent(session.session_id)}`).catch(() => {});
  }

  el.logout.addEventListener("click", () => {
    end();
    say({ status: "You have been logged out." });
  });

  // A top-up card redeemed for the person logged in: the balance shown rises at once.
  $("redeem-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("redeem-code");
    const session = state.session;
    if (!session || !input.value.trim()) return;
    try {
      const path = `device/sessions/${encodeURIComponent(session.session_id)}/topup-cards/redeem`;
      const done = await api("POST", path, { code: input.value });
      input.value = "";
      session.balance = done.balance;
      renderSession();
      say({ status: `Added ${money(done.amount)} to your balance.` });
    } catch (error) {
      say({ error: error.message });
    }
  });

  // Any touch or key counts as activity; after idleSeconds without any, log out.
  function limitSeconds() {
    const server = state.device && state.device.session_idle_seconds;
    return server > 0 ? Math.min(idleSeconds, server) : idleSeconds;
  }

  function touch() {
    state.idleDeadline = Date.now() + limitSeconds() * 1000;
  }

  function tick() {
    if (state.busy) {
      touch();
      return;
    }
    const left = Math.ceil((state.idleDeadline - Date.now()) / 1000);
    if (state.session) {
      if (left <= 0) {
        end();
        say({ status: "You were logged out after a time without activity." });
      } else {
        el.idleWarning.textContent =
          left <= WARN_SECONDS ? `Logging out in ${plural(left, "second", "seconds")}…` : "";
      }
    } else if (left <= 0 && (state.screen === "identity" || state.screen === "password")) {
      // Nobody finished logging in: clear what was typed and wait for the next person.
      el.identityForm.reset();
      el.passwordForm.reset();
      show("idle");
    }
  }

  window.setInterval(tick, 250);

  for (const type of ["pointerdown", "keydown", "touchstart", "wheel"]) {
    document.addEventListener(type, touch, { capture: true, passive: true });
  }

  window.addEventListener("pagehide", () => {
    if (!state.session) return;
    fetch(new URL(sessionPath(), API), {
      method: "DELETE",
      headers: { Authorization: `Bearer ${state.token}` },
      keepalive: true,
      credentials: "omit",
    }).catch(() => {});
  });

  window.addEventListener("hashchange", connect);

  connect();
})();
