// The host agent as its own process, configured from the environment, for tests that kill it. It logs
// synchronously, so what it logged before a SIGKILL is all in the pipe for the test to read.
import { destination, pino } from 'pino';
import { startAgent } from '../agent.js';

const log = pino({ level: process.env.AMBER_LOG_LEVEL ?? 'info' }, destination({ dest: 1, sync: true }));
const agent = await startAgent({ log });
// Before the ready line: a test may signal the moment it reads it, and a SIGTERM with no listener yet ends
// the process at once, leaving the namespaces it was making.
process.once('SIGTERM', () => void agent.close().then(() => process.exit(0)));
process.stdout.write(`${JSON.stringify({ msg: 'agent process ready', listen: agent.server.url })}\n`);
