using System.Text;
using EfficientNet.Models;
using EfficientNet.Weights.Formats;
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
        using (var model = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 10, CifarStem = true }))
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

    [Theory]
    [InlineData(68719476736L, 68719476736L)] // the storage claims 2^36 floats, the archive holds 16 bytes
    [InlineData(4L, 68719476736L)]           // an honest 4-float storage, a tensor claiming 2^36 of them
    public void Read_PthClaimingAHugeTensor_IsRefusedBeforeAllocating(long storageNumel, long tensorNumel)
    {
        // A torch.save-style archive of a few hundred bytes, written with Python's own pickler.
        using var dir = new TempDir();
        string path = dir.File("claims.pth");
        PythonScript.Run(
            """
            import collections, io, pickle, sys, zipfile, torch
            storage_numel, tensor_numel = int(sys.argv[2]), int(sys.argv[3])
            class Storage: pass
            class Tensor:
                def __reduce__(self):
                    return (torch._utils._rebuild_tensor_v2, (Storage(), 0, (tensor_numel,), (1,), False, collections.OrderedDict()))
            class Pickler(pickle.Pickler):
                def persistent_id(self, obj):
                    return ("storage", torch.FloatStorage, "0", "cpu", storage_numel) if isinstance(obj, Storage) else None
            data = io.BytesIO()
            Pickler(data, protocol=2).dump(collections.OrderedDict([("w", Tensor())]))
            with zipfile.ZipFile(sys.argv[1], "w") as z:
                z.writestr("claims/data.pkl", data.getvalue())
                z.writestr("claims/data/0", bytes(16))
                z.writestr("claims/version", "3\n")
            """, path, storageNumel.ToString(System.Globalization.CultureInfo.InvariantCulture), tensorNumel.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(new FileInfo(path).Length < 1000);

        var e = Assert.Throws<EfficientNetException>(() => WeightsFile.Read(path).Dispose());

        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains(storageNumel == tensorNumel ? "the archive holds 16 bytes" : "needs 68719476736 elements", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("frame #", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_RealTorchSaveFile_SeesEveryTensor()
    {
        // The check above could pass by not finding tensors at all: on PyTorch's own file it must see each one.
        string path = TorchvisionFixtures.Path("efficientnet_b0.pth");
        using var file = WeightsFile.Read(path);

        Assert.Equal(file.Tensors.Count, PyTorchArchiveCheck.Check(path));
    }
}
