/** OnnxGraph's weights (half or f32 storage) and models that read their weights from another file. */

import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import onnxProto from "onnx-proto";
import * as ort from "onnxruntime-web";
import { OnnxGraph, type WeightPrecision, type WeightSource } from "./onnx.ts";

const { onnx } = onnxProto;
const INFO = { doc: "test", producerVersion: "test" };
const WEIGHT = Float32Array.from({ length: 64 }, (_, k) => Math.sin(k) * 3);

/** A model y = x W (x [N, 4], W [4, 16]) whose W is `weight`. */
function linear(precision: WeightPrecision, weight = WEIGHT): OnnxGraph {
  const graph = new OnnxGraph(precision);
  const x = graph.input("x", [4]);
  graph.node("MatMul", [x, graph.weight("w", [4, 16], weight)], "y");
  graph.output("y", [16]);
  return graph;
}

async function run(model: Uint8Array, options: ort.InferenceSession.SessionOptions = {}) {
  const session = await ort.InferenceSession.create(model, options);
  try {
    const x = new ort.Tensor("float32", Float32Array.of(1, 0, 0, 0, 0, 0, 0, 1), [2, 4]);
    return Array.from((await session.run({ x })).y.data as Float32Array);
  } finally {
    await session.release();
  }
}

function initializers(model: Uint8Array) {
  return onnx.ModelProto.decode(model).graph!.initializer!;
}

Deno.test("weight() stores f16 read through a Cast, or f32 exactly", async (t) => {
  await t.step("f16: half the bytes, the values rounded to half precision", async () => {
    const model = linear("f16").encode({ ...INFO, name: "half" });
    const [stored] = initializers(model);
    equal(stored.dataType, onnx.TensorProto.DataType.FLOAT16);
    equal(stored.rawData!.length, WEIGHT.length * 2);
    // Rows 0 and 3 of W, as x picks them.
    const expected = [...WEIGHT.slice(0, 16), ...WEIGHT.slice(48)].map(Math.f16round);
    deepEqual(await run(model), expected);
  });
  await t.step("f32: the values exactly", async () => {
    const model = linear("f32").encode({ ...INFO, name: "float" });
    equal(initializers(model)[0].dataType, onnx.TensorProto.DataType.FLOAT);
    deepEqual(await run(model), [...WEIGHT.slice(0, 16), ...WEIGHT.slice(48)].map(Math.fround));
  });
  await t.step("a value beyond half precision's range keeps the tensor in f32", async () => {
    const large = WEIGHT.map((x, k) => k === 5 ? 1e5 : x);
    const model = linear("f16", large).encode({ ...INFO, name: "large" });
    equal(initializers(model)[0].dataType, onnx.TensorProto.DataType.FLOAT);
    equal((await run(model))[5], 1e5);
  });
});

Deno.test("a model that reads its weights from another file stores none of them and computes the same", async () => {
  const source: WeightSource = {
    location: "source.onnx",
    model: linear("f16").encode({ ...INFO, name: "source" }),
  };
  // The same weight and one of other bytes under another name, which stays stored.
  const graph = linear("f16");
  graph.node("Mul", ["y", graph.constant("scale", [1], Float32Array.of(2))], "y2");
  graph.output("y2", [16]);
  const reader = graph.encode({ ...INFO, name: "reader" }, source);
  const [w, scale] = initializers(reader);
  equal(w.dataLocation, onnx.TensorProto.DataLocation.EXTERNAL);
  equal(w.rawData!.length, 0);
  const where = Object.fromEntries(w.externalData!.map((e) => [e.key, e.value]));
  equal(where.location, "source.onnx");
  const [offset, length] = [Number(where.offset), Number(where.length)];
  deepEqual(
    source.model.subarray(offset, offset + length),
    initializers(source.model)[0].rawData,
    "the reference points at the source's bytes of that weight",
  );
  equal(scale.dataLocation ?? onnx.TensorProto.DataLocation.DEFAULT, 0);
  equal(scale.rawData!.length, 4);
  ok(reader.length < source.model.length, `${reader.length} bytes against ${source.model.length}`);
  deepEqual(
    await run(reader, { externalData: [{ path: "source.onnx", data: source.model }] }),
    await run(source.model),
  );
  await rejects(run(reader), "without the source file it cannot load");
});

Deno.test("a weight whose bytes differ from the source's of the same name is stored", async () => {
  const source: WeightSource = {
    location: "source.onnx",
    model: linear("f16", WEIGHT.map((x) => x + 1)).encode({ ...INFO, name: "source" }),
  };
  const reader = linear("f16").encode({ ...INFO, name: "reader" }, source);
  const [w] = initializers(reader);
  equal(w.name, initializers(source.model)[0].name);
  equal(w.rawData!.length, WEIGHT.length * 2);
  deepEqual(await run(reader), await run(linear("f16").encode({ ...INFO, name: "alone" })));
});
