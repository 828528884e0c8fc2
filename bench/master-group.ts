// What the journal and failover benchmarks share: a group of three strata
// masters, each a child process (NodeHost on 127.0.0.1, its own journal dir,
// fsync on), spoken to in lines over stdin/stdout, and the client that talks to them.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Conf, K } from '../actors/conf.js';
import { NodeHost } from '../actors/node/nact-host.js';
import { clientOptions, clientRole, masterOptions, masterRole } from '../actors/node/roles.js';
import type { StrataClient } from '../actors/client/client.js';
import type { MasterOptions } from '../actors/master/master.js';

export const VOTERS = ['master-0', 'master-1', 'master-2'] as const;
export const SUPERUSER = 'bench';
const SECRET = 'bench-journal-secret';
/** The group's Raft timing (ms): the failover benchmark reports against it. */
export const GROUP_TIMING = { electionTimeoutMinMs: 500, electionTimeoutMaxMs: 1000, heartbeatIntervalMs: 100 } as const;

export const now = (): number => Number(process.hrtime.bigint()) / 1e6;
export const say = (line: string): void => void process.stdout.write(line + '\n');
export const quantile = (sorted: readonly number[], q: number): number => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);

export function benchConf(workDir: string): Conf {
  return new Conf([
    [
      'runtime',
      {
        [K.workDir]: workDir,
        [K.clusterSecret]: SECRET,
        [K.logLevel]: 'warn',
        ...(process.env.BENCH_CHECKPOINT_ENTRIES ? { [K.checkpointEntries]: process.env.BENCH_CHECKPOINT_ENTRIES } : {}),
        // One UFS shared by the group, as a real deployment's root UFS is.
        [K.rootUfs]: join(workDir, 'ufs'),
      },
    ],
  ]);
}

// ---- a strata master (runs in a master child) ----

export async function masterChild(index: number, workDir: string, port = 0): Promise<void> {
  const conf = benchConf(workDir);
  const id = VOTERS[index]!;
  const opts: MasterOptions = {
    ...masterOptions(conf, workDir, SUPERUSER),
    journal: {
      type: 'EMBEDDED',
      voters: VOTERS,
      ...GROUP_TIMING,
      checkpointEntries: conf.int(K.checkpointEntries),
    },
  };
  const host = await NodeHost.start({
    conf,
    listen: { host: '127.0.0.1', port },
    nodes: [{ id, dataDir: join(workDir, id), create: masterRole(opts) }],
    logLevel: 'warn',
  });
  say(`listening ${host.address}`);
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await host.shutdown();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  // The other masters' ports are known only once every master listens.
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.startsWith('peers ')) {
      for (const [peer, addr] of Object.entries(JSON.parse(line.slice(6)) as Record<string, string>)) if (peer !== id) host.learnAddress(peer, addr);
      say('ok');
    } else if (line === 'quit') break;
  }
  // stdin closes when the parent goes away: stop either way.
  await stop();
}

// ---- the parent's side ----

/** A child spoken to in lines: one command, one reply. */
export class Child {
  private readonly replies: string[] = [];
  private wake: (() => void) | undefined;
  private readonly exited: Promise<never>;
  private exitCode: number | null | undefined;

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    if (proc.stdout) {
      createInterface({ input: proc.stdout }).on('line', (l) => {
        this.replies.push(l);
        this.wake?.();
      });
    }
    this.exited = new Promise<never>((_, reject) =>
      proc.once('exit', (code, signal) => {
        this.exitCode = code;
        reject(new Error(`${name} exited (${signal ?? code})`));
      }),
    );
    this.exited.catch(() => {});
  }

  async next(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length === 0) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${this.name}: no reply within ${timeoutMs} ms`)), Math.max(0, deadline - Date.now()))));
      try {
        await Promise.race([new Promise<void>((r) => (this.wake = r)), this.exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    }
    return this.replies.shift()!;
  }

  async ask(cmd: string, timeoutMs: number): Promise<string> {
    this.proc.stdin!.write(cmd + '\n');
    return this.next(timeoutMs);
  }

  /** Asks politely (stdin `quit` or SIGTERM), then SIGKILL after a grace period. */
  async stop(how: 'quit' | 'SIGTERM', graceMs = 5000): Promise<void> {
    if (this.exitCode !== undefined || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const gone = new Promise<void>((r) => this.proc.once('exit', () => r()));
    if (how === 'quit') this.proc.stdin!.end('quit\n');
    else this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
}

/** Runs `script` (a benchmark's own file) as a child; node flags pass through, so --cpu-prof on the parent profiles every strata process. */
export function spawnScript(script: string, ...args: string[]): ChildProcess {
  // Node flags pass through, so --cpu-prof on the parent profiles every strata process.
  return spawn(process.execPath, [...process.execArgv, script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
}


/** Starts three masters of `script` (which must call masterChild for `--master I DIR [PORT]`) and tells each the others' addresses. */
export async function startMasterGroup(script: string, workDir: string, cleanup: Array<() => Promise<void>>): Promise<{ masters: Child[]; addrs: Record<string, string> }> {
  const masters = VOTERS.map((id, i) => new Child(id, spawnScript(script, '--master', String(i), workDir)));
  cleanup.push(() => Promise.all(masters.map((m) => m.stop('quit'))).then(() => undefined));
  const addrs: Record<string, string> = {};
  for (const [i, m] of masters.entries()) {
    const line = await m.next(30_000);
    if (!line.startsWith('listening ws://')) throw new Error(`${m.name}: unexpected ${line}`);
    addrs[VOTERS[i]!] = line.slice(10);
  }
  for (const m of masters) await tellPeers(m, addrs);
  return { masters, addrs };
}

export async function tellPeers(m: Child, addrs: Record<string, string>): Promise<void> {
  if ((await m.ask(`peers ${JSON.stringify(addrs)}`, 10_000)) !== 'ok') throw new Error(`${m.name} did not take its peers`);
}

/** A StrataClient (as the bench superuser) in a NodeHost of this process, connected to every master. */
export async function connectClient(workDir: string, addrs: Record<string, string>): Promise<{ host: NodeHost; client: StrataClient }> {
  const conf = benchConf(workDir);
  const id = `client-bench-${process.pid}`;
  const host = await NodeHost.start({
    conf,
    nodes: [{ id, dataDir: join(workDir, 'client'), create: clientRole({ ...clientOptions(conf, { user: SUPERUSER, groups: [] }), masterIds: VOTERS }) }],
    peers: addrs,
    logLevel: 'warn',
  });
  for (const a of Object.values(addrs)) await host.connect(a, 10_000);
  return { host, client: host.actor(id) as StrataClient };
}

/** utime + stime of a process in ms (Linux), or NaN where /proc is not there. */
export function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself hold spaces and parentheses.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}
