// Checks the bastion cannot make from the outside, with the article's commands to run by hand.
// (A later diagnostics login runs the target-side ones itself.)
import type { ManualCheck, StepId } from '../report.js';
import type { Target } from '../../target.js';

export function manualChecks(id: StepId, target: Target): ManualCheck[] {
  const { host, port, user } = target;
  const p = port === 22 ? '' : ` -p ${port}`;
  switch (id) {
    case 'connectivity':
      return [
        { where: 'requester', command: `ping ${host}; mtr ${host}; nc -zv ${host} ${port}`, why: 'the same checks from the machine that cannot connect' },
      ];
    case 'verbose':
      return [{ where: 'requester', command: `ssh -vvv${p} ${user}@${host}`, why: 'shows where the requester\'s own connection stops' }];
    case 'firewall':
      return [
        { where: 'target', command: `sudo iptables -S | grep -w ${port}; sudo nft list ruleset | grep -w ${port}`, why: 'firewall rules for the SSH port on the server' },
        { where: 'target', command: 'cloud console: security group / network ACL inbound rules', why: `TCP ${port} must be allowed from the requester's address` },
      ];
    case 'sshd':
      return [
        { where: 'target', command: 'sudo systemctl status sshd', why: 'is sshd active and running?' },
        { where: 'target', command: 'sudo ss -tlnp | grep ssh', why: `does it listen on the expected address and port ${port}?` },
        { where: 'target', command: 'sudo sshd -t', why: 'a broken sshd_config keeps sshd from (re)starting' },
      ];
    case 'dns':
      return [{ where: 'requester', command: `dig ${host}; nslookup ${host}`, why: "what the requester's resolver returns may differ from the bastion's" }];
    case 'tcp-wrappers':
      return [{ where: 'target', command: 'grep -i sshd /etc/hosts.allow /etc/hosts.deny', why: 'a "sshd: ALL" line in hosts.deny refuses everyone not allowed in hosts.allow' }];
    case 'vpn-proxy':
      return [
        { where: 'requester', command: `ip route get $(getent ahosts ${host} | awk 'NR==1{print $1}')`, why: 'is the target routed through the VPN (split tunnel)?' },
        { where: 'requester', command: `ssh -G ${host} | grep -i -e proxy -e hostname`, why: 'ProxyJump/ProxyCommand/HostName overrides in their ssh config' },
      ];
    case 'auth':
      return [
        { where: 'requester', command: `ssh -o IdentitiesOnly=yes -i ~/.ssh/<key>${p} ${user}@${host}`, why: 'too many keys in the agent are tried one by one' },
        { where: 'target', command: "sudo sshd -T | grep -i -e usedns -e gssapi", why: 'UseDNS and GSSAPI delay the authentication phase' },
      ];
    case 'load':
      return [{ where: 'target', command: 'uptime; free -m; top -bn1 | head -15', why: 'CPU, memory and process pressure (use the cloud console if SSH is down)' }];
    case 'bans':
      return [
        { where: 'target', command: 'sudo fail2ban-client status sshd', why: "is the requester's (or this bastion's) address banned?" },
        { where: 'target', command: 'sudo grep -i -e ban -e penalty /var/log/fail2ban.log /var/log/auth.log', why: 'recent bans and sshd penalties' },
      ];
  }
}
