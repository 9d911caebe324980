import { type ConnectionOptions, Sandbox } from '@amber/sdk';
import { lazy, Suspense } from 'preact/compat';
import { useState } from 'preact/hooks';
import { ErrorBox, Loading } from '../components/error-box.js';
import { age, timeLeft } from '../format.js';
import { href, navigate } from '../router.js';
import { useNow, usePoll } from '../use-poll.js';
import { EventHistory } from './event-history.js';
import { FileBrowser } from './file-browser.js';
import { SandboxActions } from './sandbox-actions.js';

// xterm.js is most of the bundle: it loads only when a sandbox page opens.
const Terminal = lazy(() => import('./terminal.js').then((m) => ({ default: m.Terminal })));

export function SandboxPage({ id, conn }: { id: string; conn: ConnectionOptions }) {
  const sandbox = usePoll(() => Sandbox.get(id, conn), 2000, [id]);
  const [actionError, setActionError] = useState<unknown>();
  const [notice, setNotice] = useState<string>();
  const now = useNow();
  const sb = sandbox.data;
  return (
    <section aria-labelledby="sandbox-title">
      <p class="crumbs">
        <a href={href.sandboxes}>Sandboxes</a> /
      </p>
      <h1 id="sandbox-title" class="mono">
        {id}
      </h1>
      <ErrorBox error={sandbox.error} />
      {!sb && sandbox.loading && <Loading what="the sandbox" />}
      {sb && (
        <div class="card summary">
          <dl>
            <dt>State</dt>
            <dd>
              <span class={`state state-${sb.state}`} data-testid="sandbox-state">
                {sb.state}
              </span>
            </dd>
            <dt>Template</dt>
            <dd>{sb.info.template ?? 'cold boot'}</dd>
            <dt>Shape</dt>
            <dd>
              {sb.info.vcpus} vCPU, {sb.info.memoryMb} MiB
            </dd>
            <dt>Age</dt>
            <dd>{age(sb.info.createdAt, now)}</dd>
            <dt>Time left</dt>
            <dd>{timeLeft(sb.info.expiresAt, now)}</dd>
            <dt>On timeout</dt>
            <dd>{sb.info.onTimeout}</dd>
          </dl>
          {notice && (
            <p class="notice" role="status">
              {notice}
            </p>
          )}
          <ErrorBox error={actionError} onDismiss={() => setActionError(undefined)} />
          <SandboxActions
            sb={sb}
            onDone={() => void sandbox.reload()}
            onError={setActionError}
            onForked={(ids) => setNotice(`Forked into ${ids.join(', ')}`)}
            onKilled={() => navigate(href.sandboxes)}
          />
        </div>
      )}
      {sb && (
        <>
          <h2>Terminal</h2>
          <Suspense fallback={<Loading what="the terminal" />}>
            <Terminal sandboxId={id} conn={conn} state={sb.state} />
          </Suspense>
          <h2>Files</h2>
          <FileBrowser sb={sb} running={sb.state === 'running'} />
          <h2>Events</h2>
          <EventHistory sb={sb} />
        </>
      )}
    </section>
  );
}
