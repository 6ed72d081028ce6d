/**
 * DiffAugment (Zhao et al., NeurIPS 2020): the same random, differentiable
 * changes applied to every batch the discriminator sees, real and generated,
 * so that it cannot memorise a small data set and the generator still gets
 * gradients through them. Each image draws its own:
 * - "color": brightness + U(-0.5, 0.5); saturation x U(0, 2) (about the
 *   pixel's mean over channels); contrast x U(0.5, 1.5) (about the image's mean);
 * - "translation": a shift of up to 1/8 of the side along each axis, zero fill;
 * - "cutout": a zeroed square of half the side, its centre anywhere in the image.
 *
 * Translation and cutout are one gather over the batch's pixels with a zero
 * appended (index lists built on the host), so their gradient is the
 * gather's. Draws come from a host generator, so a resumed run that keys it
 * by the step repeats them exactly.
 *
 * @module
 */

import { add, mul, sub } from "./engine/ops/elementwise.ts";
import { concat, gather, reshape } from "./engine/ops/layout.ts";
import { mean } from "./engine/ops/reduce.ts";
import { type Tensor, tensor, zeros } from "./engine/tensor.ts";
import type { Augmentation } from "./config.ts";

/** Augments images [B, 3, H, W] with `kinds`, in the order color, translation, cutout. */
export function augment(
  images: Tensor,
  kinds: readonly Augmentation[],
  random: () => number,
): Tensor {
  let x = images;
  if (kinds.includes("color")) x = color(x, random);
  const moves = kinds.includes("translation"), holes = kinds.includes("cutout");
  if (moves || holes) x = displace(x, { translation: moves, cutout: holes }, random);
  return x;
}

/** One value per image, drawn as `draw(u)` from u ~ U(0, 1), shaped [B, 1, 1, 1]. */
function perImage(batch: number, random: () => number, draw: (u: number) => number): Tensor {
  return tensor(Array.from({ length: batch }, () => draw(random())), [batch, 1, 1, 1]);
}

function color(x: Tensor, random: () => number): Tensor {
  const batch = x.shape[0];
  const bright = add(x, perImage(batch, random, (u) => u - 0.5));
  const gray = mean(bright, 1, true);
  const saturated = add(mul(sub(bright, gray), perImage(batch, random, (u) => 2 * u)), gray);
  const average = mean(saturated, [1, 2, 3], true);
  return add(mul(sub(saturated, average), perImage(batch, random, (u) => u + 0.5)), average);
}

/**
 * Translation and cutout as one gather: output pixel (b, c, y, x) reads
 * input pixel (b, c, y - dy, x - dx), or the appended zero when that lies
 * outside the image or (y, x) inside the cut-out square.
 */
function displace(
  x: Tensor,
  use: { translation: boolean; cutout: boolean },
  random: () => number,
): Tensor {
  const [batch, channels, height, width] = x.shape;
  const plane = height * width, zero = x.size;
  const indices = new Array<number>(x.size);
  const shift = (side: number) => {
    const most = Math.floor(side / 8);
    return use.translation ? Math.floor(random() * (2 * most + 1)) - most : 0;
  };
  for (let b = 0; b < batch; b++) {
    const dy = shift(height), dx = shift(width);
    // Cutout's square: centre uniform over the image, clipped at the border.
    const [ch, cw] = [Math.floor(height / 2), Math.floor(width / 2)];
    const cy = use.cutout ? Math.floor(random() * height) - Math.floor(ch / 2) : height;
    const cx = use.cutout ? Math.floor(random() * width) - Math.floor(cw / 2) : width;
    for (let y = 0; y < height; y++) {
      for (let xx = 0; xx < width; xx++) {
        const sy = y - dy, sx = xx - dx;
        const cut = y >= cy && y < cy + ch && xx >= cx && xx < cx + cw;
        const inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
        for (let c = 0; c < channels; c++) {
          const base = (b * channels + c) * plane;
          indices[base + y * width + xx] = cut || !inside ? zero : base + sy * width + sx;
        }
      }
    }
  }
  const flat = concat([reshape(x, [x.size]), zeros([1])], 0);
  return reshape(gather(flat, 0, indices), x.shape);
}
