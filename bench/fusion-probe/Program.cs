using System.Diagnostics;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

EfficientNet.Runtime.NativeAllocator.UseRetainingAllocator();
torch.set_num_threads(2);
// Every BatchNorm followed by SiLU in B0 with the CIFAR stem at 32x32 (effnet summary b0 --cifar --resolution 32), batch 128: C, H, W, count.
long[][] layers = [[96, 32, 32, 1], [144, 16, 16, 3], [32, 32, 32, 2], [96, 16, 16, 1], [240, 8, 8, 3], [672, 4, 4, 5], [144, 8, 8, 1], [480, 4, 4, 6],
    [1280, 2, 2, 1], [1152, 2, 2, 8], [240, 4, 4, 1], [672, 2, 2, 1]];
double[] total = new double[4];
Console.WriteLine("shape               fwd libtorch  fused  ratio | bwd libtorch  fused  ratio | max rel err dx, dgamma, dbeta");
foreach (var layer in layers)
{
    long[] shape = [128, layer[0], layer[1], layer[2]];
    using var scope = NewDisposeScope();
    long c = shape[1];
    var x = (randn(shape) * 2 + 0.5).permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2).requires_grad_();
    var w = (rand(c) + 0.5).requires_grad_(); var b = (randn(c) * 0.1).requires_grad_();
    var rm = zeros(c); var rv = ones(c);
    var dy = randn(shape).permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
    var y = empty_like(x); var m = empty(c); var s = empty(c);
    var dx = empty_like(x); var dg = empty(c); var db = empty(c);

    var reference = nn.functional.silu(nn.functional.batch_norm(x, rm, rv, w, b, training: true));
    var grads = torch.autograd.grad([reference], [x, w, b], [dy], retain_graph: true);
    Fused.Forward(x, y, w, b, m, s);
    Fused.Backward(x, dy, dx, w, b, m, s, dg, db);
    static double Rel(Tensor a, Tensor r) => ((a - r).abs().max() / r.abs().max()).item<float>();
    string err = $"{Rel(dx, grads[0]):E1}, {Rel(dg, grads[1]):E1}, {Rel(db, grads[2]):E1}";

    double tf0 = Median(() => { using var sc = NewDisposeScope(); nn.functional.silu(nn.functional.batch_norm(x, rm, rv, w, b, training: true)); });
    double tf1 = Median(() => Fused.Forward(x, y, w, b, m, s));
    double tb0 = Median(() => { using var sc = NewDisposeScope(); torch.autograd.grad([reference], [x, w, b], [dy], retain_graph: true); });
    double tb1 = Median(() => Fused.Backward(x, dy, dx, w, b, m, s, dg, db));
    total[0] += tf0 * layer[3]; total[1] += tf1 * layer[3]; total[2] += tb0 * layer[3]; total[3] += tb1 * layer[3];
    Console.WriteLine($"{string.Join("x", shape),-18} {tf0,9:F2} {tf1,6:F2} {tf0 / tf1,6:F2} | {tb0,9:F2} {tb1,6:F2} {tb0 / tb1,6:F2} | {err}");
}
Console.WriteLine($"sum over the {layers.Sum(l => l[3])} layers: forward {total[0]:F1} -> {total[1]:F1} ms, backward {total[2]:F1} -> {total[3]:F1} ms; saved {total[0] - total[1] + total[2] - total[3]:F1} ms per step");

static double Median(Action f)
{
    f(); f();
    var t = new List<double>();
    for (int i = 0; i < 21; i++) { var sw = Stopwatch.StartNew(); f(); t.Add(sw.Elapsed.TotalMilliseconds); }
    t.Sort(); return t[t.Count / 2];
}

static class Fused
{
    [DllImport("bnsilu")]
    static extern void bn_silu_fwd(IntPtr x, IntPtr y, IntPtr g, IntPtr b, IntPtr m, IntPtr s, long rows, long c, float eps);
    [DllImport("bnsilu")]
    static extern void bn_silu_bwd(IntPtr x, IntPtr dy, IntPtr dx, IntPtr g, IntPtr b, IntPtr m, IntPtr s, IntPtr dg, IntPtr db, long rows, long c);
    [DllImport("LibTorchSharp")]
    static extern IntPtr THSTensor_data(IntPtr handle);
    static IntPtr P(Tensor t) => THSTensor_data(t.Handle);
    static long Rows(Tensor x) => x.shape[0] * x.shape[2] * x.shape[3];
    public static void Forward(Tensor x, Tensor y, Tensor w, Tensor b, Tensor m, Tensor s) =>
        bn_silu_fwd(P(x), P(y), P(w), P(b), P(m), P(s), Rows(x), x.shape[1], 1e-5f);
    public static void Backward(Tensor x, Tensor dy, Tensor dx, Tensor w, Tensor b, Tensor m, Tensor s, Tensor dg, Tensor db) =>
        bn_silu_bwd(P(x), P(dy), P(dx), P(w), P(b), P(m), P(s), P(dg), P(db), Rows(x), x.shape[1]);
}
