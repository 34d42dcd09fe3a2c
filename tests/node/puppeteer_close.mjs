// Connects to a browserpool session with puppeteer-core and closes the browser, as a script would at its end.
// usage: node puppeteer_close.mjs <cdp_url>; prints what it saw as JSON.
import puppeteer from "puppeteer-core";

const [endpoint] = process.argv.slice(2);
const browser = await puppeteer.connect({ browserWSEndpoint: endpoint, defaultViewport: null });
const pages = (await browser.pages()).length;
const started = Date.now();
await browser.close();
console.log(JSON.stringify({ pages, closeMs: Date.now() - started, disconnected: !browser.connected }));
