/**
 * The energy model's value and gradient as one ONNX model, for Langevin
 * dynamics in a server (`model/langevin.ts`):
 *
 *   energy.onnx  maps [N, M, H, W] -> energy [N] (g_W), maps_grad [N, M, H, W] (dg_W/dmaps)
 *
 * with the trained W (stored in half precision), the exported partition and the run's view of the
 * maps (blocks averaged `pool` x `pool`, then each map scaled to unit RMS
 * when `normalize`), as `training/interpretable/energy.ts` computes g_W:
 *
 *   g(f) = 1/(M K) sum_k sum_j f_jk P_jk,  P_jk = sum_c W_kjc fbar_ck,  fbar = A f
 *
 * (A averages each group's filters). Its gradient in f is
 * (P + A^T Q) / (M K) with Q_ck = sum_j W_kjc f_jk; the RMS scaling's
 * transpose is gx = gf / r - x (sum_k gf_k x_k) / (K r^3), and the block
 * average's spreads each block's gradient over its p^2 positions, / p^2.
 *
 * @module
 */

import { groupAveraging, RMS_FLOOR_SQUARED } from "../interpretable/energy.ts";
import { type ModelInfo, OnnxGraph, type WeightPrecision } from "./onnx.ts";
import { ONNX_NAMES } from "./generator_onnx.ts";

/** Input and output names of the energy model. */
export const ENERGY_NAMES = { energy: "energy", mapsGrad: ONNX_NAMES.mapsGrad } as const;

/** What the energy model is built from. */
export interface EnergySpec {
  /** W as trained, [K, M, C] (K the pooled positions). */
  weight: Float32Array;
  /** Each filter's group, 0..C-1. */
  assignment: ArrayLike<number>;
  groups: number;
  /** Target-layer maps' shape [M, H, W]. */
  maps: [number, number, number];
  pool: number;
  normalize: boolean;
}

/** Serialises g_W and its gradient in the maps. */
export function energyOnnx(
  spec: EnergySpec,
  info: Omit<ModelInfo, "name">,
  precision?: WeightPrecision,
): Uint8Array {
  const [m, h, w] = spec.maps;
  const { pool: p, groups: c } = spec;
  const k = (h / p) * (w / p);
  const graph = new OnnxGraph(precision);
  const maps = graph.input(ONNX_NAMES.maps, [m, h, w]);
  const axes = (name: string, values: number[]) => graph.int64Constant(name, values);
  const scalar = (name: string, value: number) => graph.constant(name, [1], Float32Array.of(value));

  const pooled = p === 1
    ? maps
    : graph.node("AveragePool", [maps], "pooled", { kernel_shape: [p, p], strides: [p, p] });
  const x = graph.node("Reshape", [pooled, axes("positions_shape", [-1, m, k])], "x");
  let f = x, r = "";
  if (spec.normalize) {
    const meanSquare = graph.node("ReduceMean", [graph.node("Mul", [x, x], "x_sq")], "mean_sq", {
      axes: [2],
      keepdims: 1,
    });
    r = graph.node("Sqrt", [
      graph.node("Add", [meanSquare, scalar("floor", RMS_FLOOR_SQUARED)], "ms_floor"),
    ], "rms");
    f = graph.node("Div", [x, r], "f");
  }

  // A [C, M] averages each group's filters (A^T is small, so it is stored); W is [K, M, C].
  const averaging = groupAveraging(spec.assignment, c);
  const averagingT = new Float32Array(m * c);
  for (let g = 0; g < c; g++) {
    for (let j = 0; j < m; j++) averagingT[j * c + g] = averaging[g * m + j];
  }
  const A = graph.constant("averaging", [c, m], averaging);
  const AT = graph.constant("averaging_t", [m, c], averagingT);
  // W is most of the file (16.8 MB in f32 at 32x32 maps, M = 128, C = 32); half precision's
  // rounding is far below what Langevin's noise moves.
  const W = graph.weight("energy_weight", [k, m, c], spec.weight);
  // Transposed by a node, not stored twice: W is most of the file.
  const WT = graph.node("Transpose", [W], "energy_weight_t", { perm: [0, 2, 1] });

  const centres = graph.node("MatMul", [A, f], "centres"); // [N, C, K]
  const centresK = graph.node("Transpose", [centres], "centres_k", { perm: [2, 0, 1] }); // [K, N, C]
  const pK = graph.node("MatMul", [centresK, WT], "p_k"); // [K, N, M]
  const P = graph.node("Transpose", [pK], "p", { perm: [1, 2, 0] }); // [N, M, K]
  graph.node("ReduceMean", [graph.node("Mul", [f, P], "f_p")], ENERGY_NAMES.energy, {
    axes: [1, 2],
    keepdims: 0,
  });

  const fK = graph.node("Transpose", [f], "f_k", { perm: [2, 0, 1] }); // [K, N, M]
  const qK = graph.node("MatMul", [fK, W], "q_k"); // [K, N, C]
  const Q = graph.node("Transpose", [qK], "q", { perm: [1, 2, 0] }); // [N, C, K]
  const spread = graph.node("MatMul", [AT, Q], "at_q"); // [N, M, K]
  const gf = graph.node(
    "Mul",
    [graph.node("Add", [P, spread], "p_at_q"), scalar("one_over_mk", 1 / (m * k))],
    "f_grad",
  );
  let gx = gf;
  if (spec.normalize) {
    const s = graph.node(
      "ReduceSum",
      [graph.node("Mul", [gf, x], "gf_x"), axes("k_axis", [2])],
      "gf_x_sum",
      {
        keepdims: 1,
      },
    );
    const r3 = graph.node("Mul", [graph.node("Mul", [r, r], "rms_sq"), r], "rms_cubed");
    const along = graph.node("Div", [
      graph.node("Mul", [x, s], "x_s"),
      graph.node("Mul", [r3, scalar("k", k)], "k_rms_cubed"),
    ], "along");
    gx = graph.node("Sub", [graph.node("Div", [gf, r], "gf_over_r"), along], "x_grad");
  }
  if (p === 1) {
    graph.node("Reshape", [gx, axes("maps_shape", [-1, m, h, w])], ENERGY_NAMES.mapsGrad);
  } else {
    const blocks = graph.node(
      "Reshape",
      [gx, axes("blocks_shape", [-1, m, h / p, 1, w / p, 1])],
      "grad_blocks",
    );
    const ones = graph.constant(
      "spread",
      [1, 1, 1, p, 1, p],
      new Float32Array(p * p).fill(1 / (p * p)),
    );
    const spreadGrad = graph.node("Mul", [blocks, ones], "grad_spread");
    graph.node("Reshape", [spreadGrad, axes("maps_shape", [-1, m, h, w])], ENERGY_NAMES.mapsGrad);
  }
  graph.output(ENERGY_NAMES.energy, []);
  graph.output(ENERGY_NAMES.mapsGrad, [m, h, w]);
  return graph.encode({ ...info, name: "energy" });
}
