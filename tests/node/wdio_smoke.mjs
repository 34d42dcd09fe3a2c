// One WebdriverIO session through the pool's /webdriver: type, click, read back, quit.
// Usage: node wdio_smoke.mjs WEBDRIVER_URL API_KEY SITE_URL  -> prints one JSON line
import { remote } from "webdriverio";

const [address, key, site] = process.argv.slice(2);
const url = new URL(address);
const browser = await remote({
  protocol: url.protocol.replace(":", ""),
  hostname: url.hostname,
  port: Number(url.port),
  path: url.pathname,
  headers: { "X-API-Key": key }, // on every command (WebdriverIO's user/key go only with New Session)
  logLevel: "error",
  capabilities: {
    browserName: "chrome",
    "wdio:enforceWebDriverClassic": true, // WebdriverIO 9 asks for BiDi otherwise, which the pool does not serve yet
    "goog:chromeOptions": { args: ["--window-size=800,600"] },
  },
});
await browser.url(site + "/form");
await (await browser.$("#name")).setValue("wdio");
await (await browser.$("#go")).click();
const out = await (await browser.$("#out")).getText();
const width = await browser.execute(() => window.innerWidth);
const sessionId = browser.sessionId;
await browser.deleteSession();
console.log(JSON.stringify({ sessionId, out, width }));
