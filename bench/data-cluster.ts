// What the data-path benchmarks (read, write) share: the configuration, a real
// master and worker in this process, a client process driven over stdin/stdout
// by one-line commands, and the statistics they print.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { StrataClient } from '../actors/client/client.js';
import { Conf, K } from '../actors/conf.js';
import { NodeHost } from '../actors/node/nact-host.js';
import { MASTER_ID, clientOptions, clientRole, masterOptions, masterRole, workerOptions, workerRole } from '../actors/node/roles.js';

export const MIB = 1024 * 1024;

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
export const mibps = (bytes: number, ms: number): number => bytes / MIB / (ms / 1000);
export const now = (): number => Number(process.hrtime.bigint()) / 1e6;

/**
 * Defaults everywhere but the ports, the work dir and the MEM tier's size: the
 * benches measure what users get. BENCH_CONF='key=value,key=value' overrides
 * them for experiments (both processes, and the raw baselines' chunk and window).
 */
export function benchConf(workDir: string, memBytes: number): Conf {
  const extra: Record<string, string> = {};
  for (const kv of (process.env.BENCH_CONF ?? '').split(',').filter(Boolean)) {
    const i = kv.indexOf('=');
    extra[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return new Conf([
    [
      'runtime',
      {
        [K.workDir]: workDir,
        [K.clusterSecret]: 'bench-data-secret',
        [K.logLevel]: 'warn',
        [K.masterRpcPort]: '0',
        [K.workerRpcPort]: '0',
        [K.workerMemSize]: `${Math.ceil(memBytes / MIB)}MB`,
        ...extra,
      },
    ],
  ]);
}

/** Client nodes in this (the child) process, connected to the master. */
export async function startClients(
  conf: Conf,
  workDir: string,
  masterAddr: string,
  clients: Record<string, Partial<ReturnType<typeof clientOptions>>>,
): Promise<{ host: NodeHost; client(name: string): StrataClient }> {
  const base = clientOptions(conf, { user: 'strata', groups: [] });
  const ids = Object.keys(clients).map((name) => [name, `client-${name}-${process.pid}`] as const);
  const host = await NodeHost.start({
    conf,
    nodes: ids.map(([name, id]) => ({ id, dataDir: join(workDir, `client-${name}`), create: clientRole({ ...base, ...clients[name] }) })),
    peers: { [MASTER_ID]: masterAddr },
    logLevel: 'warn',
  });
  await host.connect(masterAddr, 10_000);
  const byName = new Map(ids);
  return { host, client: (name) => host.actor(byName.get(name)!) as StrataClient };
}

/** Serves one-line commands from the parent until `quit`; a failed command answers `error <message>`. */
export async function serveCommands(handle: (cmd: string, arg: string | undefined) => Promise<string>): Promise<void> {
  const commands = createInterface({ input: process.stdin });
  for await (const line of commands) {
    const [cmd, arg] = line.split(' ');
    if (cmd === 'quit') break;
    let reply: string;
    try {
      reply = await handle(cmd!, arg);
    } catch (e) {
      reply = `error ${(e as Error).message.replace(/\n/g, ' ')}`;
    }
    process.stdout.write(reply + '\n');
  }
}

export interface DataBench {
  conf: Conf;
  workDir: string;
  masterAddr: string;
  /** Sends a command to the client process; its reply, split on spaces. */
  ask(cmd: string): Promise<string[]>;
}

/**
 * Runs `body` against a master and a worker hosted here (WebSocket on 127.0.0.1,
 * random ports, a temp work dir) and a client process started from `script`
 * with `--child <masterAddr> <workDir> ...childArgs`; cleans everything up after.
 */
export async function withDataCluster(script: string, memBytes: number, childArgs: string[], body: (b: DataBench) => Promise<void>): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'strata-bench-data-'));
  const conf = benchConf(workDir, memBytes);
  let worker: NodeHost | undefined;
  let proc: ChildProcess | undefined;
  const master = await NodeHost.start({
    conf,
    listen: { host: '127.0.0.1', port: 0 },
    nodes: [{ id: MASTER_ID, dataDir: join(workDir, 'master'), create: masterRole(masterOptions(conf, workDir)) }],
    logLevel: 'warn',
  });
  try {
    const masterAddr = master.address!;
    worker = await NodeHost.start({
      conf,
      listen: { host: '127.0.0.1', port: 0 },
      // The port is known once the host listens, which is before the worker registers.
      nodes: [{ id: 'worker-0', dataDir: join(workDir, 'worker-0'), create: (env, info) => workerRole(workerOptions(conf, () => info.address ?? ''))(env) }],
      peers: { [MASTER_ID]: masterAddr },
      logLevel: 'warn',
    });
    // The child gets this process's node flags, so `node --cpu-prof dist/bench/NAME.js` profiles both sides.
    proc = spawn(process.execPath, [...process.execArgv, script, '--child', masterAddr, workDir, ...childArgs], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: proc.stdout! });
    const replies: string[] = [];
    let wake: (() => void) | undefined;
    lines.on('line', (l) => {
      replies.push(l);
      wake?.();
    });
    const exited = new Promise<never>((_, reject) => proc!.once('exit', (code) => reject(new Error(`client process exited (${code})`))));
    exited.catch(() => {});
    const ask = async (cmd: string): Promise<string[]> => {
      proc!.stdin!.write(cmd + '\n');
      while (replies.length === 0) await Promise.race([new Promise<void>((r) => (wake = r)), exited]);
      const reply = replies.shift()!;
      if (reply.startsWith('error ')) throw new Error(`client: ${reply.slice(6)}`);
      return reply.split(' ');
    };
    await body({ conf, workDir, masterAddr, ask });
    proc.stdin!.write('quit\n');
    // Let it exit on its own (a --cpu-prof child writes its profile then); killed after 10 s regardless.
    await Promise.race([exited.catch(() => undefined), new Promise((r) => setTimeout(r, 10_000))]);
  } finally {
    proc?.kill();
    await worker?.shutdown();
    await master.shutdown();
    rmSync(workDir, { recursive: true, force: true });
  }
}

