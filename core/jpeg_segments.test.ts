import { deepEqual, throws } from "node:assert/strict";
import { JpegSegmentError, jpegSegments } from "./jpeg_segments.ts";

/** A segment: its marker and `bytes` of content after its length. */
const segment = (
  marker: number,
  bytes: number,
) => [0xff, marker, 0, bytes + 2, ...new Array(bytes).fill(1)];

// Two scans whose data hold a stuffed 0xFF, a restart marker and fill bytes before the next marker.
const file = new Uint8Array([
  0xff,
  0xd8,
  ...segment(0xdb, 2),
  ...segment(0xc2, 6),
  ...segment(0xda, 6),
  0x12,
  0xff,
  0x00,
  0x34,
  0xff,
  0xd0,
  0x56,
  0xff,
  0xff,
  ...segment(0xc4, 3),
  ...segment(0xda, 6),
  0x78,
  0xff,
  0xd9,
]);

const markers = (options?: { throughScans: boolean }) =>
  [...jpegSegments(file, options)].map((s) => s.marker.toString(16));

Deno.test("jpegSegments: up to the first scan, or through every scan's data", () => {
  deepEqual(markers(), ["db", "c2", "da"]);
  // The end marker closes the file: nothing follows it to walk.
  deepEqual(markers({ throughScans: true }), ["db", "c2", "da", "c4", "da"]);
});

Deno.test("jpegSegments: a missing marker is an error", () => {
  const broken = file.slice();
  broken[2] = 0x00;
  throws(() => [...jpegSegments(broken)], JpegSegmentError);
});
