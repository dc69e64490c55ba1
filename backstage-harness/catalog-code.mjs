// The pieces of the pinned Backstage catalog that both scripts use, built the way
// the catalog plugin builds them (plugin-catalog-backend's CatalogBuilder).
//
// Some of them (the processing orchestrator, the rules enforcer, the placeholder
// resolvers, the YAML parser) are not exported by @backstage/plugin-catalog-backend,
// so they are loaded from the pinned package's own files: the validator then runs
// the catalog's code, not a copy of it. A version bump that moves these files makes
// the import fail loudly rather than validate differently.

import { createRequire } from 'node:module';
import path from 'node:path';

import {
  DefaultNamespaceEntityPolicy,
  EntityPolicies,
  FieldFormatEntityPolicy,
  NoForeignRootFieldsEntityPolicy,
  SchemaValidEntityPolicy,
  makeValidator,
} from '@backstage/catalog-model';
import { ConfigReader } from '@backstage/config';

const require = createRequire(import.meta.url);
const distOf = (pkg) => path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'dist');
const catalogBackend = (file) => require(path.join(distOf('@backstage/plugin-catalog-backend'), file));

export const { DefaultCatalogProcessingOrchestrator } = catalogBackend(
  'processing/DefaultCatalogProcessingOrchestrator.cjs.js',
);
export const { DefaultCatalogRulesEnforcer } = catalogBackend('ingestion/CatalogRules.cjs.js');
export const { defaultEntityDataParser } = catalogBackend('util/parse.cjs.js');
export const placeholderResolvers = (() => {
  const m = catalogBackend('processors/PlaceholderProcessor.cjs.js');
  return { json: m.jsonPlaceholderResolver, yaml: m.yamlPlaceholderResolver, text: m.textPlaceholderResolver };
})();

/** The kinds BuiltinKindsEntityProcessor recognises: what a plain catalog can ingest. */
export const BUILTIN_KINDS = ['Component', 'API', 'Resource', 'System', 'Domain', 'Group', 'User', 'Location'];

/** The entity policy the catalog enforces by default (CatalogBuilder.buildEntityPolicy). */
export function defaultEntityPolicy() {
  return EntityPolicies.allOf([
    new SchemaValidEntityPolicy(),
    new DefaultNamespaceEntityPolicy(),
    new NoForeignRootFieldsEntityPolicy(),
    new FieldFormatEntityPolicy(makeValidator()),
  ]);
}

/** `catalog.rules` allowing exactly these kinds, as the app-config would say it. */
export function rulesEnforcer(kinds) {
  return DefaultCatalogRulesEnforcer.fromConfig(new ConfigReader({ catalog: { rules: [{ allow: kinds }] } }));
}

/** A list of kind names from `--allow A,B,C`; the built-ins when not given. */
export function kindsOption(value) {
  if (!value) return BUILTIN_KINDS;
  return value
    .split(',')
    .map((kind) => kind.trim())
    .filter(Boolean);
}

/** An error as plain data: its name, message and the causes Backstage chains to it. */
export function errorJson(error) {
  const out = { name: error?.name ?? 'Error', message: String(error?.message ?? error) };
  if (error?.cause) out.cause = errorJson(error.cause);
  return out;
}

/** The logger the catalog's classes expect, writing to stderr at or above `level`. */
export function stderrLogger(level = 'warn', meta = {}) {
  const order = ['error', 'warn', 'info', 'debug'];
  const limit = order.indexOf(level);
  const log = (at) => (message, extra) => {
    if (order.indexOf(at) > limit) return;
    const fields = extra instanceof Error ? { error: errorJson(extra) } : extra;
    process.stderr.write(`${JSON.stringify({ level: at, message, ...meta, ...fields })}\n`);
  };
  return {
    error: log('error'),
    warn: log('warn'),
    info: log('info'),
    debug: log('debug'),
    child: (more) => stderrLogger(level, { ...meta, ...more }),
  };
}
