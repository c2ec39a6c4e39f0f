// Drives the thread-centric protocol with the official JS SDK: start a run by command, follow
// its values, answer its interrupt, read its output. Prints one JSON line with what it saw.
// Usage: node thread_protocol.mjs <api url> <token> <sse|websocket>
import { Client } from "@langchain/langgraph-sdk";

const [url, token, transport] = process.argv.slice(2);
// Over SSE, commands and streams are HTTP requests: the token goes in a header. The JS SDK's
// WebSocket transport sends every command over the socket and takes no headers (a browser's
// WebSocket cannot send any): the token goes in the handshake URL's query, which Jupyter accepts.
const client =
  transport === "websocket"
    ? new Client({ apiUrl: url })
    : new Client({ apiUrl: url, defaultHeaders: { Authorization: `token ${token}` } });
const thread = client.threads.stream({
  assistantId: "asking",
  transport,
  webSocketFactory: (wsUrl) => new WebSocket(`${wsUrl}?token=${encodeURIComponent(token)}`),
});
const started = await thread.run.start({ input: { n: 5 } });
const deadline = Date.now() + 30_000;
while (!thread.interrupted && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const interrupts = thread.interrupts.map((i) => ({ interruptId: i.interruptId, payload: i.payload, namespace: i.namespace }));
await thread.input.respond({ namespace: [], interrupt_id: interrupts[0].interruptId, response: "from js" });
// The SDK's `output` resolves when its values projection pauses or ends (at the interrupt, if
// the pause came before the answer): the resumed run's result is read from the thread's state.
const rest = new Client({ apiUrl: url, defaultHeaders: { Authorization: `token ${token}` } });
let output;
while (Date.now() < deadline + 30_000) {
  const state = await rest.threads.getState(thread.threadId);
  if (state.next.length === 0 && state.values.answer !== undefined) {
    output = state.values;
    break;
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
}
await thread.close();
console.log(JSON.stringify({ runId: started.run_id, interrupted: interrupts.length > 0, interrupts, output }));
