import { describe, expect, it } from 'vitest';
import { parseNotOwner } from '../../../src/http/forwarder.js';

describe("a gateway's 421 body", () => {
  it('names the owner and epoch it knows', () => {
    expect(parseNotOwner(Buffer.from(JSON.stringify({ error: { code: 'NOT_OWNER', message: 'x' }, owner: 'gw-b', epoch: 12 })))).toEqual({ owner: 'gw-b', epoch: 12 });
  });

  it('names nobody when it says null, sends garbage, or is not JSON', () => {
    expect(parseNotOwner(Buffer.from('{"owner":null,"epoch":null}'))).toEqual({ owner: undefined, epoch: undefined });
    expect(parseNotOwner(Buffer.from('{"owner":"bad pod id!","epoch":-3}'))).toEqual({ owner: undefined, epoch: undefined });
    expect(parseNotOwner(Buffer.from('{"owner":"gw-b","epoch":"7"}'))).toEqual({ owner: 'gw-b', epoch: undefined });
    expect(parseNotOwner(Buffer.from('<html>'))).toEqual({ owner: undefined, epoch: undefined });
  });
});
