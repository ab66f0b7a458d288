// The HTML scan report in a real browser: Debian's chromium driven by playwright-core, the page
// opened from disk (file://), offline.
//
// Checks: nothing is loaded from anywhere but the file; typing in the search box narrows the
// rows; the severity, kind and account filters narrow them; clicking a column header (or
// pressing Enter on it) sorts the rows and sets aria-sort; each escalation path is drawn as a
// chain of steps linked to their technique's guide; a finding's "How to fix" shows its kind's
// fix; without JavaScript every row is shown; axe-core finds no serious or critical violation.
// Screenshots of the page's top (summary, filters, first findings) at desktop and phone widths
// go to $OUT/report-desktop.png and report-phone.png.
//
// Usage: REPORT_HTML=path/to/report.html node report.mjs
// (the report from `latch scan --format html --out report.html`)
import { readFileSync, mkdirSync } from "node:fs";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const report = process.env.REPORT_HTML;
const browserPath = process.env.CHROMIUM || "/usr/bin/chromium";
const out = process.env.OUT || join(here, "..", "..", "target", "console-e2e");
if (!report) throw new Error("set REPORT_HTML to an HTML report from `latch scan --format html`");
mkdirSync(out, { recursive: true });
const url = pathToFileURL(resolve(report)).href;

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures += 1;
}

const browser = await chromium.launch({ executablePath: browserPath, args: ["--no-sandbox"] });
const axeSource = readFileSync(join(here, "node_modules", "axe-core", "axe.min.js"), "utf8");

async function open(width, height, options = {}) {
  const context = await browser.newContext({ viewport: { width, height }, ...options });
  const page = await context.newPage();
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  return { context, page, requests, errors };
}

// The rows shown, as the reader sees them.
const shown = (page) =>
  page.$$eval("#findings-table tbody tr", (rows) =>
    rows
      .filter((r) => !r.hidden && r.offsetParent !== null)
      .map((r) => ({
        sev: r.dataset.sev,
        kind: r.dataset.kind,
        acct: r.dataset.acct,
        principal: r.cells[2].textContent.trim().toLowerCase(),
        text: Array.from(r.querySelectorAll(".s"), (c) => c.textContent).join(" ").toLowerCase(),
      })),
  );
const countText = (page) => page.locator("#count").innerText();
const sortedAsc = (values) => values.every((v, i) => i === 0 || values[i - 1] <= v);
const sortedDesc = (values) => values.every((v, i) => i === 0 || values[i - 1] >= v);

const { context, page, requests, errors } = await open(1280, 900);
check(
  requests.every((r) => r.startsWith("file:") || r.startsWith("data:")),
  `nothing is loaded but the file (${requests.length} request(s))`,
);
const total = await page.locator("#findings-table tbody tr").count();
check(total > 5, `the report lists ${total} findings`);
check((await shown(page)).length === total, "every finding is shown at first");
check((await countText(page)) === `Showing all ${total} findings`, `the count says so (${await countText(page)})`);
check(await page.getByRole("search", { name: "Filter findings" }).isVisible(), "the filters are shown");

// Search: a word of the last row's principal.
const term = (await page.locator("#findings-table tbody tr .who").last().innerText()).split("/").pop().toLowerCase();
await page.getByLabel("Search").fill(term);
await page.waitForFunction((t) => document.querySelector("#count").textContent !== `Showing all ${t} findings`, total);
let rows = await shown(page);
check(
  rows.length > 0 && rows.length < total && rows.every((r) => r.text.includes(term)),
  `searching "${term}" narrows the rows to ${rows.length}, each holding it`,
);
check((await countText(page)) === `Showing ${rows.length} of ${total} findings`, `the count follows (${await countText(page)})`);
await page.getByRole("button", { name: "Clear filters" }).click();
await page.waitForFunction((t) => document.querySelector("#count").textContent === `Showing all ${t} findings`, total);
check((await shown(page)).length === total, "clearing the filters shows every row again");

