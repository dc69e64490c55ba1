#!/usr/bin/env node
// A real Backstage catalog backend reading one location, reporting what it ingested.
//
//   node catalog.mjs --target PATH_OR_URL [--type file|url] [--allow Kind,...]
//                    [--port N] [--quiet-ms MS] [--timeout-s S] [--serve]
//
// createBackend() with the catalog plugin, SQLite in memory, one `file` or `url`
// location (`backend.reading.allow` gets the URL's host:port), `catalog.rules`
// allowing --allow (the built-in kinds by default), a static token for the REST API,
// and a small catalog module that records the processing-error hook and what is
// being processed. Once processing has settled it prints one JSON report line:
//
//   {"event": "report", "location": "location:default/generated-…", "entities": [refs],
//    "stitched": n, "locationErrors": [...], "processingErrors": [...],
//    "hookErrors": [...], "elapsedMs": n}
//
// and exits. With --serve it prints the first report as {"event": "ready", "baseUrl",
// "token", …} and then answers one JSON line per command read from stdin:
// `report` (settle, report), `refresh` (refresh the location entity through the REST
// API, wait until it was processed again and everything settled, report), `quit` or
// end of input (stop, {"event": "stopped"}). Logs go to stderr. See README.md.

import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';

import { createBackend } from '@backstage/backend-defaults';
import { coreServices, createBackendModule, createServiceFactory } from '@backstage/backend-plugin-api';
import { stringifyEntityRef } from '@backstage/catalog-model';
import { ConfigReader } from '@backstage/config';
import { catalogProcessingExtensionPoint, locationSpecToMetadataName } from '@backstage/plugin-catalog-node';

import { errorJson, kindsOption, stderrLogger } from './catalog-code.mjs';

const POLL_MS = 200;

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function appConfig({ type, target, kinds, port, token }) {
  const backend = {
    baseUrl: `http://127.0.0.1:${port}`,
    listen: { host: '127.0.0.1', port },
    database: { client: 'better-sqlite3', connection: ':memory:' },
    auth: { externalAccess: [{ type: 'static', options: { token, subject: 'trueup-harness' } }] },
  };
  if (type === 'url') backend.reading = { allow: [{ host: new URL(target).host }] };
  return {
    backend,
    catalog: {
      locations: [{ type, target }],
      rules: [{ allow: kinds }],
      stitchingStrategy: { pollingInterval: { milliseconds: 100 } },
    },
  };
}

/** What the harness module sees from inside the catalog: activity, hook errors, the database. */
function observer() {
  const seen = { activity: 0, lastActivity: Date.now(), processedAt: new Map(), hookErrors: [], db: undefined };
  const touch = (ref) => {
    seen.activity += 1;
    seen.lastActivity = Date.now();
    if (ref) seen.processedAt.set(ref, seen.lastActivity);
  };
  const recorder = {
    getProcessorName: () => 'trueup-harness-recorder',
    async preProcessEntity(entity) {
      touch(stringifyEntityRef(entity).toLowerCase());
      return entity;
    },
  };
  const module = createBackendModule({
    pluginId: 'catalog',
    moduleId: 'trueup-harness',
    register(reg) {
      reg.registerInit({
        deps: { processing: catalogProcessingExtensionPoint, database: coreServices.database },
        async init({ processing, database }) {
          processing.addProcessor(recorder);
          processing.setOnProcessingErrorHandler(({ unprocessedEntity, errors }) => {
            touch();
            seen.hookErrors.push({ ref: stringifyEntityRef(unprocessedEntity), errors: errors.map(errorJson) });
          });
          seen.db = await database.getClient(); // the catalog's own client (one per plugin)
        },
      });
    },
  });
  return { seen, module };
}

/** The catalog's processing state, read from its tables (pinned schema of 4.0.5). */
async function processingState(db) {
  const [rows, orphans, due, unprocessed, stitching] = await Promise.all([
    db('refresh_state').select('entity_ref', 'errors', 'result_hash'),
    // No location emits these any more; the catalog's orphan clean-up deletes them within 30 s.
    db('refresh_state')
      .leftJoin('refresh_state_references', 'refresh_state.entity_ref', 'refresh_state_references.target_entity_ref')
      .whereNull('refresh_state_references.target_entity_ref')
      .pluck('refresh_state.entity_ref'),
    db('refresh_state').where('next_update_at', '<=', db.fn.now()).count({ n: '*' }),
    db('refresh_state').whereNull('result_hash').count({ n: '*' }),
    db('stitch_queue').count({ n: '*' }),
  ]);
  const errors = rows
    .map((row) => ({ ref: row.entity_ref, errors: JSON.parse(row.errors || '[]').map(errorJson) }))
    .filter((row) => row.errors.length > 0);
  const fingerprint = JSON.stringify([rows.map((r) => [r.entity_ref, r.result_hash]), stitching[0].n]);
  const busy = Number(due[0].n) + Number(unprocessed[0].n) + Number(stitching[0].n);
  return { errors, orphans, fingerprint, busy };
}

