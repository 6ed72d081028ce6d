/**
 * The {@link FaceAnalyzer} of npm `@vladmandic/face-api` (MIT, weights
 * included): its face recognition net (128-d descriptors), 68-point landmark
 * net and tiny face detector, run on tfjs's wasm backend (SIMD) on batches
 * of tensors, without its detection pipeline or any canvas. The images are
 * aligned face crops: the landmark net sees a fixed box where such a crop's
 * face is, the recognition net the box its landmarks give (face-api's own
 * alignment), and the detector only says whether it finds a face at all.
 *
 * face-api's bundle picks its platform by looking for Node and for a
 * browser; in Deno it must find neither, so `process` is hidden while it
 * loads, tfjs is given a platform of Deno's own functions, and face-api an
 * environment of stand-in classes (it only uses them for instanceof checks
 * on inputs other than tensors). The weights are read from the package's
 * `model/` folder.
 *
 * The server's module graph never loads this: evaluation and export do.
 *
 * @module
 */

import { DESCRIPTOR_SIZE, type FaceAnalyzer } from "./analyzer.ts";
import { LANDMARK_COUNT, LANDMARK_VALUES } from "./parts.ts";
import { UserError } from "../core/user_error.ts";

/** face-api's networks (or tfjs's wasm backend under them) could not be loaded. */
export class FaceNetworksError extends UserError {
  override name = "FaceNetworksError";
}

/** The bundle of face-api (with tfjs) that runs outside Node (versions: deno.json). */
const PACKAGE_ENTRY = "@vladmandic/face-api/dist/face-api.esm.js";
/** A binary of the tfjs wasm backend that the bundled tfjs (4.22) loads, beside the others. */
const WASM_BINARY = "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm";

/** The input sides of the networks. */
const DESCRIPTOR_INPUT = 150, LANDMARK_INPUT = 112, DETECTOR_INPUT = 128;

/**
 * The box (top, left, bottom, right, relative to the image) given to the
 * landmark net: a square of 70% of the side centred at (0.5, 0.65), where an
 * aligned training crop's face is. The net expects a detector's tight face
 * box; on the whole crop it drew every face's points in a small cluster.
 */
const LANDMARK_BOX = [0.30, 0.15, 1.00, 0.85];

/**
 * The box the recognition net sees for image `i`: the landmarks' bounding
 * square grown by 20% (face-api's own alignment), relative to the image.
 */
function alignedBox(points: Float32Array, i: number, size: number): number[] {
  let left = Infinity, top = Infinity, right = -Infinity, bottom = -Infinity;
  for (let p = 0; p < LANDMARK_COUNT; p++) {
    const at = i * LANDMARK_VALUES + 2 * p, x = points[at], y = points[at + 1];
    [left, right, top, bottom] = [
      Math.min(left, x),
      Math.max(right, x),
      Math.min(top, y),
      Math.max(bottom, y),
    ];
  }
  const half = (Math.max(right - left, bottom - top) * 1.2) / 2;
  const [cx, cy] = [(left + right) / 2, (top + bottom) / 2];
  return [(cy - half) / size, (cx - half) / size, (cy + half) / size, (cx + half) / size];
}

/** Score above which the tiny face detector reports a face (face-api's default). */
const DETECTION_THRESHOLD = 0.5;

// deno-lint-ignore no-explicit-any
type Any = any;

interface Loaded {
  faceapi: Any;
  tf: Any;
}

let loading: Promise<Loaded> | null = null;

async function load(): Promise<Loaded> {
  // face-api and the emscripten glue of tfjs's wasm backend take the Node path when they see
  // `process`: it is hidden until both have loaded.
  const global = globalThis as Any;
  const hidden = global.process;
  delete global.process;
  let faceapi: Any, tf: Any;
  try {
    faceapi = await import(PACKAGE_ENTRY);
    tf = faceapi.tf;
    const encoder = new TextEncoder();
    tf.setPlatform("deno", {
      fetch: (path: string, init?: RequestInit) => fetch(path, init),
      now: () => performance.now(),
      encode: (text: string) => encoder.encode(text),
      decode: (bytes: Uint8Array, encoding = "utf-8") => new TextDecoder(encoding).decode(bytes),
      isTypedArray: (a: unknown) => ArrayBuffer.isView(a) && !(a instanceof DataView),
      setTimeoutCustom: (f: () => void, ms: number) => setTimeout(f, ms),
    });
    // The threaded build wants classic workers, which Deno does not have.
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    // Only the package's binaries are used (its code would register a second copy of its
    // kernels); importing its package.json brings them into Deno's cache, where they resolve.
    await import("@tensorflow/tfjs-backend-wasm/package.json", { with: { type: "json" } });
    tf.setWasmPaths(new URL("./", import.meta.resolve(WASM_BINARY)).href, true);
    if (!(await tf.setBackend("wasm"))) throw new Error("tfjs's wasm backend did not start.");
    await tf.ready();
  } finally {
    global.process = hidden;
  }
  class Stand {}
  const unavailable = () => {
    throw new Error("face-api in Deno takes tensors only");
  };
  faceapi.env.setEnv({
    Canvas: Stand,
    CanvasRenderingContext2D: Stand,
    Image: Stand,
    ImageData: Stand,
    Video: Stand,
    createCanvasElement: unavailable,
    createImageElement: unavailable,
    createVideoElement: unavailable,
    fetch: (url: string, init?: RequestInit) => fetch(url, init),
    readFile: (path: string) => Deno.readFile(path),
  });
  const models = new URL("../model/", import.meta.resolve(PACKAGE_ENTRY));
  const loader = tf.io.weightsLoaderFactory((paths: string[]) =>
    // The loader asks for "<prefix>/<shard>"; the shards lie beside the manifests.
    Promise.all(
      paths.map(async (p) => (await Deno.readFile(new URL(p.split("/").pop()!, models))).buffer),
    )
  );
  const nets = faceapi.nets;
  for (
    const [net, name] of [
      [nets.faceRecognitionNet, "face_recognition_model"],
      [nets.faceLandmark68Net, "face_landmark_68_model"],
      [nets.tinyFaceDetector, "tiny_face_detector_model"],
    ]
  ) {
    const manifest = JSON.parse(
      await Deno.readTextFile(new URL(`${name}-weights_manifest.json`, models)),
    );
    net.loadFromWeightMap(await loader(manifest, ""));
  }
  return { faceapi, tf };
}

