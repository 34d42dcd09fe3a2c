"""A REST evaluate whose result is written as JSON in the page, and sent only if it is small enough.

One `page.evaluate` of a function that evaluates the expression the way Playwright's own evaluate does (a
global eval; a function it yields is called; a promise is awaited), then writes the value as the JSON the
API answers with, stopping as soon as the text passes the bound. Only a string within the bound, or the
number of characters counted when it is not, ever leaves the page: the check is on a string the function
built itself, so no getter, toJSON, prototype or built-in a page swaps in can make more cross than was
counted. (A handle would not do: CDP sends a primitive result, a 100 MiB string say, whole even when
asked for a handle.)

The JSON is what Playwright's evaluate and workers/pages/jsonable.py gave before for every ordinary value:
objects, arrays (holes as null), strings, numbers, booleans, null; undefined, functions and symbols as
null; NaN and the infinities as strings; dates as Python's isoformat in UTC; big integers as numbers;
typed arrays as lists; errors as their message; nodes, documents and windows as "ref: <Node>" and so on.
Values that used to come out mangled now read plainly: a RegExp as its source ("/ab+c/gi"), a URL as
its href, an invalid date as null, and a reference cycle as null where it closes (it used to be a 500).
"""

import json
from typing import Any

from playwright.async_api import Page

from orchestrator.errors import ActionFailed

MIB = 1024 * 1024

# [expression, limit] => the result as JSON text (a string), or the characters counted past `limit` (a number).
EVALUATE_AS_JSON = """async ([expression, limit]) => {
  let value = globalThis.eval(expression);
  if (typeof value === "function") value = value();
  if (value && typeof value.then === "function") value = await value;
  const over = {};
  const parts = [];
  const path = [];
  let size = 0;
  const put = text => {
    size += text.length;
    if (size > limit) throw over;
    parts.push(text);
  };
  const tag = v => Object.prototype.toString.call(v);
  const isoDate = d => {
    const t = d.getTime();
    if (!Number.isFinite(t)) return null;
    const text = d.toISOString();
    const ms = t - Math.floor(t / 1000) * 1000;
    return text.slice(0, 19) + (ms ? "." + String(ms * 1000).padStart(6, "0") : "") + "+00:00";
  };
  const number = v => Number.isFinite(v) ? (Object.is(v, -0) ? "-0.0" : String(v)) : '"' + String(v) + '"';
  const write = v => {
    if (typeof v === "string") {
      if (size + v.length + 2 > limit) { size += v.length + 2; throw over; }
      put(JSON.stringify(v));
      return;
    }
    if (typeof v === "number") return put(number(v));
    if (typeof v === "boolean") return put(v ? "true" : "false");
    if (typeof v === "bigint") return put(v.toString());
    if (v === null || typeof v !== "object") return put("null");
    if (typeof Window === "function" && v instanceof Window) return put('"ref: <Window>"');
    if (typeof Document === "function" && v instanceof Document) return put('"ref: <Document>"');
    if (typeof Node === "function" && v instanceof Node) return put('"ref: <Node>"');
    if (path.includes(v)) return put("null");
    const kind = tag(v);
    if (v instanceof Error || kind === "[object Error]") return write(String(v.message));
    if (v instanceof Date || kind === "[object Date]") return isoDate(v) === null ? put("null") : write(isoDate(v));
    if (v instanceof RegExp || kind === "[object RegExp]") return write(String(v));
    if (typeof URL === "function" && v instanceof URL) return write(v.href);
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      if (size + 2 * v.length > limit) { size += 2 * v.length; throw over; }  // before copying it out
      return list(Array.from(v));
    }
    if (v instanceof ArrayBuffer) return put("{}");
    path.push(v);
    try {
      if (Array.isArray(v)) return list(v);
      const keys = Object.keys(v);
      if (!keys.length && typeof v.toJSON === "function") return write(v.toJSON());
      put("{");
      let first = true;
      for (const key of keys) {
        let item;
        try { item = v[key]; } catch (e) { continue; }
        put((first ? "" : ",") + JSON.stringify(key) + ":");
        first = false;
        if (key === "toJSON" && typeof item === "function") put("{}"); else write(item);
      }
      put("}");
    } finally {
      path.pop();
    }
  };
  const list = items => {
    put("[");
    for (let i = 0; i < items.length; i++) {
      if (i) put(",");
      write(items[i]);
    }
    put("]");
  };
  try {
    write(value);
  } catch (e) {
    if (e === over) return size;
    if (e instanceof RangeError) return "null";  // nested too deep to write: as Playwright gave it, nothing
    throw e;
  }
  return parts.join("");
}"""


async def bounded_evaluate(page: Page, expression: str, limit: int) -> Any:
    """The expression's value, as JSON values; ActionFailed (a 400) when it would be larger than `limit`."""
    answer = await page.evaluate(EVALUATE_AS_JSON, [expression, limit])
    if not isinstance(answer, str):
        raise ActionFailed(too_large(limit), upstream=False)
    try:
        return json.loads(answer)
    except ValueError as exc:  # the page replaced JSON.stringify with something that writes no JSON
        raise ActionFailed(f"the evaluate result could not be read as JSON: {exc}", upstream=False) from exc


def too_large(limit: int) -> str:
    return (
        f"the evaluate result is larger than this pool's bound of {limit / MIB:g} Mi characters of JSON "
        "(BROWSERPOOL_MAX_EVALUATE_RESULT_BYTES). Return only what you need (select fields, count or summarise "
        "in the page), read large data in parts (slices over several evaluate calls), or take it over the "
        "session's cdp_url (keep it in the page with Runtime.evaluate returnByValue false and read slices)."
    )
