/**
 * A small ONNX graph builder over onnx-proto's protobuf classes: f32
 * initialisers, nodes with int and float attributes, inputs and outputs whose
 * first dimension is the symbolic batch `N`. Models are written at IR version
 * 8 with opset 17, which onnxruntime-web and `onnx.checker` accept.
 *
 * @module
 */

import onnxProto from "onnx-proto";

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
   * Adds a constant tensor stored in half precision and read back as f32 by
   * a Cast node (for large weights where f16's rounding is immaterial);
   * returns the f32 value's name.
   */
  halfConstant(name: string, shape: readonly number[], data: Float32Array): string {
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

  /** The serialised model. */
  encode(info: ModelInfo): Uint8Array {
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
        initializer: this.#initializers,
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
