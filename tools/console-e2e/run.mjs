// The console in a real browser: Debian's chromium driven by playwright-core, against
// `latch serve --cloud memory` started here on a free loopback port.
//
// alice asks for a bundle while bob's approvals page is open: it appears there without a reload;
// bob approves; alice sees the grant active; the admin revokes it; the audit page shows the
// four entries with the chain verified. Also: self-approval is not offered and is refused, a
// requester gets 403 on the admin pages, a forged CSRF token is refused, axe-core finds no
// serious or critical violation on any page, and every page is photographed at desktop and
// phone widths into $OUT (default target/console-e2e).
//
// Usage: LATCH_BIN=path/to/latch node run.mjs
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startFakeOidc } from "./fake-oidc.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.env.LATCH_BIN;
const browserPath = process.env.CHROMIUM || "/usr/bin/chromium";
const out = process.env.OUT || join(here, "..", "..", "target", "console-e2e");
if (!bin) throw new Error("set LATCH_BIN to the latch binary");
mkdirSync(out, { recursive: true });

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures += 1;
}

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const dir = mkdtempSync(join(tmpdir(), "latch-console-"));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const clientSecret = "e2e-oidc-client-secret";
const idp = await startFakeOidc({
  fixtures: join(here, "..", "..", "crates", "server", "tests", "fixtures"),
  clientId: "latch-console",
  clientSecret,
  groups: { carol: ["latch-admins"] },
});
writeFileSync(
  join(dir, "latch.toml"),
  `[server]
id = "console-e2e"
listen = "127.0.0.1:${port}"
database = "latch.db"
poll_interval = "1s"

[identities.alice]
aws = "arn:aws:iam::111122223333:role/alice"
[identities.bob]
aws = "arn:aws:iam::111122223333:role/bob"
[identities.carol]
aws = "arn:aws:iam::111122223333:role/carol"

[web]
public_url = "${base}"
[web.oidc]
issuer = "${idp.issuer}"
client_id = "latch-console"
client_secret_env = "LATCH_E2E_OIDC_SECRET"
user_claim = "preferred_username"
admin_groups = ["latch-admins"]

[bundles.privilege-escalation]
max_duration = "1h"
approvers = ["bob", "carol"]
description = "Change IAM roles and policies (privilege escalation)"
`,
);
const tokenFor = (subject, role) =>
  execFileSync(bin, ["token", "create", "--database", "latch.db", "--subject", subject, "--role", role], {
    cwd: dir,
  })
    .toString()
    .split("\n")[0]
    .trim();
const tokens = {
  alice: tokenFor("alice", "requester"),
  bob: tokenFor("bob", "approver"),
};

const server = spawn(bin, ["serve", "--config", "latch.toml", "--cloud", "memory"], {
  cwd: dir,
  stdio: ["ignore", "inherit", "inherit"],
  env: { ...process.env, LATCH_E2E_OIDC_SECRET: clientSecret },
});
const stop = () => {
  server.kill("SIGTERM");
  idp.close();
};
process.on("exit", stop);
for (let i = 0; ; i++) {
  try {
    const r = await fetch(`${base}/healthz`);
    if (r.ok) break;
  } catch {}
  if (i > 100) throw new Error("latch serve did not come up");
  await new Promise((r) => setTimeout(r, 100));
}

const browser = await chromium.launch({ executablePath: browserPath, args: ["--no-sandbox"] });
const axeSource = readFileSync(join(here, "node_modules", "axe-core", "axe.min.js"), "utf8");

