#!/usr/bin/env node
// Seeded generator of random but meaningful eval cases (docs/eval-cases.md), one per line.
//
// Usage: node generate.mjs [--seed S] [--count N] > cases.jsonl
//
// The same seed always yields the same file. Every case is built around its request: policy
// elements are drawn so that they hit the request, narrowly miss it, or are unrelated, and
// conditions are drawn against the request's context so that they are true, false, or on a
// missing key. Probabilities are tuned so Allow / ExplicitDeny / ImplicitDeny are all common.

import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { makeFidelityCase, serialize } from './fidelity.mjs';

// ---------------------------------------------------------------- PRNG (xmur3 + sfc32)
function hashSeed(str) {
  let h = 1779033703 ^ str.length;
  for (let i = 0; i < str.length; i++) {
    h = Math.imul(h ^ str.charCodeAt(i), 3432918353);
    h = (h << 13) | (h >>> 19);
  }
  return () => {
    h = Math.imul(h ^ (h >>> 16), 2246822507);
    h = Math.imul(h ^ (h >>> 13), 3266489909);
    return (h ^= h >>> 16) >>> 0;
  };
}

export function makeRng(seed) {
  const s = hashSeed(String(seed));
  let a = s(), b = s(), c = s(), d = s();
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  const rng = {
    next,
    chance: (p) => next() < p,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    // weighted pick: [[weight, value], ...]
    wpick: (pairs) => {
      const total = pairs.reduce((s, [w]) => s + w, 0);
      let r = next() * total;
      for (const [w, v] of pairs) {
        if ((r -= w) < 0) return v;
      }
      return pairs[pairs.length - 1][1];
    },
    subset: (xs, n) => {
      const copy = [...xs];
      const out = [];
      while (out.length < n && copy.length) out.push(copy.splice(Math.floor(next() * copy.length), 1)[0]);
      return out;
    },
  };
  return rng;
}

// ---------------------------------------------------------------- the world
const A = '111122223333'; // the principal's home account
const B = '444455556666'; // another account (cross-account requests)
const REGION = 'us-east-1';
const ORG_ID = 'o-a1b2c3d4e5';

// Actions: [action, resource kind]; kind '*' = wildcard-only action (resource must be "*").
const ACTIONS = [
  ['s3:GetObject', 's3object'], ['s3:PutObject', 's3object'], ['s3:DeleteObject', 's3object'],
  ['s3:ListBucket', 's3bucket'], ['s3:DeleteBucket', 's3bucket'], ['s3:GetBucketPolicy', 's3bucket'],
  ['s3:ListAllMyBuckets', '*'],
  ['iam:CreateUser', 'user'], ['iam:TagUser', 'user'], ['iam:CreateAccessKey', 'user'],
  ['iam:PassRole', 'role'], ['iam:GetRole', 'role'], ['iam:DeleteRole', 'role'],
  ['iam:AttachRolePolicy', 'role'], ['iam:ListUsers', '*'],
  ['ec2:TerminateInstances', 'instance'], ['ec2:DescribeInstances', '*'],
  ['kms:Decrypt', 'key'], ['kms:Encrypt', 'key'], ['kms:ScheduleKeyDeletion', 'key'], ['kms:CreateKey', '*'],
  ['sts:AssumeRole', 'role'],
  ['lambda:InvokeFunction', 'function'], ['lambda:GetFunction', 'function'], ['lambda:DeleteFunction', 'function'],
  ['dynamodb:GetItem', 'table'], ['dynamodb:PutItem', 'table'], ['dynamodb:DeleteTable', 'table'],
  ['secretsmanager:GetSecretValue', 'secret'], ['secretsmanager:DeleteSecret', 'secret'],
  ['sqs:SendMessage', 'queue'], ['sqs:DeleteQueue', 'queue'],
];
const OTHER_ACTION_NAMES = {
  s3: ['GetObjectAcl', 'PutBucketPolicy', 'ListBucketVersions', 'GetObjectTagging'],
  iam: ['DeleteUser', 'CreateRole', 'PutRolePolicy', 'UpdateAssumeRolePolicy'],
  ec2: ['RunInstances', 'StopInstances', 'CreateVpc'],
  kms: ['GenerateDataKey', 'DescribeKey', 'DisableKey'],
  sts: ['TagSession', 'AssumeRoleWithSAML', 'GetSessionToken'],
  lambda: ['UpdateFunctionCode', 'CreateFunction', 'ListFunctions'],
  dynamodb: ['Query', 'Scan', 'UpdateItem'],
  secretsmanager: ['PutSecretValue', 'DescribeSecret', 'ListSecrets'],
  sqs: ['ReceiveMessage', 'PurgeQueue', 'GetQueueUrl'],
};
// Services whose resources can carry a resource-based policy in this generator.
const RESOURCE_POLICY_KINDS = new Set(['s3object', 's3bucket', 'key', 'role', 'function', 'table', 'secret', 'queue']);
// Services that support RCPs (Organizations user guide, "Resource control policies", list of
// supported AWS services), from Latch's catalog data: the one copy of the list, which
// `latch eval` hands to the engine too.
export const RCP_SERVICES = new Set(
  JSON.parse(readFileSync(new URL('../../crates/catalog/data/catalog.json', import.meta.url), 'utf8'))
    .rcp_supported_services.map((s) => s.toLowerCase()),
);

