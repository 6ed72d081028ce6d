#!/usr/bin/env python3
"""PyTorch reference benchmark for the WebGPU engine.

A Deno benchmark runs this script as a subprocess so that the engine's speed
can be put side by side with PyTorch on the same machine. Everything runs in
float32 (TF32 is switched off on CUDA so the numbers stay true fp32).

What is measured:
  matmul_gflops    1024x1024 @ 1024x1024 matrix product (median of several runs).
  conv_fwd_gflops  conv2d 3x3, stride 1, padding 1, 64 -> 64 channels, 32x32
                   input, batch 64. FLOPs = 2 * N * Cout * H * W * Cin * 9.
  conv_bwd_gflops  gradients of a sum loss w.r.t. input and weight of the same
                   conv (backward pass only, the forward graph is built once);
                   FLOPs counted as 2x the forward's.
  step_ms          median wall time of one full DCGAN training step (one D update
                   + one G update, as in the PyTorch DCGAN example) for each
                   config W16_b16, W16_b64, W32_b64, W64_b16, W64_b64:
                   W = base width, b = batch size.

Output: progress on stderr, exactly one JSON object on the last line of stdout:
  {"device": ..., "threads": N, "torch": version, "matmul_gflops": x,
   "conv_fwd_gflops": x, "conv_bwd_gflops": x, "step_ms": {"W16_b16": x, ...}}

Usage (Debian's torch lives under /usr/bin/python3, not pyenv's python3):
  /usr/bin/python3 tools/bench/torch_reference.py [--device cpu|cuda]
      [--threads N] [--configs W16_b16,W16_b64,W32_b64,W64_b16,W64_b64] [--quick]
      [--steps N] [--warmup N]
"""

import argparse
import json
import statistics
import sys
import time

ALL_CONFIGS = ["W16_b16", "W16_b64", "W32_b64", "W64_b16", "W64_b64"]
# Default (warmup, steps) per base width: W64 steps cost ~16x more than W16
# ones, so they get fewer steps to keep a default 1-thread CPU run short.
DEFAULT_STEPS = {16: (2, 9), 32: (1, 5), 64: (1, 3)}
NZ = 100  # latent size of the DCGAN generator
IMAGE = 64  # output resolution (64x64 RGB)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse_args():
    p = argparse.ArgumentParser(description="PyTorch reference benchmark (fp32).")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    p.add_argument(
        "--configs",
        default=",".join(ALL_CONFIGS),
        help="comma-separated DCGAN configs (default: all four)",
    )
    p.add_argument("--quick", action="store_true", help="only run the W16 configs")
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="measured DCGAN steps per config (default 9 for W16, 5 for W32, 3 for W64)",
    )
    p.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="un-timed DCGAN warm-up steps per config (default 2 for W16, 1 for W64)",
    )
    args = p.parse_args()

    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    bad = [c for c in configs if c not in ALL_CONFIGS]
    if bad:
        p.error(f"unknown config(s) {bad}; choose from {ALL_CONFIGS}")
    if args.quick:
        configs = [c for c in configs if c.startswith("W16_")]
    args.configs = configs
    if args.threads < 1:
        p.error("--threads must be >= 1")
    if args.steps is not None and args.steps < 1:
        p.error("--steps must be >= 1")
    if args.warmup is not None and args.warmup < 0:
        p.error("--warmup must be >= 0")
    return args


def import_torch():
    try:
        import torch  # noqa: F401
    except ImportError as e:
        log(
            f"error: PyTorch is not importable from {sys.executable} ({e}).\n"
            "On Debian: apt-get install -y python3-torch libopenblas0-pthread, "
            "then run with /usr/bin/python3."
        )
        sys.exit(2)
    return torch


