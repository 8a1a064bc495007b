using System.Text;
using EfficientNet.Models;
using EfficientNet.Weights;

namespace EfficientNet.Tests.Weights;

/// <summary>Bit rot in a checkpoint is reported as such; a file claiming a huge tensor is refused before allocating.</summary>
public class DamagedWeightsTests
{
    [Fact]
    public void Read_CheckpointWithAFlippedBit_IsReportedAsDamaged()
    {
        using var dir = new TempDir();
        string path = dir.File("b0.safetensors");
        using (var model = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 10, Cifar = true }))
        {
            ModelCheckpoint.Save(model, path, null);
        }
        using (WeightsFile.Read(path))
        {
            // Reads back as written.
        }
        byte[] bytes = File.ReadAllBytes(path);
        bytes[^1000] ^= 0x04;
        File.WriteAllBytes(path, bytes);

        var e = Assert.Throws<EfficientNetException>(() => WeightsFile.Read(path).Dispose());

        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("the file is damaged", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_SafetensorsClaimingA256GiBTensor_IsRefusedBeforeAllocating()
    {
        using var dir = new TempDir();
        string path = dir.File("claims.safetensors");
        byte[] header = Encoding.UTF8.GetBytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[65536,65536,16],\"data_offsets\":[0,274877906944]}}");
        using (var file = File.Create(path))
        {
            file.Write(BitConverter.GetBytes((ulong)header.Length));
            file.Write(header);
            file.Write(new byte[16]);
        }

        var e = Assert.Throws<EfficientNetException>(() => WeightsFile.Read(path).Dispose());

        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("274877906944 bytes", e.Message, StringComparison.Ordinal);
    }
}
