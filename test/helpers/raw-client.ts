// A client actor that sends raw master requests (as the superuser 'strata'), so a
// test can choose request ids itself: retries, races, duplicates.
import type { Actor, Env } from '../../actors/env.js';
import type { Envelope, Message } from '../../actors/protocol/envelope.js';
import { MASTER_ID } from '../../actors/master/master.js';
import { Rpc } from '../../actors/rpc.js';

export class RawClient implements Actor {
  readonly rpc: Rpc;
  constructor(env: Env, timeoutMs = 1000) {
    this.rpc = new Rpc(env, timeoutMs);
    this.rpc.identity = { user: 'strata', groups: [] };
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  receive(e: Envelope): void {
    this.rpc.handle(e);
  }
  call(m: Message & Record<string, unknown>, expect: string): Promise<Message> {
    return this.rpc.request(MASTER_ID, m, expect);
  }
}
