// A guest program for snapshot tests: it holds `MIB` MiB of pattern data (page i filled with one byte
// derived from i) and a counter it bumps every 50 ms into /tmp/counter. On SIGUSR1 it checks every page
// and writes "<counter> ok|bad <first bad page>" to /tmp/verify; on SIGUSR2 it zeroes the first 256 pages
// and from then on expects zeros there. Everything it checks lives in its own memory, so a snapshot that
// returned a wrong page — or the parent's content for a zeroed one — shows up as "bad".
export const MEMORY_KEEPER_JS = `
const fs = require('node:fs');
const MIB = Number(process.argv[2] || 64);
const PAGE = 4096;
const pages = (MIB << 20) / PAGE;
const data = Buffer.alloc(MIB << 20);
const fillOf = (i) => (i * 31 + 7) & 0xff;
for (let i = 0; i < pages; i++) data.fill(fillOf(i), i * PAGE, (i + 1) * PAGE);
const expected = Array.from({ length: 256 }, (_, v) => Buffer.alloc(PAGE, v));
let zeroed = 0;
let counter = 0;
setInterval(() => {
  counter++;
  fs.writeFileSync('/tmp/counter.tmp', String(counter));
  fs.renameSync('/tmp/counter.tmp', '/tmp/counter');
}, 50);
process.on('SIGUSR1', () => {
  let bad = -1;
  for (let i = 0; i < pages && bad < 0; i++) {
    const want = i < zeroed ? expected[0] : expected[fillOf(i)];
    if (!data.subarray(i * PAGE, (i + 1) * PAGE).equals(want)) bad = i;
  }
  fs.writeFileSync('/tmp/verify.tmp', counter + (bad < 0 ? ' ok' : ' bad ' + bad));
  fs.renameSync('/tmp/verify.tmp', '/tmp/verify');
});
process.on('SIGUSR2', () => {
  zeroed = 256;
  data.fill(0, 0, zeroed * PAGE);
  fs.writeFileSync('/tmp/zeroed', 'yes');
});
fs.writeFileSync('/tmp/keeper.pid', String(process.pid));
`;
