// The server's half of the key-exchange messages, for the test servers only (the probe is a
// client: it builds the init request and parses the reply, in src/engine/probes/ssh-kex.ts).
import type { KexReply } from '../../src/engine/probes/ssh-kex.js';
import { MSG, SshReader, SshWriter, WireError } from '../../src/engine/probes/ssh-wire.js';

export function parseKexInitRequest(payload: Buffer, encoding: 'mpint' | 'string'): Buffer {
  const r = new SshReader(payload);
  if (r.byte() !== MSG.KEX_INIT) throw new WireError('not a KEX init request');
  return encoding === 'mpint' ? r.mpint() : Buffer.from(r.string());
}

export function buildKexReply(reply: KexReply, encoding: 'mpint' | 'string'): Buffer {
  const w = new SshWriter().byte(MSG.KEX_REPLY).string(reply.hostKey);
  if (encoding === 'mpint') w.mpint(reply.serverPublic);
  else w.string(reply.serverPublic);
  return w.string(reply.signature).toBuffer();
}
