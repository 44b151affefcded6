// lumiku-ops's driver of Prisma's schema engine (@prisma/schema-engine-wasm), run by engine.py.
//
//   node engine.mjs INSTALL_DIR  < request.json  > result.json
//
// Reads ONE JSON request on stdin and writes ONE JSON object on stdout:
// {"ok": true, ...} or {"ok": false, "error": "...", "code": "P...."}. Everything else (the
// engine's logs, a library's console output) goes to stderr. INSTALL_DIR holds the pinned
// node_modules that `lumiku-ops prisma install` put there with `npm ci`.
//
// Request: {"op": "version" | "schema_sql" | "migrations_to_schema" | "url_to_schema" |
//           "schema_to_url" | "diagnose_history",
//           "schema": [{"path", "content"}],          the .prisma files, datasource urls removed
//           "migrations": {"baseDir", "lockfile": {"path", "content"|null},
//                          "directories": [{"name", "sql"|null}]},  in folder-name order
//           "url": "postgresql://...",                 the database to read (url_*, diagnose)
//           "shadowUrl": "postgresql://...",           an empty scratch database we own
//           "dbSchema": "public",                      Prisma's ?schema= (search path)
//           "externalTables": [], "externalEnums": []}
//
// Three fixes to @prisma/adapter-pg 7.10.1, each where the adapter is built below:
//  1. "char" (OID 18) columns are read as text: the adapter throws UnsupportedNativeDataType
//     for them, and the engine's own catalog queries return some (pg_class.relkind...).
//  2. executeScript sends the whole script as one simple-protocol batch (one implicit
//     transaction): the adapter splits scripts on ";", which is not atomic and cuts a
//     `$$ ... ; ... $$` function body into pieces that PostgreSQL rejects.
//  3. The shadow database is the one in the request, never the adapter's own
//     connectToShadowDb, which builds its pool from the live connection string (whose
//     database wins over the one it meant to create) and so can replay onto the live database.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';

// stdout carries the one result; anything a library prints goes to stderr.
for (const name of ['log', 'info', 'debug', 'warn', 'error', 'trace']) {
  console[name] = (...args) => process.stderr.write(format(...args) + '\n');
}

const PACKAGES = [
  '@prisma/schema-engine-wasm',
  '@prisma/adapter-pg',
  '@prisma/driver-adapter-utils',
  'pg',
];
const OID_CHAR = 18;
const OID_TEXT = 25;
const ADAPTER_NAME = '@prisma/adapter-pg';
// The engine's first query, on connecting: does the schema exist, and which server is this.
const BOOTSTRAP_QUERY = /^SELECT EXISTS\(SELECT 1 FROM pg_namespace WHERE nspname = \$1\), version\(\)/;
// What the offline stand-in says it is: the oldest server the tests run on is newer.
const OFFLINE_VERSION = ['PostgreSQL 16.0 (lumiku-ops: no database connected)', 160000];

class RequestError extends Error {}

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (chunk) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

function loadModules(installDir) {
  const require = createRequire(path.join(installDir, 'package.json'));
  const versions = {};
  for (const name of PACKAGES) {
    const manifest = path.join(installDir, 'node_modules', ...name.split('/'), 'package.json');
    versions[name] = JSON.parse(fs.readFileSync(manifest, 'utf8')).version;
  }
  return {
    pg: require('pg'),
    PrismaPg: require('@prisma/adapter-pg').PrismaPg,
    utils: require('@prisma/driver-adapter-utils'),
    bgPath: require.resolve('@prisma/schema-engine-wasm/schema_engine_bg'),
    versions,
  };
}

async function loadWasm(bgPath) {
  // schema_engine.js imports the .wasm file as an ES module, which Node refuses: instantiate
  // it by hand and hand the exports to the bindings, as that file would have.
  const bg = await import(pathToFileURL(bgPath).href);
  const bytes = fs.readFileSync(bgPath.replace(/\.js$/, '.wasm'));
  const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': bg });
  bg.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start?.();
  return bg;
}

