/**
 * The asset store could not keep, or give back, bytes it holds (full, read-only, a file gone): the
 * server's trouble, never the client's. The cause keeps the path for the log; the message a client
 * sees does not.
 */
export class StorageError extends Error {
  readonly code: string;
  constructor(
    cause: NodeJS.ErrnoException,
    readonly op: 'read' | 'write' = 'write',
  ) {
    super(op === 'read' && cause.code === 'ENOENT' ? 'a file of the asset store is missing (ENOENT)' : `the asset store cannot be ${op === 'read' ? 'read' : 'written'} (${cause.code ?? 'error'})`, { cause });
    this.name = 'StorageError';
    this.code = cause.code ?? 'EIO';
  }
}
