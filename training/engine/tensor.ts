/**
 * f32 tensors stored in a backend's buffers, with explicit ownership.
 *
 * A tensor owns a reference to a storage buffer (views such as `reshape`
 * share it). It is freed by `dispose()`, or at the end of the {@link scope}
 * that created it unless the scope returns it or it was {@link keep}-ed.
 *
 * @module
 */

import type { Backend, DeviceBuffer, Shape } from "./backend.ts";
import { backend } from "./engine.ts";
import { DisposedTensorError, EngineError, ShapeError } from "./errors.ts";

export type { Shape } from "./backend.ts";

/** Number of elements of a shape. */
export function sizeOf(shape: Shape): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}

/** Throws unless every dimension is a non-negative integer. */
export function checkShape(shape: Shape, what = "shape"): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(
        `Invalid ${what} [${shape.join(", ")}]: dimensions must be integers >= 0.`,
      );
    }
  }
}

/** A reference-counted buffer of the backend that made it. */
class Storage {
  readonly buffer: DeviceBuffer;
  readonly backend: Backend;
  #refs = 1;

  constructor(owner: Backend, buffer: DeviceBuffer) {
    this.backend = owner;
    this.buffer = buffer;
  }

  retain(): Storage {
    this.#refs++;
    return this;
  }

  release(): void {
    if (--this.#refs === 0) this.backend.release(this.buffer);
  }
}

type ScopeFrame = Set<Tensor>;
const scopes: ScopeFrame[] = [];
let liveTensors = 0;
let nextId = 1;

/** A dense row-major f32 tensor on a backend. */
export class Tensor {
  readonly shape: Shape;
  readonly size: number;
  readonly id: number = nextId++;
  #storage: Storage | null;

  /** Use the creation functions (`tensor`, `zeros`, ...) rather than this. */
  constructor(storage: Storage, shape: Shape) {
    this.#storage = storage;
    this.shape = Object.freeze([...shape]);
    this.size = sizeOf(shape);
    liveTensors++;
    scopes.at(-1)?.add(this);
  }

  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  get disposed(): boolean {
    return this.#storage === null;
  }

  /**
   * The storage buffer, for the current backend's kernels (throws if
   * disposed, or if the tensor lives on a backend that is not current).
   */
  get buffer(): DeviceBuffer {
    const storage = this.#live();
    const current = backend();
    if (storage.backend !== current) {
      throw new EngineError(
        `Tensor #${this.id} [${
          this.shape.join(", ")
        }] lives on the ${storage.backend.report.backend} ` +
          `backend, but the engine now runs ${current.report.backend}: copy it through data() and ` +
          "tensor(), or open its backend again with initEngine().",
      );
    }
    return storage.buffer;
  }

  #live(): Storage {
    if (!this.#storage) {
      throw new DisposedTensorError(
        `Tensor #${this.id} [${this.shape.join(", ")}] was already disposed (by dispose() or at ` +
          "the end of the scope that created it); return it from the scope or keep() it.",
      );
    }
    return this.#storage;
  }

