using EfficientNet.Data.Augmentation;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Data;

/// <summary>Each transform does what it must on small tensors: a flip flips, zero strength is the identity, values stay in range.</summary>
public class AugmentationTests
{
    private static Tensor Images(int n = 4, int size = 8, int seed = 1)
    {
        var generator = new Generator((ulong)seed);
        return rand([n, 3, size, size], generator: generator);
    }

    [Fact]
    public void Flip_ProbabilityOne_MirrorsEveryImage()
    {
        using var x = Images();
        using var y = new RandomHorizontalFlip(1).Apply(x, new Random(1));
        using var expected = x.flip(3);
        TensorAssert.Identical(expected, y);
    }

    [Fact]
    public void Flip_ProbabilityZero_ReturnsInput()
    {
        using var x = Images();
        Assert.Same(x, new RandomHorizontalFlip(0).Apply(x, new Random(1)));
    }

    [Fact]
    public void Flip_HalfProbability_FlipsSomeAndKeepsOthers()
    {
        using var x = Images(64);
        using var y = new RandomHorizontalFlip(0.5).Apply(x, new Random(3));
        using var flipped = x.flip(3);
        int same = 0, mirrored = 0;
        for (int i = 0; i < 64; i++)
        {
            if (y[i].equal(x[i]).all().item<bool>())
            {
                same++;
            }
            else if (y[i].equal(flipped[i]).all().item<bool>())
            {
                mirrored++;
            }
        }
        Assert.Equal(64, same + mirrored);
        Assert.InRange(mirrored, 16, 48);
    }

    [Fact]
    public void Affine_ZeroStrength_IsIdentity()
    {
        var x = Images();
        Assert.Same(x, new RandomAffine(0, 0, 0).Apply(x, new Random(1)));
    }

    [Fact]
    public void Warp_QuarterTurn_RotatesPixelsExactly()
    {
        using var x = Images(1, 6);
        using var y = RandomAffine.Warp(x, [new AffineParameters(Math.PI / 2, 1, 0, 0)], GridSamplePaddingMode.Zeros);
        using var clockwise = x.rot90(1, (2, 3));
        using var counter = x.rot90(-1, (2, 3));
        double error = Math.Min((y - clockwise).abs().max().item<float>(), (y - counter).abs().max().item<float>());
        Assert.True(error < 1e-5, $"max error {error}");
    }

    [Fact]
    public void Affine_KerasRecipeStrengths_KeepShapeAndRange()
    {
        using var x = Images(16, 32);
        using var y = new RandomAffine(0.1, 0.1, 0.1).Apply(x, new Random(2));
        Assert.Equal(x.shape, y.shape);
        Assert.InRange(y.min().item<float>(), -1e-6f, 1f);
        Assert.InRange(y.max().item<float>(), 0f, 1f + 1e-6f);
        Assert.False(y.equal(x).all().item<bool>());
    }

    [Fact]
    public void Contrast_ZeroIsIdentityAndMeansArePreserved()
    {
        var x = Images();
        Assert.Same(x, new RandomContrast(0).Apply(x, new Random(1)));
        using var mid = x * 0.2 + 0.4; // [0.4, 0.6]: no clipping at ±10%
        using var y = new RandomContrast(0.1).Apply(mid, new Random(1));
        using var meanBefore = mid.mean([2, 3]);
        using var meanAfter = y.mean([2, 3]);
        Assert.True((meanBefore - meanAfter).abs().max().item<float>() < 1e-5);
        using var spreadBefore = mid.std([2, 3]);
        using var spreadAfter = y.std([2, 3]);
        using var ratio = spreadAfter / spreadBefore;
        Assert.InRange(ratio.min().item<float>(), 0.9f - 1e-4f, 1.1f + 1e-4f);
    }

    [Fact]
    public void Contrast_StrongFactor_StaysInUnitRange()
    {
        using var x = Images(8, 8);
        using var y = new RandomContrast(1.0).Apply(x, new Random(4));
        Assert.True(y.min().item<float>() >= 0 && y.max().item<float>() <= 1);
    }

