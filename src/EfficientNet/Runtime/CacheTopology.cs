using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Text;

namespace EfficientNet.Runtime;

/// <summary>The four registers the CPUID instruction returns for a leaf and sub-leaf.</summary>
internal readonly record struct CpuIdRegisters(uint Eax, uint Ebx, uint Ecx, uint Edx);

/// <summary>
/// Whether libtorch's oneDNN can see this CPU's cache sizes. oneDNN 3.x sizes the blocks of its convolution kernels
/// from the cache sizes Xbyak reads with CPUID; on an AMD CPU Xbyak reads them from leaf 0x8000001D (sub-leaves 0, 2
/// and 3) and nothing else, so where a hypervisor leaves that leaf empty every level reads as 1 byte and some of
/// oneDNN's kernels compute wrong results (docs/performance.md#cpus-that-hide-their-caches).
/// </summary>
internal static class CacheTopology
{
    private const uint TopologyLeaf = 0x8000_001D;

    /// <summary>Why oneDNN cannot see the cache sizes of the CPU <paramref name="cpuid"/> answers for, or null where it can.</summary>
    /// <param name="cpuid">CPUID: the registers for a leaf and sub-leaf (recorded values in tests).</param>
    public static string? WhyHidden(Func<uint, uint, CpuIdRegisters> cpuid)
    {
        ArgumentNullException.ThrowIfNull(cpuid);
        if (Vendor(cpuid(0, 0)) != "AuthenticAMD")
        {
            // Xbyak reads other vendors' caches from leaf 4, which hypervisors fill in.
            return null;
        }
        if (cpuid(0x8000_0000, 0).Eax < TopologyLeaf)
        {
            return "an AMD CPU without CPUID leaf 0x8000001D, from which oneDNN reads its cache sizes";
        }
        if ((cpuid(0x8000_0001, 0).Ecx & (1u << 22)) == 0)
        {
            return "an AMD CPU whose CPUID clears TOPOEXT, so leaf 0x8000001D, from which oneDNN reads its cache sizes, is undefined";
        }
        foreach (uint subleaf in (uint[])[0, 2, 3])
        {
            if ((cpuid(TopologyLeaf, subleaf).Eax & 0x1F) == 0)
            {
                return $"an AMD CPU whose CPUID leaf 0x8000001D, from which oneDNN reads its cache sizes, is empty (sub-leaf {subleaf})";
            }
        }
        return null;
    }

    /// <summary><see cref="WhyHidden"/> for the CPU this process runs on (null off x86).</summary>
    public static string? WhyHiddenHere() => X86Base.IsSupported ? WhyHidden(Read) : null;

    /// <summary>CPUID on this CPU.</summary>
    public static CpuIdRegisters Read(uint leaf, uint subleaf)
    {
        var (eax, ebx, ecx, edx) = X86Base.CpuId(unchecked((int)leaf), unchecked((int)subleaf));
        return new CpuIdRegisters(unchecked((uint)eax), unchecked((uint)ebx), unchecked((uint)ecx), unchecked((uint)edx));
    }

    /// <summary>The vendor string of leaf 0 (EBX, EDX, ECX), e.g. AuthenticAMD or GenuineIntel.</summary>
    private static string Vendor(CpuIdRegisters leaf0)
    {
        Span<uint> parts = [leaf0.Ebx, leaf0.Edx, leaf0.Ecx];
        return Encoding.ASCII.GetString(MemoryMarshal.AsBytes(parts));
    }
}
