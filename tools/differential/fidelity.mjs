// Seeded cases aimed at AWS behaviour an independent engine is least likely to share, each
// built so that AWS's documented answer is known from the case alone:
//
// - what AWS refuses whatever the policies say (Identity Center roles, service-linked roles,
//   AWS managed policies, `alias/aws/` KMS aliases), next to the reads that stay allowed;
// - RCPs on every service of the Organizations guide's list (not only the best-known ones),
//   and on services off the list, where they do nothing;
// - fail closed: a Deny the engine cannot read still denies, an Allow it cannot read grants
//   nothing, and a policy AWS would refuse to store is refused with its JSON path.
//
// The answers are checked by the `rules` of known-differences.json, on every case they apply
// to, whatever iam-simulate says. Statements carry a Sid naming their family (`Fidelity...`),
// which is what those rules select on.

const A = '111122223333';
const REGION = 'us-east-1';

const ALLOW_ALL = { Effect: 'Allow', Action: '*', Resource: '*' };
const FULL_ACCESS = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

// A marker key that `serialize` turns into a second `Effect` key: JSON objects cannot hold a
// repeated key, but a policy document can be written with one.
export const DUPLICATE_EFFECT = '__duplicate_Effect__';

// [resource ARN, actions AWS refuses on it, actions that stay allowed]
const PROTECTED = [
  [
    `arn:aws:iam::${A}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_0123456789abcdef`,
    ['iam:AttachRolePolicy', 'iam:DetachRolePolicy', 'iam:PutRolePolicy', 'iam:DeleteRolePolicy',
      'iam:PutRolePermissionsBoundary', 'iam:DeleteRolePermissionsBoundary', 'iam:UpdateAssumeRolePolicy',
      'iam:UpdateRole', 'iam:UpdateRoleDescription', 'iam:DeleteRole', 'iam:TagRole', 'iam:UntagRole',
      'iam:CreateRole'],
    ['iam:GetRole', 'iam:ListRolePolicies', 'iam:ListRoleTags'],
  ],
  [
    `arn:aws:iam::${A}:role/aws-service-role/elasticbeanstalk.amazonaws.com/AWSServiceRoleForElasticBeanstalk`,
    ['iam:AttachRolePolicy', 'iam:DetachRolePolicy', 'iam:PutRolePolicy', 'iam:DeleteRolePolicy',
      'iam:PutRolePermissionsBoundary', 'iam:DeleteRolePermissionsBoundary', 'iam:UpdateAssumeRolePolicy',
      'iam:DeleteRole'],
    ['iam:GetRole', 'iam:UpdateRoleDescription'],
  ],
  [
    'arn:aws:iam::aws:policy/AdministratorAccess',
    ['iam:CreatePolicyVersion', 'iam:SetDefaultPolicyVersion', 'iam:DeletePolicyVersion',
      'iam:DeletePolicy', 'iam:TagPolicy', 'iam:UntagPolicy'],
    ['iam:GetPolicy', 'iam:GetPolicyVersion', 'iam:ListPolicyVersions'],
  ],
  [
    `arn:aws:kms:${REGION}:${A}:alias/aws/s3`,
    ['kms:CreateAlias', 'kms:UpdateAlias', 'kms:DeleteAlias'],
    [],
  ],
];

const CALLERS = [
  `arn:aws:iam::${A}:user/alice`,
  `arn:aws:sts::${A}:assumed-role/Deployer/ci-run-42`,
];

function protectedCase(rng) {
  const [resource, refused, reads] = rng.pick(PROTECTED);
  const read = reads.length > 0 && rng.chance(0.25);
  const action = read ? rng.pick(reads) : rng.pick(refused);
  const c = {
    request: { principal: rng.pick(CALLERS), action, resource },
    identity_policies: [{
      Version: '2012-10-17',
      Statement: [{ Sid: read ? 'FidelityProtectedRead' : 'FidelityProtected', ...ALLOW_ALL }],
    }],
  };
  if (rng.chance(0.5)) c.scps = [[FULL_ACCESS]];
  // With an explicit Deny too, AWS still refuses; the engine names the protection.
  if (!read && rng.chance(0.2)) {
    c.scps = [[FULL_ACCESS, { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: action, Resource: '*' }] }]];
  }
  return c;
}

// [action, resource] on services of the list (beyond the best-known ones) and off it.
const RCP_REQUESTS = [
  ['events:PutEvents', `arn:aws:events:${REGION}:${A}:event-bus/default`],
  ['codebuild:StartBuild', `arn:aws:codebuild:${REGION}:${A}:project/release`],
  ['kinesisvideo:GetMedia', `arn:aws:kinesisvideo:${REGION}:${A}:stream/lobby/1700000000000`],
  ['logs:PutLogEvents', `arn:aws:logs:${REGION}:${A}:log-group:app:log-stream:web-1`],
  ['ecr:BatchGetImage', `arn:aws:ecr:${REGION}:${A}:repository/web`],
  ['cognito-idp:AdminCreateUser', `arn:aws:cognito-idp:${REGION}:${A}:userpool/us-east-1_Abc123`],
  ['ec2:TerminateInstances', `arn:aws:ec2:${REGION}:${A}:instance/i-0abc123def4567890`],
  ['lambda:InvokeFunction', `arn:aws:lambda:${REGION}:${A}:function:process-orders`],
  ['glue:StartJobRun', `arn:aws:glue:${REGION}:${A}:job/nightly`],
];