async function signIn(who) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await page.getByLabel("API token").fill(tokens[who]);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${base}/request`);
  return { context, page };
}

const alice = await signIn("alice");
const bob = await signIn("bob");

// carol signs in through the identity provider (OpenID Connect with PKCE); her group makes her
// an admin. Chromium carries the SameSite=Strict session cookie after the provider's redirect.
async function signInWithProvider(who) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.getByRole("link", { name: /Sign in with your organization/ }).click();
  await page.getByLabel("User name").fill(who);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(`${base}/request`);
  return { context, page };
}
const carol = await signInWithProvider("carol");
check((await carol.page.locator("header").innerText()).includes("carol (admin)"), "carol signed in through the provider, as an admin");

// bob's queue is open and empty before alice asks.
await bob.page.goto(`${base}/approvals`);
check((await bob.page.locator("#queue").innerText()).includes("Nothing waits"), "bob's queue starts empty");

// alice asks, with the keyboard only.
await alice.page.goto(`${base}/request`);
await alice.page.getByLabel("Bundle").focus();
await alice.page.keyboard.press("Tab"); // Account(s)
await alice.page.keyboard.press("Tab"); // Duration
await alice.page.keyboard.press("Control+A");
await alice.page.keyboard.type("30m");
await alice.page.keyboard.press("Tab"); // Reason
await alice.page.keyboard.type("INC-4411");
await alice.page.keyboard.press("Enter");
await alice.page.waitForLoadState();
const said = await alice.page.getByRole("status").innerText();
check(said.includes("is pending"), `alice's request is pending (${said})`);
const requestId = said.match(/r-[a-z0-9]+/)[0];

// It appears in bob's open page without a reload.
const t0 = Date.now();
await bob.page.locator("#queue").getByText(requestId).waitFor({ timeout: 5000 });
check(Date.now() - t0 < 4000, `the request reached bob's open queue in ${Date.now() - t0} ms`);
await bob.page.screenshot({ path: join(out, "approvals-queue-desktop.png"), fullPage: true });
await bob.page.getByLabel("Comment").fill("ok for INC-4411");
await bob.page.getByRole("button", { name: "Approve" }).click();
await bob.page.waitForLoadState();
check((await bob.page.getByRole("status").innerText()).includes("approved"), "bob approved it");

// alice sees her grant active (the scheduler applies it within a poll or two).
let active = false;
for (let i = 0; i < 20 && !active; i++) {
  await alice.page.goto(`${base}/access`);
  active = (await alice.page.locator("table").first().innerText().catch(() => "")).includes("active");
  if (!active) await alice.page.waitForTimeout(250);
}
check(active, "alice sees her grant active");
const grantId = (await alice.page.locator("table code").first().innerText()).trim();

// A requester is refused the admin pages and the queue.
for (const path of ["/grants", "/audit", "/approvals"]) {
  const r = await alice.page.goto(`${base}${path}`);
  check(r.status() === 403, `a requester gets 403 on ${path}`);
}

// A forged CSRF token is refused, with her own cookie.
const forged = await alice.context.request.post(`${base}/request`, {
  form: { csrf: "f".repeat(32), bundle: "privilege-escalation", duration: "30m", reason: "forged" },
  maxRedirects: 0,
});
check(forged.status() === 403, `a forged CSRF token is refused (${forged.status()})`);

// bob's own request is not in his queue, and approving it directly is refused.
await bob.page.goto(`${base}/request`);
await bob.page.getByLabel("Reason").fill("mine");
await bob.page.getByRole("button", { name: "Ask" }).click();
const own = (await bob.page.getByRole("status").innerText()).match(/r-[a-z0-9]+/)[0];
await bob.page.goto(`${base}/approvals`);
check(!(await bob.page.locator("#queue").innerText()).includes(own), "bob's own request is not in his queue");
const csrf = await bob.page.locator('input[name="csrf"]').first().inputValue();
const self = await bob.context.request.post(`${base}/approvals/${own}`, {
  form: { csrf, decision: "approve" },
  maxRedirects: 0,
});
await bob.page.goto(`${base}${self.headers()["location"]}`);
check((await bob.page.getByRole("status").innerText()).includes("cannot answer"), "self-approval is refused");