// Fix 1: a pg Client whose results report "char" columns as text. Rows are already parsed
// (a "char" arrives as a one-character string); only the type the adapter maps changes.
function charAsTextClient(pg) {
  const retype = (result) => {
    for (const one of Array.isArray(result) ? result : [result]) {
      for (const field of one?.fields ?? []) {
        if (field.dataTypeID === OID_CHAR) {
          field.dataTypeID = OID_TEXT;
          field.lumikuChar = true; // reported as Character by the adapter's queryRaw below
        }
      }
    }
    return result;
  };
  return class CharAsTextClient extends pg.Client {
    query(config, values, callback) {
      if (typeof values === 'function') {
        callback = values;
        values = undefined;
      }
      if (config && typeof config.submit === 'function') {
        return super.query(config, values, callback);
      }
      if (typeof callback === 'function') {
        return super.query(config, values, (error, result) =>
          callback(error, error ? result : retype(result)),
        );
      }
      return super.query(config, values).then(retype);
    }
  };
}

async function connectTo(modules, url, dbSchema, { readOnly = false } = {}) {
  const { pg, PrismaPg } = modules;
  const pool = new pg.Pool({ connectionString: url, Client: charAsTextClient(pg), max: 4 });
  const adapter = await new PrismaPg(pool, {
    schema: dbSchema || undefined,
    disposeExternalPool: true,
  }).connect();
  // Fix 2: one batch, one implicit transaction, `$$` bodies intact.
  adapter.executeScript = async function executeScript(script) {
    try {
      await this.client.query(script);
    } catch (error) {
      this.onError(error);
    }
  };
  // Fix 1, second half: the engine reads catalog "char" columns (pg_constraint.contype...)
  // as Character; given Text it panics on a CHECK constraint (procrastinate's schema has some).
  const queryRaw = adapter.queryRaw;
  adapter.queryRaw = async function queryRawWithChar(query) {
    const self = this;
    let chars = [];
    const view = Object.create(self);
    view.performIO = async (io) => {
      const result = await self.performIO(io);
      chars = (result.fields ?? []).flatMap((field, index) => (field.lumikuChar ? [index] : []));
      return result;
    };
    const out = await queryRaw.call(view, query);
    for (const index of chars) out.columnTypes[index] = modules.utils.ColumnTypeEnum.Character;
    return out;
  };
  if (readOnly) {
    // The live database is only read (describe, _prisma_migrations): anything that would
    // write is refused here, whatever the engine's version decides to do.
    const refuse = (what) => async () => {
      throw new Error(`lumiku-ops: this operation only reads the database; the engine tried ${what}`);
    };
    adapter.executeScript = refuse('a script');
    adapter.executeRaw = refuse('a statement');
    adapter.startTransaction = refuse('a transaction');
  }
  return adapter;
}

// The relations in a database outside PostgreSQL's own schemas: a replay needs none.
const USER_RELATIONS = `SELECT current_database() AS db, count(*)::int AS n FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`;

async function emptyShadow(modules, url, dbSchema) {
  const adapter = await connectTo(modules, url, dbSchema);
  try {
    const { rows } = await adapter.client.query(USER_RELATIONS);
    if (rows[0].n > 0) {
      throw new Error(
        `lumiku-ops: the shadow database "${rows[0].db}" is not empty ` +
          `(${rows[0].n} tables, views or sequences); migrations are replayed only on an empty ` +
          'scratch database, never on one that holds data',
      );
    }
  } catch (error) {
    await adapter.dispose().catch(() => {});
    throw error;
  }
  return adapter;
}

// Stands in for a database where the operation needs none (schema_sql; the main connection
// of migrations_to_schema, so that the live database is never even connected): it answers
// the engine's bootstrap query and refuses everything else, loudly.
function offlineAdapter(dbSchema, why) {
  const refuse = async (what) => {
    throw new Error(`lumiku-ops: ${why}; the engine tried ${what}`);
  };
  return {
    provider: 'postgres',
    adapterName: ADAPTER_NAME,
    async queryRaw(query) {
      if (!BOOTSTRAP_QUERY.test(query.sql)) return refuse(`a query: ${query.sql.slice(0, 80)}`);
      return {
        columnNames: ['exists', 'version', 'numeric_version'],
        columnTypes: [5, 7, 0], // Boolean, Text, Int32 (driver-adapter-utils' ColumnTypeEnum)
        rows: [[true, ...OFFLINE_VERSION]],
      };
    },
    executeRaw: () => refuse('a statement'),
    executeScript: () => refuse('a script'),
    startTransaction: () => refuse('a transaction'),
    getConnectionInfo: () => ({ schemaName: dbSchema || undefined, supportsRelationJoins: true }),
    dispose: async () => {},
  };
}