const BUCKETS = ['data-lake', 'team-platform', 'audit-logs'];
const KEYS = ['reports/2026/q1.csv', 'home/alice/notes.txt', 'public/index.html', 'team/platform/run.log'];

function resourceArn(kind, acct, rng) {
  switch (kind) {
    case 's3object': return `arn:aws:s3:::${rng.pick(BUCKETS)}/${rng.pick(KEYS)}`;
    case 's3bucket': return `arn:aws:s3:::${rng.pick(BUCKETS)}`;
    case 'user': return `arn:aws:iam::${acct}:user/${rng.pick(['alice', 'bob', 'eng/carol'])}`;
    case 'role': return `arn:aws:iam::${acct}:role/${rng.pick(['Deployer', 'ReadOnly', 'service/AppRole'])}`;
    case 'instance': return `arn:aws:ec2:${REGION}:${acct}:instance/${rng.pick(['i-0abc123def4567890', 'i-0fedcba9876543210'])}`;
    case 'key': return `arn:aws:kms:${REGION}:${acct}:key/${rng.pick(['1234abcd-12ab-34cd-56ef-1234567890ab', '0987dcba-09fe-87dc-65ba-ab0987654321'])}`;
    case 'function': return `arn:aws:lambda:${REGION}:${acct}:function:${rng.pick(['process-orders', 'ProcessRefunds'])}`;
    case 'table': return `arn:aws:dynamodb:${REGION}:${acct}:table/${rng.pick(['Orders', 'orders-archive'])}`;
    case 'secret': return `arn:aws:secretsmanager:${REGION}:${acct}:secret:${rng.pick(['prod/db-AbCdEf', 'dev/api-key-XyZ123'])}`;
    case 'queue': return `arn:aws:sqs:${REGION}:${acct}:${rng.pick(['jobs', 'jobs-dlq'])}`;
    default: return '*';
  }
}

// Principals: [weight, builder]
function makePrincipal(rng) {
  const home = rng.chance(0.78) ? A : B;
  return rng.wpick([
    [30, () => ({ arn: `arn:aws:iam::${home}:user/${rng.pick(['alice', 'bob', 'eng/carol'])}`, kind: 'user', acct: home })],
    [30, () => ({ arn: `arn:aws:sts::${home}:assumed-role/${rng.pick(['Deployer', 'ReadOnly'])}/${rng.pick(['alice', 'ci-run-42'])}`, kind: 'session', acct: home })],
    [6, () => ({ arn: `arn:aws:iam::${home}:role/${rng.pick(['Deployer', 'ReadOnly'])}`, kind: 'role', acct: home })],
    [8, () => ({ arn: `arn:aws:iam::${home}:root`, kind: 'root', acct: home })],
    [6, () => ({ arn: `arn:aws:sts::${home}:federated-user/${rng.pick(['dana', 'erin'])}`, kind: 'federated', acct: home })],
    [2, () => ({ arn: `arn:aws:iam::${home}:role/aws-service-role/ops.apigateway.amazonaws.com/AWSServiceRoleForAPIGateway`, kind: 'role', acct: home })],
    [5, () => ({ arn: rng.pick(['lambda.amazonaws.com', 'cloudtrail.amazonaws.com']), kind: 'service', acct: undefined })],
    [3, () => ({ arn: 'anonymous', kind: 'anonymous', acct: undefined })],
  ])();
}

function roleArnOfSession(p) {
  const [, role] = p.arn.split(':').slice(5).join(':').split('/');
  return `arn:aws:iam::${p.acct}:role/${role}`;
}

// ---------------------------------------------------------------- request context
const TIMES = [
  ['2026-03-01T12:00:00Z', '1772366400'],
  ['2025-11-15T08:30:00Z', '1763195400'],
  ['2027-01-01T00:00:00Z', '1798761600'],
];
const IPS = ['203.0.113.5', '10.1.2.3', '198.51.100.7', '2001:db8:abcd::17', '2600:1f18::9'];

