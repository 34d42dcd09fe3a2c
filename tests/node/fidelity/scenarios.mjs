// Puppeteer's side of the fidelity suite: scenarios where Puppeteer's API works differently from Playwright's.
// usage: node scenarios.mjs <browserWSEndpoint> <env JSON: {main, other, ws, closed, tmp}>
// Prints one JSON line per scenario: {"name": ..., "observation": ...}; an exception becomes {error, message}.
// Each scenario connects afresh to the same endpoint (through the pool: the same session) and closes what it opened.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import puppeteer from "puppeteer-core";

const [endpoint, envJson] = process.argv.slice(2);
const env = JSON.parse(envJson);
const STEP_MS = 5000;
const SCENARIO_MS = 20000;
const scenarios = [];

function scenario(name, fn) {
  scenarios.push([name, fn]);
}

function errorShape(error) {
  const text = String(error && error.message ? error.message : error);
  return { error: error && error.name ? error.name : "Error", message: text.split("\n")[0] };
}

function whichPort(address) {
  // Ports are picked per run: say whose port answered (the site's own, or another: a proxy's).
  const sitePort = Number(new URL(env.main).port);
  return address && { ip: address.ip, port: address.port === sitePort ? "the site's" : "another" };
}

function pngSize(data) {
  return [data.readUInt32BE(16), data.readUInt32BE(20)];
}

async function newPage(browser) {
  const page = await browser.newPage();
  page.setDefaultTimeout(STEP_MS);
  return page;
}

scenario("pp_connect_shape", async (browser) => {
  const pages = await browser.pages();
  return {
    pages: pages.map((p) => p.url()),
    contexts: browser.browserContexts().length,
    defaultPages: (await browser.defaultBrowserContext().pages()).length,
    product: (await browser.version()).split("/")[0],
    connected: browser.connected,
  };
});

scenario("pp_new_page_goto", async (browser) => {
  const before = (await browser.pages()).length;
  const page = await newPage(browser);
  const response = await page.goto(env.main + "/");
  const during = (await browser.pages()).length;
  const title = await page.title();
  await page.close();
  return { status: response.status(), title, added: during - before, after: (await browser.pages()).length - before };
});

scenario("pp_create_browser_context", async (browser) => {
  const before = browser.browserContexts().length;
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.goto(env.main + "/page/incognito");
  const seen = { added: browser.browserContexts().length - before, pages: (await context.pages()).length, title: await page.title() };
  await context.close();
  return { ...seen, after: browser.browserContexts().length - before, closed: context.closed };
});

scenario("pp_contexts_keep_cookies_apart", async (browser) => {
  const [a, b] = [await browser.createBrowserContext(), await browser.createBrowserContext()];
  try {
    const pageA = await a.newPage();
    await pageA.goto(env.main + "/set-cookie/");
    const pageB = await b.newPage();
    await pageB.goto(env.main + "/page/b");
    return { a: (await a.cookies()).map((c) => c.name).sort(), b: (await b.cookies()).length };
  } finally {
    await a.close();
    await b.close();
  }
});

scenario("pp_page_cdp_session", async (browser) => {
  const page = await newPage(browser);
  try {
    await page.goto(env.main + "/page/cdp");
    const client = await page.createCDPSession();
    const value = await client.send("Runtime.evaluate", { expression: "6 * 7", returnByValue: true });
    const info = await client.send("Target.getTargetInfo");
    await client.detach();
    const viaTarget = await page.target().createCDPSession();
    const again = await viaTarget.send("Runtime.evaluate", { expression: "location.pathname", returnByValue: true });
    await viaTarget.detach();
    return { value: value.result.value, type: info.targetInfo.type, path: again.result.value };
  } finally {
    await page.close();
  }
});

scenario("pp_browser_target_session", async (browser) => {
  const client = await browser.target().createCDPSession();
  const version = await client.send("Browser.getVersion");
  const targets = await client.send("Target.getTargets");
  await client.detach();
  return { product: version.product.split("/")[0], types: [...new Set(targets.targetInfos.map((t) => t.type))].sort() };
});

scenario("pp_browser_pages_and_targets", async (browser) => {
  const before = (await browser.pages()).length;
  const [one, two] = [await newPage(browser), await newPage(browser)];
  await one.goto(env.main + "/page/one");
  const target = await browser.waitForTarget((t) => t.url().endsWith("/page/one"));
  const during = (await browser.pages()).length - before;
  const type = target.type();
  await one.close();
  await two.close();
  return { during, type, after: (await browser.pages()).length - before };
});

