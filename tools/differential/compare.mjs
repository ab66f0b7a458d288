#!/usr/bin/env node
// Compares Latch's decisions with iam-simulate's, line by line, and explains or reports every
// disagreement. Exit status 0 only when every disagreement is a documented difference.
//
// Usage: node compare.mjs --cases C.jsonl --reference R.jsonl --latch L.jsonl
//                         [--known known-differences.json] [--seed S] [--latch-bin PATH]
//                         [--show N] [--report FILE.json]
// With --latch-bin, the first disagreements are shrunk to minimal cases before printing.

import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseLines, resourceAccountOf, principalFacts, simulateCase } from './simulate.mjs';
import { RCP_SERVICES } from './generate.mjs';

const DECISIONS = new Set(['Allow', 'ExplicitDeny', 'ImplicitDeny']);
const PREDICATE_KEYS = new Set([
  'case_id', 'action', 'principal', 'resource', 'has', 'lacks', 'service_in', 'service_not_in', 'rcp_governed',
  'cross_account', 'json_contains', 'iam_simulate', 'latch',
]);

// ---------------------------------------------------------------- known differences
export function loadKnown(path) {
  const doc = JSON.parse(readFileSync(path, 'utf8'));
  if (!Array.isArray(doc.differences)) throw new Error(`${path}: "differences" must be an array`);
  doc.differences.forEach((d, i) => {
    const where = `${path}: differences[${i}]`;
    for (const f of ['id', 'explanation', 'citation']) {
      if (typeof d[f] !== 'string' || !d[f]) throw new Error(`${where}.${f}: required string`);
    }
    if (!/^https:\/\/docs\.aws\.amazon\.com\//.test(d.citation)) {
      throw new Error(`${where}.citation: must be an AWS documentation URL`);
    }
    if (typeof d.when !== 'object' || d.when === null) throw new Error(`${where}.when: required object`);
    for (const k of Object.keys(d.when)) {
      if (!PREDICATE_KEYS.has(k)) throw new Error(`${where}.when.${k}: unknown predicate`);
    }
    const fixes = ['iam_simulate_fix', 'latch_decision'].filter((k) => d[k] !== undefined);
    if (fixes.length !== 1) {
      throw new Error(`${where}: needs exactly one of "iam_simulate_fix" or "latch_decision"`);
    }
    if (d.latch_decision !== undefined && !DECISIONS.has(d.latch_decision)) {
      throw new Error(`${where}.latch_decision: must be one of ${[...DECISIONS].join(', ')}`);
    }
    if (d.iam_simulate_fix !== undefined) {
      const f = d.iam_simulate_fix;
      for (const k of Object.keys(f)) {
        if (k !== 'drop' && k !== 'transform') throw new Error(`${where}.iam_simulate_fix.${k}: unknown`);
      }
      if (f.drop !== undefined && !Array.isArray(f.drop)) {
        throw new Error(`${where}.iam_simulate_fix.drop: must be an array of case fields`);
      }
      if (f.transform !== undefined && !TRANSFORMS[f.transform]) {
        throw new Error(`${where}.iam_simulate_fix.transform: one of ${Object.keys(TRANSFORMS).join(', ')}`);
      }
    }
  });
  return doc.differences;
}

// AWS behaviour Latch must show on every case a rule applies to, whatever iam-simulate says:
// `latch` is a decision, a list of acceptable decisions, or {"error": REGEX} when AWS refuses
// to store a policy of the case (Latch must refuse the case with an error matching REGEX).
export function loadRules(path) {
  const doc = JSON.parse(readFileSync(path, 'utf8'));
  const rules = doc.rules ?? [];
  if (!Array.isArray(rules)) throw new Error(`${path}: "rules" must be an array`);
  rules.forEach((r, i) => {
    const where = `${path}: rules[${i}]`;
    for (const f of ['id', 'explanation', 'citation']) {
      if (typeof r[f] !== 'string' || !r[f]) throw new Error(`${where}.${f}: required string`);
    }
    if (!/^https:\/\/docs\.aws\.amazon\.com\//.test(r.citation)) {
      throw new Error(`${where}.citation: must be an AWS documentation URL`);
    }
    if (typeof r.when !== 'object' || r.when === null || !Object.keys(r.when).length) {
      throw new Error(`${where}.when: required, non-empty object`);
    }
    for (const k of Object.keys(r.when)) {
      if (!PREDICATE_KEYS.has(k) || k === 'iam_simulate' || k === 'latch') {
        throw new Error(`${where}.when.${k}: unknown predicate (a rule cannot depend on either engine's answer)`);
      }
    }
    const want = r.latch;
    const ok = (typeof want === 'string' && DECISIONS.has(want))
      || (Array.isArray(want) && want.length > 0 && want.every((d) => DECISIONS.has(d)))
      || (want && typeof want === 'object' && !Array.isArray(want) && typeof want.error === 'string'
        && Object.keys(want).length === 1);
    if (!ok) throw new Error(`${where}.latch: a decision, a list of decisions, or {"error": REGEX}`);
  });
  return rules;
}

