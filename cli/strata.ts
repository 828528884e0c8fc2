#!/usr/bin/env node
// The `strata` command.
import { rmSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { Command } from 'commander';
import { ConfError, K, PROPERTY_KEYS, renderConfigurationDoc, type Conf } from '../actors/conf.js';
import { isStrataError } from '../actors/protocol/envelope.js';
import { STRATA_VERSION } from '../actors/master/master.js';
import { installShutdownHandlers } from '../transport/shutdown.js';
import { loadConf } from './conf-loader.js';
import { masterAddress, startMaster, startWorker, withSession } from './cluster.js';
import { leaderId, registerOpsCommands } from './ops-commands.js';
import { registerFsCommands } from './fs-commands.js';
import { registerSimCommands } from './sim-commands.js';
import { registerAdminCommands } from './admin-commands.js';
import { registerInspectCommands } from './fs-inspect-commands.js';
import { registerJobCommands } from './job-commands.js';
import type { NodeHost } from '../actors/node/nact-host.js';

const out = (line: string): void => void process.stdout.write(line + '\n');
const collect = (v: string, prev: string[]) => [...prev, v];

const program = new Command();
program
  .name('strata')
  .description('strata: one namespace over many storage systems, cached close to the compute')
  // -V, not -v: subcommands use -v for --verbose (job stat -v, as in Alluxio).
  .version(STRATA_VERSION, '-V, --version')
  .option('--conf <key=value>', 'set a property (repeatable)', collect, [] as string[])
  .option('--debug', 'print stack traces on errors');

let cached: Conf | undefined;
const conf = (): Conf => (cached ??= loadConf({ confFlags: program.opts<{ conf: string[] }>().conf }));

/** The masters' storage (a single master's, or a group's master-0..6). */
function removeJournals(workDir: string): void {
  for (const id of ['master', ...Array.from({ length: 7 }, (_, i) => `master-${i}`)]) rmSync(join(workDir, id), { recursive: true, force: true });
}

/** Runs until SIGINT/SIGTERM, then shuts every host down (actors stop, files sync, links close). */
function holdOpen(hosts: NodeHost[]): Promise<void> {
  return new Promise<void>(() => {
    installShutdownHandlers(
      { shutdown: async () => void (await Promise.all(hosts.map((h) => h.shutdown()))) },
      { onSignal: (s) => process.stderr.write(`${s}: shutting down\n`) },
    );
  });
}

program
  .command('local')
  .description('run a master and workers on this machine over WebSocket on loopback')
  .option('--workers <n>', 'number of workers', '2')
  .option('--masters <n>', 'number of masters (more than 1: an embedded Raft journal)', '1')
  .action(async (o: { workers: string; masters: string }) => {
    let c = conf();
    const n = Number.parseInt(o.workers, 10);
    if (!(n >= 1 && n <= 64)) throw new ConfError(`--workers must be between 1 and 64, got ${o.workers}`);
    const m = Number.parseInt(o.masters, 10);
    if (!(m >= 1 && m <= 7)) throw new ConfError(`--masters must be between 1 and 7, got ${o.masters}`);
    if (m > 1) {
      // Masters listen 10 ports apart below strata.master.rpc.port (19998, 19988, 19978, ...).
      const host = c.str(K.masterHostname);
      const base = c.int(K.masterRpcPort);
      c = c.with({ [K.masterJournalType]: 'EMBEDDED', [K.masterAddresses]: Array.from({ length: m }, (_, i) => `${host}:${base - 10 * i}`).join(',') });
    }
    const group = c.str(K.masterAddresses).split(',').filter(Boolean);
    const masters: NodeHost[] = [];
    // Several nodes of one kind in this process: ports 10 apart, as for RPC.
    const nth = (port: number, i: number) => String(port <= 0 ? port : port - 10 * i);
    for (let i = 0; i < Math.max(1, group.length); i++) {
      masters.push(await startMaster(group.length ? c.with({ [K.masterRpcPort]: group[i]!.split(':').pop()!, [K.masterWebPort]: nth(c.int(K.masterWebPort), i) }) : c));
    }
    const master = masters[0]!;
    const workers: NodeHost[] = [];
    const web = c.int(K.workerWebPort);
    for (let i = 0; i < n; i++) workers.push(await startWorker(c, `worker-${i}`, c.int(K.workerRpcPort) === 0 ? 0 : c.int(K.workerRpcPort) + 10 * i, web <= 0 ? web : web + 10 * i));
    const ufs = resolve(c.str(K.rootUfs));
    out(`strata ${STRATA_VERSION} local cluster is up`);
    const webOf = (h: NodeHost) => (h.webPort === undefined ? '' : `  metrics http://${c.str(K.masterHostname)}:${h.webPort}/metrics`);
    if (masters.length === 1) out(`  master    ${master.address}${webOf(master)}`);
    else masters.forEach((h, i) => out(`  master-${i}  ${h.address}${webOf(h)}`));
    workers.forEach((w, i) => out(`  worker-${i}  ${w.address}${webOf(w)}`));
    out(`  root UFS  ${ufs}`);
    out('');
    // Commands against a group must be told where its masters are.
    const flags = masters.length > 1 ? ` --conf ${K.masterJournalType}=EMBEDDED --conf ${K.masterAddresses}=${group.join(',')}` : '';
    out('Try, in another terminal:');
    out(`  npx strata fs ls /${flags}`);
    out(`  npx strata fs copyFromLocal README.md /README.md${flags}`);
    out(`  npx strata fs cat /README.md${flags}`);
    out(`  npx strata fs stat /README.md${flags}`);
    if (masters.length > 1) out(`  npx strata fsadmin journal quorum info${flags}`);
    out('Press Ctrl-C to stop.');
    await holdOpen([...masters, ...workers]);
  });

program
  .command('master')
  .description('run a master process')
  .option('--restore <backup>', 'start from a backup written by `strata fsadmin backup` (the journal must be empty)')
  .action(async (o: { restore?: string }) => {
    const host = await startMaster(conf(), o.restore);
    out(`master listening at ${host.address}${host.webPort === undefined ? '' : `, metrics at http://${conf().str(K.masterHostname)}:${host.webPort}/metrics`}`);
    await holdOpen([host]);
  });

program
  .command('worker')
  .description('run a worker process')
  .option('--id <id>', 'worker id', 'worker-0')
  .action(async (o: { id: string }) => {
    const c = conf();
    const host = await startWorker(c, o.id, c.int(K.workerRpcPort));
    out(`${o.id} listening at ${host.address}, master ${masterAddress(c)}${host.webPort === undefined ? '' : `, metrics at http://${c.str(K.workerHostname)}:${host.webPort}/metrics`}`);
    await holdOpen([host]);
  });

program
  .command('format')
  .description('delete the master journal and worker storage under strata.work.dir (the UFS is kept)')
  .action(() => {
    const dir = resolve(conf().str(K.workDir));
    removeJournals(dir);
    for (let i = 0; i < 64; i++) rmSync(join(dir, `worker-${i}`), { recursive: true, force: true });
    out(`Formatted ${dir} (journal and worker storage removed)`);
  });

program
  .command('formatJournal')
  .description('delete the masters\' journals under strata.work.dir (worker storage and the UFS are kept)')
  .action(() => {
    const dir = resolve(conf().str(K.workDir));
    removeJournals(dir);
    out(`Formatted the master journals under ${dir}`);
  });

program
  .command('getConf')
  .description('print a property, or every property with its source')
  .argument('[key]')
  .option('--source', 'also print where each value came from')
  .option('--master', 'the leading master\'s values instead of this shell\'s')
  .action(async (key: string | undefined, o: { source?: boolean; master?: boolean }) => {
    const c = conf();
    if (key !== undefined && !PROPERTY_KEYS.has(key)) throw new ConfError(`unknown property ${JSON.stringify(key)}`);
    const entries = o.master
      ? await withSession(c, async (s) => (await s.ops.conf(await leaderId(c, s))).entries)
      : c.entries();
    if (key) {
      const e = entries.find((x) => x.name === key);
      if (!e) throw new ConfError(`the master does not know ${key}`);
      out(o.source ? `${e.value} (${e.source})` : e.value);
      return;
    }
    for (const e of entries) out(o.source ? `${e.name}=${e.value} (${e.source})` : `${e.name}=${e.value}`);
  });

program.command('version').description('print the version').action(() => out(STRATA_VERSION));

program
  .command('docs')
  .description('print generated documentation (configuration: the property registry as markdown)')
  .argument('<topic>', 'configuration')
  .action((topic: string) => {
    if (topic !== 'configuration') throw new ConfError(`unknown docs topic ${JSON.stringify(topic)}; known: configuration`);
    process.stdout.write(renderConfigurationDoc());
  });

const fsCommand = program.command('fs').description('file system commands against a running cluster');
registerFsCommands(fsCommand, conf, out);
registerInspectCommands(fsCommand, conf, out);
const fsadmin = program.command('fsadmin').description('administration of a running cluster');
registerAdminCommands(fsCommand, fsadmin, conf, out);
registerOpsCommands(program, fsadmin, conf, out);
registerJobCommands(fsCommand, program.command('job').description('the job service: list, inspect and cancel jobs'), conf, out);
registerSimCommands(program.command('sim').description('deterministic simulation'), out);

/** Alluxio spells some long flags with one dash (report capacity -live); commander wants two. */
function alluxioFlags(argv: readonly string[]): string[] {
  const single = new Set(['-live', '-lost', '-workers']);
  return argv.map((a, i) => (i >= 2 && single.has(a) ? `-${a}` : a));
}

try {
  await program.parseAsync(alluxioFlags(process.argv));
} catch (e) {
  const debug = program.opts<{ debug?: boolean }>().debug;
  if (isStrataError(e)) process.stderr.write(`${e.code}: ${e.message}\n`);
  else if (e instanceof ConfError) process.stderr.write(`configuration error: ${e.message}\n`);
  else process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  if (debug && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
  process.exitCode = 1;
}
