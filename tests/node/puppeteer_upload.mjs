// Sets files on a page's file input with Puppeteer's uploadFile (CDP DOM.setFileInputFiles with paths) through a
// browserpool session, and prints what the page got and what a path outside the session's directory answered.
// usage: node puppeteer_upload.mjs <cdp_url> <page with <input id=f type=file>> <uploaded path>
import puppeteer from "puppeteer-core";

const [endpoint, url, uploaded] = process.argv.slice(2);
const browser = await puppeteer.connect({ browserWSEndpoint: endpoint, defaultViewport: null });
const [page] = await browser.pages();
await page.goto(url);
const input = await page.$("#f");
await input.uploadFile(uploaded);
const picked = await page.evaluate(() => [...document.getElementById("f").files].map((f) => [f.name, f.size]));
let refused = null;
try {
  await input.uploadFile("/etc/passwd");
} catch (error) {
  refused = String(error.message);
}
await browser.disconnect();
console.log(JSON.stringify({ picked, refused }));
