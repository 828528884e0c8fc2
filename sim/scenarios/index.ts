// The registry of simulation scenarios: `strata sim list` shows them in this
// order, and the determinism test runs every one. Adding a scenario is a file in
// this folder and a line here.
import type { Scenario } from '../scenario.js';
import { eviction } from './eviction.js';
import { ping } from './ping.js';
import { readThrough } from './read-through.js';
import { namespaceLinearizable } from './namespace-linearizable.js';

export const SCENARIOS: readonly Scenario[] = [readThrough, eviction, namespaceLinearizable, ping];