/** Whether Latch's output for a case is what the rule says AWS does. */
export function ruleHolds(rule, latch) {
  const want = rule.latch;
  if (want && typeof want === 'object' && !Array.isArray(want)) {
    return typeof latch.error === 'string' && new RegExp(want.error).test(latch.error);
  }
  return [want].flat().includes(latch.decision);
}

// Named rewrites of a case that make iam-simulate model a documented AWS rule it lacks.
const TRANSFORMS = {
  // The account root user has full access without identity policies: give
  // iam-simulate the equivalent identity policy (Allow * on *). Everything else is unchanged,
  // so SCPs, explicit denies and KMS key policies still apply on both sides.
  root_full_access: (c) => {
    const f = principalFacts(c.request.principal);
    if (f.kind !== 'root') return c;
    const all = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
    return { ...c, identity_policies: [...(c.identity_policies ?? []), all] };
  },
  // Date values in epoch seconds, as ISO 8601 (same instant): policy values of Date*
  // operators and the date context keys.
  epoch_dates_as_iso: (c) => {
    const iso = (v) => (typeof v === 'string' && /^\d+$/.test(v) ? new Date(Number(v) * 1000).toISOString().replace('.000Z', 'Z') : v);
    const fixCond = (cond) => Object.fromEntries(Object.entries(cond).map(([op, kv]) => [op,
      /^(ForAllValues:|ForAnyValue:)?Date/i.test(op)
        ? Object.fromEntries(Object.entries(kv).map(([k, v]) => [k, Array.isArray(v) ? v.map(iso) : iso(v)]))
        : kv]));
    const x = mapStatements(c, (st) => (st.Condition ? { ...st, Condition: fixCond(st.Condition) } : st));
    if (x.request.context) {
      const ctx = { ...x.request.context };
      for (const k of Object.keys(ctx)) {
        if (['aws:currenttime', 'aws:epochtime', 'aws:tokenissuetime'].includes(k.toLowerCase())) ctx[k] = iso(String(ctx[k]));
      }
      x.request = { ...x.request, context: ctx };
    }
    return x;
  },
  // NotPrincipal with Deny exempts a principal only when its account and its own ARN are
  // listed (for a role session: the account, the role and the session). Rewrite such a
  // statement for this request: Principal "*" when the principal is not exempt (or has a
  // permissions boundary, which NotPrincipal+Deny always denies), else a principal that
  // matches nobody.
  not_principal_full_chain: (c) => {
    const f = principalFacts(c.request.principal);
    const exempt = (np) => {
      const aws = [np?.AWS ?? []].flat();
      const listed = (a) => aws.includes(a);
      if (!f.account) return false;
      const acct = listed(f.account) || listed(`arn:aws:iam::${f.account}:root`);
      if (f.kind === 'root') return acct;
      if (f.kind === 'session') return acct && listed(f.arn) && listed(c.request.principal);
      return acct && listed(c.request.principal);
    };
    const rewrite = (st) => {
      if (st.NotPrincipal === undefined || st.Effect !== 'Deny') return st;
      const { NotPrincipal, ...rest } = st;
      const applies = c.permission_boundary !== undefined || !exempt(NotPrincipal);
      return { ...rest, Principal: applies ? '*' : { AWS: 'arn:aws:iam::000000000000:root' } };
    };
    if (!c.resource_policy) return c;
    const st = c.resource_policy.Statement;
    return { ...c, resource_policy: { ...c.resource_policy, Statement: Array.isArray(st) ? st.map(rewrite) : rewrite(st) } };
  },
  // A resource-policy Allow that names the role session (or federated user session) ARN
  // itself is not capped by an implicit deny in the session policy. When the resource policy
  // has such a statement (same account only), make the session policy non-capping for
  // iam-simulate: keep its Deny statements, add Allow * on *. Otherwise leave the case as is.
  session_arn_named_in_resource_policy: (c) => {
    const p = c.request.principal;
    const f = principalFacts(p);
    // A role ARN given as the caller stands for a session of that role (session name unknown):
    // only a "*" principal names that session.
    if (!['session', 'federated', 'role'].includes(f.kind) || !c.session_policy || !c.resource_policy) return c;
    if (f.account !== resourceAccountOf(c.request)) return c;
    const sts = [c.resource_policy.Statement].flat();
    const names = sts.some((st) => st.Effect === 'Allow' && st.Principal && (st.Principal === '*' || [st.Principal.AWS ?? []].flat().some((x) => (x === p && f.kind !== 'role') || x === '*')));
    if (!names) return c;
    const denies = [c.session_policy.Statement].flat().filter((st) => st.Effect === 'Deny');
    return {
      ...c,
      session_policy: { Version: '2012-10-17', Statement: [...denies, { Effect: 'Allow', Action: '*', Resource: '*' }] },
    };
  },
  // A policy variable whose key has no value in the request is null: nothing equals or is like
  // it. Latch applies that to Deny statements and never lets an Allow statement grant through
  // such a variable (fail closed). iam-simulate is given the same: in Deny statements the
  // variable becomes literal text no request value can equal; Allow statements holding it are
  // dropped.
  missing_variables_as_null: (c) => {
    const ctx = Object.fromEntries(
      Object.entries(c.request.context ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
    );
    const isUser = /^arn:[^:]+:iam::\d{12}:user\//.test(c.request.principal);
    const missing = (key) => {
      const k = key.trim().toLowerCase();
      if (k === 'aws:username') return !isUser && ctx[k] === undefined;
      return ctx[k] === undefined;
    };
    const VAR = /\$\{([^},]+)\}/g;
    const hasMissing = (v) => JSON.stringify(v).match(VAR)?.some((m) => missing(m.slice(2, -1))) ?? false;
    const literal = (v) => {
      if (typeof v === 'string') return v.replace(VAR, (m, key) => (missing(key) ? `\${$}{${key}}` : m));
      if (Array.isArray(v)) return v.map(literal);
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, literal(x)]));
      return v;
    };
    const fix = (p) => {
      if (!p || typeof p !== 'object' || p.Version !== '2012-10-17') return p;
      const st = [p.Statement].flat()
        .filter((s) => !(s.Effect === 'Allow' && hasMissing(s)))
        .map((s) => (s.Effect === 'Deny' ? literal(s) : s));
      return { ...p, Statement: st };
    };
    const out = { ...c };
    for (const k of ['permission_boundary', 'session_policy', 'resource_policy']) if (out[k]) out[k] = fix(out[k]);
    if (out.identity_policies) out.identity_policies = out.identity_policies.map(fix);
    for (const k of ['scps', 'rcps']) if (out[k]) out[k] = out[k].map((level) => level.map(fix));
    return out;
  },
  // In a policy whose Version is not 2012-10-17, "${...}" is literal text. Rewrite such a
  // policy as 2012-10-17 with every "$" escaped as "${$}", which is the same literal text.
  literal_variables_outside_2012: (c) => {
    const escape = (v) => {
      if (typeof v === 'string') return v.replaceAll('$', '${$}');
      if (Array.isArray(v)) return v.map(escape);
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, escape(x)]));
      return v;
    };
    const fix = (p) => {
      if (!p || typeof p !== 'object' || p.Version === '2012-10-17') return p;
      const { Version, Id, Statement } = p;
      const out = { Version: '2012-10-17', Statement: escapeStatements(Statement, escape) };
      if (Id !== undefined) out.Id = Id;
      void Version;
      return out;
    };
    const x = { ...c };
    if (x.identity_policies) x.identity_policies = x.identity_policies.map(fix);
    for (const f of ['permission_boundary', 'session_policy', 'resource_policy']) if (x[f]) x[f] = fix(x[f]);
    for (const f of ['scps', 'rcps']) if (x[f]) x[f] = x[f].map((lvl) => lvl.map(fix));
    return x;
  },
};

