// Real strata processes on loopback for integration tests: free ports, spawned
// CLI processes that are always killed at the end, and polling.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';

export const CLI = resolve('dist/cli/strata.js');

export { freePort, waitFor } from '../../cli/local-processes.js';

export interface Proc {
  child: ChildProcess;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const live = new Set<Proc>();

export function startCli(args: string[], cwd: string): Proc {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const p: Proc = {
    child,
    output: () => out,
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill(signal);
      await exited;
      live.delete(p);
    },
  };
  live.add(p);
  return p;
}

export async function killAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.kill('SIGKILL')));
}

export interface CliResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export function runCli(args: string[], cwd: string, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`strata ${args.join(' ')} did not finish within ${timeoutMs} ms; stderr: ${err}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, stdout: Buffer.concat(out), stderr: err });
    });
  });
}
