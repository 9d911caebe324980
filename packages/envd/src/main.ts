import { createEnvdServer, ENVD_PORT } from './server.js';

// The guest's PID 1 (busybox init) respawns envd if it exits, so a fatal error is logged and exits.
process.on('uncaughtException', (err) => {
  process.stderr.write(`envd: fatal: ${err.stack ?? err}\n`);
  process.exit(1);
});

// Node compiles its timer code when a timer first fires. Fired here, that happens at boot, not in every
// restored guest, where V8's parser and compiler would run under emulation on cold translated code
// (~7,000 translation blocks, ~60 ms of vCPU per spawn on TCG). Two lists and a repeat cover the queue.
setTimeout(() => {}, 1);
let ticks = 0;
const repeat = setInterval(() => {
  if (++ticks === 2) clearInterval(repeat);
}, 2);

const port = Number(process.env.ENVD_PORT ?? ENVD_PORT);
const server = createEnvdServer({
  allowSetClock: process.env.ENVD_SET_CLOCK !== '0',
  // The image puts the addon beside the bundle.
  addonPath: process.env.ENVD_ADDON ?? '/opt/amber/amber_guest.node',
});
server.listen(port, '0.0.0.0', () => {
  process.stderr.write(`envd: listening on ${port}\n`);
});
