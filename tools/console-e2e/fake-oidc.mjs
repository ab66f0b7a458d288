// A fake OpenID Connect provider for the console's browser test (test-only): discovery, its
// one published RSA key (the server tests' fixture), a sign-in page that asks for a user name,
// and a token endpoint that checks the client secret and the PKCE verifier before it hands out
// an RS256 ID token with the user's groups.
import { createServer } from "node:http";
import { createHash, createSign, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const b64url = (buf) => Buffer.from(buf).toString("base64url");

export async function startFakeOidc({ fixtures, clientId, clientSecret, groups }) {
  const pem = readFileSync(join(fixtures, "teams-test-key.pem"), "utf8");
  const pub = JSON.parse(readFileSync(join(fixtures, "teams-test-keys.json"), "utf8")).test;
  const codes = new Map();
  let issuer = "";
  const body = (req) =>
    new Promise((resolve) => {
      let data = "";
      req.on("data", (c) => (data += c));
      req.on("end", () => resolve(new URLSearchParams(data)));
    });
  const json = (res, status, value) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(value));
  };
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, issuer);
    if (url.pathname === "/.well-known/openid-configuration") {
      return json(res, 200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
      });
    }
    if (url.pathname === "/jwks") {
      return json(res, 200, { keys: [{ kty: "RSA", use: "sig", alg: "RS256", kid: "e2e-1", n: pub.n, e: pub.e }] });
    }
    if (url.pathname === "/authorize" && req.method === "GET") {
      const q = url.searchParams;
      if (q.get("client_id") !== clientId || q.get("code_challenge_method") !== "S256") {
        res.writeHead(400);
        return res.end("bad authorization request");
      }
      const hidden = ["state", "nonce", "code_challenge", "redirect_uri"]
        .map((k) => `<input type="hidden" name="${k}" value="${esc(q.get(k))}">`)
        .join("");
      res.writeHead(200, { "content-type": "text/html" });
      return res.end(
        `<!doctype html><title>Fake IdP</title><form method="post" action="/authorize">${hidden}` +
          `<label for="u">User name</label><input id="u" name="username"><button>Continue</button></form>`,
      );
    }
    if (url.pathname === "/authorize" && req.method === "POST") {
      const f = await body(req);
      const code = b64url(randomBytes(16));
      codes.set(code, {
        user: f.get("username"),
        nonce: f.get("nonce"),
        challenge: f.get("code_challenge"),
        redirect: f.get("redirect_uri"),
      });
      const back = new URL(f.get("redirect_uri"));
      back.searchParams.set("code", code);
      back.searchParams.set("state", f.get("state"));
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (url.pathname === "/token" && req.method === "POST") {
      const f = await body(req);
      const basic = "Basic " + Buffer.from(`${clientId}:${clientSecret}`).toString("base64");
      if (req.headers.authorization !== basic) return json(res, 401, { error: "invalid_client" });
      const c = codes.get(f.get("code"));
      codes.delete(f.get("code"));
      const verified = c && b64url(createHash("sha256").update(f.get("code_verifier") || "").digest()) === c.challenge;
      if (!verified || f.get("redirect_uri") !== c.redirect) return json(res, 400, { error: "invalid_grant" });
      const now = Math.floor(Date.now() / 1000);
      const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: "e2e-1" }));
      const claims = b64url(
        JSON.stringify({
          iss: issuer,
          aud: clientId,
          sub: `u-${c.user}`,
          preferred_username: c.user,
          groups: groups[c.user] || [],
          nonce: c.nonce,
          iat: now,
          exp: now + 300,
        }),
      );
      const signature = createSign("RSA-SHA256").update(`${header}.${claims}`).sign(pem);
      return json(res, 200, { token_type: "Bearer", access_token: "at", id_token: `${header}.${claims}.${b64url(signature)}` });
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${server.address().port}`;
  return { issuer, close: () => server.close() };
}
