// Compiled twice: by MSBuild's RoslynCodeTaskFactory (build/LibTorchSharpGlibcxx.targets) and by the
// test project, which checks the ELF logic on real files. Keep it self-contained (no project types).
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.Build.Framework;

namespace EfficientNet.Build;

/// <summary>One entry of an ELF file's <c>.gnu.version_r</c> section: a symbol version the file needs.</summary>
// A class, not a record: MSBuild compiles this file against netstandard2.0, which lacks IsExternalInit.
public sealed class ElfVersionNeed
{
    /// <summary>VER_FLG_WEAK from elf.h: a missing weak version is tolerated by the dynamic loader.</summary>
    public const ushort WeakFlag = 0x2;

    public ElfVersionNeed(string file, string version, ushort flags, long flagsOffset)
    {
        File = file;
        Version = version;
        Flags = flags;
        FlagsOffset = flagsOffset;
    }

    /// <summary>The dependency that must provide the version, e.g. libstdc++.so.6.</summary>
    public string File { get; }

    public string Version { get; }

    public ushort Flags { get; }

    /// <summary>File offset of the two-byte vna_flags field.</summary>
    public long FlagsOffset { get; }

    public bool IsWeak => (Flags & WeakFlag) != 0;
}

/// <summary>
/// Reads the GNU symbol-versioning sections of a 64-bit little-endian ELF file, and marks one
/// version need weak. Offsets follow the System V gABI and the LSB "Symbol Versioning" chapter.
/// </summary>
public static class ElfVersions
{
    private const uint ShtGnuVerdef = 0x6ffffffd;
    private const uint ShtGnuVerneed = 0x6ffffffe;

    private struct Section
    {
        public uint Type;
        public long Offset;
        public uint Link;
        public uint Info;
    }

    /// <summary>Versions the file defines (<c>.gnu.version_d</c>), e.g. "GLIBCXX_3.4.30" in libstdc++.</summary>
    public static IReadOnlyList<string> Defined(byte[] elf)
    {
        var sections = ReadSections(elf);
        var result = new List<string>();
        foreach (var verdef in sections.Where(s => s.Type == ShtGnuVerdef))
        {
            var strtab = sections[(int)verdef.Link];
            long entry = verdef.Offset;
            for (uint i = 0; i < verdef.Info; i++)
            {
                // Elf64_Verdef: vd_version u16, vd_flags u16, vd_ndx u16, vd_cnt u16, vd_hash u32, vd_aux u32, vd_next u32
                uint aux = U32(elf, entry + 12);
                uint next = U32(elf, entry + 16);
                // The first Elf64_Verdaux (vda_name u32, vda_next u32) names the version itself.
                result.Add(CString(elf, strtab.Offset + U32(elf, entry + aux)));
                if (next == 0)
                {
                    break;
                }
                entry += next;
            }
        }
        return result;
    }

    /// <summary>Versions the file needs from its dependencies (<c>.gnu.version_r</c>).</summary>
    public static IReadOnlyList<ElfVersionNeed> Needed(byte[] elf)
    {
        var sections = ReadSections(elf);
        var result = new List<ElfVersionNeed>();
        foreach (var verneed in sections.Where(s => s.Type == ShtGnuVerneed))
        {
            var strtab = sections[(int)verneed.Link];
            long entry = verneed.Offset;
            for (uint i = 0; i < verneed.Info; i++)
            {
                // Elf64_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32
                ushort count = U16(elf, entry + 2);
                string file = CString(elf, strtab.Offset + U32(elf, entry + 4));
                long aux = entry + U32(elf, entry + 8);
                for (int j = 0; j < count; j++)
                {
                    // Elf64_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32
                    string name = CString(elf, strtab.Offset + U32(elf, aux + 8));
                    result.Add(new ElfVersionNeed(file, name, U16(elf, aux + 4), aux + 4));
                    uint auxNext = U32(elf, aux + 12);
                    if (auxNext == 0)
                    {
                        break;
                    }
                    aux += auxNext;
                }
                uint next = U32(elf, entry + 12);
                if (next == 0)
                {
                    break;
                }
                entry += next;
            }
        }
        return result;
    }