scenario("pp_goto_errors", async (browser) => {
  const page = await newPage(browser);
  const outcomes = [];
  // (An invalid URL such as "http://[::1" is left to the Playwright suite: Puppeteer's page.close() can hang after it.)
  for (const url of [env.closed, "http://" + "x".repeat(64) + ".example/", env.main + "/status/500"]) {
    try {
      const response = await page.goto(url);
      outcomes.push(response ? response.status() : null);
    } catch (error) {
      outcomes.push(errorShape(error).message);
    }
  }
  await page.close();
  return outcomes;
});

scenario("pp_goto_status_and_redirects", async (browser) => {
  const page = await newPage(browser);
  const missing = await page.goto(env.main + "/status/404");
  const redirected = await page.goto(env.main + "/redirect/2");
  const chain = redirected.request().redirectChain().map((r) => r.url());
  const addr = whichPort(redirected.remoteAddress());
  await page.close();
  return { missing: missing.status(), final: redirected.url(), chain, remote: addr };
});

scenario("pp_download_behavior", async (browser) => {
  const dir = join(env.tmp, "pp-downloads");
  mkdirSync(dir, { recursive: true });
  const page = await newPage(browser);
  try {
    const client = await page.createCDPSession();
    await client.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: dir, eventsEnabled: true });
    const done = new Promise((resolve) => {
      client.on("Browser.downloadProgress", (e) => {
        if (e.state !== "inProgress") resolve(e.state);
      });
    });
    const began = new Promise((resolve) => client.on("Browser.downloadWillBegin", (e) => resolve(e.suggestedFilename)));
    await page.goto(env.main + "/download-link");
    await page.click("#dl");
    const name = await began;
    const state = await Promise.race([done, new Promise((r) => setTimeout(() => r("no progress event"), 5000))]);
    const files = readdirSync(dir);
    const sizes = files.map((f) => statSync(join(dir, f)).size);
    return { name, state, files, sizes };
  } finally {
    await page.close();
  }
});

scenario("pp_popup_window_open", async (browser) => {
  const page = await newPage(browser);
  try {
    await page.goto(env.main + "/page/opener");
    const [popup] = await Promise.all([
      new Promise((resolve) => page.once("popup", resolve)),
      page.evaluate((url) => window.open(url), env.main + "/popup/target"),
    ]);
    await popup.waitForFunction(() => document.readyState === "complete");
    const seen = { url: popup.url(), title: await popup.title(), listed: (await browser.pages()).includes(popup) };
    await popup.close();
    return seen;
  } finally {
    await page.close();
  }
});

scenario("pp_cookies", async (browser) => {
  const page = await newPage(browser);
  try {
    await page.goto(env.main + "/page/cookies");
    await page.setCookie({ name: "pp", value: "1", url: env.main });
    const names = (await page.cookies()).map((c) => c.name).sort();
    const viaBrowser = (await browser.cookies()).filter((c) => c.name === "pp").length;
    await page.deleteCookie({ name: "pp", url: env.main });
    return { names, viaBrowser, after: (await page.cookies()).length };
  } finally {
    await page.close();
  }
});

scenario("pp_page_tracing", async (browser) => {
  const page = await newPage(browser);
  try {
    await page.tracing.start({ path: join(env.tmp, "pp-trace.json") });
    await page.goto(env.main + "/page/traced");
    const data = await page.tracing.stop();
    return { bytes: data ? data.length > 0 : null };
  } finally {
    await page.close();
  }
});

scenario("pp_request_interception", async (browser) => {
  const page = await newPage(browser);
  try {
    await page.setRequestInterception(true);
    page.on("request", (request) => {
      if (request.url().endsWith("/api/pp")) request.respond({ status: 202, contentType: "text/plain", body: "intercepted" });
      else request.continue();
    });
    await page.goto(env.main + "/page/intercept");
    return await page.evaluate(() => fetch("/api/pp").then(async (r) => [r.status, await r.text()]));
  } finally {
    await page.close();
  }
});

scenario("pp_dialogs", async (browser) => {
  const page = await newPage(browser);
  try {
    page.on("dialog", (dialog) => (dialog.type() === "prompt" ? dialog.accept("typed") : dialog.accept()).catch(() => null));
    await page.goto(env.main + "/page/dialogs");
    return await page.evaluate(() => [confirm("sure?"), prompt("name?", "default")]);
  } finally {
    await page.close();
  }
});

scenario("pp_upload_file", async (browser) => {
  const local = join(env.tmp, "pp-upload.txt");
  writeFileSync(local, "puppeteer upload");
  const page = await newPage(browser);
  try {
    await page.goto(env.main + "/upload");
    const input = await page.$("#file");
    await input.uploadFile(local);
    await page.waitForFunction(() => window.__files !== null);
    return await page.evaluate(() => window.__files);
  } finally {
    await page.close();
  }
});

