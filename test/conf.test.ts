// The property registry: parsing, precedence, references, clear errors, and the
// generated documentation kept current.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Conf, K, PROPERTY_KEYS, parseBytes, parseDuration, renderConfigurationDoc } from '../actors/conf.js';
import { envVarName, loadConf, parseProperties } from '../cli/conf-loader.js';

describe('property registry', () => {
  it('parses sizes and durations as Alluxio writes them', () => {
    expect(parseBytes('64MB')).toBe(64 * 1024 * 1024);
    expect(parseBytes('1.5KB')).toBe(1536);
    expect(parseBytes('4096')).toBe(4096);
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('5min')).toBe(300_000);
    expect(() => parseBytes('lots')).toThrow(/not a byte size/);
  });

  it('layers sources and resolves ${key} references', () => {
    const c = new Conf([
      ['site-properties', { 'strata.work.dir': '/srv/strata' }],
      ['command-line', { 'strata.master.rpc.port': '1234' }],
    ]);
    expect(c.str(K.rootUfs)).toBe('/srv/strata/ufs');
    expect(c.source(K.workDir)).toBe('site-properties');
    expect(c.int(K.masterRpcPort)).toBe(1234);
    expect(c.source(K.masterRpcPort)).toBe('command-line');
    expect(c.source(K.workerRpcPort)).toBe('default');
  });

  it('fails fast on unknown keys and invalid values, naming the key', () => {
    expect(() => new Conf([['command-line', { 'strata.nope': '1' }]])).toThrow('unknown property key strata.nope');
    expect(() => new Conf([['command-line', { [K.masterRpcPort]: 'abc' }]])).toThrow(/strata\.master\.rpc\.port: not an integer/);
    expect(() => new Conf([['command-line', { [K.userWriteType]: 'SOMETIMES' }]])).toThrow(/strata\.user\.file\.writetype\.default/);
  });

  it('reads the site file and the environment, with the command line winning', () => {
    const props = parseProperties('# comment\nstrata.master.rpc.port=2000\nstrata.cluster.id = prod\n', 'site');
    expect(props).toEqual({ 'strata.master.rpc.port': '2000', 'strata.cluster.id': 'prod' });
    expect(envVarName('strata.master.rpc.port')).toBe('STRATA_MASTER_RPC_PORT');
    const c = loadConf({ cwd: '/nonexistent', env: { STRATA_MASTER_RPC_PORT: '3000' }, confFlags: ['strata.cluster.id=x'] });
    expect(c.int(K.masterRpcPort)).toBe(3000);
    expect(c.source(K.masterRpcPort)).toBe('environment');
    expect(c.str(K.clusterId)).toBe('x');
  });

  it('every key has a description and a valid default', () => {
    const c = new Conf();
    for (const k of PROPERTY_KEYS.values()) {
      expect(k.description.length).toBeGreaterThan(10);
      expect(() => c.raw(k.name)).not.toThrow();
    }
  });

  it('docs/configuration.md is current (run `npm run docs` after changing the registry)', () => {
    expect(readFileSync('docs/configuration.md', 'utf8')).toBe(renderConfigurationDoc());
  });
});