function makeContext(rng, p) {
  const ctx = {};
  const maybe = (prob, k, v) => { if (rng.chance(prob)) ctx[k] = v; };
  maybe(0.8, 'aws:SourceIp', rng.pick(IPS));
  maybe(0.7, 'aws:MultiFactorAuthPresent', rng.pick(['true', 'false']));
  if (ctx['aws:MultiFactorAuthPresent'] === 'true') maybe(0.8, 'aws:MultiFactorAuthAge', rng.pick(['120', '900', '7200']));
  const t = rng.pick(TIMES);
  maybe(0.8, 'aws:CurrentTime', t[0]);
  maybe(0.6, 'aws:EpochTime', t[1]);
  maybe(0.8, 'aws:RequestedRegion', rng.pick(['us-east-1', 'eu-west-1', 'ap-southeast-2']));
  maybe(0.7, 'aws:SecureTransport', rng.pick(['true', 'true', 'false']));
  if (p.kind !== 'service' && p.kind !== 'anonymous') {
    maybe(0.6, 'aws:PrincipalTag/team', rng.pick(['platform', 'data', 'Platform']));
    maybe(0.25, 'aws:PrincipalTag/latch:grant:iam-admin', rng.pick(['true', 'false']));
    maybe(0.6, 'aws:PrincipalOrgID', rng.pick([ORG_ID, ORG_ID, 'o-zzzzzzzzzz']));
    maybe(0.4, 'aws:PrincipalOrgPaths', rng.pick([
      [`${ORG_ID}/r-ab12/ou-ab12-prod1111/`], [`${ORG_ID}/r-ab12/ou-ab12-dev22222/`],
      [`${ORG_ID}/r-ab12/ou-ab12-prod1111/`, `${ORG_ID}/r-ab12/ou-ab12-dev22222/ou-ab12-sandbox3/`],
    ]));
    if (p.kind === 'user') maybe(0.3, 'aws:userid', rng.pick(['AIDAEXAMPLEUSERID0001', 'AIDAEXAMPLEUSERID0002']));
    if (p.kind === 'session') maybe(0.3, 'aws:userid', rng.pick(['AROAEXAMPLEROLEID0001:alice', 'AROAEXAMPLEROLEID0001:ci-run-42']));
  }
  if (p.kind === 'service') {
    maybe(0.8, 'aws:SourceAccount', rng.pick([A, B]));
    maybe(0.8, 'aws:SourceArn', rng.pick([`arn:aws:lambda:${REGION}:${A}:function:process-orders`, `arn:aws:cloudtrail:${REGION}:${B}:trail/main`]));
  }
  maybe(0.5, 'aws:TagKeys', rng.pick([['env'], ['env', 'owner'], ['env', 'CostCenter'], ['Env'], []]));
  maybe(0.5, 'aws:RequestTag/env', rng.pick(['prod', 'dev', 'Prod']));
  maybe(0.4, 'aws:ResourceTag/env', rng.pick(['prod', 'dev']));
  maybe(0.3, 'aws:ResourceTag/team', rng.pick(['platform', 'data']));
  maybe(0.3, 'aws:CalledVia', rng.pick([['cloudformation.amazonaws.com'], ['athena.amazonaws.com', 'glue.amazonaws.com']]));
  return ctx;
}

// ---------------------------------------------------------------- conditions
// Each template returns [operator, key, values] given the context and whether it should hold.
// Values are built against the context so that a good share of conditions are true.
function flipCase(rng, s) {
  return s.split('').map((ch) => (rng.chance(0.5) ? ch.toUpperCase() : ch.toLowerCase())).join('');
}
function swapCase(s) {
  return s.split('').map((ch) => (ch === ch.toUpperCase() ? ch.toLowerCase() : ch.toUpperCase())).join('');
}
function ifExists(rng, op) {
  return rng.chance(0.25) ? `${op}IfExists` : op;
}

