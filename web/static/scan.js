// The scan page: every Enter from the scanner is queued, looked up in order, and gets its own row.
"use strict";
(() => {
  const form = document.getElementById("scan-form");
  const input = document.getElementById("code");
  const results = document.getElementById("results");
  const counter = document.getElementById("counter");
  const action = document.getElementById("action");
  const site = document.getElementById("site_id");
  const sound = document.getElementById("sound");
  const texts = JSON.parse(document.getElementById("scan-texts").textContent);
  const queue = [];
  let busy = false;
  let count = Number(counter.textContent) || 0;

  sound.checked = localStorage.getItem("reemploi.sound") === "1";
  sound.addEventListener("change", () => localStorage.setItem("reemploi.sound", sound.checked ? "1" : "0"));
  const savedAction = sessionStorage.getItem("reemploi.action");
  if (savedAction && [...action.options].some((o) => o.value === savedAction)) action.value = savedAction;
  const showSite = () => { site.closest("label").hidden = action.value !== "set_site"; };
  action.addEventListener("change", () => { sessionStorage.setItem("reemploi.action", action.value); showSite(); input.focus(); });
  showSite();

  function enqueue(code) {
    code = code.trim();
    if (!code) return;
    queue.push({ code, action: action.value, site: site.value });
    pump();
  }
  window.reemploiScan = enqueue;

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const code = input.value;
    input.value = "";
    input.focus();
    enqueue(code);
  });

  async function pump() {
    if (busy) return;
    busy = true;
    while (queue.length) await handle(queue.shift());
    busy = false;
  }

  // The API wants the CSRF cookie echoed in a header from a session opened in the browser.
  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)reemploi_csrf=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  async function handle(job) {
    let response, body;
    try {
      response = await fetch("/api/v1/scan", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", accept: "application/json", "x-csrftoken": csrfToken() },
        body: JSON.stringify({ code: job.code, action: job.action, site_id: job.site ? Number(job.site) : null }),
      });
      body = await response.json();
    } catch (error) {
      return addRow(false, job.code, texts.network, "network");
    }
    if (response.ok) return addDevice(body.device, job.action);
    if (response.status === 401) { window.location = "/login?next=/scan"; return; }
    const kind = response.status === 404 ? "unknown" : "refused";
    const misread = body.extra && body.extra.reason === "misread";
    addRow(false, job.code, misread ? texts.misread : body.detail, misread ? "misread" : kind);
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function addDevice(device, jobAction) {
    const row = element("li", "row ok");
    const link = element("a", "tag", device.asset_tag);
    link.href = "/d/" + encodeURIComponent(device.asset_tag);
    row.append(link, element("span", "model", `${device.brand} ${device.model}`.trim()));
    row.append(element("span", "state state-" + device.state, texts.states[device.state] || device.state));
    if (jobAction !== "lookup") row.append(element("span", "done", texts.done));
    const allowed = (device.allowed_transitions || []).map((n) => texts.transitions[n] || n);
    if (allowed.length) row.append(element("span", "allowed", `${texts.allowed} ${allowed.join(" · ")}`));
    finish(row, true);
  }

  function addRow(ok, code, message, kind) {
    const row = element("li", `row ${ok ? "ok" : "bad"} ${kind}`);
    row.append(element("span", "tag", code), element("span", "message", message));
    if (kind === "unknown") {
      const register = element("a", "register", texts.register);
      register.href = "/intake/device?tag=" + encodeURIComponent(code);
      row.append(register);
    }
    finish(row, false);
  }

  function finish(row, ok) {
    results.prepend(row);
    count += 1;
    counter.textContent = String(count);
    input.classList.remove("flash-ok", "flash-bad");
    void input.offsetWidth; // restart the animation
    input.classList.add(ok ? "flash-ok" : "flash-bad");
    if (sound.checked) beep(ok);
  }

  let audio;
  function beep(ok) {
    try {
      audio = audio || new AudioContext();
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.frequency.value = ok ? 1320 : 220;
      gain.gain.value = 0.15;
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start();
      oscillator.stop(audio.currentTime + (ok ? 0.08 : 0.35));
    } catch (error) { /* no sound on this device */ }
  }

  // Keep the field focused: a scanner types wherever the focus is.
  document.addEventListener("click", (event) => {
    if (!event.target.closest("select, button, a, input, label, video")) input.focus();
  });
  window.addEventListener("focus", () => input.focus());
  input.focus();
})();
