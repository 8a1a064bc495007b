namespace EfficientNet.Tests;

/// <summary>Reflected 32-bit CRCs, bit by bit, for the file formats the tests write by hand.</summary>
internal static class Crc
{
    /// <summary>PNG's CRC-32 (ISO 3309).</summary>
    public const uint Iso3309 = 0xEDB88320;

    /// <summary>CRC-32C (Castagnoli), TFRecord's.</summary>
    public const uint Castagnoli = 0x82F63B78;

    /// <summary>The CRC of <paramref name="data"/> with the reflected <paramref name="polynomial"/>.</summary>
    public static uint Reflected(ReadOnlySpan<byte> data, uint polynomial)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int i = 0; i < 8; i++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ polynomial : crc >> 1;
            }
        }
        return ~crc;
    }
}