// Each filter, on the value with the fewest findings.
for (const [label, field] of [
  ["Severity", "sev"],
  ["Kind", "kind"],
  ["Account", "acct"],
]) {
  const select = page.getByLabel(label, { exact: true });
  const options = await select.locator("option").evaluateAll((os) =>
    os.filter((o) => o.value).map((o) => ({ value: o.value, n: Number(o.textContent.match(/\((\d+)\)$/)[1]) })),
  );
  const fewest = options.reduce((a, b) => (b.n < a.n ? b : a));
  await select.selectOption(fewest.value);
  rows = await shown(page);
  check(
    options.length > 1 && rows.length === fewest.n && rows.length < total && rows.every((r) => r[field] === fewest.value),
    `the ${label.toLowerCase()} filter on ${fewest.value} shows its ${fewest.n} finding(s) of ${total}`,
  );
  await select.selectOption("");
}
// Filters combine with the search.
await page.getByLabel("Severity", { exact: true }).selectOption("critical");
const critical = (await shown(page)).length;
await page.getByLabel("Kind", { exact: true }).selectOption("escalation-path");
rows = await shown(page);
check(
  rows.length > 0 && rows.length <= critical && rows.every((r) => r.sev === "critical" && r.kind === "escalation-path"),
  `severity and kind filters combine (${rows.length} critical escalation paths)`,
);
await page.getByRole("button", { name: "Clear filters" }).click();
await page.waitForFunction((t) => document.querySelector("#count").textContent === `Showing all ${t} findings`, total);

// Sorting: a click on Principal sorts ascending, a second descending; Enter on Kind sorts by kind.
const principalHeader = page.locator("th", { has: page.getByRole("button", { name: "Principal" }) });
await page.getByRole("button", { name: "Principal" }).click();
let principals = (await shown(page)).map((r) => r.principal);
check(sortedAsc(principals) && !sortedDesc(principals), "clicking Principal sorts the rows by principal, ascending");
check((await principalHeader.getAttribute("aria-sort")) === "ascending", "aria-sort says ascending");
await page.getByRole("button", { name: "Principal" }).click();
principals = (await shown(page)).map((r) => r.principal);
check(sortedDesc(principals), "a second click sorts descending");
check((await principalHeader.getAttribute("aria-sort")) === "descending", "aria-sort says descending");
await page.getByRole("button", { name: "Kind" }).focus();
await page.keyboard.press("Enter");
const kinds = (await shown(page)).map((r) => r.kind);
check(sortedAsc(kinds), "Enter on the Kind header sorts by kind");
check(
  (await page.locator("th[aria-sort]").count()) === 1 && (await principalHeader.getAttribute("aria-sort")) === null,
  "only the sorted column has aria-sort",
);
await page.getByRole("button", { name: "Severity" }).click();
const ranks = await page.$$eval("#findings-table tbody tr", (rs) => rs.map((r) => Number(r.cells[0].dataset.v)));
check(sortedAsc(ranks), "Severity sorts the most severe first");

// Escalation paths as chains: principal → technique (linked to its guide) → ... → admin.
const paths = await page.locator('#findings-table tbody tr[data-kind="escalation-path"]').count();
const chains = page.locator("ol.chain");
check(paths > 0 && (await chains.count()) === paths, `each of the ${paths} escalation paths is drawn as a chain`);
// The longest path: the one with the most steps.
const edges = await chains.evaluateAll((ols) => ols.map((ol) => ol.querySelectorAll("li.edge").length));
const chain = chains.nth(edges.indexOf(Math.max(...edges)));
await chain.scrollIntoViewIfNeeded();
const steps = await chain.locator("li.edge").count();
const nodes = await chain.locator("li.node").count();
const shape = await chain.evaluate((ol) => Array.from(ol.children, (li) => li.className).join(" "));
check(
  steps > 0 && nodes === steps + 1 && shape.startsWith("node edge") && shape.endsWith("edge node admin"),
  `the longest chain has ${nodes} principals and ${steps} step(s), ending at admin (${shape})`,
);
const boxes = await chain.locator("li").evaluateAll((lis) => lis.map((li) => li.getBoundingClientRect()));
check(
  boxes.every((b) => b.width > 0 && b.height > 0) && boxes.slice(1).every((b, i) => b.left > boxes[i].left || b.top > boxes[i].top),
  "its boxes and arrows are drawn in order",
);
const stepLink = chain.locator("li.edge a").first();
const technique = (await stepLink.innerText()).trim();
await stepLink.click();
const guide = page.locator(`#technique-${technique}`);
check(await guide.evaluate((g) => g.matches(":target")), `the step ${technique} links to its guide`);
check(
  (await guide.locator(".g-fix-body").isVisible()) && (await guide.locator(".g-fix-body").innerText()).length > 20,
  `the ${technique} guide shows how to fix it`,
);
for (const part of ["Why it is bad", "Example", "References"]) {
  check((await guide.locator("summary", { hasText: part }).count()) === 1, `the ${technique} guide has ${part}`);
}

