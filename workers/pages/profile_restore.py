"""Writing a profile's origins (localStorage and IndexedDB) into a session's context before the session is handed
out, faster than Playwright's `set_storage_state`, which visits the origins one after another.

Storage can only be written from a document of its origin, and under site isolation each site's document needs a
renderer process of its own (~35 ms to start here): that start is what restoring costs. So the main frame of one
hidden page of the context opens the first origin and frames the others (up to ORIGINS_PER_PAGE at once): the
renderers of different sites start side by side, same-site origins share one, and each frame writes its own
origin's storage. Every request of that page, iframes included, is answered inside the browser (an empty document,
or the one framing the origins): nothing leaves the browser. The page is closed before the session is handed out; the
session's own page is never touched and stays on about:blank.

An iframe writes the same storage as a top-level page of its origin because Playwright launches Chromium without
third-party storage partitioning (its `--disable-features=ThirdPartyStoragePartitioning`). Where a build refuses
storage to a third-party frame, or for an origin that cannot be framed, that origin is written from the page's
main frame instead (one navigation each, as Playwright does). Each writer first checks that its document really is
the origin it writes, so nothing is ever written to another origin.

Playwright remembers every origin its pages' frames navigated to, so the origins written here are read back when
the session's profile is saved, even if the session itself never opened them.
"""

import asyncio
import html
from typing import Any

from playwright.async_api import BrowserContext, Page, Route
from playwright.async_api import Error as PlaywrightError

ORIGINS_PER_PAGE = 4  # iframes at once: at most this many renderers start together for one restore

# Writes one origin's entry of a storage-state document into the frame's own storage: localStorage items, and
# IndexedDB databases in the shape Playwright's `storage_state(indexed_db=True)` gives them (records hold `value` /
# `key` as plain JSON, or `valueEncoded` / `keyEncoded` in Playwright's serialized form for Dates, Maps, typed
# arrays and the like). Resolves once every IndexedDB transaction completed.
WRITE_ORIGIN = """async (state) => {
  const expected = new URL(state.origin).origin;
  if (location.origin !== expected)
    throw new Error(`this document is ${location.origin}, not ${expected}`);
  const done = (request) => new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const bytes = (base64) => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const typed = { i8: Int8Array, ui8: Uint8Array, ui8c: Uint8ClampedArray, i16: Int16Array, ui16: Uint16Array,
    i32: Int32Array, ui32: Uint32Array, f32: Float32Array, f64: Float64Array, bi64: BigInt64Array,
    bui64: BigUint64Array };
  const special = { undefined: undefined, null: null, NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity,
    '-0': -0 };
  const decode = (value, refs) => {
    if (typeof value !== 'object' || value === null) return value;
    if ('ref' in value) return refs.get(value.ref);
    if ('v' in value) return special[value.v];
    if ('d' in value) return new Date(value.d);
    if ('u' in value) return new URL(value.u);
    if ('bi' in value) return BigInt(value.bi);
    if ('e' in value) {
      const error = new Error(value.e.m);
      error.name = value.e.n;
      error.stack = value.e.s;
      return error;
    }
    if ('r' in value) return new RegExp(value.r.p, value.r.f);
    if ('a' in value) {
      const out = [];
      refs.set(value.id, out);
      for (const item of value.a) out.push(decode(item, refs));
      return out;
    }
    if ('o' in value) {
      const out = {};
      refs.set(value.id, out);
      for (const { k, v } of value.o) if (k !== '__proto__') out[k] = decode(v, refs);
      return out;
    }
    if ('m' in value) {
      const out = new Map();
      refs.set(value.id, out);
      for (const { k, v } of value.m) out.set(decode(k, refs), decode(v, refs));
      return out;
    }
    if ('s' in value) {
      const out = new Set();
      refs.set(value.id, out);
      for (const item of value.s) out.add(decode(item, refs));
      return out;
    }
    if ('ta' in value) {
      const Kind = typed[value.ta.k];
      if (!Kind) throw new Error(`unknown typed array kind ${value.ta.k}`);
      return new Kind(bytes(value.ta.b).buffer);
    }
    if ('ab' in value) return bytes(value.ab.b).buffer;
    throw new Error(`cannot decode ${JSON.stringify(value).slice(0, 80)}`);
  };
  const writeDatabase = async (database) => {
    const open = indexedDB.open(database.name, database.version);
    open.onupgradeneeded = () => {
      for (const store of database.stores) {
        const made = open.result.createObjectStore(store.name,
          { autoIncrement: store.autoIncrement, keyPath: store.keyPathArray ?? store.keyPath });
        for (const index of store.indexes)
          made.createIndex(index.name, index.keyPathArray ?? index.keyPath,
            { unique: index.unique, multiEntry: index.multiEntry });
      }
    };
    const db = await done(open);
    try {
      if (db.objectStoreNames.length === 0) return;
      const tx = db.transaction(db.objectStoreNames, 'readwrite');
      const committed = new Promise((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
      });
      for (const store of database.stores) {
        const target = tx.objectStore(store.name);
        for (const record of store.records)
          target.add('value' in record ? record.value : decode(record.valueEncoded, new Map()),
                     'key' in record ? record.key : decode(record.keyEncoded, new Map()));
      }
      await committed;
    } finally {
      db.close();
    }
  };
  for (const { name, value } of state.localStorage) localStorage.setItem(name, value);
  try {
    await Promise.all((state.indexedDB || []).map(writeDatabase));
  } catch (e) {
    throw new Error(`IndexedDB: ${e && e.message}`);
  }
}"""


