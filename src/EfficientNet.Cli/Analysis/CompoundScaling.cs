using EfficientNet.Architecture;

namespace EfficientNet.Cli.Analysis;

/// <summary>One row of the compound-scaling table: what the formula gives for a coefficient phi.</summary>
/// <param name="Phi">Compound coefficient.</param>
/// <param name="Depth">Depth multiplier alpha^phi.</param>
/// <param name="Width">Width multiplier beta^phi.</param>
/// <param name="ResolutionMultiplier">Resolution multiplier gamma^phi.</param>
/// <param name="Resolution">Base resolution times gamma^phi, truncated, then rounded up to a multiple of 8.</param>
/// <param name="FlopsMultiplier">(alpha * beta^2 * gamma^2)^phi: how much more compute than phi = 0.</param>
/// <param name="Published">The published variant B{phi}, when there is one, for comparison.</param>
internal sealed record ScalingRow(int Phi, double Depth, double Width, double ResolutionMultiplier, int Resolution, double FlopsMultiplier, VariantSpec? Published);

/// <summary>
/// The compound-scaling rule of the EfficientNet paper (section 3.3): depth d = alpha^phi, width
/// w = beta^phi, resolution r = gamma^phi, under alpha * beta^2 * gamma^2 ≈ 2 so that each step of phi
/// about doubles the FLOPs. The grid-searched bases are alpha = 1.2, beta = 1.1, gamma = 1.15. The
/// published B1–B7 were tuned afterwards, so they differ from what the formula gives.
/// </summary>
internal static class CompoundScaling
{
    /// <summary>Depth base found by grid search on B0.</summary>
    public const double DefaultAlpha = 1.2;

    /// <summary>Width base found by grid search on B0.</summary>
    public const double DefaultBeta = 1.1;

    /// <summary>Resolution base found by grid search on B0.</summary>
    public const double DefaultGamma = 1.15;

    /// <summary>B0's input resolution.</summary>
    public const int BaseResolution = 224;

    /// <summary>alpha * beta^2 * gamma^2: FLOPs grow by this factor per step of phi (depth linearly, width and resolution quadratically).</summary>
    public static double FlopsConstraint(double alpha, double beta, double gamma) => alpha * beta * beta * gamma * gamma;

    /// <summary>The table for phi = 0 … <paramref name="phiMax"/>.</summary>
    /// <exception cref="EfficientNetException">A base below 1 or a phi range out of bounds.</exception>
    public static IReadOnlyList<ScalingRow> Table(
        double alpha = DefaultAlpha, double beta = DefaultBeta, double gamma = DefaultGamma, int phiMax = 7)
    {
        foreach (var (name, value) in new[] { ("alpha", alpha), ("beta", beta), ("gamma", gamma) })
        {
            if (!(value >= 1) || double.IsInfinity(value))
            {
                throw new EfficientNetException($"{name} must be a finite number >= 1 (the network never shrinks), got {value}");
            }
        }
        if (phiMax is < 0 or > 20)
        {
            throw new EfficientNetException($"phi-max must be between 0 and 20, got {phiMax}");
        }
        double constraint = FlopsConstraint(alpha, beta, gamma);
        var published = Variants.All.Where(v => v.Family == ModelFamily.V1).ToArray();
        return Enumerable.Range(0, phiMax + 1).Select(phi =>
        {
            double r = Math.Pow(gamma, phi);
            // As Keras's tutorial: truncate, then round up to a multiple of 8 for hardware efficiency.
            int resolution = (int)Math.Ceiling((int)(BaseResolution * r) / 8.0) * 8;
            return new ScalingRow(phi, Math.Pow(alpha, phi), Math.Pow(beta, phi), r, resolution, Math.Pow(constraint, phi), phi < published.Length ? published[phi] : null);
        }).ToArray();
    }
}
