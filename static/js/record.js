/* The Record screen: one form per meter, kept working offline.

   It paints from IndexedDB at once (HomelogStore, record-store.js), then, when the server can
   be reached, sends the outbox and refreshes. A reading saved here always goes into the outbox
   first and is sent straight away when online, so online and offline work the same way. */
(function () {
  "use strict";

  const store = window.HomelogStore;
  const script = document.currentScript;
  const $ = (id) => document.getElementById(id);
  // The page's language (<html lang>) formats numbers and times; its texts come translated
  // in the page's #i18n block (rendered by the server, kept offline with the app shell).
  const lang = document.documentElement.lang || "en";
  const when = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
  const number = new Intl.NumberFormat(lang, { maximumFractionDigits: 10 });
  const decimalMark = number.formatToParts(1.5).find((part) => part.type === "decimal").value;
  const relative = new Intl.RelativeTimeFormat(lang, { numeric: "always" });
  const texts = readTexts();
  const state = { data: null, items: [], session: null, editing: null };

  // ---- Small helpers --------------------------------------------------------------------

  function readTexts() {
    try {
      return JSON.parse($("i18n").textContent);
    } catch (error) {
      return {}; // no block (or a broken one): the English texts below
    }
  }

  /** text translated into the page's language, with {name} filled from vars. */
  function t(text, vars) {
    let found = texts[text] || text;
    for (const [name, value] of Object.entries(vars || {})) {
      found = found.split("{" + name + "}").join(String(value));
    }
    return found;
  }

  function clone(id) {
    return $(id).content.firstElementChild.cloneNode(true);
  }

  /** A number typed with a decimal comma or point (spaces allowed), or null.

      Thousands may be grouped the English or the German way (1,234.5 or 1.234,5): with both
      marks the last one is the decimal mark; several of one mark group thousands. The same
      rules as the server's (homelog/forms.py, parse_number). */
  function parseNumber(text) {
    let cleaned = text.trim().replace(/[\s\u00a0\u202f]/g, "");
    const commas = (cleaned.match(/,/g) || []).length;
    const points = (cleaned.match(/\./g) || []).length;
    if (commas + points > 1) {
      let group = ".";
      if (commas && points) group = cleaned.lastIndexOf(",") < cleaned.lastIndexOf(".") ? "," : ".";
      else if (commas > 1) group = ",";
      const point = group === "," ? "." : ",";
      const grouped = new RegExp(
        "^[-+]?\\d{1,3}(\\" + group + "\\d{3})+(\\" + point + "\\d+)?$"
      );
      if (!grouped.test(cleaned)) return null;
      cleaned = cleaned.split(group).join("").replace(point, ".");
    }
    if (!/^[-+]?(\d+([.,]\d*)?|[.,]\d+)$/.test(cleaned)) return null;
    return Number(cleaned.replace(",", "."));
  }

  function ago(iso) {
    const seconds = (Date.now() - Date.parse(iso)) / 1000;
    if (seconds < 60) return t("just now");
    if (seconds < 3600) return relative.format(-Math.round(seconds / 60), "minute");
    if (seconds < 86400) return relative.format(-Math.round(seconds / 3600), "hour");
    return relative.format(-Math.round(seconds / 86400), "day");
  }

  /** A value and its unit, kept on one line ("55 %", not "55" and "%" on the next). */
  function withUnit(value, unit) {
    return unit ? value + "\u00a0" + unit : value;
  }

  function describe(source, values) {
    return Object.keys(source ? source.metrics : values)
      .filter((metric) => metric in values)
      .map(
        (metric) =>
          metric +
          " " +
          withUnit(number.format(values[metric]), source ? source.metrics[metric] : "")
      )
      .join(", ");
  }

  /** What happened to a reading, in words ("waiting", "created", "conflict"…). */
  function statusLabel(status) {
    const labels = {
      waiting: t("waiting"),
      conflict: t("conflict"),
      refused: t("refused"),
      saved: t("saved"),
      created: t("created"),
      unchanged: t("unchanged"),
      invalid: t("invalid"),
    };
    return labels[status] || status;
  }

  function sourceById(id) {
    return state.data.sources.find((source) => source.id === id);
  }

  function userId() {
    if (state.session) return state.session.user_id;
    if (state.data.session) return state.data.session.user_id;
    return state.data.user ? state.data.user.id : null;
  }

  /** The newest value known for source: from the server, or typed here and not yet sent. */
  function lastKnown(source) {
    let last = state.data.latest[source.id] || null;
    const mine = userId();
    for (const item of state.items) {
      if (item.data_source_id !== source.id || item.user_id !== mine) continue;
      if (!last || Date.parse(item.timestamp) >= Date.parse(last.timestamp)) {
        last = { ...item, waiting: true };
      }
    }
    return last;
  }

  // ---- Painting ---------------------------------------------------------------------------

  function paintSources() {
    const list = $("sources");
    const writable = state.data.sources.filter((s) => s.role === "owner" || s.role === "editor");
    const shown = new Set(writable.map((s) => String(s.id)));
    for (const form of [...list.children]) {
      if (!shown.has(form.dataset.source)) form.remove();
    }
    writable.forEach((source, index) => {
      const signature = JSON.stringify(source.metrics);
      let form = list.querySelector('[data-source="' + source.id + '"]');
      if (form && form.dataset.metrics !== signature) {
        form.remove();
        form = null;
      }
      if (!form) form = buildForm(source);
      if (list.children[index] !== form) list.insertBefore(form, list.children[index] || null);
      form.querySelector(".source-name").textContent = source.name;
      paintLast(form, source);
    });
    const viewOnly = state.data.sources.filter((s) => s.role === "viewer");
    $("view-only").hidden = viewOnly.length === 0;
    $("view-only-list").replaceChildren(
      ...viewOnly.map((source) => {
        const li = document.createElement("li");
        li.textContent = source.name;
        return li;
      })
    );
    $("empty").hidden = writable.length > 0 || !state.data.user;
  }

  function metricFields(container, source, values, prefix) {
    for (const [metric, unit] of Object.entries(source.metrics)) {
      const field = clone("metric-template");
      const input = field.querySelector("input");
      input.id = prefix + "-" + metric;
      input.name = metric;
      input.value = values && metric in values ? String(values[metric]).replace(".", decimalMark) : "";
      field.dataset.metric = metric;
      field.querySelector("label").htmlFor = input.id;
      field.querySelector(".metric-name").textContent = metric;
      field.querySelector(".unit").textContent = unit ? "(" + unit + ")" : "";
      container.append(field);
    }
    const inputs = container.querySelectorAll("input");
    if (inputs.length) inputs[inputs.length - 1].enterKeyHint = "done";
  }

  function buildForm(source) {
    const form = clone("source-template");
    form.dataset.source = source.id;
    form.dataset.metrics = JSON.stringify(source.metrics);
    form.setAttribute("aria-label", source.name);
    metricFields(form.querySelector(".metrics"), source, null, "source-" + source.id);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      save(form, sourceById(source.id));
    });
    form.addEventListener("input", () => {
      delete form.dataset.confirm; // changed values: check them again
      form.querySelector(".lower-warning").hidden = true;
      form.querySelector(".save").textContent = t("Save");
    });
    return form;
  }

  function paintLast(form, source) {
    const last = lastKnown(source);
    for (const field of form.querySelectorAll(".metric")) {
      const metric = field.dataset.metric;
      const hint = field.querySelector(".last");
      if (!last || !(metric in last.values)) {
        hint.textContent = t("No reading yet");
        continue;
      }
      hint.textContent = t("Last: {value} · {time} ({ago})", {
        value: withUnit(number.format(last.values[metric]), source.metrics[metric]),
        time: when.format(new Date(last.timestamp)),
        ago: last.waiting ? t("waiting to be sent") : ago(last.timestamp),
      });
    }
  }

  function paintOutbox() {
    const mine = userId();
    const items = state.items.filter((item) => item.user_id === mine);
    const others = state.items.length - items.length;
    $("outbox-badge").hidden = items.length === 0;
    $("outbox-count").textContent = items.length;
    $("outbox-title-count").textContent = items.length;
    $("outbox").hidden = items.length === 0;
    $("other-account").hidden = others === 0;
    $("other-account").textContent =
      t("{count} reading(s) typed under another account wait until it signs in here.", {
        count: others,
      });
    if (state.editing) return; // do not pull the form away from under the user's fingers
    $("outbox-list").replaceChildren(...items.map(outboxItem));
  }

  function outboxItem(item) {
    const source = sourceById(item.data_source_id);
    const li = clone("outbox-item-template");
    li.dataset.id = item.id;
    li.dataset.status = item.status;
    li.querySelector(".item-source").textContent = source ? source.name : t("A removed source");
    li.querySelector(".item-status").textContent = statusLabel(item.status);
    li.querySelector(".item-values").textContent = describe(source, item.values);
    li.querySelector(".item-time").textContent = t("Typed {time}", {
      time: when.format(new Date(item.timestamp)),
    });
    const reason = li.querySelector(".item-reason");
    if (item.status === "refused") {
      const details = Object.values(item.errors || {}).flat();
      reason.hidden = false;
      reason.textContent =
        [item.reason, ...details, t("Edit it and save to send again.")].filter(Boolean).join(" ");
    }
    if (item.status === "conflict") {
      const server = li.querySelector(".item-server");
      server.hidden = false;
      if (item.current) {
        server.querySelector(".server-values").textContent = describe(source, item.current.values);
        server.querySelector(".server-time").textContent =
          when.format(new Date(item.current.timestamp));
      } else {
        server.querySelector(".server-values").textContent =
          t("this reading's id is taken; keeping yours saves it under a new one.");
      }
      server.querySelector(".keep-mine").addEventListener("click", () =>
        act(() => store.keepMine(item.id))
      );
      server.querySelector(".keep-server").addEventListener("click", () =>
        act(() => store.keepServer(item.id))
      );
    }
    li.querySelector(".delete").addEventListener("click", () => {
      if (window.confirm(t("Delete this reading? It has not been sent."))) {
        act(() => store.remove(item.id));
      }
    });
    const editForm = li.querySelector(".item-edit");
    li.querySelector(".edit").addEventListener("click", () => {
      if (!source) return;
      state.editing = item.id;
      editForm.hidden = false;
      li.querySelector(".item-actions").hidden = true;
      metricFields(editForm.querySelector(".metrics"), source, item.values, "edit-" + item.id);
      editForm.querySelector("input").focus();
    });
    li.querySelector(".edit-cancel").addEventListener("click", () => {
      state.editing = null;
      paint();
    });
    editForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = readValues(editForm, source);
      if (!values) return;
      state.editing = null;
      await act(() => store.edit(item.id, values, item.confirmed));
      sync();
    });
    return li;
  }

  function paintResults() {
    const results = state.data.results.slice(0, 10);
    $("results").hidden = results.length === 0;
    $("results-list").replaceChildren(
      ...results.map((result) => {
        const li = document.createElement("li");
        const source = sourceById(result.data_source_id);
        li.dataset.status = result.status;
        li.textContent =
          (source ? source.name : t("A removed source")) +
          ": " +
          describe(source, result.values) +
          " — " +
          statusLabel(result.status);
        return li;
      })
    );
  }

  function paintSession() {
    const signedOut = state.session === false;
    $("signed-out").hidden = !signedOut;
    if (signedOut) {
      const count = state.items.length;
      $("signed-out-text").textContent =
        count > 0
          ? t("You are signed out: {count} reading(s) wait on this phone until you sign in.", {
              count: count,
            })
          : t("You are signed out.");
    }
  }

  async function paint() {
    state.data = await store.load();
    state.items = await store.waiting();
    $("loading").hidden = true;
    paintSources();
    paintOutbox();
    paintResults();
    paintSession();
  }

  async function act(change) {
    try {
      await change();
    } catch (error) {
      showOffline(error);
    }
    await paint();
  }

  function showOffline(error) {
    if (error instanceof store.SignedOut) {
      state.session = false;
    } else if (error instanceof store.Offline) {
      $("connection").hidden = false;
    } else {
      throw error;
    }
  }

  // ---- Recording --------------------------------------------------------------------------

  /** The form's values as numbers, or null after marking what is wrong. */
  function readValues(form, source) {
    const values = {};
    let firstBad = null;
    for (const field of form.querySelectorAll(".metric")) {
      const input = field.querySelector("input");
      const error = field.querySelector(".error");
      const value = parseNumber(input.value);
      const message =
        input.value.trim() === ""
          ? t("Enter a value.")
          : value === null
            ? t("Enter a number, like 1234.5 or 1234,5.")
            : "";
      error.hidden = !message;
      error.textContent = message;
      input.setAttribute("aria-invalid", message ? "true" : "false");
      if (message && !firstBad) firstBad = input;
      values[field.dataset.metric] = value;
    }
    if (firstBad) {
      firstBad.focus();
      return null;
    }
    return source ? values : null;
  }

  /** {metric: value before} for a meter's values below the last known ones. */
  function lowerThanLast(source, values) {
    const last = lastKnown(source);
    const lower = {};
    if (source.kind !== "meter" || !last) return lower;
    for (const [metric, value] of Object.entries(values)) {
      if (typeof last.values[metric] === "number" && value < last.values[metric]) {
        lower[metric] = last.values[metric];
      }
    }
    return lower;
  }

  async function save(form, source) {
    const message = form.querySelector(".form-message");
    const values = readValues(form, source);
    if (!values) return;
    const owner = userId();
    if (owner === null) {
      message.textContent = t("Sign in once on this phone before recording.");
      return;
    }
    const lower = lowerThanLast(source, values);
    const typed = JSON.stringify(values);
    const confirmed = Object.keys(lower).length > 0;
    if (confirmed && form.dataset.confirm !== typed) {
      // A meter only counts up: a lower value is a typo or a new meter. Ask once.
      const warning = form.querySelector(".lower-warning");
      warning.hidden = false;
      warning.textContent = t(
        "Lower than the last reading ({values}). Check the meter; tap “Save anyway” if it is right.",
        {
          values: Object.entries(lower)
            .map(
              ([metric, before]) =>
                metric + " " + number.format(values[metric]) + " < " + number.format(before)
            )
            .join(", "),
        }
      );
      form.dataset.confirm = typed;
      form.querySelector(".save").textContent = t("Save anyway");
      return;
    }
    // Clear the form before anything waits, so a quick next value is not wiped by it.
    form.reset();
    delete form.dataset.confirm;
    form.querySelector(".lower-warning").hidden = true;
    form.querySelector(".save").textContent = t("Save");
    nextForm(form);
    let item;
    try {
      item = await store.add(owner, source.id, values, confirmed);
    } catch (error) {
      message.textContent = t("Could not keep this reading on the phone: {error}", {
        error: error.message,
      });
      for (const [metric, value] of Object.entries(values)) form.elements[metric].value = value;
      return;
    }
    message.textContent = t("Kept on this phone, sending…");
    await paint();
    const done = await sync();
    if (done && done.some((result) => result.id === item.id)) {
      message.textContent = t("Saved.");
    } else if (state.items.some((waiting) => waiting.id === item.id)) {
      if (navigator.onLine) {
        // A lost answer or a server hiccup: the next open or "Send now" sends it.
        message.textContent = t("Kept on this phone: not sent yet, it waits in the outbox.");
      } else {
        message.textContent = t("Kept on this phone: it is sent when you are back online.");
        backgroundSync();
      }
    }
  }

  /** On to the next meter: focus its first field. */
  function nextForm(form) {
    const next = form.nextElementSibling;
    const target = next ? next.querySelector("input") : null;
    if (target) {
      target.focus({ preventScroll: true });
      next.scrollIntoView({ block: "start", behavior: "smooth" });
    }
  }

  // ---- Sync -------------------------------------------------------------------------------

  let syncing = null;
  let queued = null;

  /** Send the outbox and refresh from the server; resolve to the readings just stored.

      A call while a sync runs is run after it (once for all such calls): what it was asked
      for, a new reading or a connection back, may have come too late for the running one. */
  function sync() {
    if (syncing) {
      queued = queued || syncing.then(() => ((queued = null), sync()));
      return queued;
    }
    syncing = syncOnce().finally(() => (syncing = null));
    return syncing;
  }

  async function syncOnce() {
    let done = null;
    try {
      const current = await store.session();
      state.session = current;
      $("connection").hidden = true;
      done = await store.sendOutbox(current);
      await store.refresh(current);
    } catch (error) {
      showOffline(error);
    }
    await paint();
    if (state.session === false && !state.data.user && state.items.length === 0) {
      window.location.assign(script.dataset.login); // nothing here yet: sign in first
    }
    return done;
  }

  function backgroundSync() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.ready
      .then((registration) => registration.sync && registration.sync.register(store.SYNC_TAG))
      .catch(() => {}); // not offered (or refused): reconnecting or reopening sends it
  }

  // ---- The app's own updates --------------------------------------------------------------

  function offerUpdate(worker) {
    $("update-banner").hidden = false;
    $("update-reload").onclick = () => {
      reloadOnChange = true;
      worker.postMessage("skip-waiting");
    };
  }

  let reloadOnChange = false;

  function registerWorker() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.addEventListener("controllerchange", () => {
      if (reloadOnChange) window.location.reload();
      else showVersion(); // the first visit: the worker has just taken over
    });
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data === "outbox-changed") paint();
    });
    navigator.serviceWorker
      .register(script.dataset.sw, { scope: "/", updateViaCache: "none" })
      .then((registration) => {
        if (registration.waiting && navigator.serviceWorker.controller) {
          offerUpdate(registration.waiting);
        }
        registration.addEventListener("updatefound", () => {
          const worker = registration.installing;
          worker.addEventListener("statechange", () => {
            if (worker.state === "installed" && navigator.serviceWorker.controller) {
              offerUpdate(worker);
            }
          });
        });
        showVersion();
      })
      .catch(() => {}); // e.g. plain http on a LAN address: the screen works while online
  }

  function showVersion() {
    const controller = navigator.serviceWorker.controller;
    if (!controller) return;
    const channel = new MessageChannel();
    channel.port1.onmessage = (event) => {
      $("app-version").textContent = t("App version {version}", { version: event.data });
    };
    controller.postMessage("version", [channel.port2]);
  }

  // ---- Start ------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", async () => {
    $("send-now").addEventListener("click", () => sync());
    window.addEventListener("online", () => sync());
    window.addEventListener("offline", () => ($("connection").hidden = false));
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") sync();
    });
    $("connection").hidden = navigator.onLine;
    await paint();
    performance.mark("record-painted"); // the meters are on screen (bench/record_app_bench.py)
    registerWorker();
    sync();
  });
})();