// Where the binder keeps JavaScript errors; the engine's message names them by id only.
const registries = [];

function externalError(id) {
  for (const registry of registries) {
    const found = registry.registeredErrors[id];
    if (found) return found.error instanceof Error ? found.error.message : String(found.error);
  }
  return null;
}

// The factory the engine is given. Its methods are closures: the engine calls them unbound
// (a PrismaPg instance passed as is fails on `this.externalPool`), and the driver-adapter
// binder wraps results and errors the way the engine reads them ({ok, value|error}).
function adapterFactory(modules, { url, shadowUrl, dbSchema, offlineReason, readOnly }) {
  const opened = [];
  const track = (adapter) => {
    opened.push(adapter);
    return adapter;
  };
  const factory = {
    provider: 'postgres',
    adapterName: ADAPTER_NAME,
    connect: async () =>
      track(
        url
          ? await connectTo(modules, url, dbSchema, { readOnly })
          : offlineAdapter(dbSchema, offlineReason),
      ),
    // Fix 3: our own empty scratch database, or nothing at all.
    connectToShadowDb: async () => {
      if (!shadowUrl) throw new Error('lumiku-ops: this operation has no shadow database');
      return track(await emptyShadow(modules, shadowUrl, dbSchema));
    },
  };
  const bound = modules.utils.bindMigrationAwareSqlAdapterFactory(factory);
  registries.push(bound.errorRegistry);
  bound.closeAll = async () => {
    for (const adapter of opened.splice(0)) await adapter.dispose().catch(() => {});
  };
  return bound;
}

function schemaFiles(request) {
  const files = request.schema;
  if (!Array.isArray(files) || files.length === 0) {
    throw new RequestError('the request carries no schema files');
  }
  return files.map(({ path: file, content }) => ({ path: String(file), content: String(content) }));
}

function migrationsList(request) {
  const migrations = request.migrations;
  if (!migrations) throw new RequestError('the request carries no migrations');
  return {
    baseDir: String(migrations.baseDir),
    lockfile: {
      path: migrations.lockfile?.path ?? 'migration_lock.toml',
      content: migrations.lockfile?.content ?? null,
    },
    shadowDbInitScript: '',
    // A folder without a readable migration.sql is an error the engine reports, as Prisma's.
    migrationDirectories: (migrations.directories ?? []).map(({ name, sql }) => ({
      path: String(name),
      migrationFile: {
        path: 'migration.sql',
        content:
          typeof sql === 'string'
            ? { tag: 'ok', value: sql }
            : { tag: 'error', value: `${name}/migration.sql is missing` },
      },
    })),
  };
}

function filtersOf(request) {
  return {
    externalTables: (request.externalTables ?? []).map(String),
    externalEnums: (request.externalEnums ?? []).map(String),
  };
}

async function withEngine(bg, modules, request, options, use) {
  const files = schemaFiles(request);
  const factory = adapterFactory(modules, { dbSchema: request.dbSchema, ...options });
  const datamodels = files.map(({ path: file, content }) => [file, content]);
  try {
    const engine = await bg.SchemaEngine.new({ datamodels }, () => {}, factory);
    try {
      return await use(engine, files);
    } finally {
      engine.free();
    }
  } finally {
    await factory.closeAll();
  }
}

// The script from `from` to `to`; '' when the engine finds no difference (it would print
// "-- This is an empty migration."): its exit code says so, as `prisma migrate diff
// --exit-code` does.
async function diffSql(engine, from, to, request) {
  const result = await engine.diff({
    from,
    to,
    script: true,
    exitCode: true,
    filters: filtersOf(request),
  });
  return result.exitCode === 0 ? '' : (result.stdout ?? '');
}

function required(request, key) {
  const value = request[key];
  if (typeof value !== 'string' || value === '') {
    throw new RequestError(`${request.op} needs "${key}"`);
  }
  return value;
}

