// The registry of simulation scenarios: `strata sim list` shows them in this
// order, and the determinism test runs every one. Adding a scenario is a file in
// this folder and a line here.
import type { Scenario } from '../scenario.js';
import { consistency, consistencyShortCircuit } from './consistency.js';
import { durability } from './durability.js';
import { eviction } from './eviction.js';
import { jobs } from './jobs.js';
import { ping } from './ping.js';
import { readThrough } from './read-through.js';
import { tiers } from './tiers.js';
import { namespaceLinearizable, namespaceLinearizableRocks, namespaceLinearizableSingle } from './namespace-linearizable.js';
import { raftChurn } from './raft-churn.js';
import { raftElection } from './raft-election.js';
import { raftFigure8Unreliable } from './raft-figure8-unreliable.js';
import { raftMembership } from './raft-membership.js';
import { raftSnapshot } from './raft-snapshot.js';

export const SCENARIOS: readonly Scenario[] = [readThrough, eviction, consistency, consistencyShortCircuit, durability, tiers, namespaceLinearizable, namespaceLinearizableSingle, namespaceLinearizableRocks, ping, raftElection, raftFigure8Unreliable, raftChurn, raftSnapshot, raftMembership, jobs];
