using Xunit;

// libtorch's random generator and thread count are process-wide: tests that seed it (training,
// resume, dropout) must not interleave with tests that draw from it, or runs stop being reproducible.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
