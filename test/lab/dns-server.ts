// The lab's resolver: a dns2 UDP server run inside the router namespace by Lab.startDns.
// It re-reads its rules (a JSON file the test controls) on every query, so a test can change
// what DNS says without restarting anything. Usage: node dns-server.js <rules.json> <address>
import { readFileSync, writeFileSync } from 'node:fs';
import dns2 from 'dns2';
import type { DnsRule } from './lab.js';

const { Packet } = dns2;
// dns2's typings lack Packet.RCODE; these are the RFC 1035 codes.
const RCODE = { NXDOMAIN: 3, SERVFAIL: 2, REFUSED: 5 } as const;
const [rulesPath = '', address = '127.0.0.1', portText = '53'] = process.argv.slice(2);

function rules(): DnsRule[] {
  try {
    return JSON.parse(readFileSync(rulesPath, 'utf8')) as DnsRule[];
  } catch {
    return [];
  }
}

const ruleFor = (all: DnsRule[], name: string): DnsRule | undefined => all.find((r) => r.name === name) ?? all.find((r) => r.name === '*');

/**
 * The records of an `answer` rule. A CNAME is followed through the rules, as an authoritative
 * server answers for names in its own zone: the chain, then the records of its last name.
 */
function addRecords(response: dns2.Packet, question: dns2.Packet.Question, first: DnsRule, all: DnsRule[]): void {
  const record = (name: string, fields: Partial<dns2.Packet.Resource>): dns2.Packet.Resource => Packet.createResourceFromQuestion(question, { ttl: 30, name, ...fields });
  let owner = question.name;
  let rule: DnsRule | undefined = first;
  for (let hops = 0; rule?.action === 'answer' && rule.cname !== undefined && hops < 8; hops++) {
    response.answers.push(record(owner, { type: Packet.TYPE.CNAME, domain: rule.cname }));
    owner = rule.cname;
    rule = ruleFor(all, owner);
  }
  if (rule?.action !== 'answer' || rule.cname !== undefined) return;
  // Rebinding: past `then.after` answered queries of this type, the other records.
  const type = question.type === Packet.TYPE.A ? 'A' : question.type === Packet.TYPE.AAAA ? 'AAAA' : 'other';
  const seen = counts[`${owner.replace(/\.$/, '').toLowerCase()} ${type}`] ?? 0;
  const late = rule.then !== undefined && seen > rule.then.after ? rule.then : undefined;
  if (question.type === Packet.TYPE.A) for (const a of (late ? late.a : rule.a) ?? []) response.answers.push(record(owner, { address: a }));
  if (question.type === Packet.TYPE.AAAA) for (const a of (late ? late.aaaa : rule.aaaa) ?? []) response.answers.push(record(owner, { address: a }));
  if (question.type === Packet.TYPE.PTR && rule.ptr) response.answers.push(record(owner, { domain: rule.ptr }));
}

/** Queries seen per "name TYPE", written next to the zone for the tests to read. */
const counts: Record<string, number> = {};

/** The answer the rules give, or undefined to stay silent. */
function answer(request: dns2.Packet): dns2.Packet | undefined {
  const response = Packet.createResponseFromRequest(request);
  const question = request.questions[0];
  if (!question) return undefined;
  const name = question.name.replace(/\.$/, '').toLowerCase();
  const type = question.type === Packet.TYPE.A ? 'A' : question.type === Packet.TYPE.AAAA ? 'AAAA' : question.type === Packet.TYPE.PTR ? 'PTR' : String(question.type);
  counts[`${name} ${type}`] = (counts[`${name} ${type}`] ?? 0) + 1;
  try {
    writeFileSync(`${rulesPath}.queries.json`, JSON.stringify(counts));
  } catch {
    // the lab directory is gone: the test is over
  }
  const all = rules();
  const rule = ruleFor(all, name);
  // Liveness and reverse queries for names without a rule: a live resolver answers them.
  if (!rule) {
    if (name !== '' && !name.endsWith('.arpa')) response.header.rcode = RCODE.NXDOMAIN;
    return response;
  }
  switch (rule.action) {
    case 'drop':
      return undefined;
    case 'nxdomain':
      response.header.rcode = RCODE.NXDOMAIN;
      return response;
    case 'servfail':
      response.header.rcode = RCODE.SERVFAIL;
      return response;
    case 'refused':
      response.header.rcode = RCODE.REFUSED;
      return response;
    case 'answer':
      addRecords(response, question, rule, all);
      return response;
  }
}

const server = dns2.createServer({
  udp: true,
  handle: (request, send) => {
    const response = answer(request);
    // A reply the kernel refuses to send (EPERM from a DROP rule) is a lost packet, not the
    // end of the resolver.
    if (response) Promise.resolve().then(() => send(response)).catch((err: unknown) => process.stderr.write(`send failed: ${String(err)}\n`));
  },
});
server.on('listening', () => process.stdout.write(`listening on ${address}:${portText}\n`));
server.on('requestError', () => undefined);
void server.listen({ udp: { port: Number(portText), address } });
process.on('SIGTERM', () => process.exit(0));
