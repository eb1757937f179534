// The field trip's live connection, shared by the pupil and teacher islands: one
// WebSocket to /ws/trips/{code}, reopened after a drop with growing, jittered delays
// (trip-state.js backoffDelay), a ping to keep idle school proxies from closing it, and
// nothing more once the server says the trip has ended.

import { PING_INTERVAL, backoffDelay, socketUrl } from "./trip-state.js";

export function connectTrip(path, { onOpen, onMessage, onWaiting, onEnded }) {
  const url = socketUrl(path, window.location);
  let socket = null;
  let attempt = 0;
  let ended = false;
  let ping = null;

  const open = () => {
    socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      attempt = 0;
      ping = setInterval(() => send({ type: "ping" }), PING_INTERVAL);
      onOpen?.();
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "ended") ended = true;
      onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      clearInterval(ping);
      // 4000: the trip ended; 4404: no such trip. Neither comes back by retrying.
      if (ended || event.code === 4000 || event.code === 4404) {
        ended = true;
        onEnded?.(event.code);
        return;
      }
      const delay = backoffDelay(attempt);
      attempt += 1;
      onWaiting?.(Math.ceil(delay / 1000));
      setTimeout(open, delay);
    });
  };

  const send = (message) => {
    if (socket?.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  };

  open();
  return { send, get open() { return socket?.readyState === WebSocket.OPEN; } };
}
