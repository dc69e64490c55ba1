#!/usr/bin/env node
// Offline validation of catalog files with the Backstage catalog's own processing code.
//
//   node validate.mjs [--allow Component,API,...] [--root DIR] [--base URL] FILE...
//
// Each FILE is read the way the catalog reads a `url` location of a repository
// (--base + its path relative to --root; --base is https://repository.invalid/ unless
// the repository's real URL is given, e.g. https://github.com/o/r/blob/<sha>/, which
// lets the catalog's same-repository rule for placeholders apply): the real orchestrator
// processes a Location entity pointing at it (YAML parsing, envelope checks), then
// every entity it yields is checked against `catalog.rules` (--allow, the built-in
// kinds by default) and processed like the catalog processes it (placeholders,
// entity policy, kind schemas, relations). `$text`/`$json`/`$yaml` placeholders are
// read from files under --root; anything else is refused, since nothing is fetched.
// A `.json` FILE may hold `{"items": [...]}` or an array (trueup's JSON export):
// each element is then read as one document.
//
// Prints one JSON document: {"files": [{file, location, ok, locationErrors,
// entities: [{ref, ok, errors, shadowed}]}], "entities", "accepted", "rejected"}.
// An entity is accepted when its own processing is clean and its file is not rejected
// as a whole. Exit code 0 when it ran (whatever it found), 1 on a usage error.

import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { ANNOTATION_LOCATION, ANNOTATION_ORIGIN_LOCATION, stringifyEntityRef } from '@backstage/catalog-model';
import { ConfigReader } from '@backstage/config';
import { NotFoundError } from '@backstage/errors';
import { ScmIntegrations } from '@backstage/integration';
import {
  AnnotateLocationEntityProcessor,
  BuiltinKindsEntityProcessor,
  PlaceholderProcessor,
  UrlReaderProcessor,
} from '@backstage/plugin-catalog-backend';
import { stringify as toYaml } from 'yaml';

import {
  DefaultCatalogProcessingOrchestrator,
  defaultEntityDataParser,
  defaultEntityPolicy,
  errorJson,
  kindsOption,
  placeholderResolvers,
  rulesEnforcer,
  stderrLogger,
} from './catalog-code.mjs';

/** A UrlReader over the files under `root` (at `base`), standing in for the repository host. */
function localReader(root, base, overrides) {
  const bases = [base, base.replace('/blob/', '/tree/')]; // GitHub's integration writes either form
  const fileOf = (url) => {
    const at = bases.find((prefix) => url.startsWith(prefix));
    if (!at) throw new NotFoundError(`${url} is outside the repository (not fetched offline)`);
    const file = path.resolve(root, decodeURIComponent(url.slice(at.length)));
    if (file !== root && !file.startsWith(root + path.sep)) throw new NotFoundError(`${url} leaves the repository`);
    return file;
  };
  const read = async (url) => {
    if (overrides.has(url)) return overrides.get(url);
    try {
      return await fs.readFile(fileOf(url));
    } catch (error) {
      if (error.code === 'ENOENT' || error.code === 'EISDIR') throw new NotFoundError(`${url} not found`);
      throw error;
    }
  };
  return {
    readUrl: async (url) => {
      const data = await read(url);
      return { buffer: async () => data };
    },
    search: async (url) => {
      const data = await read(url);
      return { files: [{ url, content: async () => data }], etag: undefined };
    },
  };
}

/** The file's text as the catalog would fetch it; JSON lists become YAML documents. */
async function documentText(file) {
  const text = await fs.readFile(file, 'utf8');
  if (!file.endsWith('.json')) return text;
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    return text; // left to the catalog's parser, which reports it
  }
  const items = Array.isArray(data) ? data : Array.isArray(data?.items) ? data.items : null;
  return items ? items.map((item) => `---\n${toYaml(item)}`).join('') : text;
}

function orchestrator(reader, enforcer) {
  const integrations = ScmIntegrations.fromConfig(new ConfigReader({}));
  const logger = stderrLogger('error');
  return new DefaultCatalogProcessingOrchestrator({
    processors: [
      new PlaceholderProcessor({ resolvers: placeholderResolvers, reader, integrations }),
      new BuiltinKindsEntityProcessor(),
      new UrlReaderProcessor({ reader, logger }),
      new AnnotateLocationEntityProcessor({ integrations }),
    ],
    integrations,
    logger,
    parser: defaultEntityDataParser,
    policy: defaultEntityPolicy(),
    rulesEnforcer: enforcer,
  });
}

function locationEntity(target) {
  const where = `url:${target}`;
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Location',
    metadata: {
      name: 'validated-file',
      annotations: { [ANNOTATION_LOCATION]: where, [ANNOTATION_ORIGIN_LOCATION]: where },
    },
    spec: { type: 'url', target },
  };
}

async function validateFile(file, root, base, kinds) {
  if (!file.startsWith(root + path.sep)) throw new Error(`${file} is not under --root ${root}`);
  const relative = path.relative(root, file).split(path.sep).map(encodeURIComponent).join('/');
  const target = base + relative;
  const reader = localReader(root, base, new Map([[target, Buffer.from(await documentText(file))]]));
  const rules = rulesEnforcer(kinds);
  // Read with every kind allowed, to see each entity; the real rules are applied below.
  const everyKind = { isAllowed: () => true };
  const reading = await orchestrator(reader, everyKind).process({ entity: locationEntity(target), state: {} });
  const locationErrors = reading.errors.map(errorJson);
  const check = orchestrator(reader, rules);
  const deferred = reading.deferredEntities ?? [];
  const refs = deferred.map(({ entity }) => stringifyEntityRef(entity));
  const entities = [];
  for (const [index, { entity }] of deferred.entries()) {
    const ref = refs[index];
    if (!rules.isAllowed(entity, { type: 'url', target })) {
      const error = { name: 'NotAllowedError', message: `Entity ${ref} at url:${target} is not of an allowed kind for that location` };
      locationErrors.push(error);
      entities.push({ ref, ok: false, errors: [error], shadowed: false });
      continue;
    }
    const result = await check.process({ entity, state: {} });
    entities.push({ ref, ok: result.ok, errors: result.errors.map(errorJson), shadowed: refs.indexOf(ref, index + 1) !== -1 });
  }
  const ok = locationErrors.length === 0 && entities.every((e) => e.ok);
  return { file, location: `url:${target}`, ok, locationErrors, entities };
}

async function main() {
  const { values, positionals } = parseArgs({
    options: { allow: { type: 'string' }, root: { type: 'string' }, base: { type: 'string' } },
    allowPositionals: true,
  });
  if (positionals.length === 0) {
    process.stderr.write('usage: node validate.mjs [--allow Kind,...] [--root DIR] [--base URL] FILE...\n');
    return 1;
  }
  const root = path.resolve(values.root ?? process.cwd());
  const kinds = kindsOption(values.allow);
  const base = values.base ?? 'https://repository.invalid/';
  if (!base.endsWith('/')) throw new Error(`--base must end with a slash: ${base}`);
  const files = [];
  for (const file of positionals) files.push(await validateFile(path.resolve(file), root, base, kinds));
  const all = files.flatMap((f) => f.entities.map((e) => ({ ...e, fileOk: f.locationErrors.length === 0 })));
  const accepted = all.filter((e) => e.ok && e.fileOk).length;
  process.stdout.write(`${JSON.stringify({ kinds, files, entities: all.length, accepted, rejected: all.length - accepted }, null, 1)}\n`);
  return 0;
}

process.exitCode = await main();
