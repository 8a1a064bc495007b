using EfficientNet.Runtime;

namespace EfficientNet.Tests.Runtime;

public class CacheTopologyTests
{
    // CPUID as read on the Zen 5 VMs this project runs on (2026-12-07): family 26, TOPOEXT clear, leaf 0x8000001D empty.
    private static readonly Dictionary<(uint, uint), CpuIdRegisters> Zen5Vm = new()
    {
        [(0x00000000, 0)] = new(0x0000000D, 0x68747541, 0x444D4163, 0x69746E65),
        [(0x00000001, 0)] = new(0x00B00F21, 0xAAFE0800, 0xFED83203, 0x178BFBFF),
        [(0x80000000, 0)] = new(0x80000021, 0x68747541, 0x444D4163, 0x69746E65),
        [(0x80000001, 0)] = new(0x00B00F21, 0x40000000, 0x440001F1, 0x25D3FBFF),
    };

    // An AMD EPYC (family 25) guest that passes the cache leaf through, from `cpuid -r` in an m6a.metal microVM
    // (Firecracker's CPU templates): TOPOEXT set, L1d 32 KB, L2 512 KB, L3 32 MB in leaf 0x8000001D.
    private static readonly Dictionary<(uint, uint), CpuIdRegisters> EpycGuestWithCaches = new()
    {
        [(0x00000000, 0)] = new(0x00000010, 0x68747541, 0x444D4163, 0x69746E65),
        [(0x00000001, 0)] = new(0x000306F2, 0x00020800, 0xFFFA3203, 0x178BFBFF),
        [(0x80000000, 0)] = new(0x8000001F, 0x68747541, 0x444D4163, 0x69746E65),
        [(0x80000001, 0)] = new(0x00A00F11, 0x40000000, 0x00C00237, 0x2813FBFF),
        [(0x8000001D, 0)] = new(0x00000121, 0x01C0003F, 0x0000003F, 0x00000000),
        [(0x8000001D, 1)] = new(0x00000122, 0x01C0003F, 0x0000003F, 0x00000000),
        [(0x8000001D, 2)] = new(0x00000143, 0x01C0003F, 0x000003FF, 0x00000002),
        [(0x8000001D, 3)] = new(0x00004163, 0x03C0003F, 0x00007FFF, 0x00000001),
    };

    [Fact]
    public void TheZen5VmOfThisProject_HidesItsCaches()
    {
        Assert.Contains("TOPOEXT", CacheTopology.WhyHidden(Reader(Zen5Vm)), StringComparison.Ordinal);
    }

    [Fact]
    public void AnAmdGuestThatReportsItsCaches_DoesNot()
    {
        Assert.Null(CacheTopology.WhyHidden(Reader(EpycGuestWithCaches)));
    }

    [Fact]
    public void AZen5ThatReportsItsCaches_DoesNot_WhateverItsFamily()
    {
        // The same family-26 CPU with TOPOEXT and the leaf passed through (L1d 48 KB 12-way, L2 1 MB, L3 32 MB):
        // the family alone says nothing.
        var bareMetal = new Dictionary<(uint, uint), CpuIdRegisters>(Zen5Vm)
        {
            [(0x80000001, 0)] = Zen5Vm[(0x80000001, 0)] with { Ecx = Zen5Vm[(0x80000001, 0)].Ecx | (1u << 22) },
            [(0x8000001D, 0)] = new(0x00004121, 0x02C0003F, 0x0000003F, 0x00000000),
            [(0x8000001D, 2)] = new(0x00004143, 0x03C0003F, 0x000003FF, 0x00000002),
            [(0x8000001D, 3)] = new(0x0003C163, 0x03C0003F, 0x00007FFF, 0x00000001),
        };
        Assert.Null(CacheTopology.WhyHidden(Reader(bareMetal)));
    }

    [Fact]
    public void AnAmdGuestOfAnotherFamilyWithAnEmptyLeaf_HidesItsCaches()
    {
        // The Zen 3 guest with TOPOEXT set but its L3 sub-leaf empty: Xbyak would still read a 1-byte L3.
        var emptyL3 = new Dictionary<(uint, uint), CpuIdRegisters>(EpycGuestWithCaches) { [(0x8000001D, 3)] = default };
        Assert.Contains("sub-leaf 3", CacheTopology.WhyHidden(Reader(emptyL3)), StringComparison.Ordinal);
        var noLeaf = new Dictionary<(uint, uint), CpuIdRegisters>(EpycGuestWithCaches) { [(0x80000000, 0)] = EpycGuestWithCaches[(0x80000000, 0)] with { Eax = 0x80000018 } };
        Assert.Contains("without CPUID leaf 0x8000001D", CacheTopology.WhyHidden(Reader(noLeaf)), StringComparison.Ordinal);
    }

    [Fact]
    public void AnIntelCpu_DoesNot_EvenWithNoAmdLeaves()
    {
        // GenuineIntel, whose leaf 0x80000000 stops below the AMD leaf: Xbyak reads Intel caches from leaf 4, not 0x8000001D.
        var intel = new Dictionary<(uint, uint), CpuIdRegisters>
        {
            [(0x00000000, 0)] = new(0x0000001F, 0x756E6547, 0x6C65746E, 0x49656E69),
            [(0x80000000, 0)] = new(0x80000008, 0, 0, 0),
        };
        Assert.Null(CacheTopology.WhyHidden(Reader(intel)));
    }

    [Fact]
    public void ThisMachine_IsJudgedFromItsOwnCpuid()
    {
        // Whatever this CPU is, the decision is the one its CPUID gives, and checks run wherever it hides its caches.
        string? hidden = CacheTopology.WhyHiddenHere();
        if (hidden is not null)
        {
            Assert.Equal(hidden, CpuKernels.CheckReason);
        }
    }

    [Fact]
    public void OnAnAvx512CpuThatHidesItsCaches_TheQuickCheckFindsOneDnnWrong()
    {
        // The guard that turns checks on for CPUs the CPUID test misses must see the fault where it is known to be
        // (the Zen 5 VMs: 1x1 channels-last and 3x3 NCHW convolutions off by 15% to 90%, or NaN).
        if (CacheTopology.WhyHiddenHere() is not null && System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
        {
            Assert.NotNull(ConvolutionCheck.FindKnownFault());
        }
    }

    private static Func<uint, uint, CpuIdRegisters> Reader(Dictionary<(uint, uint), CpuIdRegisters> recorded) =>
        (leaf, subleaf) => recorded.TryGetValue((leaf, subleaf), out var registers) ? registers : default;
}
