import { test } from "node:test";
import assert from "node:assert/strict";
import { tableFromArrays, tableToIPC } from "apache-arrow";
import { decodeEvents, EventLog, EventRow } from "../src/renderers/events";

test("an Arrow IPC batch decodes to rows (int64 as numbers, nulls kept)", () => {
  const table = tableFromArrays({
    seq: new BigInt64Array([5n, 6n]),
    recorded_at: new Float64Array([1.5e12, 1.6e12]),
    type: ["step_planned", "node_completed"],
    node: [null, "agent"],
    step: new Int32Array([0, 0]),
    data: ['{"step":0}', '{"update":{}}'],
  });
  const rows = decodeEvents(tableToIPC(table, "stream"));
  assert.equal(rows.length, 2);
  assert.equal(rows[1].seq, 6);
  assert.equal(rows[1].node, "agent");
  assert.equal(rows[0].node, null);
  assert.equal(rows[0].attempt, null);
  assert.equal(rows[1].data, '{"update":{}}');
});

test("the event log keeps seq order without duplicates", () => {
  const row = (seq: number) => ({ seq }) as EventRow;
  const log = new EventLog();
  assert.equal(log.add([row(1), row(2), row(3)]), 3);
  assert.equal(log.add([row(3), row(5), row(4)]), 2);
  assert.deepEqual(log.rows.map((r) => r.seq), [1, 2, 3, 4, 5]);
  log.reset();
  assert.equal(log.rows.length, 0);
});