function mapStatements(c, fn) {
  const fix = (p) => (p && typeof p === 'object' ? { ...p, Statement: Array.isArray(p.Statement) ? p.Statement.map(fn) : fn(p.Statement) } : p);
  const x = { ...c };
  if (x.identity_policies) x.identity_policies = x.identity_policies.map(fix);
  for (const f of ['permission_boundary', 'session_policy', 'resource_policy']) if (x[f]) x[f] = fix(x[f]);
  for (const f of ['scps', 'rcps']) if (x[f]) x[f] = x[f].map((lvl) => lvl.map(fix));
  return x;
}

function escapeStatements(statement, escape) {
  const one = (st) => Object.fromEntries(Object.entries(st).map(([k, v]) =>
    [k, k === 'Effect' || k === 'Sid' ? v : k === 'Condition'
      ? Object.fromEntries(Object.entries(v).map(([op, kv]) => [op, Object.fromEntries(Object.entries(kv).map(([ck, cv]) => [ck, escape(cv)]))]))
      : escape(v)]));
  return Array.isArray(statement) ? statement.map(one) : one(statement);
}

function service(c) {
  return String(c.request?.action ?? '').split(':')[0].toLowerCase();
}

export function matches(when, ctx) {
  const { c, id, ref, latch } = ctx;
  const json = () => JSON.stringify(c);
  for (const [k, v] of Object.entries(when)) {
    let ok;
    switch (k) {
      case 'case_id': ok = new RegExp(v).test(id); break;
      case 'action': ok = new RegExp(v, 'i').test(c.request.action); break;
      case 'principal': ok = new RegExp(v).test(c.request.principal); break;
      case 'resource': ok = new RegExp(v).test(c.request.resource ?? ''); break;
      case 'has': ok = v.every((f) => c[f] !== undefined); break;
      case 'lacks': ok = v.every((f) => c[f] === undefined); break;
      case 'service_in': ok = v.includes(service(c)); break;
      case 'service_not_in': ok = !v.includes(service(c)); break;
      case 'rcp_governed': ok = RCP_SERVICES.has(service(c)) === v; break;
      case 'cross_account': {
        const pa = principalFacts(c.request.principal).account;
        ok = (pa !== undefined && pa !== resourceAccountOf(c.request)) === v;
        break;
      }
      case 'json_contains': ok = [v].flat().every((s) => json().includes(s)); break;
      case 'iam_simulate': ok = ref.decision === v; break;
      case 'latch': ok = latch.decision === v; break;
      default: ok = false;
    }
    if (!ok) return false;
  }
  return true;
}

