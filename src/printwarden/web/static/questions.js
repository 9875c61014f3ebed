// The portal's Questions page, live: the list follows the event stream (/web/portal/events),
// a new question shows as a browser notification while the page is hidden (once the person
// allowed them with the button), and the service worker makes the portal installable.
// The page works without this script: plain forms, reloaded by hand.
"use strict";

const WORKER = "/web/portal/app/sw.js";
const SCOPE = "/web/portal/";
const RETRY_MS = 30000;

function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register(WORKER, { scope: SCOPE }).catch(() => {});
}

// Minor units as "0.30 EUR" (integer arithmetic: no float rounding).
function money(units, code, digits) {
  const text = String(Math.abs(units)).padStart(digits + 1, "0");
  const whole = digits ? text.slice(0, -digits) : text;
  const fraction = digits ? "." + text.slice(-digits) : "";
  return `${units < 0 ? "-" : ""}${whole}${fraction} ${code}`;
}

function describe(question, section) {
  const digits = Number(section.dataset.digits);
  const cost = money(question.cost, question.currency || section.dataset.currency, digits);
  const what = question.kind === "confirm" ? "Confirm" : "Choose an account";
  return `${what}: ${question.document_name || "Untitled"}, ${cost}`;
}

// Shown by the service worker (it stays up when the page is not); without one, by the page.
async function notify(text, tag) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const options = { body: text, tag: tag, icon: "/web/portal/app/icon-192.png" };
  const registration = "serviceWorker" in navigator
    ? await navigator.serviceWorker.getRegistration(SCOPE) : undefined;
  if (registration && registration.active) {
    registration.active.postMessage({ type: "notify", title: "printwarden", options: options });
  } else {
    new Notification("printwarden", options);
  }
}

function shownJobs() {
  return [...document.querySelectorAll("#questions [data-job]")].map((item) => item.dataset.job);
}

let updating = Promise.resolve(); // one refresh at a time, in the order asked

// Fetch the page again and put its question list in place; questions already shown keep
// their element (and what was typed into them).
async function refresh() {
  const response = await fetch(location.pathname, { credentials: "same-origin" });
  if (!response.ok || response.redirected) return;
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = page.getElementById("questions");
  const current = document.getElementById("questions");
  if (!fresh || !current) return;
  fresh.querySelectorAll("[data-job]").forEach((item) => {
    const kept = current.querySelector(`[data-job="${CSS.escape(item.dataset.job)}"]`);
    if (kept) item.replaceWith(kept);
  });
  current.replaceWith(fresh);
  const count = document.getElementById("question-count");
  const freshCount = page.getElementById("question-count");
  if (count && freshCount) count.textContent = freshCount.textContent;
}

function listen(section) {
  const stream = new EventSource(section.dataset.events);
  const changed = () => { updating = updating.then(refresh).catch(() => {}); };
  stream.addEventListener("hello", (event) => {
    const open = JSON.parse(event.data).questions.map((question) => question.job);
    const shown = shownJobs();
    if (open.length !== shown.length || open.some((job) => !shown.includes(job))) changed();
  });
  stream.addEventListener("question", (event) => {
    const question = JSON.parse(event.data);
    if (document.hidden) notify(describe(question, section), question.job).catch(() => {});
    changed();
  });
  stream.addEventListener("question.closed", changed);
  stream.addEventListener("error", () => {
    if (stream.readyState !== EventSource.CLOSED) return; // the browser reconnects itself
    setTimeout(() => listen(section), RETRY_MS);
  });
}

function offerNotifications() {
  const button = document.getElementById("enable-notifications");
  if (!button || !("Notification" in window) || Notification.permission !== "default") return;
  button.hidden = false;
  button.addEventListener("click", () => {
    Notification.requestPermission().then(() => { button.hidden = true; });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  registerWorker();
  const section = document.getElementById("questions");
  if (!section) return;
  offerNotifications();
  listen(section);
});