function condClause(rng, ctx, p, want) {
  const has = (k) => ctx[k] !== undefined;
  const t = rng.int(0, 17);
  switch (t) {
    case 0: { // String*, exact and case-insensitive, on region
      const v = ctx['aws:RequestedRegion'];
      const other = rng.pick(['us-east-1', 'eu-west-1', 'us-west-2']);
      const op = rng.pick(['StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase']);
      let vals = [v && want ? v : other];
      if (op.includes('IgnoreCase')) vals = vals.map((x) => x.toUpperCase());
      if (rng.chance(0.3)) vals.push(rng.pick(['ap-southeast-2', 'sa-east-1']));
      return [ifExists(rng, op), 'aws:RequestedRegion', vals];
    }
    case 1: { // StringLike / StringNotLike with * and ?
      const op = rng.pick(['StringLike', 'StringNotLike']);
      return [ifExists(rng, op), 'aws:RequestedRegion', [rng.pick(['us-*', 'eu-*', 'us-east-?', '*-southeast-*'])]];
    }
    case 2: { // Numeric*
      const op = rng.pick(['NumericLessThan', 'NumericLessThanEquals', 'NumericGreaterThan', 'NumericGreaterThanEquals', 'NumericEquals', 'NumericNotEquals']);
      return [ifExists(rng, op), 'aws:MultiFactorAuthAge', [rng.pick(['900', '3600', '120', '7200'])]];
    }
    case 3: { // Date* ISO or epoch, on CurrentTime or EpochTime
      const op = rng.pick(['DateLessThan', 'DateGreaterThan', 'DateLessThanEquals', 'DateGreaterThanEquals', 'DateEquals', 'DateNotEquals']);
      const key = rng.pick(['aws:CurrentTime', 'aws:CurrentTime', 'aws:EpochTime']);
      const [iso, epoch] = rng.pick(TIMES.concat([['2026-06-30T23:59:59Z', '1782863999']]));
      return [ifExists(rng, op), key, [rng.chance(0.5) ? iso : epoch]];
    }
    case 4: { // Bool
      const op = rng.chance(0.7) ? 'Bool' : 'BoolIfExists';
      const key = rng.pick(['aws:MultiFactorAuthPresent', 'aws:SecureTransport']);
      const v = ctx[key];
      return [op, key, [v && want ? v : rng.pick(['true', 'false'])]];
    }
    case 5: { // IpAddress / NotIpAddress, v4 and v6
      const op = rng.pick(['IpAddress', 'NotIpAddress']);
      const cidrs = rng.subset(['203.0.113.0/24', '10.0.0.0/8', '198.51.100.7/32', '2001:db8::/32', '2600:1f18::/32', '192.0.2.0/24'], rng.int(1, 2));
      return [ifExists(rng, op), 'aws:SourceIp', cidrs];
    }
    case 6: { // Arn* on aws:PrincipalArn (derived from the principal)
      const op = rng.pick(['ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike']);
      let v;
      if (p.kind === 'session') v = want ? roleArnOfSession(p) : `arn:aws:iam::${p.acct}:role/Other`;
      else if (p.acct) v = want ? p.arn : `arn:aws:iam::${p.acct}:user/zed`;
      else v = `arn:aws:iam::${A}:role/Deployer`;
      if (op.includes('Like') && rng.chance(0.6)) v = v.replace(/[^/:]+$/, (m) => m.slice(0, 2) + '*');
      return [ifExists(rng, op), 'aws:PrincipalArn', [v]];
    }
    case 7: { // StringEquals on derived principal keys
      const key = rng.pick(['aws:PrincipalAccount', 'aws:PrincipalType', 'aws:username', 'aws:ResourceAccount']);
      const vals = {
        'aws:PrincipalAccount': [A, B],
        'aws:PrincipalType': ['User', 'AssumedRole', 'Account', 'FederatedUser'],
        'aws:username': ['alice', 'bob', 'carol'],
        'aws:ResourceAccount': [A, B],
      }[key];
      const op = rng.pick(['StringEquals', 'StringNotEquals', 'StringLike']);
      return [ifExists(rng, op), key, rng.subset(vals, rng.int(1, 2))];
    }
    case 8: { // Null
      const key = rng.pick(['aws:PrincipalTag/team', 'aws:MultiFactorAuthAge', 'aws:TagKeys', 'aws:PrincipalOrgID', 'aws:RequestTag/env', 'aws:SourceIp']);
      return ['Null', key, [rng.chance(0.5) === has(key) ? 'true' : 'false']];
    }
    case 9: { // ForAllValues / ForAnyValue on a multi-valued key
      const op = rng.pick(['ForAllValues:StringEquals', 'ForAnyValue:StringEquals', 'ForAllValues:StringLike', 'ForAnyValue:StringLike', 'ForAnyValue:StringNotEquals', 'ForAllValues:StringNotLike', 'ForAllValues:StringEqualsIgnoreCase']);
      const vals = op.includes('Like') ? rng.subset(['env', 'own*', 'Cost*', '*'], rng.int(1, 2)) : rng.subset(['env', 'owner', 'CostCenter', 'project'], rng.int(1, 3));
      return [op, 'aws:TagKeys', vals];
    }
    case 10: { // multi-valued org paths
      const op = rng.pick(['ForAnyValue:StringLike', 'ForAllValues:StringLike', 'ForAnyValue:StringEquals']);
      const vals = op.includes('Like') ? [rng.pick([`${ORG_ID}/r-ab12/ou-ab12-prod1111/*`, `${ORG_ID}/*`, `${ORG_ID}/r-ab12/ou-ab12-dev22222/*`])]
        : [`${ORG_ID}/r-ab12/ou-ab12-prod1111/`];
      return [op, 'aws:PrincipalOrgPaths', vals];
    }
    case 11: { // org id
      const op = rng.pick(['StringEquals', 'StringNotEquals', 'StringNotEqualsIfExists']);
      return [op, 'aws:PrincipalOrgID', [ORG_ID]];
    }
    case 12: { // principal tag, with a policy variable against a resource tag
      if (rng.chance(0.5)) {
        const op = rng.pick(['StringEquals', 'StringNotEquals']);
        return [op, 'aws:ResourceTag/team', ['${aws:PrincipalTag/team}']];
      }
      const op = rng.pick(['StringEquals', 'StringEqualsIgnoreCase', 'StringNotEquals']);
      return [ifExists(rng, op), 'aws:PrincipalTag/team', [rng.pick(['platform', 'data'])]];
    }
    case 13: { // request tags
      const op = rng.pick(['StringEquals', 'StringLike', 'StringNotEquals']);
      return [ifExists(rng, op), 'aws:RequestTag/env', [rng.pick(['prod', 'dev', 'p*'])]];
    }
    case 14: { // single-valued key compared with a set of values (OR across values)
      return ['StringEquals', 'aws:ResourceTag/env', rng.subset(['prod', 'dev', 'test'], rng.int(1, 3))];
    }
    case 15: { // CalledVia, multi-valued
      const op = rng.pick(['ForAnyValue:StringEquals', 'ForAllValues:StringEquals']);
      return [op, 'aws:CalledVia', rng.subset(['cloudformation.amazonaws.com', 'athena.amazonaws.com', 'glue.amazonaws.com'], rng.int(1, 2))];
    }
    case 16: { // userid / username policy variable
      if (rng.chance(0.5) && ctx['aws:userid']) {
        return [rng.pick(['StringEquals', 'StringLike']), 'aws:userid', [want ? ctx['aws:userid'] : 'AIDAOTHER', 'AROAEXAMPLEROLEID0001:*']];
      }
      return [rng.pick(['StringEquals', 'StringNotEquals']), 'aws:PrincipalTag/team', ['${aws:PrincipalTag/team}']];
    }
    default: { // service principals: source account / arn
      if (rng.chance(0.5)) return [rng.pick(['StringEquals', 'StringNotEquals']), 'aws:SourceAccount', [rng.pick([A, B])]];
      return [rng.pick(['ArnLike', 'ArnEquals', 'ArnNotLike']), 'aws:SourceArn', [rng.pick([`arn:aws:lambda:*:${A}:function:*`, `arn:aws:cloudtrail:${REGION}:${B}:trail/main`])]];
    }
  }
}

