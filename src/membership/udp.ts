// The UDP socket chores the heartbeat sender and receiver share: bind with a clear error, close
// without caring whether it already was.

import type dgram from 'node:dgram';
import type { HavenError } from '../errors.js';

/** Binds `socket`; a bind error is rejected as what `fail` makes of it (the caller's own words). */
export function bindSocket(socket: dgram.Socket, options: dgram.BindOptions, fail: (error: Error) => HavenError): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(fail(error));
    socket.once('error', onError);
    socket.bind(options, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

export function closeQuietly(socket: dgram.Socket): void {
  try {
    socket.close();
  } catch {
    // already closed
  }
}

/** Closes `socket`; resolves once it is closed (at once if it already was). */
export function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve();
    }
  });
}