    [Fact]
    public void CropWithPadding_ZeroIsIdentity_OtherwiseAWindowOfTheReflectPaddedImage()
    {
        var x = Images();
        Assert.Same(x, new RandomCropWithPadding(0).Apply(x, new Random(1)));
        const int padding = 3, size = 8;
        using var y = new RandomCropWithPadding(padding).Apply(x, new Random(5));
        Assert.Equal(x.shape, y.shape);
        // Reflect padding mirrors without repeating the edge pixel: index -1 reads 1, index size reads size - 2.
        static int Reflect(int i) => i < 0 ? -i : i >= size ? 2 * (size - 1) - i : i;
        var random = new Random(5); // the transform draws top, then left, per image
        float[] source = x.data<float>().ToArray(), cropped = y.data<float>().ToArray();
        for (int n = 0; n < 4; n++)
        {
            int top = random.Next(2 * padding + 1), left = random.Next(2 * padding + 1);
            for (int c = 0; c < 3; c++)
            {
                for (int r = 0; r < size; r++)
                {
                    for (int col = 0; col < size; col++)
                    {
                        float expected = source[((n * 3 + c) * size + Reflect(top + r - padding)) * size + Reflect(left + col - padding)];
                        Assert.Equal(expected, cropped[((n * 3 + c) * size + r) * size + col]);
                    }
                }
            }
        }
        using var tooSmall = zeros(1, 3, 3, 3);
        Assert.Throws<EfficientNetException>(() => new RandomCropWithPadding(3).Apply(tooSmall, new Random(1)));
    }

