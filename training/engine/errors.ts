/**
 * Typed errors of the tensor engine. Every message says what went wrong and
 * what the user can do about it.
 *
 * @module
 */

import { UserError } from "../../core/user_error.ts";

/** Base class of every error the engine throws on purpose. */
export class EngineError extends UserError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** No usable WebGPU adapter: names what to install. */
export class WebGpuUnavailableError extends EngineError {}

/** Operand shapes that do not fit the operation. */
export class ShapeError extends EngineError {}

/** A tensor was used after `dispose()` or after its scope ended. */
export class DisposedTensorError extends EngineError {}

/** A buffer larger than the device allows, or an allocation that failed. */
export class GpuMemoryError extends EngineError {}

/** The GPU reported a validation or internal error while running kernels. */
export class GpuExecutionError extends EngineError {}

/** The CPU backend's BLAS library is missing or may not be loaded. */
export class BlasUnavailableError extends EngineError {}
