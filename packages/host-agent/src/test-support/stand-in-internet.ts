// A stand-in "internet" for egress tests: a network namespace this process creates, joined to the host by a
// veth, with two server addresses in a documentation range (never routed beyond this machine). One server
// listens on both and answers "internet <the address it was reached on>", and reports every connection it
// accepts. Agents under test are confined to
// `allow` (AgentConfig.egressAllow), so no packet from a guest can leave the machine.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface StandInInternet {
  /** The host's end of the veth (an address of the host: sandboxes must not reach it). */
  host: string;
  /** Two addresses of the stand-in server. */
  servers: [string, string];
  port: number;
  /** The CIDR covering exactly the servers, for egressAllow. */
  allow: string;
  /** The source address of every connection the server accepted, in order. */
  accepted: string[];
  stop(): void;
}

function ip(...args: string[]): void {
  execFileSync('ip', args);
}

/** `net`: the first three octets of a /24 no other test on this machine uses at the same time. */
export async function startStandInInternet(net: string, tag: string): Promise<StandInInternet> {
  const ns = `amber-test-inet-${tag}-${process.pid}`;
  const veth = `ti${tag.slice(0, 3)}${process.pid % 100000}`;
  const host = `${net}.1`;
  const servers: [string, string] = [`${net}.2`, `${net}.3`];
  const port = 8080;
  const accepted: string[] = [];
  ip('netns', 'add', ns);
  let server: ChildProcess | undefined;
  const stop = () => {
    // Its pipes too: an open one keeps the test process alive after the last test.
    server?.stdout?.destroy();
    server?.stderr?.destroy();
    server?.kill();
    server?.unref();
    execFileSync('ip', ['netns', 'del', ns]);
  };
  try {
    ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('addr', 'add', `${host}/24`, 'dev', veth);
    ip('link', 'set', veth, 'up');
    for (const addr of servers) ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    server = spawn('ip', [
      'netns',
      'exec',
      ns,
      process.execPath,
      '-e',
      `require('net').createServer((s) => { console.log('from ' + s.remoteAddress); s.end('internet ' + s.localAddress + '\\n'); }).listen(${port}, '0.0.0.0', () => console.log('up'))`,
    ]);
    const lines = createInterface({ input: server.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      if (line.startsWith('from ')) accepted.push(line.slice(5));
    });
    await new Promise<void>((resolve, reject) => {
      lines.once('line', () => resolve());
      server?.once('exit', (code) => reject(new Error(`the stand-in server exited (${code})`)));
    });
  } catch (err) {
    stop();
    throw err;
  }
  return { host, servers, port, allow: `${servers[0]}/31`, accepted, stop };
}

/** A Node one-liner for the guest: tries `host:port` for up to 3 s, prints 'connected <line>' or the error. */
export function reachScript(host: string, port: number): string {
  return `const s = require('net').connect({ host: ${JSON.stringify(host)}, port: ${port} });
s.setTimeout(3000, () => { console.log('timeout'); process.exit(0); });
s.on('data', (d) => { console.log('connected ' + String(d).trim()); process.exit(0); });
s.on('error', (e) => { console.log(e.code); process.exit(0); });`;
}
