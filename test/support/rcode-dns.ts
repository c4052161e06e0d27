// A dns2 server on 127.0.0.1 that answers every question with an empty reply and the RCODE a
// test picks per name (NXDOMAIN, SERVFAIL…), and records every question it got as
// "name TYPE" (TYPE as the number on the wire: 1 A, 28 AAAA, 12 PTR).
import type dgram from 'node:dgram';
import dns2 from 'dns2';

export const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;

export interface RcodeDns {
  port: number;
  asked: string[];
  close(): void;
}

export async function startRcodeDns(rcodeFor: (name: string) => number): Promise<RcodeDns> {
  const asked: string[] = [];
  const server = dns2.createUDPServer({ type: 'udp4' });
  server.on('request', (request: dns2.Packet, send: (p: dns2.Packet) => Promise<Buffer>, _client: dgram.RemoteInfo) => {
    const q = request.questions[0];
    const name = q?.name.toLowerCase() ?? '';
    asked.push(`${name} ${q?.type ?? '?'}`);
    const response = dns2.Packet.createResponseFromRequest(request);
    response.header.rcode = rcodeFor(name);
    void send(response);
  });
  await server.listen(0, '127.0.0.1');
  return { port: server.address().port, asked, close: () => server.close() };
}