  /** A tensor of another shape with the same element count, sharing this one's storage. */
  view(shape: Shape): Tensor {
    checkShape(shape);
    if (sizeOf(shape) !== this.size) {
      throw new ShapeError(
        `Cannot view [${this.shape.join(", ")}] (${this.size} elements) as [${shape.join(", ")}].`,
      );
    }
    return new Tensor(this.#live().retain(), shape);
  }

  /** Frees this tensor's reference to its storage. Idempotent. */
  dispose(): void {
    if (!this.#storage) return;
    this.#storage.release();
    this.#storage = null;
    liveTensors--;
    for (const frame of scopes) frame.delete(this);
  }

  /** Copies the values to the host. */
  async data(): Promise<Float32Array> {
    const storage = this.#live();
    return await storage.backend.read(storage.buffer, 0, this.size);
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) {
      throw new ShapeError(`item() needs a one-element tensor, got [${this.shape.join(", ")}].`);
    }
    return (await this.data())[0];
  }

  toString(): string {
    return `Tensor#${this.id}[${this.shape.join(", ")}]${this.disposed ? " (disposed)" : ""}`;
  }
}

/** Number of tensors not yet disposed. */
export function liveTensorCount(): number {
  return liveTensors;
}

/** A new tensor with uninitialised contents. */
export function empty(shape: Shape): Tensor {
  checkShape(shape);
  const owner = backend();
  return new Tensor(new Storage(owner, owner.allocate(sizeOf(shape))), shape);
}

/** A tensor holding `values` (row-major) with the given shape. */
export function tensor(values: ArrayLike<number>, shape: Shape = [values.length]): Tensor {
  checkShape(shape);
  if (values.length !== sizeOf(shape)) {
    throw new ShapeError(
      `${values.length} values do not fill shape [${shape.join(", ")}] (${
        sizeOf(shape)
      } elements).`,
    );
  }
  const out = empty(shape);
  const data = values instanceof Float32Array && values.buffer instanceof ArrayBuffer
    ? values as Float32Array<ArrayBuffer>
    : Float32Array.from(values);
  if (data.length) backend().write(out.buffer, 0, data);
  return out;
}

/** A tensor filled with `value`. */
export function full(shape: Shape, value: number): Tensor {
  return tensor(new Float32Array(sizeOf(shape)).fill(value), shape);
}

/** A tensor of zeros. */
export function zeros(shape: Shape): Tensor {
  const out = empty(shape);
  backend().clear(out.buffer, out.size);
  return out;
}

/** A tensor of ones. */
export function ones(shape: Shape): Tensor {
  return full(shape, 1);
}

function collectTensors(value: unknown, into: Set<Tensor>): void {
  if (value instanceof Tensor) into.add(value);
  else if (Array.isArray(value)) { for (const v of value) collectTensors(v, into); }
  else if (
    value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype
  ) {
    for (const v of Object.values(value)) collectTensors(v, into);
  }
}

let deferral = 0;

/**
 * Runs `fn` with scope disposal deferred: scopes that end inside it hand all
 * their tensors to the enclosing scope. Autograd uses this while recording,
 * because backward functions may need tensors an inner scope created.
 */
export function deferScopeDisposal<T>(fn: () => T): T {
  deferral++;
  try {
    return fn();
  } finally {
    deferral--;
  }
}

/**
 * {@link scope} that disposes at its end even inside {@link deferScopeDisposal}
 * (a nested differentiation, whose temporaries no outer tape can need).
 */
export function undeferredScope<T>(fn: () => T): T {
  const saved = deferral;
  deferral = 0;
  try {
    return scope(fn);
  } finally {
    deferral = saved;
  }
}

function closeScope(frame: ScopeFrame, result: unknown): void {
  scopes.splice(scopes.lastIndexOf(frame), 1);
  const kept = new Set<Tensor>();
  collectTensors(result, kept);
  const parent = scopes.at(-1);
  for (const t of frame) {
    if (kept.has(t) || (deferral > 0 && parent)) parent?.add(t);
    else t.dispose();
  }
}

/**
 * Runs `fn` and disposes every tensor it created, except those in its result
 * (a tensor, or arrays and plain objects holding tensors), which pass to the
 * enclosing scope (outside any scope, the caller owns and disposes them).
 */
export function scope<T>(fn: () => T): T {
  const frame: ScopeFrame = new Set();
  scopes.push(frame);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    closeScope(frame, undefined);
    throw error;
  }
  closeScope(frame, result);
  if (result instanceof Promise) {
    throw new EngineError("scope() was given an async function; use asyncScope() for those.");
  }
  return result;
}

/** {@link scope} for an async function. Scopes must not interleave. */
export async function asyncScope<T>(fn: () => Promise<T>): Promise<T> {
  const frame: ScopeFrame = new Set();
  scopes.push(frame);
  let result: T;
  try {
    result = await fn();
  } catch (error) {
    closeScope(frame, undefined);
    throw error;
  }
  closeScope(frame, result);
  return result;
}

/** Takes a tensor out of scope tracking: the caller disposes it. */
export function keep<T extends Tensor>(t: T): T {
  for (const frame of scopes) frame.delete(t);
  return t;
}
