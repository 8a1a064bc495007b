namespace EfficientNet.Training.Options;

/// <summary>
/// Marks an option that each process of a data-parallel job may set for itself (its threads, its device, where it
/// finds files): the processes' agreement check compares only whether it is set.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class PerProcessAttribute : Attribute;
