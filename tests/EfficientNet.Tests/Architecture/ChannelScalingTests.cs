using EfficientNet.Architecture;

namespace EfficientNet.Tests.Architecture;

public class ChannelScalingTests
{
    [Theory]
    // Published widths: B2 stem 32, head 1408; B3 stem 40, head 1536; B4 stem 48; B7 stem 64, head 2560.
    [InlineData(32, 1.1, 32)]
    [InlineData(1280, 1.1, 1408)]
    [InlineData(32, 1.2, 40)]
    [InlineData(1280, 1.2, 1536)]
    [InlineData(32, 1.4, 48)]
    [InlineData(32, 2.0, 64)]
    [InlineData(1280, 2.0, 2560)]
    [InlineData(16, 1.1, 16)]
    [InlineData(24, 1.8, 40)] // 43.2 rounds to 40, which keeps more than 90% of it
    [InlineData(3, 1.0, 8)]   // never below the divisor
    public void RoundFilters_PublishedWidths_Match(int channels, double width, int expected) =>
        Assert.Equal(expected, ChannelScaling.RoundFilters(channels, width));

    [Fact]
    public void RoundFilters_WouldLoseMoreThanTenPercent_RoundsUp()
    {
        // 36 * 1.0 rounds to 40 normally; 20 * 0.55 = 11 rounds to 8 (< 9.9) so it must step to 16.
        Assert.Equal(16, ChannelScaling.RoundFilters(20, 0.55));
        Assert.True(ChannelScaling.RoundFilters(20, 0.55) >= 0.9 * 11);
    }

    [Theory]
    [InlineData(1, 3.1, 4)]
    [InlineData(3, 1.1, 4)]
    [InlineData(4, 2.6, 11)]
    [InlineData(2, 1.0, 2)]
    public void RoundRepeats_RoundsUp(int repeats, double depth, int expected) =>
        Assert.Equal(expected, ChannelScaling.RoundRepeats(repeats, depth));
}
