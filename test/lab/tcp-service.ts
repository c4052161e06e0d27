// Services on the SSH port that are not sshd, run inside the target namespace by the lab:
// "http" answers like a web server, "silent" accepts and never says anything.
// Usage: node tcp-service.js <http|silent> <address> <port>
import net from 'node:net';

const [kind = 'http', address = '127.0.0.1', portText = '22'] = process.argv.slice(2);

const server = net.createServer((socket) => {
  socket.on('error', () => undefined);
  if (kind === 'silent') return;
  socket.once('data', () => {
    socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nBad Request\n');
  });
});
server.listen(Number(portText), address, () => process.stdout.write(`listening on ${address}:${portText}\n`));
process.on('SIGTERM', () => process.exit(0));
