using System.Buffers.Binary;
using System.Text;

namespace EfficientNet.Tests.Training;

/// <summary>
/// Reads TensorBoard event files independently of the writer: TFRecord framing (length, masked CRC-32C of the length,
/// data, masked CRC-32C of the data, each checked) around Event messages, decoded field by field (wall_time 1,
/// step 2, file_version 3, summary 5 holding values with tag 1 and simple_value 2).
/// </summary>
internal static class TensorBoardEvents
{
    /// <summary>The file_version of the first record, then every scalar as (tag, step, value).</summary>
    public static (string FileVersion, List<(string Tag, long Step, float Value)> Scalars) Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        string version = "";
        var scalars = new List<(string, long, float)>();
        for (int at = 0; at < bytes.Length;)
        {
            var length = bytes.AsSpan(at, 8);
            Assert.Equal(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 8, 4)), Masked(length));
            int size = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(length));
            var data = bytes.AsSpan(at + 12, size);
            Assert.Equal(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 12 + size, 4)), Masked(data));
            long step = 0;
            foreach (var (field, value, payload) in Fields(data.ToArray()))
            {
                if (field == 2)
                {
                    step = (long)value;
                }
                else if (field == 3)
                {
                    version = Encoding.UTF8.GetString(payload);
                }
                else if (field == 5)
                {
                    foreach (var (_, _, summaryValue) in Fields(payload).Where(f => f.Field == 1))
                    {
                        var parts = Fields(summaryValue);
                        string tag = Encoding.UTF8.GetString(parts.Single(p => p.Field == 1).Payload);
                        float scalar = BitConverter.Int32BitsToSingle((int)parts.Single(p => p.Field == 2).Value);
                        scalars.Add((tag, step, scalar));
                    }
                }
            }
            at += 12 + size + 4;
        }
        return (version, scalars);
    }

    // Protocol buffer fields: number, the value of varint and fixed-width ones, the bytes of length-delimited ones.
    private static List<(int Field, ulong Value, byte[] Payload)> Fields(byte[] message)
    {
        var fields = new List<(int Field, ulong Value, byte[] Payload)>();
        for (int at = 0; at < message.Length;)
        {
            ulong key = Varint(message, ref at);
            int wire = (int)(key & 7);
            ulong value = 0;
            byte[] payload = [];
            switch (wire)
            {
                case 0: value = Varint(message, ref at); break;
                case 1: value = BinaryPrimitives.ReadUInt64LittleEndian(message.AsSpan(at, 8)); at += 8; break;
                case 2: int n = (int)Varint(message, ref at); payload = message[at..(at + n)]; at += n; break;
                case 5: value = BinaryPrimitives.ReadUInt32LittleEndian(message.AsSpan(at, 4)); at += 4; break;
                default: throw new InvalidDataException($"wire type {wire}");
            }
            fields.Add(((int)(key >> 3), value, payload));
        }
        return fields;
    }

    private static ulong Varint(byte[] bytes, ref int at)
    {
        ulong result = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = bytes[at++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return result;
            }
        }
    }

    private static uint Masked(ReadOnlySpan<byte> data)
    {
        uint crc = Crc.Reflected(data, Crc.Castagnoli);
        return ((crc >> 15) | (crc << 17)) + 0xA282EAD8;
    }
}
