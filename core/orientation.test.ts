import { deepEqual, equal } from "node:assert/strict";
import jpeg from "jpeg-js";
import { decodeImage, type RgbImage } from "./image.ts";
import { jpegOrientation, orient } from "./orientation.ts";

/** A 3 x 2 image whose pixel (x, y) is (x, y, 9). */
const STORED: RgbImage = {
  width: 3,
  height: 2,
  data: Uint8Array.from({ length: 18 }, (_, k) => {
    const p = Math.floor(k / 3);
    return [p % 3, Math.floor(p / 3), 9][k % 3];
  }),
};

/** The stored pixel (x, y) that the upright image shows at (col, row). */
function shown(image: RgbImage, col: number, row: number): [number, number] {
  const at = 3 * (row * image.width + col);
  return [image.data[at], image.data[at + 1]];
}

Deno.test("orient turns a stored image upright for each of the eight EXIF orientations", () => {
  // For each orientation: the upright size, and the stored pixels at its top-left and top-right.
  const expected: [number, number, [number, number], [number, number]][] = [
    [3, 2, [0, 0], [2, 0]], // 1: as stored
    [3, 2, [2, 0], [0, 0]], // 2: mirrored
    [3, 2, [2, 1], [0, 1]], // 3: half a turn
    [3, 2, [0, 1], [2, 1]], // 4: mirrored upside down
    [2, 3, [0, 0], [0, 1]], // 5: transposed
    [2, 3, [0, 1], [0, 0]], // 6: a quarter turn clockwise makes it upright
    [2, 3, [2, 1], [2, 0]], // 7: transversed
    [2, 3, [2, 0], [2, 1]], // 8: a quarter turn anticlockwise makes it upright
  ];
  expected.forEach(([width, height, topLeft, topRight], k) => {
    const upright = orient(STORED, k + 1);
    deepEqual([upright.width, upright.height], [width, height], `orientation ${k + 1}`);
    deepEqual(shown(upright, 0, 0), topLeft, `orientation ${k + 1}, top left`);
    deepEqual(shown(upright, width - 1, 0), topRight, `orientation ${k + 1}, top right`);
  });
});

/** `file` with an APP1 EXIF segment that gives `orientation`, in `order` ("II" or "MM"). */
function withExif(file: Uint8Array, orientation: number, order: "II" | "MM"): Uint8Array {
  const little = order === "II";
  const tiff = new Uint8Array(8 + 2 + 12 + 4);
  const view = new DataView(tiff.buffer);
  tiff.set([order.charCodeAt(0), order.charCodeAt(1)]);
  view.setUint16(2, 42, little);
  view.setUint32(4, 8, little);
  view.setUint16(8, 1, little); // one directory entry
  view.setUint16(10, 0x0112, little);
  view.setUint16(12, 3, little); // SHORT
  view.setUint32(14, 1, little);
  view.setUint16(18, orientation, little);
  const payload = new Uint8Array([..."Exif\0\0"].map((c) => c.charCodeAt(0)).concat(...tiff));
  const segment = new Uint8Array(4 + payload.length);
  segment.set([0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 0xff]);
  segment.set(payload, 4);
  return new Uint8Array([...file.subarray(0, 2), ...segment, ...file.subarray(2)]);
}

Deno.test("a JPEG's EXIF orientation is read, and decodeImage turns the photo upright", () => {
  // 16 x 8, stored as a phone held upright would store it: left half red, right half blue.
  const width = 16, height = 8;
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    rgba.set((p % width) < width / 2 ? [255, 0, 0, 255] : [0, 0, 255, 255], 4 * p);
  }
  const file = new Uint8Array(jpeg.encode({ width, height, data: rgba }, 95).data);
  equal(jpegOrientation(file), 1, "no EXIF block: upright");
  for (const order of ["II", "MM"] as const) {
    equal(jpegOrientation(withExif(file, 6, order)), 6, order);
  }
  equal(jpegOrientation(withExif(file, 42, "II")), 1, "an impossible value is ignored");
  // Orientation 6: a quarter turn clockwise, so the stored left half is the upright top.
  const upright = decodeImage(withExif(file, 6, "II"));
  deepEqual([upright.width, upright.height], [8, 16]);
  const pixel = (
    x: number,
    y: number,
  ) => [...upright.data.subarray(3 * (y * 8 + x), 3 * (y * 8 + x) + 3)];
  equal(pixel(4, 2)[0] > 200 && pixel(4, 2)[2] < 60, true, `top ${pixel(4, 2)}`);
  equal(pixel(4, 13)[2] > 200 && pixel(4, 13)[0] < 60, true, `bottom ${pixel(4, 13)}`);
});
