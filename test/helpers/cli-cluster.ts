// An in-process cluster for CLI tests: a master and workers over WebSocket on
// loopback, returned once every worker is registered and live.
import { rmSync } from 'node:fs';
import { Command } from 'commander';
import type { Conf } from '../../actors/conf.js';
import type { NodeHost } from '../../actors/node/nact-host.js';
import { startMaster, startWorker, withClient } from '../../cli/cluster.js';
import { freePort } from './processes.js';

export async function startCliCluster(conf: Conf, workers: number): Promise<NodeHost[]> {
  const hosts = [await startMaster(conf)];
  for (let i = 0; i < workers; i++) hosts.push(await startWorker(conf, `worker-${i}`, await freePort()));
  for (let i = 0; i < 100; i++) {
    if ((await withClient(conf, (c) => c.workers())).filter((w) => w.state === 'LIVE').length === workers) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return hosts;
}

export async function stopCliCluster(hosts: readonly NodeHost[], dir: string): Promise<void> {
  await Promise.all(hosts.map((h) => h.shutdown()));
  rmSync(dir, { recursive: true, force: true });
}

/** A `strata ...` command line run in this process with the commands `register` adds; resolves to what it printed. */
export function cliRunner(register: (program: Command, out: (line: string) => void) => void): (...args: string[]) => Promise<string[]> {
  return async (...args) => {
    const lines: string[] = [];
    const program = new Command().exitOverride();
    register(program, (l) => lines.push(l));
    await program.parseAsync(['node', 'strata', ...args]);
    return lines;
  };
}
