// The cause codes of the report contract (which step owns each: docs/report-contract.md): the
// order in which a connection meets them, and what a person should do next. Advice follows
// the source article's checklist; commands use the validated target.
import type { Cause, StepId } from '../report.js';
import type { Target } from '../../target.js';
import { isLoopbackTarget, loopbackHealthyNext } from '../loopback.js';

/**
 * The order in which a connection meets these problems. A problem early in the chain hides
 * everything after it, so the diagnosis walks the steps in this order, not the checklist's.
 */
export const CAUSAL_ORDER: readonly StepId[] = [
  'dns',
  'connectivity',
  'firewall',
  'sshd',
  'tcp-wrappers',
  'vpn-proxy',
  'verbose',
  'auth',
  'load',
  'bans',
];

/** What to do next, most useful first. */
export function nextSteps(cause: Cause, target: Target): string[] {
  const host = target.host;
  const port = target.port;
  const sshPort = port === 22 ? '' : ` -p ${port}`;
  switch (cause) {
    case 'healthy':
      if (isLoopbackTarget(target)) return loopbackHealthyNext(target);
      return [
        `SSH to ${host} works from this bastion, so look at the requester's side: their VPN or split tunnel must route ${host} (check \`ip route get\` for its address on their machine)`,
        `their local firewall must allow outgoing TCP port ${port}; try \`nc -zv ${host} ${port}\` from their machine`,
        ...(target.kind === 'name' ? [`compare what their resolver returns (\`dig ${host}\`) with the address probed here`] : []),
        'if they connected many times without logging in, fail2ban or sshd penalties may have banned their IP: check `sudo fail2ban-client status sshd` on the server',
        'with many keys in their agent, add `IdentitiesOnly yes` and one `IdentityFile` for this host to their ~/.ssh/config',
      ];
    case 'undecided':
      return [
        `run the check again with time to finish (\`sshcheck${sshPort} ${host}\`, or a larger --budget): this run stopped before its evidence settled, so it names no cause`,
        'the steps still pending are listed with what each was waiting for',
      ];
    case 'dns-nxdomain':
      return [
        `check the spelling of "${host}" and the search domains in /etc/resolv.conf`,
        `ask the DNS owner whether ${host} was removed or renamed; \`dig ${host}\` shows the same answer`,
        'connect by IP address in the meantime',
      ];
    case 'dns-servfail':
      return [
        'the resolver itself fails: check its logs and its upstream/forwarders (DNSSEC validation failures also show as SERVFAIL)',
        `try another resolver: \`dig @<other-resolver> ${host}\``,
        'connect by IP address in the meantime',
      ];
    case 'dns-timeout':
      return [
        'no resolver in /etc/resolv.conf answers in time: check that they run and that UDP/TCP port 53 to them is open',
        'ssh waits for every resolver in turn (5 s each by default), which looks like a hang before "Connecting to"',
        'connect by IP address in the meantime',
      ];
    case 'dns-mismatch':
      return [
        `what ssh resolves (getaddrinfo: /etc/hosts, search domains) differs from DNS: look for a stale ${host} line in /etc/hosts`,
        `compare the resolvers' answers (\`dig @<resolver> ${host}\`) and fix the stale record or its TTL`,
      ];
    case 'host-unreachable':
      return [
        `the network has no way to ${host}: check that the host is up (cloud console, IPMI) and on the expected address`,
        'check routes and the router or VPN in front of it; the path step shows the last hop that answered',
      ];
    case 'no-response':
      return [
        `nothing at ${host} answers this bastion at all: check in the cloud console or IPMI that the host is running`,
        'if it runs, a firewall drops everything from this bastion: check security groups, network ACLs, and bans of the bastion address (fail2ban)',
      ];
    case 'port-filtered':
      return [
        `SYNs to port ${port} are dropped silently: check the security group / network ACL and \`sudo iptables -S | grep -w ${port}\` or \`sudo nft list ruleset\` on the server`,
        'if only some sources are affected, look for a ban of the source address (step 10)',
      ];
    case 'port-rejected':
      return [
        `a firewall rejects port ${port}: find the REJECT rule (\`sudo iptables -S | grep -w ${port}\`, \`sudo nft list ruleset\`, firewalld zones) or the router ACL that sends the ICMP error`,
      ];
    case 'port-closed':
      return [
        `nothing listens on port ${port}: on the server run \`sudo systemctl status sshd\` and \`sudo ss -tlnp | grep ssh\``,
        'check Port and ListenAddress in /etc/ssh/sshd_config, and `sudo sshd -t` for a config error that stops sshd from starting',
        `if sshd runs and listens, a firewall rule answering with TCP reset looks the same: \`sudo iptables -S | grep -w ${port}\``,
      ];
    case 'banner-timeout':
      return [
        'the port accepts connections but sshd never says hello: check `sudo systemctl status sshd` and the sshd log on the server console',
        'a hung or overloaded sshd, MaxStartups throttling, or a TCP wrappers rule that looks names up slowly all show this way',
      ];
    case 'connection-closed':
      return [
        'sshd accepts the connection and closes it before its banner: check /etc/hosts.allow and /etc/hosts.deny for sshd lines (TCP wrappers)',
        'also check `MaxStartups` and the sshd log (`journalctl -u ssh`) for "refused connect" or "drop connection"',
      ];
    case 'not-ssh':
      return [
        `something other than sshd answers on port ${port}: a proxy, a load balancer, a captive portal or another service`,
        `check which process owns the port on the server (\`sudo ss -tlnp | grep :${port}\`) and any port forwarding / NAT in front of it`,
      ];
    case 'kex-stall':
      return [
        'the banner goes through but the key exchange never completes: large packets are lost on the path (MTU blackhole, often a VPN or tunnel)',
        'lower the MTU on the tunnel interface, enable MSS clamping on the VPN/router, or allow ICMP "fragmentation needed" through the firewalls',
        `quick test from the requester's side: \`ssh -o KexAlgorithms=curve25519-sha256 -o Ciphers=aes128-ctr${sshPort} ${host}\` sends smaller packets`,
      ];
    case 'kex-failed':
      return [
        'client and server share no algorithm for the listed negotiation: update the older side, or enable a common algorithm explicitly',
        'OpenSSH 8.8+ clients refuse ssh-rsa (SHA-1) host keys; old servers need an ed25519 or ECDSA host key',
      ];
    case 'auth-slow':
      return [
        'the server takes long before it asks for credentials: set `UseDNS no` in sshd_config and fix the reverse DNS of the client addresses',
        'disable `GSSAPIAuthentication` on client or server where Kerberos is not used',
      ];
    case 'server-overloaded':
      return [
        'check load, memory and process limits on the server console: `uptime`, `free -m`, `top`',
        'raise `MaxStartups` in sshd_config if many clients connect at once (the log says "drop connection")',
      ];
    case 'server-dropped':
      return [
        'the SSH server itself ends the connection after its banner, so packets cross the path: this is not an MTU problem',
        'read the sshd log at the time of the probe (`journalctl -u ssh`): "drop connection" / "beginning MaxStartups throttling" (raise `MaxStartups`), "penalty" (OpenSSH 9.8+ PerSourcePenalties), or a crash (`fatal:`, signal, container restarts)',
        'a TCP wrapper, port-forwarder or load balancer in front of sshd that closes idle or unknown clients looks the same: check what owns the port',
      ];
    case 'protocol-violation':
      return [
        `what answers on port ${port} sends bytes that are not valid SSH after its banner (impossible packet length, garbage, a failing MAC): a non-SSH service, a broken proxy, or a middlebox rewriting the stream`,
        `compare with a connection that bypasses the path (from the server's own network) and check what owns the port (\`sudo ss -tlnp | grep :${port}\`)`,
      ];
    case 'host-key-forged':
      return [
        `do not log in: whatever answered for ${host} sent a key-exchange signature that its own host key does not verify, so it is not the host (an intercepting proxy or a man in the middle)`,
        `compare the fingerprint in this report with the server's own (\`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on its console), and look for a TLS/SSH-inspecting proxy or NAT on the path`,
      ];
    case 'host-key-changed':
      return [
        `${host} presents a different host key than the known_hosts entry: after a rebuild or reinstall, confirm the new fingerprint on the server's console, then \`ssh-keygen -R ${host}\``,
        'if nothing was rebuilt, treat it as a possible man in the middle and do not log in until the fingerprint is confirmed out of band',
      ];
    case 'post-auth':
      return [
        'the login itself succeeds: the problem is after authentication (session, shell, login scripts, or the client\'s network)',
        `test without the shell's start-up files: \`ssh -T${sshPort} ${host} true\`; check ~/.bashrc, /etc/profile.d, a slow home directory (NFS), and \`ForceCommand\`/\`Subsystem\` in sshd_config`,
        'a session that freezes only on large output is an MTU problem on the client\'s network: lower the MTU or enable MSS clamping',
      ];
    case 'auth-denied':
      return [
        'the connection works; the server refused the credentials: check the user name and that the public key is in the server\'s authorized_keys',
        'with many keys in the agent, add `IdentitiesOnly yes` and one `IdentityFile` for this host',
      ];
    case 'proxy-failed':
      return [
        `the ProxyCommand/ProxyJump hop ended before ${host} sent its banner: test the hop alone, then \`nc -zv ${host} ${port}\` from it`,
      ];
    case 'banned':
      return [
        'check `sudo fail2ban-client status sshd` and DenyHosts / firewall rules on the server for the bastion address',
        'exempt the bastion: fail2ban `ignoreip`, or OpenSSH 9.8+ `PerSourcePenaltyExemptList`',
      ];
  }
}
