/**
 * A small ONNX graph builder over onnx-proto's protobuf classes: f32
 * initialisers, weights stored in half precision (or f32) and cast to f32,
 * nodes with int and float attributes, inputs and outputs whose first
 * dimension is the symbolic batch `N`. A model may read its weights from
 * another model file of the same folder instead of storing them (ONNX
 * external data pointing into that file's own bytes), which is how a bundle's
 * VJP graphs share their forward graphs' weights. Models are written at IR
 * version 8 with opset 17, which onnxruntime-web and `onnx.checker` accept.
 *
 * @module
 */

import onnxProto from "onnx-proto";
import { fitsHalfPrecision } from "../../core/numbers.ts";

const { onnx } = onnxProto;

/** The ONNX IR version of written models. */
export const IR_VERSION = 8;
/** The default-domain opset of written models. */
export const OPSET = 17;
/** The name of the symbolic batch dimension of inputs and outputs. */
export const BATCH_DIM = "N";

/** An attribute value: an integer, a float, or a list of integers. */
export type AttributeValue = number | readonly number[];

/** A node's attributes; integer-valued names are listed in {@link INT_ATTRIBUTES}. */
export type Attributes = Record<string, AttributeValue>;

/** Scalar attributes that ONNX types as INT (the others are FLOAT). */
const INT_ATTRIBUTES = new Set(["group", "axis", "keepdims", "to"]);

/**
 * How a graph stores its weights: `f16` halves the file, its rounding (5e-4
 * relative) far below what a picture shows; `f32` keeps them exactly.
 */
export type WeightPrecision = "f16" | "f32";

/** The precisions {@link WeightPrecision} allows, for command lines. */
export const WEIGHT_PRECISIONS: readonly WeightPrecision[] = ["f16", "f32"];

/**
 * A model file whose weights the written model reads instead of storing
 * them: `location` is its name beside the written file, `model` its bytes.
 */
export interface WeightSource {
  location: string;
  model: Uint8Array;
}

/** Everything that describes the model besides the graph. */
export interface ModelInfo {
  /** The graph's name. */
  name: string;
  /** A human-readable description, stored as the model's doc string. */
  doc: string;
  producerVersion: string;
  /** Key-value pairs stored as `metadata_props`. */
  metadata?: Record<string, string>;
}

/** Builds one ONNX graph, node by node, and serialises it as a model. */
export class OnnxGraph {
  readonly #nodes: onnxProto.onnx.INodeProto[] = [];
  readonly #initializers: onnxProto.onnx.ITensorProto[] = [];
  readonly #inputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly #outputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly #names = new Set<string>();

  /** @param weightPrecision how {@link OnnxGraph.weight} stores weights. */
  constructor(readonly weightPrecision: WeightPrecision = "f16") {}

  /** Declares a float input of shape [N, ...rest]. */
  input(name: string, rest: readonly number[]): string {
    this.#inputs.push(valueInfo(this.#claim(name), rest));
    return name;
  }

  /** Declares the float value `name` of shape [N, ...rest] a graph output. */
  output(name: string, rest: readonly number[]): void {
    this.#outputs.push(valueInfo(name, rest));
  }