def main():
    args = parse_args()
    torch = import_torch()
    import torch.nn as nn
    import torch.nn.functional as F

    if args.device == "cuda" and not torch.cuda.is_available():
        log(f"error: --device cuda requested but torch {torch.__version__} sees no CUDA device.")
        sys.exit(3)

    dev = torch.device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.device == "cuda":
        # Keep CUDA numbers true fp32 so they compare with an fp32 engine.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        log(f"device: {torch.cuda.get_device_name(0)} (TF32 off, cudnn.benchmark off)")
    else:
        log(f"device: cpu, {torch.get_num_threads()} thread(s)")
    log(f"torch {torch.__version__}, python {sys.version.split()[0]}")

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def bench_seconds(fn, warmup=2, samples=5, min_sample_s=0.02):
        """Median seconds per call of fn().

        Each sample repeats fn enough times to last >= min_sample_s, so tiny
        GPU kernels are not dominated by launch/sync overhead; on CPU one call
        of these workloads already takes longer than that, so inner = 1.
        """
        for _ in range(warmup):
            fn()
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        one = max(time.perf_counter() - t0, 1e-9)
        inner = max(1, int(min_sample_s / one))
        times = []
        for _ in range(samples):
            sync()
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            sync()
            times.append((time.perf_counter() - t0) / inner)
        return statistics.median(times)

    result = {
        "device": args.device,
        "threads": args.threads,
        "torch": torch.__version__,
    }

    # ---- matmul: raw GEMM throughput, 2*n^3 FLOPs -------------------------------
    n = 1024
    a = torch.randn(n, n, device=dev)
    b = torch.randn(n, n, device=dev)
    t = bench_seconds(lambda: torch.mm(a, b), warmup=2, samples=7)
    result["matmul_gflops"] = round(2 * n**3 / t / 1e9, 2)
    log(f"matmul {n}^3: {t * 1e3:.2f} ms -> {result['matmul_gflops']} GFLOP/s")
    del a, b

    # ---- conv2d 3x3: the convolution building block, forward and backward ------
    N, C, H, W = 64, 64, 32, 32
    x = torch.randn(N, C, H, W, device=dev, requires_grad=True)
    w = (torch.randn(C, C, 3, 3, device=dev) * 0.05).requires_grad_()
    conv_flops = 2 * N * C * H * W * C * 9
    with torch.no_grad():
        t = bench_seconds(lambda: F.conv2d(x, w, stride=1, padding=1), samples=5)
    result["conv_fwd_gflops"] = round(conv_flops / t / 1e9, 2)
    log(f"conv fwd: {t * 1e3:.2f} ms -> {result['conv_fwd_gflops']} GFLOP/s")

    # Backward only: build the graph once, then time the gradients of
    # loss = out.sum() (upstream gradient of ones) w.r.t. x and w.
    out = F.conv2d(x, w, stride=1, padding=1)
    ones = torch.ones_like(out)
    t = bench_seconds(
        lambda: torch.autograd.grad(out, (x, w), grad_outputs=ones, retain_graph=True),
        samples=5,
    )
    result["conv_bwd_gflops"] = round(2 * conv_flops / t / 1e9, 2)
    log(f"conv bwd (dx+dw): {t * 1e3:.2f} ms -> {result['conv_bwd_gflops']} GFLOP/s")
    del x, w, out, ones

    # ---- DCGAN training step --------------------------------------------------
    def generator(w):
        def up(cin, cout, stride, pad):
            return [
                nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(True),
            ]

        return nn.Sequential(
            *up(NZ, 8 * w, 1, 0),  # 1x1 -> 4x4
            *up(8 * w, 4 * w, 2, 1),  # -> 8x8
            *up(4 * w, 2 * w, 2, 1),  # -> 16x16
            *up(2 * w, w, 2, 1),  # -> 32x32
            nn.ConvTranspose2d(w, 3, 4, 2, 1, bias=False),  # -> 64x64
            nn.Tanh(),
        )

    def discriminator(w):
        def down(cin, cout):
            return [
                nn.Conv2d(cin, cout, 4, 2, 1, bias=False),
                nn.BatchNorm2d(cout),
                nn.LeakyReLU(0.2, inplace=True),
            ]

        return nn.Sequential(
            nn.Conv2d(3, w, 4, 2, 1, bias=False),  # 64 -> 32
            nn.LeakyReLU(0.2, inplace=True),
            *down(w, 2 * w),  # -> 16
            *down(2 * w, 4 * w),  # -> 8
            *down(4 * w, 8 * w),  # -> 4
            nn.Conv2d(8 * w, 1, 4, 1, 0, bias=False),  # -> 1x1 logit
        )

    def dcgan_init(m):
        # DCGAN paper init: conv weights N(0, 0.02); BN weight N(1, 0.02), bias 0.
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)

    def dcgan_step_ms(width, batch, warmup, steps):
        torch.manual_seed(0)
        netG = generator(width).to(dev)
        netD = discriminator(width).to(dev)
        netG.apply(dcgan_init)
        netD.apply(dcgan_init)
        optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
        optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
        bce = nn.BCEWithLogitsLoss()  # non-saturating loss on raw logits
        # Random "images" in [-1, 1] stand in for a data batch; fixed in memory so
        # no data loading is timed.
        real = torch.rand(batch, 3, IMAGE, IMAGE, device=dev) * 2 - 1
        ones = torch.ones(batch, device=dev)
        zeros = torch.zeros(batch, device=dev)

        def step():
            # D update: real labelled 1, G(z).detach() labelled 0.
            z = torch.randn(batch, NZ, 1, 1, device=dev)
            fake = netG(z)
            netD.zero_grad(set_to_none=True)
            loss_d = bce(netD(real).view(-1), ones) + bce(netD(fake.detach()).view(-1), zeros)
            loss_d.backward()
            optD.step()
            # G update: reuse the same fake batch (as the PyTorch DCGAN example),
            # non-saturating loss BCE(D(fake), 1).
            netG.zero_grad(set_to_none=True)
            loss_g = bce(netD(fake).view(-1), ones)
            loss_g.backward()
            optG.step()

        for _ in range(warmup):
            step()
        times = []
        for _ in range(steps):
            sync()
            t0 = time.perf_counter()
            step()
            sync()
            times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times), times

    step_ms = {}
    for cfg in args.configs:
        wpart, bpart = cfg.split("_")
        width, batch = int(wpart[1:]), int(bpart[1:])
        dw, ds = DEFAULT_STEPS[width]
        warmup = dw if args.warmup is None else args.warmup
        steps = ds if args.steps is None else args.steps
        log(f"dcgan {cfg}: width {width}, batch {batch}, warmup {warmup}, steps {steps} ...")
        median_ms, times = dcgan_step_ms(width, batch, warmup, steps)
        step_ms[cfg] = round(median_ms, 2)
        log(f"dcgan {cfg}: median {median_ms:.2f} ms/step (runs: {', '.join(f'{t:.1f}' for t in times)})")
    result["step_ms"] = step_ms

    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