const OPERATIONS = {
  async version(bg, modules) {
    return { engine: bg.version(), packages: modules.versions };
  },

  async schema_sql(bg, modules, request) {
    const options = { offlineReason: 'schema_sql reads no database' };
    return withEngine(bg, modules, request, options, async (engine, files) => ({
      sql: await diffSql(engine, { tag: 'empty' }, { tag: 'schemaDatamodel', files }, request),
    }));
  },

  async migrations_to_schema(bg, modules, request) {
    const options = {
      shadowUrl: required(request, 'shadowUrl'),
      offlineReason: 'migrations_to_schema reads no live database, only the shadow',
    };
    const from = { tag: 'migrations', ...migrationsList(request) };
    return withEngine(bg, modules, request, options, async (engine, files) => ({
      sql: await diffSql(engine, from, { tag: 'schemaDatamodel', files }, request),
    }));
  },

  async url_to_schema(bg, modules, request) {
    const options = { url: required(request, 'url'), readOnly: true };
    return withEngine(bg, modules, request, options, async (engine, files) => ({
      // "schemaDatasource" is the database the adapter is connected to: the engine no
      // longer accepts a {tag: "url"} target.
      sql: await diffSql(
        engine,
        { tag: 'schemaDatasource', files, configDir: process.cwd() },
        { tag: 'schemaDatamodel', files },
        request,
      ),
    }));
  },

  async schema_to_url(bg, modules, request) {
    const options = { url: required(request, 'url'), readOnly: true };
    return withEngine(bg, modules, request, options, async (engine, files) => ({
      sql: await diffSql(
        engine,
        { tag: 'schemaDatamodel', files },
        { tag: 'schemaDatasource', files, configDir: process.cwd() },
        request,
      ),
    }));
  },

  async diagnose_history(bg, modules, request) {
    const options = { url: required(request, 'url'), readOnly: true };
    return withEngine(bg, modules, request, options, async (engine) => {
      const output = await engine.diagnoseMigrationHistory({
        migrationsList: migrationsList(request),
        optInToShadowDatabase: false,
        filters: filtersOf(request),
      });
      return {
        edited: output.editedMigrationNames,
        failed: output.failedMigrationNames,
        hasMigrationsTable: output.hasMigrationsTable,
        history: output.history ?? null,
      };
    });
  },
};

// An engine error: its message without the Rust backtrace ("   0: module::fn ... at file:line").
function describe(error) {
  const raw = error instanceof Error ? error.message : String(error);
  const lines = raw.split('\n');
  const cut = lines.findIndex((line) => /^\s+\d+: \S/.test(line));
  const message = (cut === -1 ? lines : lines.slice(0, cut))
    .join('\n')
    .replace(/External error id#(\d+)/g, (text, id) => externalError(Number(id)) ?? text)
    .trim();
  const panic = globalThis.PRISMA_WASM_PANIC_REGISTRY?.message;
  const text = panic && /unreachable/.test(message) ? `${panic} (${message})` : message || panic;
  const result = { ok: false, error: text || 'the schema engine failed' };
  const code = error?.code ?? error?.error_code ?? raw.match(/\bP\d{4}\b/)?.[0];
  if (typeof code === 'string') result.code = code;
  if (error?.name && error.name !== 'Error') result.kind = String(error.name);
  if (error instanceof RequestError) result.kind = 'request';
  return result;
}

function finish(result) {
  // Exit once the line is written: open pools or timers must not keep Node running.
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0));
}

async function main() {
  const installDir = process.argv[2];
  if (!installDir) throw new RequestError('usage: node engine.mjs INSTALL_DIR < request.json');
  let request;
  try {
    request = JSON.parse(await readStdin());
  } catch (error) {
    throw new RequestError(`the request is not JSON: ${error.message}`);
  }
  const operation = OPERATIONS[request?.op];
  if (!operation) throw new RequestError(`unknown operation: ${JSON.stringify(request?.op)}`);
  // The wasm module reports panics here (it expects the global Prisma's runtime sets up).
  globalThis.PRISMA_WASM_PANIC_REGISTRY = {
    message: '',
    set_message(message) {
      this.message = `RuntimeError: ${message}`;
    },
  };
  const modules = loadModules(installDir);
  const bg = await loadWasm(modules.bgPath);
  return operation(bg, modules, request);
}

// A panic inside the engine can surface outside the awaited promise (a wasm "unreachable"
// in a callback): answer with it rather than die without a result.
process.on('uncaughtException', (error) => finish(describe(error)));
process.on('unhandledRejection', (error) => finish(describe(error)));

main().then(
  (result) => finish({ ok: true, ...result }),
  (error) => finish(describe(error)),
);
