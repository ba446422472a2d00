/* The Record app's data on the phone and its sync with the server.

   Loaded by the Record page and by the service worker (importScripts), so a Background Sync
   sends the outbox exactly as the page does. Two IndexedDB stores (idb-keyval):
   - "homelog-record": the user, their sources (with role), each source's newest reading, the
     change-feed cursor and the latest send results;
   - "homelog-outbox": readings typed but not yet stored on the server, keyed by the client
     UUID that makes a resend harmless (the server stores an id once).
   Signing in uses the browser session: `/record/session` says who is signed in and gives the
   CSRF token the API wants with it (docs/api.md). */
(function (root) {
  "use strict";

  const kv = root.idbKeyval;
  const data = kv.createStore("homelog-record", "data");
  const outbox = kv.createStore("homelog-outbox", "items");
  const BATCH = 100;
  const FEED_PAGES = 20; // further behind than this: start again from a snapshot
  const RESULTS_KEPT = 30;
  const SYNC_TAG = "homelog-outbox";

  /** A random (version 4) UUID; crypto.randomUUID exists only on HTTPS and localhost. */
  function newId() {
    if (root.crypto.randomUUID) return root.crypto.randomUUID();
    const bytes = root.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)]
      .join("-");
  }

  class Offline extends Error {}
  class SignedOut extends Error {}

  async function request(url, options) {
    let response;
    try {
      response = await fetch(url, { credentials: "same-origin", cache: "no-store", ...options });
    } catch (error) {
      throw new Offline("The server cannot be reached.");
    }
    if (response.status === 401) throw new SignedOut("Signed out.");
    return response;
  }

  async function json(response) {
    try {
      return await response.json();
    } catch (error) {
      return {};
    }
  }

  /** Who is signed in: {user_id, email, name, csrf_token}; throws Offline or SignedOut. */
  async function session() {
    const response = await request("/record/session");
    if (!response.ok) throw new Offline("The server answered " + response.status + ".");
    const found = await json(response);
    const known = await kv.get("user", data);
    if (known && known.id !== found.user_id) {
      // Someone else signed in on this phone: forget the other account's meters, last
      // readings and results (its waiting readings stay in the outbox, kept for their author).
      await kv.delMany(["results", "sources", "latest", "cursor", "user"], data);
    }
    await kv.set("session", { user_id: found.user_id, email: found.email }, data);
    return found;
  }

  /** The cached state for the screen: user, sources, newest readings, results. */
  async function load() {
    const [user, sources, latest, results, lastSession] = await kv.getMany(
      ["user", "sources", "latest", "results", "session"],
      data
    );
    return {
      user: user || null,
      sources: sources || [],
      latest: latest || {},
      results: results || [],
      session: lastSession || null,
    };
  }

  function newer(reading, than) {
    return !than || Date.parse(reading.timestamp) >= Date.parse(than.timestamp);
  }

  function slim(reading) {
    return {
      id: reading.id,
      data_source_id: reading.data_source_id,
      timestamp: reading.timestamp,
      values: reading.values,
    };
  }

  function slimSource(source) {
    return {
      id: source.id,
      name: source.name,
      kind: source.kind,
      metrics: source.metrics,
      role: source.role || "owner", // older servers list only the user's own sources
    };
  }

  function byName(a, b) {
    return a.name.localeCompare(b.name, undefined, { sensitivity: "base" }) || a.id - b.id;
  }

  async function snapshot(user) {
    const response = await request("/api/sync/latest");
    if (!response.ok) throw new Offline("The server answered " + response.status + ".");
    const body = await json(response);
    const latest = {};
    for (const reading of body.readings) latest[reading.data_source_id] = slim(reading);
    await kv.setMany(
      [
        ["user", user],
        ["sources", body.sources.map(slimSource)],
        ["latest", latest],
        ["cursor", body.next_cursor],
      ],
      data
    );
  }

  /** Bring sources and newest readings up to date: the change feed, or a snapshot at first. */
  async function refresh(current) {
    const user = { id: current.user_id, email: current.email, name: current.name };
    const [known, cursor] = await kv.getMany(["user", "cursor"], data);
    if (!known || known.id !== user.id || cursor == null) return snapshot(user);
    const sources = new Map(((await kv.get("sources", data)) || []).map((s) => [s.id, s]));
    const latest = (await kv.get("latest", data)) || {};
    const stale = new Set(); // sources whose newest reading was deleted
    let since = cursor;
    for (let page = 0; ; page++) {
      if (page === FEED_PAGES) return snapshot(user);
      const response = await request(
        "/api/sync/changes?limit=500&since=" + encodeURIComponent(since)
      );
      if (response.status === 422) return snapshot(user); // a cursor this server did not give
      if (!response.ok) throw new Offline("The server answered " + response.status + ".");
      const body = await json(response);
      for (const source of body.sources) sources.set(source.id, slimSource(source));
      for (const reading of body.readings) {
        if (newer(reading, latest[reading.data_source_id])) {
          latest[reading.data_source_id] = slim(reading);
        }
      }
      for (const gone of body.deleted) {
        if (gone.type === "source") {
          sources.delete(Number(gone.id));
          delete latest[gone.id];
        } else if (latest[gone.data_source_id] && latest[gone.data_source_id].id === gone.id) {
          stale.add(gone.data_source_id);
        }
      }
      since = body.next_cursor;
      if (!body.has_more) break;
    }
    for (const sourceId of stale) {
      if (!sources.has(sourceId)) continue;
      const response = await request("/api/sources/" + sourceId + "/readings?limit=1");
      const found = response.ok ? await json(response) : [];
      if (found.length) latest[sourceId] = slim(found[0]);
      else delete latest[sourceId];
    }
    await kv.setMany(
      [
        ["sources", [...sources.values()].sort(byName)],
        ["latest", latest],
        ["cursor", since],
      ],
      data
    );
  }

  // ---- The outbox --------------------------------------------------------------------------

  /** Every reading waiting to be sent, oldest typed first. */
  async function waiting() {
    const items = await kv.values(outbox);
    return items.sort((a, b) => a.typed_at.localeCompare(b.typed_at));
  }

  /** Keep a reading typed now for user on the phone; it is sent by the next sendOutbox. */
  async function add(userId, sourceId, values, confirmed) {
    const now = new Date().toISOString();
    const item = {
      id: newId(),
      user_id: userId,
      data_source_id: sourceId,
      values: values,
      confirmed: Boolean(confirmed),
      timestamp: now, // when it was typed: the reading's time on the server too
      typed_at: now,
      status: "waiting",
      revision: 1,
    };
    await kv.set(item.id, item, outbox);
    return item;
  }

  /** Change a waiting reading's values; it waits to be sent (again). */
  async function edit(id, values, confirmed) {
    const item = await kv.get(id, outbox);
    if (!item) return;
    await kv.set(
      id,
      {
        ...item,
        values: values,
        confirmed: Boolean(confirmed),
        status: "waiting",
        reason: null,
        errors: null,
        current: null,
        revision: item.revision + 1,
      },
      outbox
    );
  }

  async function remove(id) {
    await kv.del(id, outbox);
  }

  async function note(results) {
    const kept = (await kv.get("results", data)) || [];
    await kv.set("results", results.concat(kept).slice(0, RESULTS_KEPT), data);
  }

  async function remember(reading) {
    await kv.update(
      "latest",
      (latest) => {
        latest = latest || {};
        if (newer(reading, latest[reading.data_source_id])) {
          latest[reading.data_source_id] = slim(reading);
        }
        return latest;
      },
      data
    );
  }

  function upload(item) {
    return {
      id: item.id,
      data_source_id: item.data_source_id,
      timestamp: item.timestamp,
      values: item.values,
      confirmed: item.confirmed,
    };
  }

  /** Apply one batch result to its outbox item, unless the item was edited meanwhile. */
  async function settle(sent, result, done) {
    const item = await kv.get(sent.id, outbox);
    if (!item || item.revision !== sent.revision) return; // edited since: it is sent again
    if (result.status === "created" || result.status === "unchanged") {
      await kv.del(sent.id, outbox);
      await remember(item);
      done.push({
        id: item.id,
        data_source_id: item.data_source_id,
        values: item.values,
        timestamp: item.timestamp,
        status: result.status === "created" ? "saved" : "already there",
      });
    } else if (result.status === "conflict") {
      await kv.set(
        sent.id,
        { ...item, status: "conflict", reason: result.reason, current: result.current },
        outbox
      );
    } else {
      await kv.set(
        sent.id,
        { ...item, status: "refused", reason: result.reason, errors: result.errors },
        outbox
      );
    }
  }

  /** Send the signed-in user's waiting readings in batches; resolves to the ones stored.

      current: the session when the caller has just asked for it. The page and the service
      worker take turns (a Web Lock), so a reading is settled by one of them only. */
  function sendOutbox(current) {
    const run = () => sendAll(current);
    return root.navigator.locks ? root.navigator.locks.request(SYNC_TAG, run) : run();
  }

  async function sendAll(current) {
    current = current || (await session());
    const done = [];
    const items = (await waiting()).filter(
      (item) => item.user_id === current.user_id && item.status === "waiting"
    );
    try {
      for (let start = 0; start < items.length; start += BATCH) {
        const batch = items.slice(start, start + BATCH);
        const response = await request("/api/sync/readings", {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-CSRFToken": current.csrf_token },
          body: JSON.stringify({ readings: batch.map(upload) }),
        });
        if (!response.ok) throw new Offline("The server answered " + response.status + ".");
        const body = await json(response);
        for (const result of body.results) await settle(batch[result.index], result, done);
      }
    } finally {
      if (done.length) await note(done);
    }
    return done;
  }

  /** Resolve a conflict with the user's copy: write it over the server's reading. */
  async function keepMine(id) {
    const item = await kv.get(id, outbox);
    if (!item) return;
    if (!item.current) {
      // The id is taken by a reading this user cannot see: store it under a new id.
      await kv.del(id, outbox);
      const again = { ...item, id: newId(), status: "waiting", reason: null };
      await kv.set(again.id, again, outbox);
      return;
    }
    const current = await session();
    const response = await request(
      "/api/sources/" + item.data_source_id + "/readings/" + item.id,
      {
        method: "PUT",
        headers: { "Content-Type": "application/json", "X-CSRFToken": current.csrf_token },
        body: JSON.stringify({
          timestamp: item.timestamp,
          values: item.values,
          confirmed: item.confirmed,
        }),
      }
    );
    const body = await json(response);
    if (!response.ok) {
      await kv.set(
        id,
        { ...item, status: "refused", reason: body.detail || "Not saved.", errors: body.errors },
        outbox
      );
      return;
    }
    await kv.del(id, outbox);
    await remember(body);
    await note([{ ...item, status: "saved", current: undefined }]);
  }

  /** Resolve a conflict with the server's copy: drop the phone's. */
  async function keepServer(id) {
    const item = await kv.get(id, outbox);
    if (!item) return;
    await kv.del(id, outbox);
    if (item.current) await remember(item.current);
  }

  root.HomelogStore = {
    SYNC_TAG,
    Offline,
    SignedOut,
    session,
    load,
    refresh,
    waiting,
    add,
    edit,
    remove,
    sendOutbox,
    keepMine,
    keepServer,
  };
})(self);
