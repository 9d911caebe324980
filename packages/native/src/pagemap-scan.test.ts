import assert from 'node:assert/strict';
import { closeSync, openSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import { PageCategory, pagemapScan } from './pagemap-scan.js';
import { PAGE_SIZE, UffdHelperProcess } from './testing/uffd-helper-process.js';

test('PAGEMAP_SCAN finds exactly the pages another process has touched', async (t) => {
  const memPath = `/dev/shm/amber-scan-test-${process.pid}`;
  const helper = new UffdHelperProcess(memPath, 256 * PAGE_SIZE);
  t.after(() => {
    helper.kill();
    rmSync(memPath, { force: true });
  });
  const { base, pid } = await helper.ready();
  await helper.hashRange(10, 5);
  await helper.hashRange(100, 1);
  const fd = openSync(`/proc/${pid}/pagemap`, 'r');
  try {
    const end = base + 256 * PAGE_SIZE;
    const present = pagemapScan(fd, base, end, {
      categoryMask: PageCategory.PRESENT,
      returnMask: PageCategory.PRESENT,
    });
    assert.deepEqual(present, [
      { start: base + 10 * PAGE_SIZE, end: base + 15 * PAGE_SIZE, categories: PageCategory.PRESENT },
      { start: base + 100 * PAGE_SIZE, end: base + 101 * PAGE_SIZE, categories: PageCategory.PRESENT },
    ]);
    const limited = pagemapScan(fd, base, end, {
      categoryMask: PageCategory.PRESENT,
      returnMask: PageCategory.PRESENT,
      maxPages: 2,
    });
    assert.deepEqual(limited, [{ start: base + 10 * PAGE_SIZE, end: base + 12 * PAGE_SIZE, categories: 8 }]);
    // CHECK_WPASYNC refuses ranges without async write-protect.
    assert.throws(() => pagemapScan(fd, base, end, { flags: 2, categoryMask: 2, returnMask: 2 }), {
      code: 'EPERM',
    });
  } finally {
    closeSync(fd);
    await helper.exit();
  }
});