// A finding's "How to fix": its kind's fix, from the guide, shown in the row.
const row = page.locator('#findings-table tbody tr[data-kind="standing-privilege"]').first();
const fix = row.locator("details.fix");
await fix.locator("summary").click();
const expected = (await page.locator("#kind-standing-privilege .g-fix-body").innerText()).trim();
const inRow = fix.locator(".g-fix-body");
check(
  expected.length > 20 && (await inRow.isVisible()) && (await inRow.innerText()).trim() === expected,
  `a standing-privilege finding shows how to fix it: "${expected.slice(0, 60)}…"`,
);
check((await fix.locator(".g-why summary").innerText()).includes("Why it is bad"), "and why it is bad, on demand");

// The escalation finding's fix names its kind and the techniques of its path.
const pathFix = page.locator('#findings-table tbody tr[data-kind="escalation-path"] details.fix').first();
await pathFix.locator("summary").click();
// The fix is filled in from the guides when it opens: wait for it rather than read at once.
await pathFix.locator(".g-title").nth(1).waitFor({ state: "attached", timeout: 5000 }).catch(() => {});
const titles = await pathFix.locator(".g-title").allInnerTexts();
check(titles[0] === "escalation-path" && titles.length >= 2, `an escalation path's fix covers ${titles.join(", ")}`);

check(errors.length === 0, `no script error (${errors.join("; ") || "none"})`);

// axe-core, then screenshots at desktop and phone widths.
async function axe(p, label) {
  await p.evaluate(axeSource);
  const result = await p.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(
    bad.length === 0,
    `axe on the report (${label}): ${bad.map((v) => `${v.id} (${v.nodes.length}: ${v.nodes[0].target})`).join(", ") || "no serious or critical violation"}`,
  );
}
await page.evaluate(() => window.scrollTo(0, 0));
await page.goto(url);
await axe(page, "desktop");
// The top of the page, the first finding's fix open: the whole page is too long to look at.
await page.locator("details.fix summary").first().click();
const top = (p, height) => ({ path: join(out, `report-${p === page ? "desktop" : "phone"}.png`), fullPage: true, clip: { x: 0, y: 0, width: p.viewportSize().width, height } });
await page.screenshot(top(page, 2200));
await context.close();

const phone = await open(390, 844, { isMobile: true, hasTouch: true });
const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - 390);
check(overflow <= 0, `at phone width the page itself does not scroll sideways (${overflow}px)`);
await axe(phone.page, "phone");
await phone.page.screenshot(top(phone.page, 2600));
await phone.context.close();

// Without JavaScript: the whole table, no dead controls.
const plain = await open(1280, 900, { javaScriptEnabled: false });
check(
  (await plain.page.locator("#findings-table tbody tr:visible").count()) === total,
  "without JavaScript every finding is listed",
);
check(!(await plain.page.locator("#filters").isVisible()), "without JavaScript the filters are not offered");
await plain.context.close();

await browser.close();
console.log(failures === 0 ? `report: all checks passed; screenshots in ${out}` : `report: ${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
