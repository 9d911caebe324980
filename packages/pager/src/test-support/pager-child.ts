// A pager in its own process, so a test can SIGKILL it. Argument: JSON {socketPath, chainDir, size,
// generations, seed}. Prints "listening", then "attached <pid>".
import { Pager } from '../pager.js';
import { buildChain } from './chain-fixture.js';
import { testLogger } from './fixture.js';

const args = JSON.parse(process.argv[2] ?? '{}') as {
  socketPath: string;
  chainDir: string;
  size: number;
};
const chain = buildChain(args.chainDir, args.size, 2);
const pager = await Pager.listen({
  socketPath: args.socketPath,
  snapshot: chain.source,
  logger: testLogger(),
});
process.stdout.write('listening\n');
const { pid } = await pager.attached;
process.stdout.write(`attached ${pid}\n`);
setInterval(() => {}, 1 << 30); // stay up until killed
