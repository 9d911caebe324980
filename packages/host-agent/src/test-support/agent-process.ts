// The host agent as its own process, configured from the environment, for tests that kill it.
import { startAgent } from '../agent.js';

const agent = await startAgent();
process.stdout.write(`${JSON.stringify({ msg: 'agent process ready', listen: agent.server.url })}\n`);
process.once('SIGTERM', () => void agent.close().then(() => process.exit(0)));
