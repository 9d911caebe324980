import type { FileEntry, Sandbox } from '@amber/sdk';
import { useRef, useState } from 'preact/hooks';
import { ActionButton, ConfirmButton } from '../components/buttons.js';
import { ErrorBox, Loading } from '../components/error-box.js';
import { bytes } from '../format.js';
import { usePoll } from '../use-poll.js';

const HOME = '/home/user';

function parentOf(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  const cut = trimmed.lastIndexOf('/');
  return cut <= 0 ? '/' : trimmed.slice(0, cut);
}

function join(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, '')}/${name}`;
}

/** Hands a downloaded file to the browser as a save. */
async function download(sb: Sandbox, entry: FileEntry): Promise<void> {
  const stream = await sb.files.read(entry.path);
  const blob = await new Response(stream).blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = entry.name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function Row(props: {
  sb: Sandbox;
  entry: FileEntry;
  open: (path: string) => void;
  onChanged: () => void;
  onError: (err: unknown) => void;
}) {
  const { sb, entry, onChanged, onError } = props;
  const [renaming, setRenaming] = useState(false);
  const [name, setName] = useState(entry.name);
  return (
    <tr data-name={entry.name}>
      <td data-label="Name">
        {renaming ? (
          <form
            class="inline"
            onSubmit={async (e) => {
              e.preventDefault();
              try {
                await sb.files.move(entry.path, join(parentOf(entry.path), name));
                setRenaming(false);
                onChanged();
              } catch (err) {
                onError(err);
              }
            }}
          >
            <input
              aria-label={`New name for ${entry.name}`}
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
            />
            <button type="submit">Rename</button>
            <button type="button" class="link" onClick={() => setRenaming(false)}>
              Cancel
            </button>
          </form>
        ) : entry.type === 'dir' ? (
          <button type="button" class="link" onClick={() => props.open(entry.path)}>
            {entry.name}/
          </button>
        ) : (
          <span class="mono">{entry.name}</span>
        )}
      </td>
      <td data-label="Size" class="size">
        {entry.type === 'dir' ? '—' : bytes(entry.size)}
      </td>
      <td data-label="Modified">{entry.modifiedAt ? new Date(entry.modifiedAt).toLocaleString() : '—'}</td>
      <td data-label="Mode" class="mono">
        {entry.permissions}
      </td>
      <td data-label="Actions">
        <div class="actions">
          {entry.type === 'file' && (
            <ActionButton run={() => download(sb, entry)} onError={onError} label={`Download ${entry.name}`}>
              Download
            </ActionButton>
          )}
          <button type="button" onClick={() => setRenaming(true)} aria-label={`Rename ${entry.name}`}>
            Rename
          </button>
          <ConfirmButton
            run={async () => {
              await sb.files.remove(entry.path);
              onChanged();
            }}
            onError={onError}
            confirmLabel="Really delete"
            label={`Delete ${entry.name}`}
          >
            Delete
          </ConfirmButton>
        </div>
      </td>
    </tr>
  );
}

/** One directory at a time: list, upload (input or drop), download, mkdir, rename, delete. */
export function FileBrowser({ sb, running }: { sb: Sandbox; running: boolean }) {
  const [dir, setDir] = useState(HOME);
  const [pathInput, setPathInput] = useState(HOME);
  const [error, setError] = useState<unknown>();
  const [uploading, setUploading] = useState<string>();
  const [dragging, setDragging] = useState(false);
  const [newDir, setNewDir] = useState('');
  const fileInput = useRef<HTMLInputElement>(null);
  const listing = usePoll(async () => (running ? sb.files.list(dir) : undefined), 5000, [
    sb.id,
    dir,
    running,
  ]);
  const open = (path: string) => {
    setDir(path);
    setPathInput(path);
  };
  const upload = async (files: FileList | null) => {
    if (!files || files.length === 0) return;
    setError(undefined);
    try {
      for (const file of Array.from(files)) {
        setUploading(file.name);
        await sb.files.write(join(dir, file.name), file);
      }
    } catch (err) {
      setError(err);
    } finally {
      setUploading(undefined);
      if (fileInput.current) fileInput.current.value = '';
      await listing.reload();
    }
  };
  if (!running) return <p class="card muted">Files can be browsed while the sandbox runs.</p>;
  const entries = [...(listing.data ?? [])].sort(
    (a, b) => Number(b.type === 'dir') - Number(a.type === 'dir') || a.name.localeCompare(b.name),
  );
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: a drop target only; the file input is the keyboard way in
    <div
      class={`card files${dragging ? ' dragging' : ''}`}
      onDragOver={(e) => {
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(e) => {
        e.preventDefault();
        setDragging(false);
        void upload(e.dataTransfer?.files ?? null);
      }}
    >
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          open(pathInput.trim() || HOME);
        }}
      >
        <button
          type="button"
          onClick={() => open(parentOf(dir))}
          disabled={dir === '/'}
          aria-label="Up one folder"
        >
          ↑ Up
        </button>
        <input
          aria-label="Folder"
          class="mono grow"
          value={pathInput}
          onInput={(e) => setPathInput(e.currentTarget.value)}
        />
        <button type="submit">Go</button>
      </form>
      <div class="toolbar">
        <label class="button">
          {uploading ? `Uploading ${uploading}…` : 'Upload files'}
          <input
            ref={fileInput}
            type="file"
            multiple
            class="visually-hidden"
            data-testid="upload-input"
            onChange={(e) => void upload(e.currentTarget.files)}
          />
        </label>
        <span class="muted drop-hint">or drop files here</span>
        <form
          class="inline"
          onSubmit={async (e) => {
            e.preventDefault();
            if (!newDir.trim()) return;
            try {
              await sb.files.mkdir(join(dir, newDir.trim()));
              setNewDir('');
              await listing.reload();
            } catch (err) {
              setError(err);
            }
          }}
        >
          <input
            aria-label="New folder name"
            placeholder="new folder"
            value={newDir}
            onInput={(e) => setNewDir(e.currentTarget.value)}
          />
          <button type="submit">Make folder</button>
        </form>
      </div>
      <ErrorBox error={error} onDismiss={() => setError(undefined)} />
      <ErrorBox error={listing.error} />
      {!listing.data && listing.loading && <Loading what="files" />}
      {listing.data && entries.length === 0 && <p class="empty">This folder is empty.</p>}
      {entries.length > 0 && (
        <table class="list files-table" aria-label={`Files in ${dir}`}>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Size</th>
              <th scope="col">Modified</th>
              <th scope="col">Mode</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((entry) => (
              <Row
                key={entry.path}
                sb={sb}
                entry={entry}
                open={open}
                onChanged={() => void listing.reload()}
                onError={setError}
              />
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
