// A listener that only counts: run inside a lab namespace on the addresses a policy must
// keep the engine away from (node accept-counter.js 127.0.0.1:22 169.254.169.254:22). Each
// accepted connection prints "accept <address>:<port>" and is closed at once.
import { createServer } from 'node:net';

const endpoints = process.argv.slice(2).map((arg) => {
  const i = arg.lastIndexOf(':');
  return { host: arg.slice(0, i), port: Number(arg.slice(i + 1)) };
});
let listening = 0;
for (const { host, port } of endpoints) {
  const server = createServer((socket) => {
    process.stdout.write(`accept ${host}:${port}\n`);
    socket.on('error', () => undefined);
    socket.destroy();
  });
  server.listen(port, host, () => {
    listening += 1;
    if (listening === endpoints.length) process.stdout.write('listening\n');
  });
}
process.on('SIGTERM', () => process.exit(0));