function makeCondition(rng, ctx, p) {
  const cond = {};
  const n = rng.wpick([[6, 1], [3, 2], [1, 3]]);
  for (let i = 0; i < n; i++) {
    const [op, key, vals] = condClause(rng, ctx, p, rng.chance(0.7));
    cond[op] = cond[op] ?? {};
    cond[op][key] = vals.length === 1 && rng.chance(0.5) ? vals[0] : vals;
  }
  return cond;
}

// ---------------------------------------------------------------- policy elements
function actionPatterns(rng, action, hit) {
  const [svc, name] = action.split(':');
  if (hit) {
    return rng.wpick([
      [5, () => action],
      [2, () => flipCase(rng, action)],
      [3, () => `${svc}:*`],
      [2, () => `${svc}:${name.slice(0, rng.int(1, Math.max(1, name.length - 2)))}*`],
      [1, () => { const i = rng.int(svc.length + 1, action.length - 1); return action.slice(0, i) + '?' + action.slice(i + 1); }],
      [1, () => '*'],
      [1, () => `${svc.toUpperCase()}:${name}`],
    ])();
  }
  return rng.wpick([
    [4, () => `${svc}:${rng.pick(OTHER_ACTION_NAMES[svc])}`],
    [2, () => rng.pick(ACTIONS.filter(([a]) => !a.startsWith(svc + ':')))[0]],
    [1, () => `${svc}:${name}?`],
    [1, () => `${svc}:${name.slice(1)}*`],
    [1, () => `${rng.pick(['ec2', 'iam', 'sqs'].filter((s) => s !== svc))}:*`],
  ])();
}

