// `strata fs leader|masterInfo` and `strata fsadmin journal quorum …`: the masters
// and their embedded journal, as Alluxio's shell shows them.
import type { Command } from 'commander';
import type { Conf } from '../actors/conf.js';
import type { MasterInfo, StrataClient } from '../actors/client/client.js';
import { StrataError } from '../actors/protocol/envelope.js';
import { masterGroup } from '../actors/node/roles.js';
import { withClient } from './cluster.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { packRecord } from '../transport/codec.js';

type Out = (line: string) => void;


/** Each master's own answer, or the reason it gave none. */
export async function survey(conf: Conf, c: StrataClient): Promise<Array<{ id: string; address: string; info?: MasterInfo; error?: string }>> {
  const g = masterGroup(conf);
  return Promise.all(
    g.ids.map(async (id, i) => {
      const address = g.addresses[i]!.replace(/^ws:\/\//, '');
      try {
        return { id, address, info: await c.masterInfoOf(id) };
      } catch (e) {
        return { id, address, error: (e as Error).message };
      }
    }),
  );
}

function addressOf(conf: Conf, hostPort: string): string {
  const g = masterGroup(conf);
  const i = g.addresses.indexOf(`ws://${hostPort}`);
  if (i < 0) throw new StrataError('INVALID_ARGUMENT', `${hostPort} is not one of the masters (${g.addresses.map((a) => a.slice(5)).join(', ')})`);
  return g.ids[i]!;
}

export function registerAdminCommands(fs: Command, fsadmin: Command, conf: () => Conf, out: Out): void {
  fs.command('leader')
    .description('print the leading master')
    .action(async () => {
      await withClient(conf(), async (c) => {
        const all = await survey(conf(), c);
        const leader = all.find((m) => m.info && (m.info.role === undefined || m.info.role === 'leader'));
        if (!leader) throw new StrataError('UNAVAILABLE', `no master is leading right now (${all.map((m) => `${m.id}: ${m.info?.role ?? m.error}`).join('; ')})`);
        out(`${leader.address} (${leader.id})`);
      });
    });

  fs.command('masterInfo')
    .description('print every master: its role, term and journal position')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      await withClient(conf(), async (c) => {
        const all = await survey(conf(), c);
        if (o.json) {
          out(JSON.stringify(all));
          return;
        }
        for (const m of all) {
          if (!m.info) out(`${m.id.padEnd(10)} ${m.address.padEnd(22)} UNREACHABLE  ${m.error}`);
          else {
            const i = m.info;
            out(`${m.id.padEnd(10)} ${m.address.padEnd(22)} ${(i.role ?? 'leader').toUpperCase().padEnd(9)} term=${i.term ?? 0} journalSeq=${i.journalSeq} inodes=${i.inodes} liveWorkers=${i.liveWorkers} version=${i.version}`);
          }
        }
      });
    });

  fsadmin
    .command('backup')
    .description('write a consistent backup of the namespace to a local directory (restore with `strata master --restore FILE`)')
    .argument('[dir]', 'local directory for the backup file', 'strata-backups')
    .action(async (dir: string) => {
      await withClient(conf(), async (c) => {
        const b = await c.backup();
        mkdirSync(resolve(dir), { recursive: true });
        const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
        const file = join(resolve(dir), `strata-backup-${stamp}-${b.seq}.bak`);
        writeFileSync(file, packRecord({ v: 1, kind: 'strata-backup', masterId: b.masterId, seq: b.seq, inodes: b.inodes, namespace: b.data }));
        out(`Backup of ${b.inodes} inodes at journal entry ${b.seq} from ${b.masterId} written to ${file}`);
      });
    });

  const journal = fsadmin.command('journal').description('the master journal');
  journal
    .command('checkpoint')
    .description('snapshot the namespace and compact the embedded journal now')
    .action(async () => {
      await withClient(conf(), async (c) => {
        out(`Checkpointed the journal at entry ${await c.checkpoint()}`);
      });
    });
  const quorum = journal.command('quorum').description('the masters of the embedded journal');
  quorum
    .command('info')
    .description('print the quorum: each master, its state and who leads')
    .action(async () => {
      await withClient(conf(), async (c) => {
        const all = await survey(conf(), c);
        const leader = all.find((m) => m.info?.role === 'leader');
        out(`Journal domain: ${masterGroup(conf()).embedded ? 'EMBEDDED' : 'UFS (single master)'}`);
        out(`Quorum size: ${all.length}`);
        out(`Quorum leader: ${leader ? `${leader.address} (${leader.id})` : 'none'}`);
        out('');
        out(`${'STATUS'.padEnd(12)}${'ROLE'.padEnd(12)}${'TERM'.padEnd(8)}${'COMMIT'.padEnd(10)}SERVER ADDRESS`);
        for (const m of all) {
          const i = m.info;
          out(`${(i ? 'AVAILABLE' : 'UNAVAILABLE').padEnd(12)}${(i?.role ?? (i ? 'leader' : '-')).padEnd(12)}${String(i?.term ?? '-').padEnd(8)}${String(i?.commit ?? i?.journalSeq ?? '-').padEnd(10)}${m.address} (${m.id})`);
        }
      });
    });
  quorum
    .command('elect')
    .description('hand leadership to the master at host:port')
    .requiredOption('--address <host:port>', 'the master to lead')
    .action(async (o: { address: string }) => {
      const id = addressOf(conf(), o.address);
      await withClient(conf(), async (c) => {
        await c.transferLeadership(id);
        out(`Asked the leader to transfer leadership to ${o.address} (${id})`);
      });
    });
  quorum
    .command('remove')
    .description('remove the master at host:port from the quorum')
    .requiredOption('--address <host:port>', 'the master to remove')
    .action(async (o: { address: string }) => {
      const id = addressOf(conf(), o.address);
      await withClient(conf(), async (c) => {
        await c.removeMaster(id);
        out(`Removed ${o.address} (${id}) from the quorum`);
      });
    });
}
