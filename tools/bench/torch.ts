/**
 * Runs tools/bench/torch_reference.py with the first Python that has torch,
 * so that benchmarks report PyTorch's figures for the same work, measured on
 * the same machine.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** What torch_reference.py prints as its last line. */
export interface TorchReference {
  device: string;
  threads: number;
  torch: string;
  matmul_gflops: number;
  conv_fwd_gflops: number;
  conv_bwd_gflops: number;
  step_ms: Record<string, number>;
}

/** Options of {@link torchReference}. */
export interface TorchOptions {
  /** Use CUDA when the Python's torch has it (GPU runs); the CPU otherwise. */
  cuda: boolean;
  /** CPU threads (torch.set_num_threads); default 1. */
  threads?: number;
  configs: readonly string[];
}

// Debian's python3-torch installs for /usr/bin/python3, which may not be the
// python3 first on PATH; GPU images have torch under plain python3.
const CANDIDATES = ["/usr/bin/python3", "python3"];
const SCRIPT = fileURLToPath(new URL("./torch_reference.py", import.meta.url));

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; stdout: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit" }).output();
    return { ok: out.success, stdout: new TextDecoder().decode(out.stdout) };
  } catch {
    return { ok: false, stdout: "" }; // not installed
  }
}

async function pythonWithTorch(cuda: boolean): Promise<{ python: string; cuda: boolean } | null> {
  for (const python of CANDIDATES) {
    const probe = await run(python, [
      "-c",
      "import torch, sys; sys.stdout.write('cuda' if torch.cuda.is_available() else 'cpu')",
    ]);
    if (probe.ok) return { python, cuda: cuda && probe.stdout.trim() === "cuda" };
  }
  return null;
}

/** PyTorch's figures, or null when no Python with torch is installed or it failed. */
export async function torchReference(options: TorchOptions): Promise<TorchReference | null> {
  const found = await pythonWithTorch(options.cuda);
  if (!found) return null;
  const args = [
    SCRIPT,
    "--device",
    found.cuda ? "cuda" : "cpu",
    "--threads",
    String(options.threads ?? 1),
    "--configs",
    options.configs.join(","),
  ];
  if (found.cuda) args.push("--warmup", "5", "--steps", "20");
  const result = await run(found.python, args);
  const last = result.stdout.trim().split("\n").at(-1);
  if (!result.ok || !last) return null;
  return JSON.parse(last) as TorchReference;
}