class Catalog {
  constructor(options) {
    Object.assign(this, options);
    this.baseUrl = `http://127.0.0.1:${options.port}`;
    const resolved = options.type === 'file' ? path.resolve(options.target) : options.target;
    this.locationRef = `location:default/${locationSpecToMetadataName({ type: options.type, target: resolved })}`;
  }

  async start() {
    const { seen, module } = observer();
    this.seen = seen;
    this.backend = createBackend();
    const config = new ConfigReader(appConfig(this));
    this.backend.add(createServiceFactory({ service: coreServices.rootConfig, deps: {}, factory: () => config }));
    const logger = stderrLogger(this.logLevel);
    this.backend.add(createServiceFactory({ service: coreServices.rootLogger, deps: {}, factory: () => logger }));
    this.backend.add(import('@backstage/plugin-catalog-backend'));
    this.backend.add(module);
    await this.backend.start();
  }

  async api(method, route, body) {
    const response = await fetch(`${this.baseUrl}/api/catalog${route}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${method} ${route}: HTTP ${response.status} ${await response.text()}`);
    const text = await response.text();
    return text ? JSON.parse(text) : undefined;
  }

  /** Wait until the location was processed after `locationAfter`, nothing is due or unstitched, and all is quiet. */
  async settle(locationAfter) {
    const deadline = Date.now() + this.timeoutS * 1000;
    let last = '';
    let stableSince = Date.now();
    for (;;) {
      const state = await processingState(this.seen.db);
      const mark = `${state.fingerprint}|${this.seen.activity}`;
      if (mark !== last) {
        last = mark;
        stableSince = Date.now();
      }
      const locationDone = (this.seen.processedAt.get(this.locationRef) ?? -1) >= locationAfter;
      const quietFor = Date.now() - Math.max(stableSince, this.seen.lastActivity);
      if (locationDone && state.busy === 0 && quietFor >= this.quietMs) return state;
      if (Date.now() > deadline) throw new Error(`processing did not settle within ${this.timeoutS} s`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  async report(event, since, locationAfter = since) {
    const state = await this.settle(locationAfter);
    const listed = await this.api('GET', '/entities?fields=kind,metadata.namespace,metadata.name');
    const entities = listed.map((entity) => stringifyEntityRef(entity)).sort();
    const orphans = new Set(state.orphans);
    const isOrphan = (ref) => orphans.has(ref.toLowerCase());
    const isLocation = (row) => row.ref === this.locationRef;
    return {
      event,
      location: this.locationRef,
      entities: entities.filter((ref) => !isOrphan(ref)),
      orphans: entities.filter(isOrphan),
      stitched: entities.length,
      locationErrors: state.errors.filter(isLocation),
      processingErrors: state.errors.filter((row) => !isLocation(row)),
      hookErrors: this.seen.hookErrors,
      elapsedMs: Date.now() - since,
    };
  }

  async refresh() {
    const since = Date.now();
    await this.api('POST', '/refresh', { entityRef: this.locationRef });
    return this.report('refreshed', since);
  }
}

const print = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);

async function serve(catalog) {
  const lines = readline.createInterface({ input: process.stdin });
  for await (const raw of lines) {
    const command = raw.trim();
    if (command === '') continue;
    if (command === 'quit') break;
    try {
      if (command === 'report') print(await catalog.report('report', Date.now(), 0));
      else if (command === 'refresh') print(await catalog.refresh());
      else print({ event: 'error', message: `unknown command ${JSON.stringify(command)}: report, refresh or quit` });
    } catch (error) {
      print({ event: 'error', message: String(error?.message ?? error) });
    }
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      target: { type: 'string' },
      type: { type: 'string', default: 'file' },
      allow: { type: 'string' },
      port: { type: 'string', default: '0' },
      'quiet-ms': { type: 'string', default: '1500' },
      'timeout-s': { type: 'string', default: '600' },
      'log-level': { type: 'string', default: 'warn' },
      serve: { type: 'boolean', default: false },
    },
  });
  if (!values.target || !['file', 'url'].includes(values.type)) {
    process.stderr.write('usage: node catalog.mjs --target PATH_OR_URL [--type file|url] [--allow Kind,...] [--serve]\n');
    return 1;
  }
  const catalog = new Catalog({
    type: values.type,
    target: values.target,
    kinds: kindsOption(values.allow),
    port: Number(values.port) || (await freePort()),
    token: randomBytes(24).toString('hex'),
    quietMs: Number(values['quiet-ms']),
    timeoutS: Number(values['timeout-s']),
    logLevel: values['log-level'],
  });
  const started = Date.now();
  await catalog.start();
  try {
    const first = await catalog.report(values.serve ? 'ready' : 'report', started);
    if (!values.serve) {
      print(first);
      return 0;
    }
    print({ ...first, baseUrl: catalog.baseUrl, token: catalog.token });
    await serve(catalog);
    print({ event: 'stopped' });
    return 0;
  } finally {
    await catalog.backend.stop();
  }
}

let code;
try {
  code = await main();
} catch (error) {
  print({ event: 'failed', error: errorJson(error) });
  code = 2;
}
// A stopped backend still holds timers and sockets; end once the output is written.
process.stdout.write('', () => process.exit(code));