    /// <summary>
    /// Sets VER_FLG_WEAK on every need of <paramref name="version"/> in the file at
    /// <paramref name="path"/>, writing only those flag bytes. Returns how many entries changed
    /// (0 when already weak or not needed).
    /// </summary>
    public static int MarkWeak(string path, string version)
    {
        var needs = Needed(System.IO.File.ReadAllBytes(path)).Where(n => n.Version == version && !n.IsWeak).ToList();
        if (needs.Count == 0)
        {
            return 0;
        }
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        foreach (var need in needs)
        {
            ushort flags = (ushort)(need.Flags | ElfVersionNeed.WeakFlag);
            stream.Position = need.FlagsOffset;
            stream.Write(new[] { (byte)flags, (byte)(flags >> 8) }, 0, 2);
        }
        return needs.Count;
    }

    private static List<Section> ReadSections(byte[] elf)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
        {
            throw new InvalidDataException("not an ELF file");
        }
        if (elf[4] != 2 || elf[5] != 1)
        {
            throw new InvalidDataException("only 64-bit little-endian ELF files are supported");
        }
        long shoff = (long)U64(elf, 0x28);
        ushort shentsize = U16(elf, 0x3A);
        ushort shnum = U16(elf, 0x3C);
        var sections = new List<Section>(shnum);
        for (int i = 0; i < shnum; i++)
        {
            // Elf64_Shdr: sh_name u32, sh_type u32, sh_flags u64, sh_addr u64, sh_offset u64, sh_size u64,
            // sh_link u32, sh_info u32, ...
            long h = shoff + (long)i * shentsize;
            sections.Add(new Section { Type = U32(elf, h + 4), Offset = (long)U64(elf, h + 24), Link = U32(elf, h + 40), Info = U32(elf, h + 44) });
        }
        return sections;
    }

    private static ushort U16(byte[] b, long at) => BitConverter.ToUInt16(b, checked((int)at));

    private static uint U32(byte[] b, long at) => BitConverter.ToUInt32(b, checked((int)at));

    private static ulong U64(byte[] b, long at) => BitConverter.ToUInt64(b, checked((int)at));

    private static string CString(byte[] b, long at)
    {
        int start = checked((int)at);
        int end = Array.IndexOf(b, (byte)0, start);
        return Encoding.ASCII.GetString(b, start, end - start);
    }
}

/// <summary>
/// MSBuild task: where the system libstdc++ does not define <see cref="Version"/> (or always, with
/// <see cref="Always"/>), marks that version need weak in each of <see cref="Files"/> (copies in a
/// build or publish folder).
/// </summary>
public sealed class WeakenElfVersionNeed : Microsoft.Build.Utilities.Task
{
    /// <summary>The ELF files to patch in place.</summary>
    [Required]
    public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();

    /// <summary>The version to make weak, e.g. GLIBCXX_3.4.32.</summary>
    [Required]
    public string Version { get; set; } = "";

    /// <summary>Candidate paths of the system libstdc++; the first that exists is read.</summary>
    [Required]
    public string[] SystemLibraryCandidates { get; set; } = Array.Empty<string>();

    /// <summary>
    /// Patch whatever the system has: for files that will run on other machines (the effnet tool package).
    /// A weak need that the system's libstdc++ does define is bound as before, so this is harmless there.
    /// </summary>
    public bool Always { get; set; }

    public override bool Execute()
    {
        if (Always)
        {
            Weaken("requested for files that run on other machines");
            return true;
        }
        string? system = SystemLibraryCandidates.FirstOrDefault(File.Exists);
        if (system is null)
        {
            Log.LogMessage(MessageImportance.Low, "No system libstdc++ found; leaving TorchSharp's native library as it is.");
            return true;
        }
        if (ElfVersions.Defined(File.ReadAllBytes(system)).Contains(Version))
        {
            Log.LogMessage(MessageImportance.Low, $"{system} defines {Version}; no patch needed.");
            return true;
        }
        Weaken($"{system} lacks it");
        return true;
    }

    private void Weaken(string reason)
    {
        foreach (var item in Files)
        {
            string path = item.ItemSpec;
            // Keep the timestamp so that incremental copies (same size, same time) still skip the file.
            var stamp = File.GetLastWriteTimeUtc(path);
            if (ElfVersions.MarkWeak(path, Version) == 0)
            {
                continue;
            }
            File.SetLastWriteTimeUtc(path, stamp);
            Log.LogMessage(MessageImportance.Normal, $"Marked {Version} weak in {path} ({reason}).");
        }
    }
}