// The admin revokes alice's grant; the audit page shows the story, the chain verified.
await carol.page.goto(`${base}/grants?person=alice`);
await carol.page.getByLabel("Reason").first().fill("INC-4411 closed");
await carol.page.getByRole("button", { name: "Revoke" }).first().click();
await carol.page.waitForLoadState();
check((await carol.page.getByRole("status").innerText()).includes("being revoked"), "carol revoked it");
let story = "";
for (let i = 0; i < 20 && !story.includes("grant.revoked"); i++) {
  await carol.page.goto(`${base}/audit?text=${grantId}`);
  story = await carol.page.locator("table").innerText();
  if (!story.includes("grant.revoked")) await carol.page.waitForTimeout(250);
}
await carol.page.goto(`${base}/audit`);
// The posture page: the example organization's scan, plan and prove results, sent with
// `latch report push` as an operator would.
const results = join(dir, "results");
const root = join(here, "..", "..");
const run = (args) => execFileSync(bin, args, { cwd: root, stdio: ["ignore", "pipe", "inherit"] }).toString();
run(["scan", "--format", "json", "--out", join(dir, "scan.json")]);
run(["plan", "--snapshot", join(root, "examples", "org"), "--out", results]);
writeFileSync(join(dir, "prove.json"), run(["prove", "--snapshot", join(root, "examples", "org"), "--plan", results, "--format", "json"]));
const pushed = run([
  "report", "push", "--server", base, "--token", tokenFor("ops", "admin"),
  join(dir, "scan.json"), results, join(dir, "prove.json"),
]);
check(pushed.split("\n").filter((l) => l.includes("kept")).length === 3, `latch report push keeps the scan, the plan and the prove report:\n${pushed}`);
await carol.page.goto(`${base}/posture`);
const posture = await carol.page.locator("main").innerText();
check(/\d+\s+critical/.test(posture), "the posture page counts findings by severity");
check(posture.includes("The identities with the most standing privilege"), "the posture page names the identities with standing privilege");
check(await carol.page.locator("ol.chain").count() > 0, "the posture page draws escalation paths as chains");
check(posture.includes("To break it, close the first step:"), "each path says how to fix it");
check(posture.includes("How to fix"), "the guides say how to fix each kind of finding");
check(/\d+ of \d+ blocked/.test(posture), "the posture page says which scenarios are blocked");
check(await carol.page.locator("figure.chart svg").count() === 3, "the posture page draws three trend charts");
const refused = await alice.page.goto(`${base}/posture`);
check(refused.status() === 403, "a requester opening /posture gets 403");

await carol.page.goto(`${base}/audit`);
const audit = await carol.page.locator("main").innerText();
for (const kind of ["request.created", "request.approved", "grant.revoke_requested", "grant.revoked"]) {
  check(audit.includes(kind), `the audit page shows ${kind}`);
}
check(audit.includes("Chain verified"), "the audit page says the chain is verified");

// axe-core and screenshots on every page, at desktop and phone widths, as each role sees it.
const pages = [
  ["login", null, "/login"],
  ["request", "alice", "/request"],
  ["access", "alice", "/access"],
  ["approvals", "bob", "/approvals"],
  ["grants", "carol", "/grants"],
  ["audit", "carol", "/audit"],
  ["posture", "carol", "/posture"],
  ["forbidden", "alice", "/grants"],
  ["not-found", "carol", "/no-such-page"],
];
for (const [width, height, label] of [
  [1280, 800, "desktop"],
  [390, 844, "phone"],
]) {
  for (const [name, who, path] of pages) {
    // axe is injected by the test itself: this context lets its script past the CSP.
    const context = await browser.newContext({ viewport: { width, height }, bypassCSP: true });
    if (who) {
      const cookies = await { alice, bob, carol }[who].context.cookies();
      await context.addCookies(cookies);
    }
    const page = await context.newPage();
    await page.goto(`${base}${path}`);
    await page.screenshot({ path: join(out, `${name}-${label}.png`), fullPage: true });
    if (label === "desktop") {
      await page.evaluate(axeSource);
      const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
      const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
      check(bad.length === 0, `axe on ${name}: ${bad.map((v) => `${v.id} (${v.nodes.length})`).join(", ") || "no serious or critical violation"}`);
    }
    await context.close();
  }
}

await browser.close();
stop();
console.log(failures === 0 ? `console: all checks passed; screenshots in ${out}` : `console: ${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
