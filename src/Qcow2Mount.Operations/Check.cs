using Qcow2Mount.Qcow2.Check;

namespace Qcow2Mount.Operations;

/// <summary>What <see cref="ImageOperations.CheckAsync"/> checks, and whether it repairs.</summary>
public sealed record CheckImageOptions
{
    public required string Image { get; init; }

    /// <summary>Null checks only (nothing is written); otherwise repairs leaks, or everything.</summary>
    public RepairMode? Repair { get; init; }

    /// <summary>Check even an image that is being written (it may then look corrupt); not with a repair.</summary>
    public bool ForceShare { get; init; }
}

public static partial class ImageOperations
{
    private const long CheckProgressSteps = 1000;

    /// <summary>
    /// qemu-img check: the image's metadata, with qemu-img's categories (<see cref="CheckResult.ExitCode"/> is its
    /// exit code). Progress is in thousandths. A check without repair stops at the next table or block it walks when
    /// cancelled; a repair only while it is still counting, since stopping one midway would leave half of it done.
    /// </summary>
    public static Task<CheckResult> CheckAsync(CheckImageOptions options, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ForceShare && options.Repair is not null)
        {
            return Task.FromException<CheckResult>(OperationException.Invalid(nameof(options.ForceShare),
                "force-share cannot be used with a repair: a repair needs the image to itself"));
        }

        return RunAsync(() =>
        {
            var checkOptions = new CheckOptions
            {
                Progress = fraction => Report(progress, (long)(fraction * CheckProgressSteps), CheckProgressSteps),
                ForceShare = options.ForceShare,
                CancellationToken = cancellationToken,
            };
            var result = options.Repair is { } mode
                ? ImageChecker.Repair(options.Image, mode, checkOptions)
                : ImageChecker.Check(options.Image, checkOptions);
            Report(progress, CheckProgressSteps, CheckProgressSteps);
            return result;
        }, cancellationToken);
    }
}