/** Returns {id} of the documented difference that explains this disagreement, or undefined. */
export async function explain(known, ctx) {
  for (const d of known) {
    if (!matches(d.when, ctx)) continue;
    if (d.latch_decision !== undefined) {
      if (ctx.latch.decision === d.latch_decision) return d;
      continue;
    }
    let fixed = structuredClone(ctx.c);
    for (const f of d.iam_simulate_fix.drop ?? []) delete fixed[f];
    if (d.iam_simulate_fix.transform) fixed = TRANSFORMS[d.iam_simulate_fix.transform](fixed);
    const r = await simulateCase(fixed);
    if (r.decision !== undefined && r.decision === ctx.latch.decision) return d;
  }
  return undefined;
}

// ---------------------------------------------------------------- shrinking
function runLatch(bin, cases) {
  const dir = mkdtempSync(join(tmpdir(), 'latch-diff-'));
  try {
    const file = join(dir, 'cases.jsonl');
    writeFileSync(file, cases.map((c) => JSON.stringify(c)).join('\n') + '\n');
    const r = spawnSync(bin, ['eval', '--cases', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const lines = parseLines(r.stdout ?? '');
    return cases.map((_, i) => {
      try {
        return JSON.parse(lines[i]);
      } catch {
        return { error: `no output line ${i + 1} (exit ${r.status}): ${(r.stderr ?? '').slice(0, 200)}` };
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function asArray(x) {
  return Array.isArray(x) ? x : [x];
}

/** All cases that are one step smaller than c. */
function reductions(c) {
  const out = [];
  const clone = () => structuredClone(c);
  // Every role has a trust policy and every KMS key a key policy: never shrink those away.
  const rpRequired = /^sts:assumerole/i.test(c.request.action) || /^arn:aws[a-z-]*:kms:.*:key\//.test(c.request.resource);
  for (const f of ['permission_boundary', 'session_policy', 'resource_policy', 'scps', 'rcps', 'management_account']) {
    if (f === 'resource_policy' && rpRequired) continue;
    if (c[f] !== undefined) { const x = clone(); delete x[f]; out.push(x); }
  }
  for (const k of Object.keys(c.request.context ?? {})) {
    const x = clone(); delete x.request.context[k];
    if (Object.keys(x.request.context).length === 0) delete x.request.context;
    out.push(x);
  }
  if (c.request.resource_account !== undefined) { const x = clone(); delete x.request.resource_account; out.push(x); }
  // policies: [path to the policy inside the case]
  const policies = [];
  (c.identity_policies ?? []).forEach((_, i) => {
    const x = clone(); x.identity_policies.splice(i, 1); out.push(x);
    policies.push((y) => y.identity_policies[i]);
  });
  (c.scps ?? []).forEach((lvl, i) => {
    if (c.scps.length > 1) { const x = clone(); x.scps.splice(i, 1); out.push(x); }
    lvl.forEach((_, j) => {
      const x = clone(); x.scps[i].splice(j, 1); out.push(x);
      policies.push((y) => y.scps[i][j]);
    });
  });
  (c.rcps ?? []).forEach((lvl, i) => {
    if (c.rcps.length > 1) { const x = clone(); x.rcps.splice(i, 1); out.push(x); }
    lvl.forEach((_, j) => {
      const x = clone(); x.rcps[i].splice(j, 1); out.push(x);
      policies.push((y) => y.rcps[i][j]);
    });
  });
  for (const f of ['permission_boundary', 'session_policy', 'resource_policy']) {
    if (c[f] !== undefined) policies.push((y) => y[f]);
  }
  for (const get of policies) {
    const sts = asArray(get(c).Statement);
    sts.forEach((st, s) => {
      if (sts.length > 1) {
        const x = clone(); const pol = get(x);
        pol.Statement = asArray(pol.Statement).filter((_, k) => k !== s);
        out.push(x);
      }
      for (const el of ['Action', 'NotAction', 'Resource', 'NotResource']) {
        if (Array.isArray(st[el]) && st[el].length > 1) {
          st[el].forEach((_, k) => {
            const x = clone(); const y = asArray(get(x).Statement)[s];
            y[el] = y[el].filter((__, m) => m !== k);
            if (!Array.isArray(get(x).Statement)) get(x).Statement = y;
            out.push(x);
          });
        }
      }
      for (const [op, keys] of Object.entries(st.Condition ?? {})) {
        for (const key of Object.keys(keys)) {
          const x = clone(); const y = asArray(get(x).Statement)[s];
          delete y.Condition[op][key];
          if (Object.keys(y.Condition[op]).length === 0) delete y.Condition[op];
          if (Object.keys(y.Condition).length === 0) delete y.Condition;
          out.push(x);
        }
      }
      if (st.Sid !== undefined) {
        const x = clone(); delete asArray(get(x).Statement)[s].Sid; out.push(x);
      }
    });
  }
  return out;
}

/** Greedy shrink: keep taking the first smaller case on which the two still disagree. */
export async function shrink(c, latchBin, known) {
  let cur = c;
  for (let round = 0; round < 200; round++) {
    const cands = reductions(cur);
    if (cands.length === 0) break;
    const latch = runLatch(latchBin, cands);
    let next;
    for (const [i, cand] of cands.entries()) {
      const ref = await simulateCase(cand);
      if (ref.decision === undefined || latch[i].decision === undefined) continue;
      if (ref.decision === latch[i].decision) continue;
      if (await explain(known, { c: cand, id: '', ref, latch: latch[i] })) continue;
      next = { c: cand, ref, latch: latch[i] };
      break;
    }
    if (!next) break;
    cur = next.c;
  }
  const [latch] = runLatch(latchBin, [cur]);
  return { c: cur, ref: await simulateCase(cur), latch };
}

// ---------------------------------------------------------------- main
function parseArgs(argv) {
  const a = { known: 'known-differences.json', seed: 'unknown', show: 5 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '').replace(/-/g, '_');
    a[k] = argv[++i];
  }
  for (const req of ['cases', 'reference', 'latch']) {
    if (!a[req]) throw new Error(`--${req} FILE is required`);
  }
  a.show = Number(a.show);
  return a;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const known = loadKnown(args.known);
  const rules = loadRules(args.known);
  const cases = parseLines(readFileSync(args.cases, 'utf8')).map((l) => JSON.parse(l));
  const ref = parseLines(readFileSync(args.reference, 'utf8')).map((l) => JSON.parse(l));
  const latch = parseLines(readFileSync(args.latch, 'utf8')).map((l) => {
    try { return JSON.parse(l); } catch { return { error: `unparsable output: ${l.slice(0, 200)}` }; }
  });
  const problems = [];
  if (ref.length !== cases.length) problems.push(`iam-simulate printed ${ref.length} lines for ${cases.length} cases`);
  if (latch.length !== cases.length) problems.push(`latch printed ${latch.length} lines for ${cases.length} cases`);

  const tally = { Allow: 0, ExplicitDeny: 0, ImplicitDeny: 0 };
  let agree = 0;
  const documented = {};
  const checked = {};
  const unexplained = [];
  const refErrors = [];
  for (let i = 0; i < cases.length; i++) {
    const id = `${args.seed}#${i + 1}`;
    const r = ref[i] ?? { error: 'missing' };
    const l = latch[i] ?? { error: 'missing' };
    if (r.decision) tally[r.decision]++;
    const rule = rules.find((x) => matches(x.when, { c: cases[i], id, ref: r, latch: l }));
    if (rule) {
      if (!ruleHolds(rule, l)) {
        unexplained.push({ c: cases[i], id, ref: r, latch: l, rule: rule.id });
        continue;
      }
      checked[rule.id] = (checked[rule.id] ?? 0) + 1;
      if (r.decision !== undefined && r.decision === l.decision) agree++;
      else documented[rule.id] = (documented[rule.id] ?? 0) + 1;
      continue;
    }
    if (r.decision !== undefined && r.decision === l.decision) { agree++; continue; }
    const ctx = { c: cases[i], id, ref: r, latch: l };
    const d = r.decision !== undefined && l.decision !== undefined ? await explain(known, ctx) : undefined;
    if (d) { documented[d.id] = (documented[d.id] ?? 0) + 1; continue; }
    if (r.decision === undefined) refErrors.push(ctx);
    unexplained.push(ctx);
  }

  const nDoc = Object.values(documented).reduce((s, n) => s + n, 0);
  console.log(`cases:                      ${cases.length}   (iam-simulate: Allow ${tally.Allow}, ExplicitDeny ${tally.ExplicitDeny}, ImplicitDeny ${tally.ImplicitDeny})`);
  console.log(`agreements:                 ${agree}`);
  console.log(`documented differences:     ${nDoc}${nDoc ? '   ' + JSON.stringify(documented) : ''}`);
  const nChecked = Object.values(checked).reduce((s, n) => s + n, 0);
  console.log(`AWS rules held:             ${nChecked}${nChecked ? '   ' + JSON.stringify(checked) : ''}`);
  console.log(`unexplained disagreements:  ${unexplained.length}${refErrors.length ? `   (of which iam-simulate rejected the case: ${refErrors.length})` : ''}`);
  for (const p of problems) console.log(`PROBLEM: ${p}`);

  // Classes of disagreement by (iam-simulate, latch) pair, to help triage.
  if (unexplained.length) {
    const classes = {};
    for (const u of unexplained) {
      const k = u.rule ? `rule ${u.rule} broken` : `iam-simulate ${u.ref.decision ?? 'error'} / latch ${u.latch.decision ?? 'error'}`;
      classes[k] = (classes[k] ?? 0) + 1;
    }
    console.log('by pair:', JSON.stringify(classes));
    const shown = [...unexplained].sort((a, b) => JSON.stringify(a.c).length - JSON.stringify(b.c).length).slice(0, args.show);
    for (const u of shown) {
      if (u.rule) console.log(`\n--- ${u.id}: Latch breaks rule ${u.rule}: ${JSON.stringify(u.latch.decision ?? u.latch)}`);
      console.log(`\n--- ${u.id}: iam-simulate ${JSON.stringify(u.ref)} / latch ${JSON.stringify(u.latch.decision ? { decision: u.latch.decision, decided_by: u.latch.decided_by, reason: u.latch.reason } : u.latch)}`);
      if (args.latch_bin && u.ref.decision && u.latch.decision && !u.rule) {
        const m = await shrink(u.c, args.latch_bin, known);
        console.log(`minimal (shrunk): iam-simulate ${m.ref.decision ?? JSON.stringify(m.ref)} / latch ${m.latch.decision ?? JSON.stringify(m.latch)}`);
        console.log(JSON.stringify(m.c));
        u.minimal = m.c;
      } else {
        console.log(JSON.stringify(u.c));
      }
    }
  }
  if (args.report) {
    writeFileSync(args.report, JSON.stringify({
      cases: cases.length, agreements: agree, documented, rules_held: checked, unexplained: unexplained.map((u) => ({
        id: u.id, rule: u.rule, iam_simulate: u.ref, latch: u.latch, case: u.c, minimal: u.minimal,
      })),
    }, null, 1));
  }
  process.exitCode = unexplained.length || problems.length ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