  /** Adds a constant f32 tensor (weights); returns its name. */
  constant(name: string, shape: readonly number[], data: Float32Array): string {
    checkConstantShape(name, shape, data.length);
    this.#initializers.push({
      name: this.#claim(name),
      dims: [...shape],
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: littleEndianBytes(data),
    });
    return name;
  }

  /**
   * Adds a weight tensor, stored in the graph's {@link WeightPrecision} and
   * read as f32 (in half precision through a Cast node, which onnxruntime
   * folds when it loads the model); returns the f32 value's name. A tensor
   * with a value beyond half precision's range is stored in f32.
   */
  weight(name: string, shape: readonly number[], data: Float32Array): string {
    if (this.weightPrecision === "f32" || !fitsHalfPrecision(data)) {
      return this.constant(name, shape, data);
    }
    checkConstantShape(name, shape, data.length);
    const bytes = new Uint8Array(data.length * 2);
    const view = new DataView(bytes.buffer);
    for (let k = 0; k < data.length; k++) view.setFloat16(2 * k, data[k], true);
    const stored = this.#claim(`${name}_f16`);
    this.#initializers.push({
      name: stored,
      dims: [...shape],
      dataType: onnx.TensorProto.DataType.FLOAT16,
      rawData: bytes,
    });
    return this.node("Cast", [stored], name, { to: onnx.TensorProto.DataType.FLOAT });
  }

  /** Adds a constant int64 tensor (shapes, axes); returns its name. */
  int64Constant(name: string, values: readonly number[]): string {
    this.#initializers.push({
      name: this.#claim(name),
      dims: [values.length],
      dataType: onnx.TensorProto.DataType.INT64,
      int64Data: [...values],
    });
    return name;
  }

  /** Adds a node computing `output` from `inputs`; returns `output`. */
  node(opType: string, inputs: readonly string[], output: string, attributes: Attributes = {}) {
    this.#nodes.push({
      opType,
      name: `${output}/${opType}`,
      input: [...inputs],
      output: [this.#claim(output)],
      attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
    });
    return output;
  }

  /**
   * The serialised model. With `weights`, every initialiser that the source
   * model holds under the same name with the same bytes is written as a
   * reference to those bytes (location, offset, length), not stored again.
   */
  encode(info: ModelInfo, weights?: WeightSource): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: "", version: OPSET }],
      producerName: "interpretable-gan",
      producerVersion: info.producerVersion,
      docString: info.doc,
      metadataProps: Object.entries(info.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: info.name,
        node: this.#nodes,
        initializer: weights ? referenced(this.#initializers, weights) : this.#initializers,
        input: this.#inputs,
        output: this.#outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }

  #claim(name: string): string {
    if (this.#names.has(name)) {
      throw new RangeError(`the ONNX graph already has a value "${name}".`);
    }
    this.#names.add(name);
    return name;
  }
}

/**
 * `tensors`, each as a reference into `source` where the source's
 * initialiser of its name holds the same bytes.
 */
function referenced(
  tensors: readonly onnxProto.onnx.ITensorProto[],
  source: WeightSource,
): onnxProto.onnx.ITensorProto[] {
  const stored = rawInitializers(source.model);
  return tensors.map((tensor) => {
    const bytes = tensor.rawData, held = stored.get(tensor.name!);
    if (!bytes || !held || !sameBytes(bytes, held)) return tensor;
    return {
      ...tensor,
      rawData: null,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: "location", value: source.location },
        { key: "offset", value: String(held.byteOffset - source.model.byteOffset) },
        { key: "length", value: String(held.length) },
      ],
    };
  });
}

/**
 * A serialised model's initialisers with raw data, by name: views into
 * `model` itself (protobufjs decodes bytes fields as subarrays), so that
 * their byte offsets are the offsets in the file.
 */
function rawInitializers(model: Uint8Array): Map<string, Uint8Array> {
  const found = new Map<string, Uint8Array>();
  for (const tensor of onnx.ModelProto.decode(model).graph?.initializer ?? []) {
    const raw = tensor.rawData;
    if (raw && raw.length > 0 && raw.buffer === model.buffer) found.set(tensor.name!, raw);
  }
  return found;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

function valueInfo(name: string, rest: readonly number[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: BATCH_DIM }, ...rest.map((dimValue) => ({ dimValue }))] },
      },
    },
  };
}

function attribute(name: string, value: AttributeValue): onnxProto.onnx.IAttributeProto {
  const types = onnx.AttributeProto.AttributeType;
  if (typeof value !== "number") return { name, type: types.INTS, ints: [...value] };
  return INT_ATTRIBUTES.has(name)
    ? { name, type: types.INT, i: value }
    : { name, type: types.FLOAT, f: value };
}

/** Throws unless `shape` holds exactly `length` values. */
function checkConstantShape(name: string, shape: readonly number[], length: number): void {
  if (shape.reduce((a, b) => a * b, 1) !== length) {
    throw new RangeError(`constant "${name}" has shape [${shape}] but ${length} values.`);
  }
}

/** The bytes of `data` in little-endian order, as ONNX's raw_data wants them. */
function littleEndianBytes(data: Float32Array): Uint8Array {
  const bytes = new Uint8Array(data.length * 4);
  const view = new DataView(bytes.buffer);
  for (let k = 0; k < data.length; k++) view.setFloat32(4 * k, data[k], true);
  return bytes;
}
