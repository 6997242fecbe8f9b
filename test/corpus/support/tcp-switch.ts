import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A loopback TCP relay in front of a real server that a test can switch off and on, to
 * take a store "down" and bring it back without touching the server other suites use.
 * While off, it accepts and immediately closes connections (like a crashed server).
 */
export class TcpSwitch {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  up = false;

  constructor(private readonly upstream: { host: string; port: number }) {}

  async start(): Promise<number> {
    this.server = createServer((client) => {
      if (!this.up) {
        client.destroy();
        return;
      }
      const target = createConnection(this.upstream);
      this.sockets.add(client).add(target);
      const drop = () => {
        client.destroy();
        target.destroy();
        this.sockets.delete(client);
        this.sockets.delete(target);
      };
      client.on('error', drop).on('close', drop);
      target.on('error', drop).on('close', drop);
      client.pipe(target).pipe(client);
    });
    const server = this.server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  /** Cuts every open connection and refuses new ones. */
  down(): void {
    this.up = false;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  restore(): void {
    this.up = true;
  }

  async stop(): Promise<void> {
    this.down();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }
}