function rcpCase(rng) {
  const [action, resource] = rng.pick(RCP_REQUESTS);
  const svc = action.split(':')[0];
  const denied = rng.pick([action, `${svc}:*`, '*']);
  const c = {
    request: { principal: rng.pick(CALLERS), action, resource },
    identity_policies: [{ Version: '2012-10-17', Statement: [ALLOW_ALL] }],
    rcps: [[{
      Version: '2012-10-17',
      Statement: [{ Sid: 'FidelityRcp', Effect: 'Deny', Principal: '*', Action: denied, Resource: '*' }],
    }]],
  };
  if (rng.chance(0.15)) c.management_account = A;
  return c;
}

// A Deny the engine cannot read: a malformed resource, or a condition over a request value its
// operator cannot read. [statement fields, request context]
const UNREADABLE_DENIES = [
  () => [{ Resource: 'arn:aws:s3' }, {}],
  () => [{ Resource: 'arn:::::' }, {}],
  () => [{ Resource: 'not-an-arn' }, {}],
  () => [{ Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }, { 'aws:SourceIp': 'not-an-ip' }],
  () => [{ Resource: '*', Condition: { NumericLessThan: { 'aws:MultiFactorAuthAge': '3600' } } }, { 'aws:MultiFactorAuthAge': 'abc' }],
  () => [{ Resource: '*', Condition: { DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } } }, { 'aws:CurrentTime': 'yesterday' }],
  () => [{ Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }, { 'aws:SecureTransport': 'nope' }],
  () => [{ Resource: '*', Condition: { StringEquals: { 'aws:PrincipalTag/team': [] } } }, {}],
];

// An Allow the engine cannot read (the only Allow of the case).
const UNREADABLE_ALLOWS = [
  () => [{ Resource: '*', Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }, { 'aws:SourceIp': 'not-an-ip' }],
  () => [{ Resource: '*', Condition: { NumericNotEquals: { 'aws:MultiFactorAuthAge': '0' } } }, { 'aws:MultiFactorAuthAge': 'abc' }],
  () => [{ Resource: '*', Condition: { DateNotEquals: { 'aws:CurrentTime': '2020-01-01T00:00:00Z' } } }, { 'aws:CurrentTime': 'yesterday' }],
  // An ARN pattern is matched segment by segment; `arn:aws:s3*` has no resource segments and
  // matches no S3 ARN (IAM User Guide, "IAM JSON policy elements: Resource").
  () => [{ Resource: 'arn:aws:s3*' }, {}],
  () => [{ Resource: '*', Condition: { StringNotEquals: { 'aws:PrincipalTag/team': [] } } }, {}],
];

// Policies AWS refuses to store: [statement to add, where the error is]
const REFUSED = [
  () => ({ Sid: 'FidelityRefusedEmptyAction', Effect: 'Deny', Action: [], Resource: '*' }),
  () => ({ Sid: 'FidelityRefusedNan', Effect: 'Deny', Action: 's3:*', Resource: '*', Condition: { NumericLessThan: { 's3:max-keys': 'nan' } } }),
  () => ({ Sid: 'FidelityRefusedDuplicate', Effect: 'Deny', [DUPLICATE_EFFECT]: 'Allow', Action: 's3:*', Resource: '*' }),
];

const S3 = [['s3:GetObject', 'arn:aws:s3:::prod-data/reports/q1.csv'], ['s3:DeleteBucket', 'arn:aws:s3:::prod-data']];

function failClosedCase(rng) {
  const principal = rng.pick(CALLERS);
  const [action, resource] = rng.pick(S3);
  const request = { principal, action, resource, resource_account: A };
  const kind = rng.wpick([[4, 'deny'], [3, 'allow'], [2, 'refused']]);
  const c = { request };
  if (kind === 'deny') {
    const [fields, ctx] = rng.pick(UNREADABLE_DENIES)();
    if (Object.keys(ctx).length) request.context = ctx;
    const deny = { Sid: 'FidelityUnreadableDeny', Effect: 'Deny', Action: rng.pick([action, 's3:*']), ...fields };
    const where = rng.pick(['identity', 'scp', 'boundary']);
    c.identity_policies = [{ Version: '2012-10-17', Statement: where === 'identity' ? [ALLOW_ALL, deny] : [ALLOW_ALL] }];
    if (where === 'scp') c.scps = [[FULL_ACCESS, { Version: '2012-10-17', Statement: [deny] }]];
    if (where === 'boundary') c.permission_boundary = { Version: '2012-10-17', Statement: [ALLOW_ALL, deny] };
  } else if (kind === 'allow') {
    const [fields, ctx] = rng.pick(UNREADABLE_ALLOWS)();
    if (Object.keys(ctx).length) request.context = ctx;
    c.identity_policies = [{
      Version: '2012-10-17',
      Statement: [{ Sid: 'FidelityUnreadableAllow', Effect: 'Allow', Action: rng.pick([action, 's3:*']), ...fields }],
    }];
  } else {
    c.identity_policies = [{ Version: '2012-10-17', Statement: [ALLOW_ALL, rng.pick(REFUSED)()] }];
  }
  return c;
}

/** One fidelity case. */
export function makeFidelityCase(rng) {
  return rng.wpick([[3, protectedCase], [3, rcpCase], [4, failClosedCase]])(rng);
}

/** A case as one JSON line (a repeated `Effect` key where the case asks for one). */
export function serialize(c) {
  return JSON.stringify(c).replaceAll(`"${DUPLICATE_EFFECT}"`, '"Effect"');
}
