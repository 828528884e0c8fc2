// Owner, group and mode on every inode, checked for the user each request names:
// traversal, read, write, chmod/chown/chgrp rules, the superuser and supergroup,
// the umask for new inodes, and attributes that survive a restart.
import { describe, expect, it } from 'vitest';
import { modeString, parseMode } from '../actors/master/permissions.js';
import { MASTER_ID } from '../actors/master/master.js';
import { usersBed } from './helpers/users-bed.js';

const users: Record<string, string[]> = { root: ['root'], alice: ['alice', 'staff'], bob: ['bob'], carol: ['carol', 'admins'] };

async function bed() {
  const b = await usersBed(11, users, { rootUfs: 'sim://ufs' });
  await b.run(b.as('root').mkdir('/home/alice', true));
  await b.run(b.as('root').setAttribute('/home/alice', { owner: 'alice', group: 'staff' }));
  return b;
}

describe('permissions', () => {
  it('lets only those with write and execute on the parent create, and stamps creator and umask', async () => {
    const { as, run } = await bed();
    await expect(run(as('bob').mkdir('/bobs', false))).rejects.toThrow(/user bob lacks write\+execute permission on \/ \(root:admins rwxr-xr-x\)/);
    await run(as('alice').mkdir('/home/alice/docs', false));
    const d = await run(as('alice').getStatus('/home/alice/docs'));
    expect([d.owner, d.group, modeString(d.mode, true)]).toEqual(['alice', 'alice', 'drwxr-xr-x']);
    await expect(run(as('bob').mkdir('/home/alice/bobs', false))).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    // The supergroup passes every check.
    await run(as('carol').mkdir('/home/alice/carols', false));
  });

  it('checks traversal and read, and read permission before a file is read', async () => {
    const { as, run } = await bed();
    await run(as('alice').mkdir('/home/alice/private', false));
    expect((await run(as('bob').listStatus('/home/alice'))).map((f) => f.name)).toEqual(['private']);
    await run(as('alice').setAttribute('/home/alice', { mode: 0o700 }));
    await expect(run(as('bob').listStatus('/home/alice'))).rejects.toThrow(/lacks read permission on \/home\/alice/);
    await expect(run(as('bob').getStatus('/home/alice/private'))).rejects.toThrow(/lacks execute permission on \/home\/alice/);
    await run(as('alice').setAttribute('/home/alice', { mode: 0o711 }));
    await run(as('bob').getStatus('/home/alice/private'));
    await expect(run(as('bob').getStatus('/home/alice/private', true))).resolves.toBeDefined();
    // No workers here: the write fails after creating the file, which is all this needs.
    await run(as('alice').writeFile('/home/alice/secret', new Uint8Array(1)).catch(() => undefined));
    expect(modeString((await run(as('alice').getStatus('/home/alice/secret'))).mode, false)).toBe('-rw-r--r--');
    await run(as('alice').setAttribute('/home/alice/secret', { mode: 0o600 }));
    await expect(run(as('bob').read('/home/alice/secret', () => undefined))).rejects.toThrow(/user bob lacks read permission on \/home\/alice\/secret/);
  });

  it('lets only the superuser chown, and the owner chgrp to its own groups or chmod', async () => {
    const { as, run } = await bed();
    await expect(run(as('alice').setAttribute('/home/alice', { owner: 'bob' }))).rejects.toThrow(/only the superuser may change the owner/);
    await expect(run(as('bob').setAttribute('/home/alice', { mode: 0o777 }))).rejects.toThrow(/only alice \(the owner\)/);
    await expect(run(as('alice').setAttribute('/home/alice', { group: 'admins' }))).rejects.toThrow(/not in group admins/);
    await run(as('alice').setAttribute('/home/alice', { group: 'staff', mode: 0o750 }));
    const f = await run(as('root').getStatus('/home/alice'));
    expect([f.group, f.mode]).toEqual(['staff', 0o750]);
  });

  it('changes a subtree with recursive, and keeps attributes across a restart', async () => {
    const { as, run, cluster, sim } = await bed();
    await run(as('alice').mkdir('/home/alice/a/b', true));
    await run(as('root').setAttribute('/home/alice', { owner: 'bob' }, true));
    cluster.crash(MASTER_ID);
    await sim.settle(cluster.start(MASTER_ID));
    for (const p of ['/home/alice', '/home/alice/a', '/home/alice/a/b']) expect((await run(as('root').getStatus(p))).owner).toBe('bob');
  });

  it('needs write and execute on every directory a recursive delete empties', async () => {
    const { as, run } = await bed();
    await run(as('root').setAttribute('/home', { mode: 0o777 }));
    await run(as('alice').mkdir('/home/alice/locked/inner', true));
    await run(as('alice').setAttribute('/home/alice/locked', { mode: 0o500 }));
    await run(as('root').setAttribute('/home/alice', { owner: 'bob' }));
    // bob owns /home/alice and may write in /home, but not in alice's locked directory below.
    await expect(run(as('bob').delete('/home/alice', true))).rejects.toThrow(/lacks write\+execute permission on \/home\/alice\/locked/);
    expect(await run(as('root').exists('/home/alice/locked/inner'))).toBe(true);
  });

  it('parses octal and symbolic modes as chmod does', () => {
    expect(parseMode('755', 0, false)).toBe(0o755);
    expect(parseMode('u+x', 0o644, false)).toBe(0o744);
    expect(parseMode('go-w', 0o666, false)).toBe(0o644);
    expect(parseMode('a=r', 0o777, false)).toBe(0o444);
    expect(parseMode('u+x,g-r', 0o644, false)).toBe(0o704);
    expect(parseMode('a+X', 0o644, true)).toBe(0o755);
    expect(() => parseMode('u+q', 0, false)).toThrow(/invalid mode/);
  });
});
