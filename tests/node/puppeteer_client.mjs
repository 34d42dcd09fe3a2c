// Drives a browserpool session over its cdp_url with puppeteer-core and prints what it saw as JSON.
// usage: node puppeteer_client.mjs <cdp_url> <url to open>
import puppeteer from "puppeteer-core";

const [endpoint, url] = process.argv.slice(2);
const browser = await puppeteer.connect({ browserWSEndpoint: endpoint, defaultViewport: null });
const before = await browser.pages();
const page = before[0];
const marker = await page.evaluate(() => window.__browserpoolMarker ?? null);
await page.goto(url);
const seen = await page.evaluate(() => [innerWidth, innerHeight, navigator.userAgent, document.title]);
const shot = await page.screenshot({ encoding: "base64" });
const extra = await browser.newPage();
await extra.goto(url);
const after = await browser.pages();
const contexts = browser.browserContexts().length;
await browser.disconnect();
console.log(JSON.stringify({
  pagesBefore: before.length, marker, seen, screenshotBytes: Buffer.from(shot, "base64").length,
  pagesAfter: after.length, contexts,
}));
