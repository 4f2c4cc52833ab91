// What a browser transfers on its first visit to the log-in page and to the dashboard
// (logged in), measured in Chromium from the network log (bytes on the wire, headers
// included), with a cold cache; then what a second visit transfers (the bundle is kept).
// Each page must hydrate (body[data-hydrated]) for its figures to count.
// Usage: node bench/bundle.cjs http://127.0.0.1:PORT  (bench/bundle starts the server)
const path = require("path");
const { chromium } = require(path.join(__dirname, "..", "end2end", "node_modules", "playwright"));

const base = process.argv[2];
if (!base) {
  console.error("usage: node bench/bundle.cjs BASE_URL");
  process.exit(2);
}

function kind(url, mime) {
  if (url.endsWith(".wasm") || mime === "application/wasm") return "wasm";
  if (mime.includes("javascript")) return "js";
  if (mime.includes("css")) return "css";
  if (mime.includes("html")) return "html";
  return "other";
}

/** Loads `url` in `page` and sums the bytes each kind of resource took on the wire. */
async function measure(page, url) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  const kinds = new Map();
  const sizes = { wasm: 0, js: 0, css: 0, html: 0, other: 0 };
  cdp.on("Network.responseReceived", (e) => kinds.set(e.requestId, kind(e.response.url, e.response.mimeType)));
  cdp.on("Network.loadingFinished", (e) => {
    const k = kinds.get(e.requestId) ?? "other";
    sizes[k] += e.encodedDataLength;
  });
  const started = Date.now();
  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector("body[data-hydrated]", { state: "attached", timeout: 60_000 });
  const hydratedMs = Date.now() - started;
  await page.waitForLoadState("networkidle");
  await cdp.detach();
  return { sizes, hydratedMs };
}

function line(name, visit, { sizes, hydratedMs }) {
  const kb = (n) => (n / 1024).toFixed(1);
  const bundle = sizes.wasm + sizes.js + sizes.css;
  const total = bundle + sizes.html + sizes.other;
  console.log(
    `page=${name} visit=${visit} bundle_kb=${kb(bundle)} wasm_kb=${kb(sizes.wasm)} js_kb=${kb(sizes.js)} ` +
      `css_kb=${kb(sizes.css)} html_kb=${kb(sizes.html)} other_kb=${kb(sizes.other)} total_kb=${kb(total)} ` +
      `hydrated_ms=${hydratedMs}`,
  );
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  try {
    // The log-in page, as a visitor sees it first.
    const visitor = await browser.newContext();
    const login = await visitor.newPage();
    line("/login", "first", await measure(login, `${base}/login`));
    line("/login", "again", await measure(login, `${base}/login`));
    await visitor.close();

    // The dashboard of a user with a few projects, after logging in elsewhere (the
    // cache is cold: the log-in happened through the API).
    const user = await browser.newContext();
    const api = (endpoint, form) =>
      user.request.post(`${base}/api/${endpoint}`, {
        form,
        headers: { origin: base, "sec-fetch-site": "same-origin", accept: "application/json" },
      });
    const signup = await api("signup", { email: `bundle-${Date.now()}@example.com`, password: "correct horse battery" });
    if (!signup.ok()) throw new Error(`signup answered ${signup.status()}: ${await signup.text()}`);
    for (const name of ["Lumen launch", "Spring sale", "Café opening ☕"]) {
      const created = await api("projects/create", { name, format: "9:16" });
      if (!created.ok()) throw new Error(`projects/create answered ${created.status()}`);
    }
    const dashboard = await user.newPage();
    line("/", "first", await measure(dashboard, `${base}/`));
    line("/", "again", await measure(dashboard, `${base}/`));
    await user.close();
  } finally {
    await browser.close();
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
