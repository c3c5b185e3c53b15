/** The `tutti` command. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { FlowError, flowJsonSchema, parseDuration, parseSize } from '../flow/index.js';
import { ComponentRejected } from '../runtime/component.js';
import { InputError } from '../scheduler/trigger.js';
import { DatabaseUnavailable } from '../store/db.js';
import { WriterLockHeld } from '../store/writer-lock.js';
import { deployCloudflare } from './commands/deploy.js';
import { inspectCommand } from './commands/inspect.js';
import { manifestSet, manifestShow } from './commands/manifest.js';
import { languageList, newTaskCommand } from './commands/new.js';
import { runCommand } from './commands/run.js';
import { secretDelete, secretList, secretSet } from './commands/secret.js';
import { serveCommand } from './commands/serve.js';
import { workerCommand } from './commands/worker.js';
import { UsageError } from './errors.js';

function int(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

const collect = (v: string, prev: string[]) => [...prev, v];

function duration(name: string, min = 0) {
  return (v: string) => {
    const ms = parseDuration(v);
    if (ms === null || ms < min) throw new InvalidArgumentError(`${name} must be a duration such as 30s or 500ms${min ? ` (at least ${min} ms)` : ''}`);
    return ms;
  };
}

function size(name: string) {
  return (v: string) => {
    const n = parseSize(v);
    if (n === null || n < 1) throw new InvalidArgumentError(`${name} must be a size such as 256MiB`);
    return n;
  };
}

const program = new Command('tutti').description('A workflow orchestrator whose tasks are WebAssembly components').showHelpAfterError();

const homeOption = () => new Option('--home <dir>', 'directory for the embedded database, assets and caches').default('.tutti');
const dbOption = () => new Option('--db <url>', 'libSQL URL (file:, http:, libsql:) or file path; default <home>/tutti.db');
const graceOption = () =>
  new Option('--grace <duration>', 'on SIGTERM, how long running instances get to finish before they are handed back').argParser(duration('--grace')).default(30_000, '30s');
const workersOption = () => new Option('--workers <n>', 'worker threads running instances (default: CPU count)').argParser(int('--workers'));

let exitCode = 0;

program
  .command('run')
  .description('run a flow once, locally, with live progress; exit code 0 only on success')
  .argument('<flow>', 'flow file (YAML or JSON)')
  .option('-i, --input <name=path>', 'a file for an asset input (repeatable)', collect, [])
  .option('-p, --param <name=value>', 'a value for a non-asset input (repeatable)', collect, [])
  .addOption(homeOption())
  .addOption(dbOption())
  .addOption(workersOption())
  .action(async (flow: string, o) => {
    exitCode = await runCommand(flow, o);
  });

program
  .command('serve')
  .description('HTTP API, scheduler and in-process workers')
  .option('--port <port>', 'port (0 picks a free one)', (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('--port must be 0-65535');
    return n;
  }, 8080)
  .option('--host <host>', 'address to bind (without a token, keep it local)', '127.0.0.1')
  .option('--token <token>', 'bearer token every API call must carry (default: $TUTTI_API_TOKEN)')
  .option('--max-upload <size>', 'largest upload accepted (components, run inputs, webhook bodies, workers\' outputs), e.g. 512MiB; default 256MiB', size('--max-upload'))
  .option('--max-json <size>', 'largest body of every other request (JSON and flow documents); default 1MiB', size('--max-json'))
  .option('--max-connections <n>', 'open connections served at once; more are refused until one closes (default 1024)', int('--max-connections'))
  .option('--cors-origin <origin>', 'a browser origin allowed to call the API, e.g. where the dashboard is hosted (repeatable; "*" for any; also $TUTTI_CORS_ORIGINS, comma-separated)', collect, [])
  .option('--assets <dir>', 'asset directory (default <home>/assets); servers sharing a database must share it too, e.g. an NFS mount')
  .addOption(new Option('--lease <duration>', 'how long an attempt stays leased without a heartbeat: a dead worker\'s attempts run again this long after it stopped').argParser(duration('--lease', 1000)).default(30_000, '30s'))
  .addOption(graceOption())
  .addOption(homeOption())
  .addOption(dbOption())
  .addOption(new Option('--workers <n>', 'worker threads running instances (default: CPU count; 0: none, remote workers run them)').argParser((v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('--workers must be 0 or a positive integer');
    return n;
  }))
  .action(async (o) => {
    exitCode = await serveCommand(o);
  });

program
  .command('worker')
  .description('run instances for a server, on this machine: leases them over HTTP, streams outputs back')
  .requiredOption('--server <url>', 'the server, e.g. http://10.0.0.5:8080')
  .option('--token <token>', 'the server\'s bearer token (default: $TUTTI_API_TOKEN)')
  .option('--concurrency <n>', 'instances run at once (default: CPU count)', int('--concurrency'))
  .option('--cache-dir <dir>', 'components and inputs kept between instances (default: $TUTTI_WORKER_CACHE or .tutti/worker-cache)')
  .addOption(new Option('--input-cache <size>', 'inputs kept for later instances').argParser(size('--input-cache')).default(2 * 1024 ** 3, '2GiB'))
  .addOption(graceOption())
  .action(async (o) => {
    exitCode = await workerCommand(o);
  });

program
  .command('inspect')
  .description('check a .wasm against the task contracts and show its exports, imports and scaling policy')
  .argument('<component>', '.wasm file')
  .option('--json', 'machine-readable output')
  .addOption(homeOption())
  .action(async (file: string, o) => {
    exitCode = await inspectCommand(file, o);
  });

const manifest = program.command('manifest').description('the scaling manifest a component carries (used when it has no plan export)');
manifest
  .command('set')
  .description('embed a scaling manifest into a component')
  .argument('<component>', '.wasm file')
  .requiredOption('--split <mode>', 'bytes (exact ranges) or lines (ranges end at a newline)')
  .requiredOption('--per <size>', 'input bytes per instance, e.g. 16MiB')
  .option('--max <n>', 'most instances (default 1024)', int('--max'))
  .option('-o, --output <file>', 'write here instead of in place')
  .action((file: string, o) => {
    exitCode = manifestSet(file, o);
  });
manifest
  .command('show')
  .description('print the embedded scaling manifest (exit 1 when there is none)')
  .argument('<component>', '.wasm file')
  .action((file: string) => {
    exitCode = manifestShow(file);
  });

const scaffold = program.command('new').description('scaffold a project');
scaffold
  .command('task')
  .description('a buildable task project (source, build script, README, sample flow) in a new directory')
  .argument('<name>', 'directory to create; its last part names the task')
  .requiredOption('-l, --lang <language>', 'ts | c | c-typed | assemblyscript | rust | go | cpp | rust-cargo-component | go-tinygo | python-componentize-py')
  .addHelpText('after', `\nLanguages:\n${languageList()}`)
  .action((name: string, o) => {
    exitCode = newTaskCommand(name, o);
  });

const secret = program.command('secret').description('secrets tasks receive as environment variables (flow field `secrets`)');
secret
  .command('set')
  .description('store a secret; the value is read from stdin unless --value is given')
  .argument('<name>')
  .option('--value <value>', 'the value (visible in shell history: prefer stdin)')
  .addOption(homeOption())
  .addOption(dbOption())
  .action(async (name: string, o) => {
    exitCode = await secretSet(name, o);
  });
secret
  .command('list')
  .description('secret names and when they were last set (never values)')
  .addOption(homeOption())
  .addOption(dbOption())
  .action(async (o) => {
    exitCode = await secretList(o);
  });
secret
  .command('delete')
  .argument('<name>')
  .addOption(homeOption())
  .addOption(dbOption())
  .action(async (name: string, o) => {
    exitCode = await secretDelete(name, o);
  });

program
  .command('deploy')
  .description('build and deploy Tutti on another platform')
  .command('cloudflare')
  .description('precompile the components of the given flows into a Workers bundle and deploy it with wrangler (see wrangler.toml)')
  .argument('<flow...>', 'flow files whose tasks the Worker runs')
  .option('--dry-run', 'build and bundle (wrangler deploy --dry-run) without deploying')
  .option('--out <dir>', 'build directory: the bundle goes to <dir>/bundle, a dry run\'s upload to <dir>/dist', '.tutti/edge')
  .option('--config <file>', 'wrangler configuration', 'wrangler.toml')
  .addOption(homeOption())
  .action(async (flows: string[], o) => {
    exitCode = await deployCloudflare(flows, o);
  });

program
  .command('schema')
  .description('print the JSON Schema of flow files (for editors)')
  .action(() => {
    process.stdout.write(`${JSON.stringify(flowJsonSchema(), null, 2)}\n`);
  });

try {
  await program.parseAsync(process.argv);
  process.exitCode = exitCode;
} catch (e) {
  if (e instanceof FlowError || e instanceof InputError || e instanceof UsageError || e instanceof ComponentRejected) {
    process.stderr.write(`tutti: ${e.message}\n`);
    process.exitCode = 2;
  } else if (e instanceof DatabaseUnavailable || e instanceof WriterLockHeld) {
    process.stderr.write(`tutti: ${e.message}\n`);
    process.exitCode = 1;
  } else {
    throw e;
  }
}
