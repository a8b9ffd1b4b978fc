/**
 * HTTP agents for the OTLP exporter whose sockets do not keep the app's process alive: an export in
 * flight when the app is done must not hold its exit (a collector that accepts the connection and
 * never answers would hold it for the whole export timeout). The exit flush keeps the process up,
 * for a bounded time, while it waits for the collector (../exit-flush.ts).
 *
 * `createConnection` and `reuseSocket` are the Agent methods Node documents for subclasses; the
 * base `reuseSocket` refs the socket again, so it is unref'd after it.
 */
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';

type AgentClass = typeof http.Agent;

function unrefSockets(Base: AgentClass): AgentClass {
  return class UnrefSocketsAgent extends Base {
    override createConnection(
      ...args: Parameters<http.Agent['createConnection']>
    ): ReturnType<http.Agent['createConnection']> {
      const socket = super.createConnection(...args);
      unref(socket);
      return socket;
    }

    override reuseSocket(socket: Duplex, request: http.ClientRequest): void {
      super.reuseSocket(socket, request);
      unref(socket);
    }
  };
}

function unref(socket: unknown): void {
  const s = socket as { unref?: () => void } | null | undefined;
  if (typeof s?.unref === 'function') s.unref();
}

const agentClasses = new Map<string, AgentClass>();

/**
 * A keep-alive agent of `mod` (node:http or node:https, already loaded) whose sockets never hold
 * the process. An idle socket is closed after 4 s, before a Node server closes it (5 s): reusing a
 * socket the server is closing fails the request ("socket hang up").
 */
export function unrefKeepAliveAgent(mod: { Agent: AgentClass }): http.Agent {
  return new (unrefSockets(mod.Agent))({ keepAlive: true, timeout: 4_000 });
}

/**
 * An `httpAgentOptions` factory for the OTLP exporters (keep-alive, as the exporter's default agent).
 * `node:http` / `node:https` are loaded when the first export needs them, not at startup, as the
 * exporter's own factory does (so an app's HTTP instrumentation can patch them first).
 */
export async function unrefAgentFactory(protocol: string): Promise<http.Agent> {
  let Agent = agentClasses.get(protocol);
  if (!Agent) {
    const mod = protocol === 'http:' ? await import('node:http') : await import('node:https');
    Agent = unrefSockets(mod.Agent as AgentClass);
    agentClasses.set(protocol, Agent);
  }
  return new Agent({ keepAlive: true });
}