def has_storage(origin: dict[str, Any]) -> bool:
    return bool(origin.get("localStorage") or origin.get("indexedDB"))


def frameable(origin: str) -> bool:
    return origin.startswith(("http://", "https://"))


async def write_origins(context: BrowserContext, origins: list[dict[str, Any]]) -> None:
    """Write the storage of every origin that has some; raises PlaywrightError if one cannot be written."""
    # Only web origins are ever opened: a stored profile that names a file: or chrome: origin (refused at import
    # since, but older ones may) never makes the pool open a host file or a browser page in a tenant's context.
    latest = {o["origin"]: o for o in origins if has_storage(o) and frameable(str(o.get("origin", "")))}
    if not latest:
        return
    # http first: an https document may not frame an http one (mixed content), the other way round is fine.
    framed = sorted(latest.values(), key=lambda o: o["origin"][:5] != "http:")
    page = await context.new_page()
    documents = _Documents(page)
    try:
        await page.route("**/*", documents.answer)
        refused: list[dict[str, Any]] = []
        for start in range(0, len(framed), ORIGINS_PER_PAGE):
            refused += await _write_batch(page, documents, framed[start : start + ORIGINS_PER_PAGE])
        for origin in refused:
            documents.framing = []
            await page.goto(origin["origin"] + "/", wait_until="load")
            await page.main_frame.evaluate(WRITE_ORIGIN, origin)
    finally:
        await page.close()


class _Documents:
    """Answers every request of the hidden page inside the browser: its main frame gets a document framing the
    origins of the batch being written, everything else an empty document."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.framing: list[str] = []

    async def answer(self, route: Route) -> None:
        body = "<!doctype html><html></html>"
        if route.request.frame == self.page.main_frame and route.request.is_navigation_request():
            frames = "".join(
                f'<iframe name="origin-{i}" src="{html.escape(origin + "/", quote=True)}"></iframe>'
                for i, origin in enumerate(self.framing, start=1)
            )
            body = f"<!doctype html><html><body>{frames}</body></html>"
        await route.fulfill(status=200, content_type="text/html", body=body)


async def _write_batch(page: Page, documents: _Documents, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The main frame opens the first origin, framing the others (same-site ones share its renderer, other sites
    start theirs side by side); each frame writes its own origin. Returns the origins a frame could not write."""
    top, *framed = batch
    documents.framing = [o["origin"] for o in framed]
    await page.goto(top["origin"] + "/", wait_until="load")

    async def write(index: int, origin: dict[str, Any]) -> dict[str, Any] | None:
        frame = page.main_frame if index == 0 else page.frame(name=f"origin-{index}")
        if frame is None:
            return origin
        try:
            await frame.evaluate(WRITE_ORIGIN, origin)
        except PlaywrightError:
            if index == 0:
                raise
            return origin  # refused to a third-party frame, or not its origin: the main frame tries it alone
        return None

    results = await asyncio.gather(*(write(i, o) for i, o in enumerate(batch)))
    return [o for o in results if o is not None]