scenario("pp_screenshot_pdf", async (browser) => {
  const page = await newPage(browser);
  try {
    await page.setViewport({ width: 640, height: 360 });
    await page.goto(env.main + "/tall");
    // Two frames painted first: right after a resize and a cross-process navigation, a capture can find no
    // frame yet on a busy machine ("Unable to capture screenshot"), on a local Chromium as through the pool.
    await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
    const shot = Buffer.from(await page.screenshot());
    const full = Buffer.from(await page.screenshot({ fullPage: true }));
    const pdf = Buffer.from(await page.pdf());
    return { shot: pngSize(shot), full: pngSize(full), pdf: pdf.subarray(0, 5).toString() };
  } finally {
    await page.close();
  }
});

scenario("pp_emulation", async (browser) => {
  const page = await newPage(browser);
  try {
    await page.setViewport({ width: 375, height: 667, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    await page.setUserAgent({ userAgent: "PuppetFidelity/1" });
    await page.emulateTimezone("America/Lima");
    await page.goto(env.main + "/echo");
    const echoed = JSON.parse(await page.evaluate(() => document.body.innerText));
    const ua = echoed.headers.filter(([k]) => k.toLowerCase() === "user-agent").map(([, v]) => v);
    return {
      seen: await page.evaluate(() => [innerWidth, devicePixelRatio, "ontouchstart" in window, navigator.userAgent]),
      zone: await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone),
      serverUa: ua,
    };
  } finally {
    await page.close();
  }
});

scenario("pp_frames", async (browser) => {
  const page = await newPage(browser);
  try {
    await page.goto(env.main + "/frames/nested");
    await page.waitForFrame((f) => f.name() === "leaf");
    const leaf = page.frames().find((f) => f.name() === "leaf");
    await leaf.waitForSelector("#c");
    return { frames: page.frames().map((f) => [f.name(), f.url()]), leaf: await leaf.evaluate(() => location.origin) };
  } finally {
    await page.close();
  }
});

scenario("pp_workers", async (browser) => {
  const page = await newPage(browser);
  try {
    const created = new Promise((resolve) => page.once("workercreated", resolve));
    await page.goto(env.main + "/worker");
    const worker = await created;
    // the worker's answer means its script has run, so what it defined is there to evaluate
    const reply = await page.evaluate(() => new Promise((resolve) => { w.onmessage = (e) => resolve(e.data); w.postMessage("ping"); }));
    return { url: worker.url(), reply, name: await worker.evaluate(() => self.workerName), count: page.workers().length };
  } finally {
    await page.close();
  }
});

scenario("pp_expose_and_init", async (browser) => {
  const page = await newPage(browser);
  try {
    await page.evaluateOnNewDocument(() => {
      window.ppEarly = "early";
    });
    await page.exposeFunction("ppTriple", (n) => n * 3);
    await page.goto(env.main + "/page/exposed");
    return await page.evaluate(async () => [window.ppEarly, await window.ppTriple(5)]);
  } finally {
    await page.close();
  }
});

scenario("pp_download_file_bytes", async (browser) => {
  const dir = join(env.tmp, "pp-bytes");
  mkdirSync(dir, { recursive: true });
  const context = await browser.createBrowserContext({ downloadBehavior: { policy: "allow", downloadPath: dir } });
  try {
    const page = await context.newPage();
    await page.goto(env.main + "/download-link");
    await page.click("#dl");
    const deadline = Date.now() + 4000;
    while (Date.now() < deadline && !readdirSync(dir).some((f) => !f.endsWith(".crdownload"))) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const files = readdirSync(dir).filter((f) => !f.endsWith(".crdownload"));
    const sha = files.map((f) => createHash("sha256").update(readFileSync(join(dir, f))).digest("hex").slice(0, 16));
    return { files, sha };
  } finally {
    await context.close();
  }
});

async function runOne(fn) {
  const browser = await puppeteer.connect({ browserWSEndpoint: endpoint, defaultViewport: null, protocolTimeout: 15000 });
  let timer;
  try {
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`scenario did not finish in ${SCENARIO_MS} ms`)), SCENARIO_MS);
    });
    return await Promise.race([fn(browser), timeout]);
  } catch (error) {
    return errorShape(error);
  } finally {
    clearTimeout(timer);
    await browser.disconnect().catch(() => null);
  }
}

const only = process.env.FIDELITY_ONLY ? new Set(process.env.FIDELITY_ONLY.split(",")) : null;
for (const [name, fn] of scenarios) {
  if (only && !only.has(name)) continue;
  const started = Date.now();
  const observation = await runOne(fn);
  process.stdout.write(JSON.stringify({ name, observation, ms: Date.now() - started }) + "\n");
}
process.exit(0);
