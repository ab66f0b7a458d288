#!/usr/bin/env node
// Times iam-simulate's fastest entry point on a case file: its core `authorize()`, with every
// policy loaded (parsed) once and the request built once, then evaluated many times in-process.
// Also times `runUnsafeSimulation` (public API, parses per call) for reference.
//
// Usage: node bench-iam-simulate.mjs FILE.jsonl [--seconds S]
// Prints one JSON line: {"entry": ..., "cases": n, "evaluations": e, "seconds": s, "per_second": r,
//                        "decisions": [...], "unsafe_per_second": r2}

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadPolicy } from '@cloud-copilot/iam-policy';
import { runUnsafeSimulation } from '@cloud-copilot/iam-simulate';
import { parseLines, toSimulation, simulateCase, mapDecision } from './simulate.mjs';

// authorize() and its request types are not re-exported by the package index; load them from
// the installed package's own files (the package is an external tool, nothing is copied).
const require = createRequire(import.meta.url);
const esm = join(dirname(require.resolve('@cloud-copilot/iam-simulate')), '..', 'esm');
const load = (p) => import(pathToFileURL(join(esm, p)).href);
const { authorize } = await load('core_engine/CoreSimulatorEngine.js');
const { AwsRequestImpl } = await load('request/request.js');
const { RequestContextImpl } = await load('requestContext.js');
const { DiscoveryContextKeyConstraints } = await load('context_keys/discoveryContextKeyConstraints.js');

const RCP_FULL_ACCESS = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }] };

function prepare(c) {
  const sim = toSimulation(c);
  const withName = (p) => loadPolicy(p.policy, { name: p.name });
  const control = (levels, extra) => levels.map((l) => ({
    orgIdentifier: l.orgIdentifier,
    policies: [...extra, ...l.policies.map(withName)],
  }));
  return {
    request: new AwsRequestImpl(sim.request.principal, sim.request.resource, sim.request.action,
      new RequestContextImpl(sim.request.contextVariables)),
    sessionPolicy: sim.sessionPolicy ? loadPolicy(sim.sessionPolicy, { name: 'session' }) : undefined,
    identityPolicies: sim.identityPolicies.map(withName),
    serviceControlPolicies: control(sim.serviceControlPolicies, []),
    resourceControlPolicies: control(sim.resourceControlPolicies, [loadPolicy(RCP_FULL_ACCESS, { name: 'RCPFullAWSAccess' })]),
    resourcePolicy: sim.resourcePolicy ? loadPolicy(sim.resourcePolicy, { name: 'resource' }) : undefined,
    permissionBoundaries: sim.permissionBoundaryPolicies?.map(withName),
    vpcEndpointPolicies: undefined,
    simulationParameters: { simulationMode: 'Strict', discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([]) },
    serviceSettings: { s3: {} },
  };
}

function timeLoop(fn, n, seconds) {
  // warm up, then run rounds of the whole file until `seconds` have passed
  for (let i = 0; i < 2000; i++) fn(i % n);
  let evals = 0;
  const start = process.hrtime.bigint();
  const limit = BigInt(Math.round(seconds * 1e9));
  let elapsed = 0n;
  while (elapsed < limit) {
    for (let i = 0; i < n; i++) fn(i);
    evals += n;
    elapsed = process.hrtime.bigint() - start;
  }
  const s = Number(elapsed) / 1e9;
  return { evaluations: evals, seconds: s, per_second: evals / s };
}

const file = process.argv[2];
const secIdx = process.argv.indexOf('--seconds');
const seconds = secIdx > 0 ? Number(process.argv[secIdx + 1]) : 3;
const cases = parseLines(readFileSync(file, 'utf8')).map((l) => JSON.parse(l));
const prepared = cases.map(prepare);
const decisions = prepared.map((p) => mapDecision(authorize(p).result));
// The fast path must decide exactly as the validating public API does.
for (const [i, c] of cases.entries()) {
  const r = await simulateCase(c);
  if (r.decision !== decisions[i]) {
    throw new Error(`case ${i + 1}: authorize() says ${decisions[i]} but runSimulation says ${JSON.stringify(r)}`);
  }
}
const core = timeLoop((i) => authorize(prepared[i]), prepared.length, seconds);
const sims = cases.map(toSimulation);
// runUnsafeSimulation 0.1.173 throws on a resource policy (it loads it without a name); then
// it is reported as null.
let unsafe = { per_second: null };
try {
  unsafe = timeLoop((i) => runUnsafeSimulation(sims[i], {}), sims.length, Math.max(0.5, seconds / 3));
} catch {
  // not comparable for this file
}
console.log(JSON.stringify({
  entry: 'authorize() with policies parsed once',
  cases: cases.length,
  ...core,
  decisions,
  unsafe_per_second: unsafe.per_second,
}));