/**
 * Interleaved runs of each side (alternating which goes first, so neither always
 * gets the warmer machine); prints every run with the CPU each process spent and
 * returns each side's median rate.
 */
export async function interleave(
  ask: DataBench['ask'],
  sides: Array<{ label: string; run: string }>,
  runs: number,
  rate: (amount: number, ms: number) => number,
  unit: string,
  /** Filled, when given, with each side's median CPU (both processes) per unit of amount, in µs. */
  cpuPerUnit?: Map<string, number>,
): Promise<Map<string, number>> {
  const rates = new Map<string, number[]>(sides.map((s) => [s.label, []]));
  const cpus = new Map<string, number[]>(sides.map((s) => [s.label, []]));
  for (const s of sides) await ask(`run ${s.run}`); // warm-up
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 1 ? [...sides].reverse() : sides;
    for (const s of order) {
      const cpu0 = process.cpuUsage();
      const r = await ask(`run ${s.run}`);
      const cpu = process.cpuUsage(cpu0);
      const ms = Number(r[2]);
      const x = rate(Number(r[1]), ms);
      rates.get(s.label)!.push(x);
      cpus.get(s.label)!.push((((cpu.user + cpu.system) / 1000 + Number(r[3])) * 1000) / Number(r[1]));
      // CPU per side is steadier than wall time on a shared machine, and says which side costs what.
      console.log(
        `  run ${i + 1} ${s.label.padEnd(14)} ${x.toFixed(1).padStart(9)} ${unit}  (${ms.toFixed(0)} ms; cpu: server ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms, client ${Number(r[3]).toFixed(0)} ms)`,
      );
    }
  }
  for (const [k, xs] of cpus) cpuPerUnit?.set(k, median(xs));
  return new Map([...rates].map(([k, xs]) => [k, median(xs)]));
}

/** `done <amount> <ms> <client cpu ms>`, the reply to a timed run. */
export async function timed(fn: () => Promise<number>): Promise<string> {
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const amount = await fn();
  const ms = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return `done ${amount} ${ms.toFixed(3)} ${((cpu.user + cpu.system) / 1000).toFixed(1)}`;
}
