import { writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { getHeapSpaceStatistics } from 'node:v8';

/**
 * Preloaded into a measured process by profile.ts (`node --require diag.cjs ...`, CommonJS as
 * the CLI is): on SIGUSR2 it writes where its memory is (process.memoryUsage and V8's heap
 * spaces) to $DIAG_OUT, so the RSS the bench reads from outside can be taken apart. Not loaded
 * by `npm run bench`.
 */
const out = process.env.DIAG_OUT;
if (out) {
  process.on('SIGUSR2', () => {
    const mib = (n: number): number => Math.round((n / 1048576) * 10) / 10;
    const usage = Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, mib(v)]));
    const spaces = Object.fromEntries(
      getHeapSpaceStatistics().map((s) => [
        s.space_name,
        { size: mib(s.space_size), used: mib(s.space_used_size), physical: mib(s.physical_space_size) },
      ]),
    );
    writeFileSync(out, `${JSON.stringify({ usage, spaces }, null, 2)}\n`);
  });
}

/**
 * With DIAG_LATENCY=IN:OUT (e.g. `/set:/power`): the time inside this process from reading a
 * message with IN in its topic off the socket to writing the first one with OUT, written beside the memory
 * figures ($DIAG_OUT.latency, since the last SIGUSR2):
 * what the bridge adds, without the broker, the benchmark's client and the other processes.
 */
if (out && process.env.DIAG_LATENCY) {
  const inside: number[] = [];
  let readAt = 0;
  type Chunks = { chunk: unknown }[];
  const [inTopic = '/set', outTopic = '/power'] = process.env.DIAG_LATENCY.split(':');
  const proto = Socket.prototype as unknown as {
    push: (chunk: unknown, ...rest: unknown[]) => boolean;
    _writev: (chunks: Chunks, cb: unknown) => unknown;
    _write: (chunk: unknown, ...rest: unknown[]) => unknown;
    write: (chunk: unknown, ...rest: unknown[]) => boolean;
  };
  // When the answer was handed to the (corked) socket, and when the socket wrote it out.
  const head: number[] = [];
  let queuedAt = 0;
  const streamWrite = proto.write;
  proto.write = function (this: unknown, chunk: unknown, ...rest: unknown[]) {
    if (readAt > 0 && queuedAt === 0 && has(chunk, outTopic)) {
      queuedAt = performance.now();
      head.push((queuedAt - readAt) * 1000);
    }
    return streamWrite.call(this, chunk, ...rest);
  };
  const push = proto.push;
  const has = (data: unknown, text: string): boolean =>
    (Buffer.isBuffer(data) || typeof data === 'string') && data.includes(text);
  proto.push = function (this: unknown, chunk: unknown, ...rest: unknown[]) {
    if (has(chunk, inTopic)) readAt = performance.now();
    return push.call(this, chunk, ...rest);
  };
  const note = (data: unknown): void => {
    if (readAt > 0 && has(data, outTopic)) {
      inside.push((performance.now() - readAt) * 1000);
      readAt = 0;
      queuedAt = 0;
    }
  };
  const writev = proto._writev;
  proto._writev = function (this: unknown, chunks: Chunks, cb: unknown) {
    for (const c of chunks) note(c.chunk);
    return writev.call(this, chunks, cb);
  };
  const write = proto._write;
  proto._write = function (this: unknown, chunk: unknown, ...rest: unknown[]) {
    note(chunk);
    return write.call(this, chunk, ...rest);
  };
  process.on('SIGUSR2', () => {
    const q = (xs: number[], p: number): number => {
      const sorted = [...xs].sort((a, b) => a - b);
      return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN);
    };
    writeFileSync(
      `${out}.latency`,
      JSON.stringify({
        n: inside.length,
        p50: q(inside, 50),
        p90: q(inside, 90),
        p99: q(inside, 99),
        queued_p50: q(head, 50),
      }),
    );
    inside.length = 0;
    head.length = 0;
  });
}

/**
 * With DIAG_ALLOC=1: what the process allocates, garbage included (V8's sampling heap
 * profiler keeping objects that the collector has freed since), written at each SIGUSR2 to
 * $DIAG_OUT.heapprofile (the allocations since the previous one).
 */
if (out && process.env.DIAG_ALLOC) void sampleAllocations(out);

async function sampleAllocations(out: string): Promise<void> {
  const { Session } = await import('node:inspector');
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) =>
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
    );
  const start = (): Promise<unknown> =>
    post('HeapProfiler.startSampling', {
      samplingInterval: 1024,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  await start();
  process.on('SIGUSR2', () => {
    void post('HeapProfiler.stopSampling').then(async (result) => {
      writeFileSync(`${out}.heapprofile`, JSON.stringify((result as { profile: unknown }).profile));
      await start();
    });
  });
}
