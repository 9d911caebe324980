// What files.write accepts, turned into a fetch body without reading it whole.

export type WriteData = string | Uint8Array | Blob | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

export function toBody(data: WriteData): NonNullable<RequestInit['body']> {
  if (typeof data === 'string' || data instanceof Uint8Array || data instanceof Blob) return data;
  if (data instanceof ReadableStream) return data;
  // An async iterable (a Node stream, a generator): pulled one chunk at a time as fetch sends.
  const it = data[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await it.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      await it.return?.(reason);
    },
  });
}
