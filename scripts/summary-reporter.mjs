// node:test reporter for run-tests.mjs: one JSON line with the counts and the failures, which the runner
// turns into the run's last line, "N passed, N failed" (", N skipped" when some were).
// Counted as failed: every failing test (a file that fails to load or whose file-level hook fails is
// reported as a failing test named after the file), and every suite that failed on its own account — a
// describe body that threw, a failing before/after hook in it — but not a suite that failed only because a
// test in it did, which is already counted.
export default async function* summaryReporter(source) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failures = [];
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { data } = event;
    const isSuite = data.details?.type === 'suite';
    if (data.skip || data.todo) {
      if (!isSuite) skipped++;
      continue;
    }
    if (event.type === 'test:pass') {
      if (!isSuite) passed++;
      continue;
    }
    const error = data.details?.error;
    if (isSuite && error?.failureType === 'subtestsFailed') continue;
    failed++;
    const cause = error?.cause;
    const message = String((cause instanceof Error ? cause.message : cause) ?? error?.message ?? '');
    failures.push({
      name: data.name,
      kind: isSuite ? 'suite' : 'test',
      file: data.file,
      line: data.line,
      failureType: error?.failureType,
      message: message.split('\n')[0]?.slice(0, 300),
    });
  }
  yield `${JSON.stringify({ passed, failed, skipped, failures })}\n`;
}