/** Planar images [n, 3, S, S] in [-1, 1] as a tfjs tensor [n, S, S, 3] in [0, 255]. */
function toTensor(tf: Any, images: Float32Array, n: number, size: number): Any {
  const pixels = size * size, out = new Float32Array(n * pixels * 3);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const from = (i * 3 + c) * pixels;
      for (let p = 0; p < pixels; p++) {
        out[(i * pixels + p) * 3 + c] = Math.min(Math.max((images[from + p] + 1) * 127.5, 0), 255);
      }
    }
  }
  return tf.tensor4d(out, [n, size, size, 3]);
}

/**
 * Opens face-api's networks (loaded once per process, and kept for the next
 * analyzer: tfjs and its backend are process-wide). Detection sees each
 * image in a grey frame of a quarter of its side, as the detector wants some
 * room around a face. Throws {@link FaceNetworksError} when they cannot load.
 */
export async function openFaceApi(): Promise<FaceAnalyzer> {
  loading ??= load().catch((error) => {
    loading = null;
    throw new FaceNetworksError(
      `the face networks (npm @vladmandic/face-api, with tfjs's wasm backend) did not load: ` +
        `${(error as Error).message}`,
      { cause: error },
    );
  });
  const { faceapi, tf } = await loading;
  const nets = faceapi.nets;
  /** Runs `forward` on the images as a tensor [n, S, S, 3] in [0, 255]; its output on the host. */
  const run = async (
    images: Float32Array,
    n: number,
    size: number,
    forward: (batch: Any) => Any,
  ): Promise<Float32Array> => {
    // A turn of the event loop between runs: awaited promises alone never let a stop signal's
    // listener run, so Ctrl-C waited for the whole measurement (35 s for eval:filters' 3000 images).
    await new Promise((resolve) => setTimeout(resolve, 0));
    const output = tf.tidy(() => forward(toTensor(tf, images, n, size)));
    try {
      return new Float32Array(await output.data());
    } finally {
      output.dispose();
    }
  };
  /** The boxes [n, 4] (top, left, bottom, right, relative) of `batch` resized to side x side. */
  const crops = (batch: Any, boxes: number[][], side: number) =>
    tf.image.cropAndResize(batch, tf.tensor2d(boxes), tf.range(0, boxes.length, 1, "int32"), [
      side,
      side,
    ]);
  const input = (batch: Any) => new faceapi.NetInput(tf.unstack(batch));
  const landmarksOf = async (images: Float32Array, n: number, size: number) => {
    const [top, left, bottom, right] = LANDMARK_BOX;
    const relative = await run(images, n, size, (batch) => {
      const boxes = Array.from({ length: n }, () => LANDMARK_BOX);
      return nets.faceLandmark68Net.forwardInput(input(crops(batch, boxes, LANDMARK_INPUT)));
    });
    // Relative to the box, x and y interleaved.
    return relative.map((v, k) =>
      k % 2 === 0 ? (left + v * (right - left)) * size : (top + v * (bottom - top)) * size
    );
  };
  let disposed = false;
  const live = () => {
    if (disposed) throw new Error("the face analyzer was disposed.");
  };
  return {
    descriptors: async (images, n, size) => {
      live();
      const points = await landmarksOf(images, n, size);
      const boxes = Array.from({ length: n }, (_, i) => alignedBox(points, i, size));
      return await run(images, n, size, (batch) => {
        const out = nets.faceRecognitionNet.forwardInput(
          input(crops(batch, boxes, DESCRIPTOR_INPUT)),
        );
        return out.reshape([n, DESCRIPTOR_SIZE]);
      });
    },
    landmarks: (images, n, size) => {
      live();
      return landmarksOf(images, n, size);
    },
    detections: async (images, n, size) => {
      live();
      const frame = Math.round(size / 4);
      const scores = await run(images, n, size, (batch) => {
        const framed = tf.pad(batch, [[0, 0], [frame, frame], [frame, frame], [0, 0]], 128);
        const grid = nets.tinyFaceDetector.forwardInput(input(framed), DETECTOR_INPUT);
        // Each cell predicts 5 boxes of (x, y, w, h, confidence).
        return tf.sigmoid(grid.reshape([n, -1, 5]).slice([0, 0, 4], [-1, -1, 1])).max([1, 2]);
      });
      return Array.from(scores, (s) => s > DETECTION_THRESHOLD);
    },
    dispose: () => {
      disposed = true;
    },
  };
}