    [Fact]
    public void Cutout_GreysOneClippedSquarePerImage_AndKeepsTheRest()
    {
        var x = Images(16, 12);
        Assert.Same(x, new Cutout(0).Apply(x, new Random(1)));
        using var y = new Cutout(4).Apply(x, new Random(7));
        var random = new Random(7); // the transform draws the centre row, then column, per image
        for (int n = 0; n < 16; n++)
        {
            int cy = random.Next(12), cx = random.Next(12);
            using var mask = zeros(12, 12, dtype: ScalarType.Bool);
            mask[Math.Max(0, cy - 2)..Math.Min(12, cy + 2), Math.Max(0, cx - 2)..Math.Min(12, cx + 2)] = tensor(true);
            using var inside = y[n].masked_select(mask.expand(3, 12, 12));
            Assert.True(inside.eq(0.5f).all().item<bool>(), $"image {n}: the square is grey");
            using var outsideBefore = x[n].masked_select(mask.logical_not().expand(3, 12, 12));
            using var outsideAfter = y[n].masked_select(mask.logical_not().expand(3, 12, 12));
            TensorAssert.Identical(outsideBefore, outsideAfter);
            int side = Math.Min(12, cy + 2) - Math.Max(0, cy - 2), width = Math.Min(12, cx + 2) - Math.Max(0, cx - 2);
            Assert.Equal(3L * side * width, inside.numel());
        }
        Assert.False(x.eq(0.5f).any().item<bool>(), "the input is not changed in place");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AutoAugment_KeepsShapeAndRangeAndIsSeeded(bool trivial)
    {
        var policy = trivial ? AutoAugmentPolicy.TrivialAugment() : AutoAugmentPolicy.RandAugment();
        using var x = Images(24, 16);
        using var a = policy.Apply(x, new Random(9));
        using var b = policy.Apply(x, new Random(9));
        using var c = policy.Apply(x, new Random(10));
        Assert.Equal(x.shape, a.shape);
        TensorAssert.Identical(a, b);
        Assert.False(a.equal(c).all().item<bool>());
        Assert.True(a.min().item<float>() >= -1e-6 && a.max().item<float>() <= 1 + 1e-6);
    }

    [Theory]
    [InlineData(nameof(AugmentOp.Brightness))]
    [InlineData(nameof(AugmentOp.Color))]
    [InlineData(nameof(AugmentOp.Contrast))]
    [InlineData(nameof(AugmentOp.Sharpness))]
    [InlineData(nameof(AugmentOp.ShearX))]
    [InlineData(nameof(AugmentOp.TranslateY))]
    [InlineData(nameof(AugmentOp.Rotate))]
    public void AugmentOp_ZeroMagnitude_IsIdentity(string name)
    {
        using var x = Images(1, 8)[0];
        using var y = AutoAugmentPolicy.ApplyOp(x, Enum.Parse<AugmentOp>(name), 0);
        Assert.True((y - x).abs().max().item<float>() < 1e-5);
    }

    [Fact]
    public void AugmentOp_PosterizeSolarizeAutoContrastEqualize_BehaveAsDefined()
    {
        using var x = Images(1, 8)[0] * 0.5 + 0.25;
        using var eightBits = AutoAugmentPolicy.ApplyOp(x, AugmentOp.Posterize, 8);
        Assert.True((eightBits - x).abs().max().item<float>() <= 0.5 / 255 + 1e-6);
        using var twoBits = AutoAugmentPolicy.ApplyOp(x, AugmentOp.Posterize, 2);
        Assert.True(twoBits.unique().Item1.numel() <= 4);
        using var solarized = AutoAugmentPolicy.ApplyOp(x, AugmentOp.Solarize, 0.5);
        using var expected = where(x >= 0.5, 1 - x, x);
        TensorAssert.Identical(expected, solarized);
        using var stretched = AutoAugmentPolicy.ApplyOp(x, AugmentOp.AutoContrast, 0);
        Assert.Equal(0f, stretched.amin([1, 2]).max().item<float>(), 1e-6f); // (x - min) * scale in float32
        Assert.Equal(1f, stretched.amax([1, 2]).min().item<float>(), 1e-6f);
        using var equalized = AutoAugmentPolicy.ApplyOp(x, AugmentOp.Equalize, 0);
        Assert.True(equalized.min().item<float>() >= 0 && equalized.max().item<float>() <= 1);
    }

    [Theory]
    [InlineData(0.2, 0.0)]
    [InlineData(0.0, 1.0)]
    public void Mixer_TargetsAreDistributionsMatchingTheImages(double mixup, double cutmix)
    {
        using var x = Images(8, 16);
        using var labels = tensor(new long[] { 0, 1, 2, 3, 0, 1, 2, 3 });
        var (images, targets) = new BatchMixer(mixup, cutmix).Apply(x, labels, 4, new Random(3));
        using (images)
        using (targets)
        {
            Assert.Equal(x.shape, images.shape);
            using var sums = targets.sum(1);
            Assert.True((sums - 1).abs().max().item<float>() < 1e-5);
            // The weight of each image's own label is what remains of it.
            using var own = targets.gather(1, labels.unsqueeze(1));
            Assert.True(own.min().item<float>() >= 0);
        }
    }

    [Fact]
    public void Mixer_Disabled_GivesOneHot()
    {
        using var x = Images(2);
        using var labels = tensor(new long[] { 1, 3 });
        var (images, targets) = new BatchMixer(0, 0).Apply(x, labels, 4, new Random(1));
        using (images)
        using (targets)
        {
            Assert.Equal(new float[] { 0, 1, 0, 0, 0, 0, 0, 1 }, targets.data<float>().ToArray());
        }
    }

    [Fact]
    public void SampleBeta_SymmetricAlpha_IsCentredInUnitInterval()
    {
        var random = new Random(11);
        double[] draws = Enumerable.Range(0, 4000).Select(_ => BatchMixer.SampleBeta(random, 0.4)).ToArray();
        Assert.All(draws, d => Assert.InRange(d, 0, 1));
        Assert.InRange(draws.Average(), 0.47, 0.53);
    }

    [Fact]
    public void Options_BuildKerasRecipePipeline()
    {
        var transforms = new AugmentationOptions().BuildTransforms();
        Assert.Equal(new[] { typeof(RandomHorizontalFlip), typeof(RandomAffine), typeof(RandomContrast) }, transforms.Select(t => t.GetType()));
        Assert.Empty(AugmentationOptions.None.BuildTransforms());
        Assert.Throws<EfficientNetException>(() => new AugmentationOptions { Rotation = -1 }.BuildTransforms());
    }
}
