#!/usr/bin/env node
// Adapter: Latch eval cases (docs/eval-cases.md) -> @cloud-copilot/iam-simulate.
//
// iam-simulate is AGPL and is used here only as an external tool, through its public API
// (`runSimulation`). Nothing of it is copied into this repository.
//
// Usage: node simulate.mjs [FILE.jsonl]   (stdin when no file is given)
// Prints one JSON line per case, in order: {"decision": "Allow"|"ExplicitDeny"|"ImplicitDeny"}
// or {"error": "..."}; diagnostics (keys iam-simulate ignored) in "ignored_context_keys".

import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { anonymousPrincipal, runSimulation } from '@cloud-copilot/iam-simulate';

// iam-simulate's result vocabulary -> ours.
const DECISIONS = {
  Allowed: 'Allow',
  ExplicitlyDenied: 'ExplicitDeny',
  ImplicitlyDenied: 'ImplicitDeny',
};

export function mapDecision(theirs) {
  const ours = DECISIONS[theirs];
  if (!ours) throw new Error(`unknown iam-simulate result ${JSON.stringify(theirs)}`);
  return ours;
}

/** Account id of an ARN, or undefined (S3 bucket ARNs, service principals, "*"). */
export function arnAccount(arn) {
  if (typeof arn !== 'string' || !arn.startsWith('arn:')) return undefined;
  const parts = arn.split(':');
  return parts.length >= 6 && /^\d{12}$/.test(parts[4]) ? parts[4] : undefined;
}

/** Facts the case format says are derived from the principal (docs/eval-cases.md). */
export function principalFacts(principal) {
  if (principal === 'anonymous') return { kind: 'anonymous' };
  if (!principal.startsWith('arn:')) return { kind: 'service' };
  const parts = principal.split(':');
  const account = parts[4];
  const partition = parts[1];
  const res = parts.slice(5).join(':');
  if (parts[2] === 'iam' && res === 'root') {
    return { kind: 'root', account, arn: principal, type: 'Account', userid: account };
  }
  if (parts[2] === 'iam' && res.startsWith('user/')) {
    const segs = res.split('/');
    return { kind: 'user', account, arn: principal, type: 'User', username: segs[segs.length - 1] };
  }
  if (parts[2] === 'iam' && res.startsWith('role/')) {
    return { kind: 'role', account, arn: principal, type: 'AssumedRole' };
  }
  if (parts[2] === 'sts' && res.startsWith('assumed-role/')) {
    const [, role] = res.split('/');
    return {
      kind: 'session',
      account,
      arn: `arn:${partition}:iam::${account}:role/${role}`,
      type: 'AssumedRole',
    };
  }
  if (parts[2] === 'sts' && res.startsWith('federated-user/')) {
    const name = res.slice('federated-user/'.length);
    return {
      kind: 'federated',
      account,
      arn: principal,
      type: 'FederatedUser',
      userid: `${account}:${name}`,
    };
  }
  return { kind: 'other', account };
}

export function resourceAccountOf(request) {
  return (
    request.resource_account ?? arnAccount(request.resource) ?? principalFacts(request.principal).account
  );
}

function contextValue(v) {
  if (Array.isArray(v)) return v.map((x) => String(x));
  return String(v);
}

/** Builds the request context: the case's keys plus the keys the case format derives. */
export function buildContext(request) {
  const ctx = {};
  const present = new Set();
  for (const [k, v] of Object.entries(request.context ?? {})) {
    ctx[k] = contextValue(v);
    present.add(k.toLowerCase());
  }
  const f = principalFacts(request.principal);
  const derive = (k, v) => {
    if (v !== undefined && !present.has(k.toLowerCase())) ctx[k] = v;
  };
  derive('aws:PrincipalArn', f.arn);
  derive('aws:PrincipalAccount', f.account);
  derive('aws:PrincipalType', f.type);
  derive('aws:username', f.username);
  derive('aws:userid', f.userid);
  derive('aws:ResourceAccount', resourceAccountOf(request));
  return ctx;
}

function named(prefix, policies) {
  return policies.map((policy, i) => ({ name: `${prefix}${i}`, policy }));
}

/** Converts one Latch case into iam-simulate's `Simulation` input. */
export function toSimulation(c) {
  const req = c.request;
  const facts = principalFacts(req.principal);
  const resourceAccount = resourceAccountOf(req);
  let scps = c.scps ?? [];
  let rcps = c.rcps ?? [];
  // The case format's management_account: SCPs do not apply to the management account's
  // principals and RCPs not to its resources. iam-simulate has no such input, so the adapter
  // expresses it by leaving those policies out.
  if (c.management_account !== undefined) {
    if (facts.account === c.management_account) scps = [];
    if (resourceAccount === c.management_account) rcps = [];
  }
  const sim = {
    request: {
      principal: req.principal === 'anonymous' ? anonymousPrincipal : req.principal,
      action: req.action,
      resource: { resource: req.resource, accountId: resourceAccount ?? '' },
      contextVariables: buildContext(req),
    },
    identityPolicies: named('identity-', c.identity_policies ?? []),
    serviceControlPolicies: scps.map((level, i) => ({
      orgIdentifier: `scp-level-${i}`,
      policies: named(`scp-${i}-`, level),
    })),
    // iam-simulate adds RCPFullAWSAccess at each level itself, as the case format assumes.
    resourceControlPolicies: rcps.map((level, i) => ({
      orgIdentifier: `rcp-level-${i}`,
      policies: named(`rcp-${i}-`, level),
    })),
    // Case context keys are taken as given: do not let S3 ABAC filtering drop resource tags.
    additionalSettings: { s3: { bucketAbacEnabled: true } },
  };
  if (c.permission_boundary !== undefined) {
    sim.permissionBoundaryPolicies = [{ name: 'boundary', policy: c.permission_boundary }];
  }
  if (c.session_policy !== undefined) sim.sessionPolicy = c.session_policy;
  if (c.resource_policy !== undefined) sim.resourcePolicy = c.resource_policy;
  return sim;
}

/** Evaluates one case with iam-simulate; returns {decision} or {error}. */
export async function simulateCase(c) {
  let res;
  try {
    res = await runSimulation(toSimulation(c), { simulationMode: 'Strict' });
  } catch (e) {
    return { error: `iam-simulate threw: ${e?.message ?? e}` };
  }
  if (res.resultType === 'error') {
    return { error: `iam-simulate rejected the input: ${JSON.stringify(res.errors)}` };
  }
  const out = { decision: mapDecision(res.overallResult) };
  const ignored = res.resultType === 'single' ? res.result.ignoredContextKeys : [];
  if (ignored && ignored.length > 0) out.ignored_context_keys = ignored;
  return out;
}

export function parseLines(text) {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

async function main() {
  const file = process.argv[2];
  const text = file && file !== '-' ? readFileSync(file, 'utf8') : readFileSync(0, 'utf8');
  const out = [];
  let failed = false;
  for (const [i, line] of parseLines(text).entries()) {
    let c;
    try {
      c = JSON.parse(line);
    } catch (e) {
      out.push(JSON.stringify({ error: `line ${i + 1}: invalid JSON: ${e.message}` }));
      failed = true;
      continue;
    }
    const r = await simulateCase(c);
    if (r.error) failed = true;
    out.push(JSON.stringify(r));
  }
  process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
  process.exitCode = failed ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
