#!/usr/bin/env bash
# Issue 13 probe: would fused BatchNorm+SiLU kernels make training faster? Times libtorch's batch_norm + silu
# (forward, and backward through autograd) against a hand-written fused C kernel (bnsilu.c, gcc -O3 -march=native,
# OpenMP, 2 threads) on every BatchNorm+SiLU layer of B0 with the CIFAR stem at 32x32, batch 128, channels-last,
# and checks the fused gradients against libtorch's. Not part of the product or the tests.
set -euo pipefail
cd "$(dirname "$0")"
out=bin/Release/net10.0
dotnet build -c Release -v q -nologo
gcc -O3 -march=native -ffast-math -fopenmp -shared -fPIC bnsilu.c -o "$out/libbnsilu.so" -lm
dotnet "$out/FusionProbe.dll"
