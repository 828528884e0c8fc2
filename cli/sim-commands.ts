// `strata sim list|run`: the deterministic simulator from the command line.
// Loaded lazily so cluster commands do not pay for the simulator's modules.
import type { Command } from 'commander';

export function registerSimCommands(sim: Command, out: (line: string) => void): void {
  sim
    .command('list')
    .description('list the simulation scenarios')
    .action(async () => out((await import('../sim/cli.js')).simList()));
  sim
    .command('run')
    .description('run a scenario for one seed or a range of seeds')
    .requiredOption('--scenario <name>', 'scenario to run')
    .option('--seed <n>', 'one seed')
    .option('--seeds <a..b>', 'a range of seeds, e.g. 1..1000')
    .action(async (o: { scenario: string; seed?: string; seeds?: string }) => {
      const seed = o.seed === undefined ? undefined : Number.parseInt(o.seed, 10);
      if (seed !== undefined && !Number.isSafeInteger(seed)) throw new Error(`--seed must be an integer, got ${o.seed}`);
      const { simRun } = await import('../sim/cli.js');
      process.exitCode = await simRun({ scenario: o.scenario, ...(seed !== undefined ? { seed } : {}), ...(o.seeds ? { seeds: o.seeds } : {}) }, out);
    });
}