function actionElement(rng, action, opts = {}) {
  // Returns [key, value]: Action or NotAction with a string or an array.
  if (!opts.rcp && rng.chance(0.15)) {
    const hit = rng.chance(0.6); // NotAction hits when the request's action is NOT listed
    const vals = [actionPatterns(rng, action, false)];
    if (!hit) vals.push(actionPatterns(rng, action, true));
    return ['NotAction', vals.length === 1 && rng.chance(0.5) ? vals[0] : vals];
  }
  const hit = rng.chance(opts.actionHit ?? 0.75);
  let vals = [actionPatterns(rng, action, hit)];
  if (rng.chance(0.3)) vals.push(actionPatterns(rng, action, false));
  // RCP syntax: NotAction is not supported and Action cannot be "*" alone.
  if (opts.rcp) vals = vals.map((v) => (v === '*' ? `${action.split(':')[0]}:*` : v));
  return ['Action', vals.length === 1 && rng.chance(0.5) ? vals[0] : rng.subset(vals, vals.length)];
}

function resourcePatterns(rng, req, hit) {
  const r = req.resource;
  if (r === '*') {
    return hit ? '*' : rng.pick([`arn:aws:s3:::data-lake/*`, `arn:aws:iam::${A}:user/*`]);
  }
  const parts = r.split(':');
  if (hit) {
    return rng.wpick([
      [4, () => r],
      [3, () => '*'],
      [3, () => r.replace(/[^/:]+$/, '*')],
      [1, () => r.slice(0, r.length - 2) + '?' + r.slice(r.length - 1)],
      [1, () => (parts[3] ? [...parts.slice(0, 3), '*', ...parts.slice(4)].join(':') : r)],
      [1, () => (parts[4] ? [...parts.slice(0, 4), '*', ...parts.slice(5)].join(':') : `arn:aws:s3:::*`)],
      [2, () => usernameVariable(req) ?? r],
      [1, () => (r.startsWith('arn:aws:s3:::') && r.includes('/team/') ? r.replace(/\/team\/[^/]+\//, "/team/${aws:PrincipalTag/team, 'platform'}/") : r)],
    ])();
  }
  return rng.wpick([
    [3, () => r.replace(/[^/:]+$/, 'something-else')],
    // ARNs match case-sensitively: the same resource with its last segment's case swapped
    [2, () => r.replace(/[^/:]+$/, (m) => swapCase(m))],
    [2, () => (parts[4] ? [...parts.slice(0, 4), parts[4] === A ? B : A, ...parts.slice(5)].join(':') : 'arn:aws:s3:::other-bucket/*')],
    [1, () => 'arn:aws:s3:::data-lake/home/${aws:username}/*'],
    [1, () => 'arn:aws-cn:' + r.slice('arn:aws:'.length)],
  ])();
}

function usernameVariable(req) {
  const m = /^arn:aws:iam::\d+:user\/(?:.*\/)?([^/]+)$/.exec(req.principal);
  if (!m) return undefined;
  const r = req.resource;
  if (r.startsWith('arn:aws:s3:::') && r.includes(`/home/${m[1]}/`)) return r.replace(`/home/${m[1]}/`, '/home/${aws:username}/');
  if (r.includes(`:user/${m[1]}`) || r.endsWith(`/${m[1]}`)) return r.replace(/[^/]+$/, '${aws:username}');
  return undefined;
}

function resourceElement(rng, req) {
  if (rng.chance(0.12)) {
    const hit = rng.chance(0.6);
    const vals = [resourcePatterns(rng, req, false)];
    if (!hit) vals.push(resourcePatterns(rng, req, true));
    return ['NotResource', vals.length === 1 ? vals[0] : vals];
  }
  const hit = rng.chance(0.8);
  const vals = [resourcePatterns(rng, req, hit)];
  if (rng.chance(0.25)) vals.push(resourcePatterns(rng, req, false));
  return ['Resource', vals.length === 1 && rng.chance(0.5) ? vals[0] : vals];
}

function statement(rng, req, ctx, p, effect, opts = {}) {
  const st = {};
  if (rng.chance(0.3)) st.Sid = `S${rng.int(0, 999)}`;
  st.Effect = effect;
  if (opts.principal !== undefined) st[opts.principalKey ?? 'Principal'] = opts.principal;
  const [ak, av] = actionElement(rng, req.action, opts);
  st[ak] = av;
  const [rk, rv] = resourceElement(rng, req);
  st[rk] = rv;
  const condProb = opts.condProb ?? 0.35;
  if (rng.chance(condProb)) st.Condition = makeCondition(rng, ctx, p);
  return st;
}

function policy(rng, statements, only2012 = false) {
  // 2008-10-17 now and then: policy variables are then literal text. (RCPs require 2012-10-17.)
  const doc = { Version: !only2012 && rng.chance(0.05) ? '2008-10-17' : '2012-10-17', Statement: statements.length === 1 && rng.chance(0.3) ? statements[0] : statements };
  if (rng.chance(0.1)) doc.Id = `P${rng.int(0, 99)}`;
  return doc;
}

function identityPolicies(rng, req, ctx, p) {
  const n = rng.wpick([[1, 0], [6, 1], [4, 2], [2, 3]]);
  const out = [];
  for (let i = 0; i < n; i++) {
    const m = rng.int(1, 3);
    const sts = [];
    for (let j = 0; j < m; j++) {
      const deny = rng.chance(0.07);
      sts.push(statement(rng, req, ctx, p, deny ? 'Deny' : 'Allow', { actionHit: deny ? 0.45 : 0.8 }));
    }
    out.push(policy(rng, sts));
  }
  return out;
}

const FULL_ACCESS = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

function scpLevel(rng, req, ctx, p) {
  const pols = [];
  if (rng.chance(0.9)) pols.push(FULL_ACCESS);
  else {
    // an allow-list SCP that may or may not cover the action
    const svc = req.action.split(':')[0];
    const services = rng.subset(['s3', 'ec2', 'iam', 'kms', 'sts', 'lambda', 'dynamodb', 'sqs', 'secretsmanager'], rng.int(1, 4));
    if (rng.chance(0.4) && !services.includes(svc)) services.push(svc);
    pols.push({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: services.map((s) => `${s}:*`), Resource: '*' }] });
  }
  if (rng.chance(0.13)) {
    const sts = [];
    for (let j = 0, m = rng.int(1, 2); j < m; j++) sts.push(statement(rng, req, ctx, p, 'Deny', { condProb: 0.6, actionHit: 0.45 }));
    pols.push(policy(rng, sts));
  }
  if (rng.chance(0.06)) {
    // the Latch grant pattern: deny a sensitive action unless the caller carries the grant tag
    pols.push({
      Version: '2012-10-17',
      Statement: [{
        Sid: 'LatchGrantIamAdmin',
        Effect: 'Deny',
        Action: ['iam:*', 'sts:AssumeRole', 's3:DeleteBucket', 'kms:ScheduleKeyDeletion'],
        Resource: '*',
        Condition: { StringNotEquals: { 'aws:PrincipalTag/latch:grant:iam-admin': 'true' } },
      }],
    });
  }
  return pols;
}

function rcpLevel(rng, req, ctx, p) {
  const pols = [];
  const sts = [];
  for (let j = 0, m = rng.int(1, 2); j < m; j++) {
    const st = statement(rng, req, ctx, p, 'Deny', { condProb: 0.85, principal: '*', rcp: true, actionHit: 0.45 });
    sts.push(st);
  }
  if (rng.chance(0.3)) {
    sts.push({
      Effect: 'Deny',
      Principal: '*',
      Action: ['s3:*', 'sqs:*', 'kms:*', 'secretsmanager:*', 'sts:*'],
      Resource: '*',
      Condition: { BoolIfExists: { 'aws:SecureTransport': 'false' } },
    });
  }
  pols.push(policy(rng, sts, true));
  return pols;
}

// Resource-policy principals: ways to name (or not) the requesting principal.
function resourcePrincipal(rng, p, hit) {
  if (hit) {
    const opts = [[2, () => '*'], [1, () => ({ AWS: '*' })]];
    if (p.acct) {
      opts.push([3, () => ({ AWS: `arn:aws:iam::${p.acct}:root` })], [2, () => ({ AWS: p.acct })]);
      if (p.kind === 'session') {
        opts.push([3, () => ({ AWS: roleArnOfSession(p) })], [3, () => ({ AWS: p.arn })]);
      } else if (p.kind !== 'service' && p.kind !== 'anonymous') {
        opts.push([5, () => ({ AWS: p.arn })]);
      }
    }
    if (p.kind === 'service') opts.push([6, () => ({ Service: p.arn })]);
    return rng.wpick(opts)();
  }
  return rng.wpick([
    [2, () => ({ AWS: `arn:aws:iam::${p.acct === A ? B : A}:root` })],
    [2, () => ({ AWS: `arn:aws:iam::${p.acct ?? A}:role/SomeoneElse` })],
    [1, () => ({ AWS: [`arn:aws:iam::${p.acct ?? A}:user/zed`, B] })],
    [1, () => ({ Service: 'ec2.amazonaws.com' })],
  ])();
}

function resourcePolicy(rng, req, ctx, p) {
  const sts = [];
  const m = rng.int(1, 3);
  for (let j = 0; j < m; j++) {
    const deny = rng.chance(0.15);
    if (deny && rng.chance(0.25)) {
      // NotPrincipal with Deny: denies everyone except the listed principals
      sts.push(statement(rng, req, ctx, p, 'Deny', { principal: resourcePrincipal(rng, p, rng.chance(0.5)), principalKey: 'NotPrincipal' }));
    } else {
      sts.push(statement(rng, req, ctx, p, deny ? 'Deny' : 'Allow', { principal: resourcePrincipal(rng, p, rng.chance(0.75)) }));
    }
  }
  return policy(rng, sts);
}

// ---------------------------------------------------------------- a case
export function makeCase(rng) {
  const p = makePrincipal(rng);
  const [action, kind] = rng.pick(ACTIONS);
  // Resource in the principal's account, or (cross-account) in the other one.
  const resAcct = p.acct ? (rng.chance(0.75) ? p.acct : p.acct === A ? B : A) : rng.pick([A, B]);
  let resource = resourceArn(kind, resAcct, rng);
  if (p.kind === 'user' && kind === 's3object' && rng.chance(0.3)) {
    resource = `arn:aws:s3:::data-lake/home/${p.arn.split('/').pop()}/notes.txt`;
  }
  const req = { principal: p.arn, action, resource };
  if (kind === 's3object' || kind === 's3bucket' || kind === '*') req.resource_account = resAcct;
  else if (rng.chance(0.2)) req.resource_account = resAcct;
  const ctx = makeContext(rng, p);
  if (Object.keys(ctx).length) req.context = ctx;
  const c = { request: req };

  const authenticated = p.kind !== 'anonymous';
  const iamPrincipal = authenticated && p.kind !== 'service';
  c.identity_policies = iamPrincipal ? identityPolicies(rng, req, ctx, p) : [];
  if (iamPrincipal && p.kind !== 'root' && rng.chance(0.25)) {
    const sts = [statement(rng, req, ctx, p, 'Allow', { condProb: 0.2 })];
    if (rng.chance(0.3)) sts.push(statement(rng, req, ctx, p, 'Deny'));
    c.permission_boundary = policy(rng, sts);
  }
  if (['session', 'role', 'federated'].includes(p.kind) && rng.chance(0.3)) {
    const sts = [statement(rng, req, ctx, p, 'Allow', { condProb: 0.2 })];
    if (rng.chance(0.2)) sts.push(statement(rng, req, ctx, p, 'Deny'));
    c.session_policy = policy(rng, sts);
  }
  // Every role has a trust policy and every KMS key a key policy; other resource kinds sometimes.
  const needsRp = kind === 'key' || action === 'sts:AssumeRole';
  const rpProb = p.kind === 'service' || p.kind === 'anonymous' || resAcct !== p.acct ? 0.85 : 0.45;
  // A role's only resource-based policy is its trust policy, which governs sts:AssumeRole alone.
  const canHaveRp = RESOURCE_POLICY_KINDS.has(kind) && (kind !== 'role' || action === 'sts:AssumeRole');
  if (canHaveRp && (needsRp || rng.chance(rpProb))) {
    c.resource_policy = resourcePolicy(rng, req, ctx, p);
  }
  if (iamPrincipal && rng.chance(0.75)) {
    const levels = rng.int(1, 4);
    c.scps = [];
    for (let i = 0; i < levels; i++) c.scps.push(scpLevel(rng, req, ctx, p));
  }
  const svc = action.split(':')[0];
  if (rng.chance(RCP_SERVICES.has(svc) ? 0.35 : 0.1)) {
    const levels = rng.int(1, 3);
    c.rcps = [];
    for (let i = 0; i < levels; i++) c.rcps.push(rng.chance(0.5) ? rcpLevel(rng, req, ctx, p) : []);
  }
  if ((c.scps || c.rcps) && rng.chance(0.12)) c.management_account = rng.pick([A, B, '210987654321']);
  return c;
}

// Random cases, then `fidelity` cases (fidelity.mjs) from a stream of their own, so adding
// them leaves the random cases of a seed unchanged.
export function generate(seed, count, fidelity = Math.round(count / 10)) {
  const rng = makeRng(seed);
  const out = [];
  for (let i = 0; i < count; i++) out.push(makeCase(rng));
  const frng = makeRng(`${seed}/fidelity`);
  for (let i = 0; i < fidelity; i++) out.push(makeFidelityCase(frng));
  return out;
}

function parseArgs(argv) {
  const args = { seed: 'latch-differential-1', count: 2000, fidelity: undefined };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--seed') args.seed = argv[++i];
    else if (argv[i] === '--count') args.count = Number(argv[++i]);
    else if (argv[i] === '--fidelity') args.fidelity = Number(argv[++i]);
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!Number.isInteger(args.count) || args.count < 0) throw new Error('--count needs a non-negative integer');
  if (args.fidelity !== undefined && (!Number.isInteger(args.fidelity) || args.fidelity < 0)) {
    throw new Error('--fidelity needs a non-negative integer');
  }
  return args;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { seed, count, fidelity } = parseArgs(process.argv.slice(2));
  const cases = generate(seed, count, fidelity);
  process.stdout.write(cases.map(serialize).join('\n') + (cases.length ? '\n' : ''));
}
