/**
 * A child process's output stream read as text, for code that acts when the
 * child has printed something (a server's ready line, a trainer's step) and
 * then reads or checks all it printed.
 *
 * @module
 */

/** Text read so far from a child's stdout or stderr. */
export class ChildOutput {
  /** Everything read so far. */
  text = "";
  readonly #reader: ReadableStreamDefaultReader<string>;

  constructor(stream: ReadableStream<Uint8Array<ArrayBuffer>>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** Reads until `pattern` matches the text so far, or the stream ends; returns the text. */
  async until(pattern: RegExp): Promise<string> {
    while (!pattern.test(this.text)) {
      const { value, done } = await this.#reader.read();
      if (done) break;
      this.text += value;
    }
    return this.text;
  }

  /** Reads to the end of the stream; returns all the text. */
  async rest(): Promise<string> {
    for (let r = await this.#reader.read(); !r.done; r = await this.#reader.read()) {
      this.text += r.value;
    }
    return this.text;
  }

  /**
   * Reads to the end of the stream, keeping none of it: a long-running child
   * (a server under load) never blocks on a full pipe, and its log does not
   * pile up here.
   */
  async drain(): Promise<void> {
    while (!(await this.#reader.read()).done);
  }
}
