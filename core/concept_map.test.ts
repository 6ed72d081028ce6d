import { deepEqual, equal, notDeepEqual, ok } from "node:assert/strict";
import { conceptMaps, groupColor } from "./concept_map.ts";
import { positionOwners } from "./swap_maps.js";

Deno.test("conceptMaps colours each position by its strongest group, black where none is active", () => {
  // One image, 3 filters on a 2x2 layer: group 0 (filters 0, 1) top-left, group 1 (filter 2) bottom-right.
  const data = new Float32Array(3 * 4);
  data[0 * 4 + 0] = 1;
  data[1 * 4 + 0] = 0.5;
  data[2 * 4 + 3] = 2;
  const [map] = conceptMaps({ data, shape: [1, 3, 2, 2] }, [0, 0, 1], 2, 4);
  equal(map.width, 4);
  const at = (x: number, y: number) => [...map.data.subarray((y * 4 + x) * 3, (y * 4 + x) * 3 + 3)];
  deepEqual(at(0, 0), groupColor(0));
  deepEqual(at(1, 1), groupColor(0));
  deepEqual(at(3, 3), groupColor(1));
  deepEqual(at(3, 0), [0, 0, 0]);
});

Deno.test("groupColor gives neighbouring groups different colours", () => {
  for (let g = 0; g < 23; g++) notDeepEqual(groupColor(g), groupColor(g + 1));
});

Deno.test("conceptMaps draws only the first `count` images but normalises over all", () => {
  // Two images, one filter, image 1 eight times stronger: image 0's 0.5 / 4 = 0.125 is below the
  // 0.2 threshold, so it stays black, although drawn alone it would light up.
  const data = new Float32Array([0.5, 0.5, 0.5, 0.5, 4, 4, 4, 4]);
  const drawn = conceptMaps({ data, shape: [2, 1, 2, 2] }, [0], 1, 2, { count: 1 });
  equal(drawn.length, 1);
  ok(drawn[0].data.every((v) => v === 0));
  ok(
    conceptMaps({ data: data.slice(0, 4), shape: [1, 1, 2, 2] }, [0], 1, 2)[0].data.some((v) =>
      v > 0
    ),
  );
});

Deno.test("conceptMaps takes given peaks and colours (a server draws one image with the export's peaks)", () => {
  const data = new Float32Array([0.5, 0, 0, 0]);
  const red = [255, 0, 0] as const;
  // Peak 4: 0.5 / 4 is below the threshold; peak 1: it is drawn, in the given colour.
  const dim = conceptMaps({ data, shape: [1, 1, 2, 2] }, [0], 1, 2, { peaks: [4], colors: [red] });
  ok(dim[0].data.every((v) => v === 0));
  const [lit] = conceptMaps({ data, shape: [1, 1, 2, 2] }, [0], 1, 2, {
    peaks: [1],
    colors: [red],
  });
  deepEqual([...lit.data.subarray(0, 3)], [...red]);
  deepEqual([...lit.data.subarray(3, 6)], [0, 0, 0]);
});

Deno.test("positionOwners: the strongest group over its peak, ties to the later one, none under the threshold", () => {
  // Three positions, three groups (peaks 2, 1 and 0: the last owns nothing).
  const centres = [[2, 0.2, 0.5], [1, 0.19, 0.5], [9, 9, 9]];
  // Position 0: both at 1.0, the later wins; 1: 0.1 and 0.19, under 0.2; 2: 0.25 against 0.5.
  deepEqual([...positionOwners(centres, [2, 1, 0], 3)], [1, -1, 1]);
});
