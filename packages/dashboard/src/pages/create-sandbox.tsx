import { type ConnectionOptions, Sandbox, type SnapshotInfo } from '@amber/sdk';
import { useState } from 'preact/hooks';
import { ErrorBox } from '../components/error-box.js';
import { parsePairs } from '../format.js';

const COLD = '__cold__';

/** Template, memory (for `base` and cold boots: a named template fixes its own), timeout and metadata. */
export function CreateSandbox(props: {
  conn: ConnectionOptions;
  templates: SnapshotInfo[];
  onCreated: (sb: Sandbox) => void;
}) {
  const [template, setTemplate] = useState('base');
  const [memoryMb, setMemoryMb] = useState('512');
  const [timeoutSec, setTimeoutSec] = useState('300');
  const [metadata, setMetadata] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const fixedShape = template !== 'base' && template !== COLD;
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const sb = await Sandbox.create(
        {
          template: template === COLD ? null : template,
          ...(!fixedShape && { memoryMb: Number(memoryMb) }),
          timeoutSec: Number(timeoutSec),
          metadata: parsePairs(metadata),
        },
        props.conn,
      );
      props.onCreated(sb);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card create" onSubmit={submit} aria-label="Create a sandbox">
      <h2>New sandbox</h2>
      <div class="fields">
        <label>
          Template
          <select name="template" value={template} onChange={(e) => setTemplate(e.currentTarget.value)}>
            <option value="base">base (built-in)</option>
            {props.templates
              .filter((t) => !t.builtIn && t.name !== 'base')
              .map((t) => (
                <option key={t.name} value={t.name}>
                  {t.name}
                </option>
              ))}
            <option value={COLD}>cold boot (no template)</option>
          </select>
        </label>
        <label>
          Memory (MiB)
          <input
            name="memoryMb"
            type="number"
            min={128}
            max={16384}
            step={128}
            disabled={fixedShape}
            title={fixedShape ? 'A template fixes its memory' : undefined}
            value={memoryMb}
            onInput={(e) => setMemoryMb(e.currentTarget.value)}
          />
        </label>
        <label>
          Timeout (s)
          <input
            name="timeoutSec"
            type="number"
            min={1}
            max={86400}
            value={timeoutSec}
            onInput={(e) => setTimeoutSec(e.currentTarget.value)}
          />
        </label>
        <label class="wide">
          Metadata
          <input
            name="metadata"
            placeholder="owner=me, purpose=demo"
            value={metadata}
            onInput={(e) => setMetadata(e.currentTarget.value)}
          />
        </label>
      </div>
      <ErrorBox error={error} />
      <button type="submit" class="primary" disabled={busy}>
        {busy ? 'Creating…' : 'Create sandbox'}
      </button>
    </form>
  );
}
