using EfficientNet.Models;
using EfficientNet.Training.Optimization;
using EfficientNet.Training.Options;
using EfficientNet.Training.Running;
using EfficientNet.Weights.Formats;
using EfficientNet.Weights;
using static TorchSharp.torch;

namespace EfficientNet.Tests.Training;

/// <summary>The weight average moves each float weight and statistic by the formula, copies counters, and is what a run validates and saves.</summary>
public class WeightAverageTests
{
    // DecayAt is one division and a minimum in double: an ulp of error at most.
    private const double Exact = 1e-15;

    private static readonly string Cifar = Path.Combine(TestPaths.SharedData, "cifar-10-batches-bin");

    [Fact]
    public void Update_AveragesWeightsAndStatistics_CopiesCounters()
    {
        using var model = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 10, CifarStem = true });
        using var average = new WeightAverage(model, decay: 0.75);
        var live = model.state_dict();
        var averaged = average.Model.state_dict();
        var before = live.ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        using (no_grad())
        {
            foreach (var (name, value) in live)
            {
                if (value.is_floating_point())
                {
                    value.add_(1);
                }
                else
                {
                    value.fill_(7);
                }
            }
        }

        average.Update(steps: 1000); // (1 + 1000) / (10 + 1000) > 0.75, so the decay is 0.75

        Assert.Equal(0.75, average.DecayAt(1000));
        foreach (var (name, value) in averaged)
        {
            if (value.is_floating_point())
            {
                // 0.75 x old + 0.25 x (old + 1)
                using var expected = before[name] + 0.25;
                Assert.True(value.allclose(expected, rtol: 0, atol: 1e-5), name);
            }
            else
            {
                Assert.True(value.eq(7).all().item<bool>(), $"{name} is copied");
            }
        }
        Assert.Contains(averaged.Keys, k => k.EndsWith("running_var", StringComparison.Ordinal));
        Assert.Contains(averaged.Keys, k => k.EndsWith("num_batches_tracked", StringComparison.Ordinal));
        Assert.False(average.Model.training);
    }

    [Fact]
    public void Update_LeavesFrozenParametersExactlyAsTheyWere()
    {
        using var model = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 10, CifarStem = true });
        foreach (var (_, parameter) in model.named_parameters().Where(p => p.name.StartsWith("features.", StringComparison.Ordinal)))
        {
            parameter.requires_grad = false;
        }
        using var average = new WeightAverage(model, decay: 0.999);
        var frozenName = model.named_parameters().First(p => !p.parameter.requires_grad).name;
        var trainedName = model.named_parameters().First(p => p.parameter.requires_grad).name;
        var live = model.state_dict();
        for (int step = 0; step < 50; step++)
        {
            average.Update(step);
        }
        using (no_grad())
        {
            live[trainedName].add_(1);
        }
        average.Update(50);

        var averaged = average.Model.state_dict();
        // d x w + (1 - d) x w rounds differently from w for some weights; a frozen weight must not go through it.
        Assert.True(averaged[frozenName].eq(live[frozenName]).all().item<bool>(), frozenName);
        foreach (var (name, parameter) in model.named_parameters().Where(p => !p.parameter.requires_grad))
        {
            Assert.True(averaged[name].eq(parameter).all().item<bool>(), name);
        }
        Assert.False(averaged[trainedName].eq(live[trainedName]).all().item<bool>(), $"{trainedName} is averaged");
    }

    [Fact]
    public void DecayAt_StartsLowSoTheInitialisationFades()
    {
        using var model = EfficientNetModel.Create("b0", new EfficientNetOptions { NumClasses = 10, CifarStem = true });
        using var average = new WeightAverage(model, decay: 0.999);
        Assert.Equal(0.1, average.DecayAt(0), Exact);
        Assert.Equal(0.5, average.DecayAt(8), Exact);
        Assert.Equal(0.999, average.DecayAt(1_000_000), Exact);
    }

    [Fact]
    public void Run_WithAverage_SavesTheAverageAsBestAndFinal()
    {
        using var dir = new TempDir();
        var options = new TrainOptions
        {
            Data = Cifar,
            Epochs = 1,
            BatchSize = 16,
            TrainLimit = 48,
            ValFraction = 0.002,
            Seed = 5,
            Threads = 2,
            EmaDecay = 0.5,
            RestoreBestWeights = false,
        };
        var result = Trainer.Train(options, dir.File("run"));

        using var last = WeightsFile.Read(result.LastCheckpointPath);
        using var final = WeightsFile.Read(result.FinalModelPath);
        using var best = WeightsFile.Read(result.BestModelPath);
        int compared = 0;
        foreach (var (name, saved) in final.Tensors)
        {
            TensorAssert.Identical(last.Tensors[WeightAverage.CheckpointPrefix + name], saved);
            TensorAssert.Identical(saved, best.Tensors[name]);
            compared++;
        }
        Assert.Equal(360, compared);
        // The trained weights themselves differ from the average (after 3 steps with decay 0.5, they must).
        Assert.Contains(final.Tensors, kv => kv.Value.is_floating_point() && !kv.Value.equal(last.Tensors[kv.Key]).all().item<bool>());
    }
}
