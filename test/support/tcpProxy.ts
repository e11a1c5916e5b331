import net from 'node:net';

/**
 * A TCP proxy in front of a server (the shared PostgreSQL), to simulate its outage without touching it:
 *   - `cut('blackhole')`: connections stay open but nothing passes either way, and new ones are accepted
 *     and held silent (a network partition: no error ever arrives);
 *   - `cut('refuse')`: every connection is reset and new ones are closed at once (the server is down);
 *   - `restore()`: held connections are dropped and new ones are forwarded again.
 */
export interface TcpProxy {
  port: number;
  url(path?: string): string;
  cut(mode: 'blackhole' | 'refuse'): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let mode: 'up' | 'blackhole' | 'refuse' = 'up';
  const pairs = new Set<{ client: net.Socket; upstream?: net.Socket }>();
  const drop = (p: { client: net.Socket; upstream?: net.Socket }) => {
    p.client.destroy();
    p.upstream?.destroy();
    pairs.delete(p);
  };
  const server = net.createServer((client) => {
    const pair: { client: net.Socket; upstream?: net.Socket } = { client };
    pairs.add(pair);
    client.on('error', () => drop(pair));
    client.on('close', () => drop(pair));
    if (mode === 'refuse') return drop(pair);
    if (mode === 'blackhole') {
      client.pause();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    pair.upstream = upstream;
    upstream.on('error', () => drop(pair));
    upstream.on('close', () => drop(pair));
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: (path = '') => `127.0.0.1:${port}${path}`,
    cut(m) {
      mode = m;
      for (const p of [...pairs]) {
        if (m === 'refuse') drop(p);
        else {
          p.client.unpipe();
          p.upstream?.unpipe();
          p.client.pause();
          p.upstream?.pause();
        }
      }
    },
    restore() {
      mode = 'up';
      for (const p of [...pairs]) drop(p);
    },
    async close() {
      for (const p of [...pairs]) drop(p);
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
