namespace Qcow2Mount.Qcow2.Check;

/// <summary>
/// The outcome of a check, with the counters <c>qemu-img check --output=json</c> reports. After a repair,
/// <see cref="Corruptions"/> and <see cref="Leaks"/> are what a fresh check of the repaired image finds
/// (qemu-img's "double checking the fixed image"), and the *Fixed counters what the repair fixed.
/// </summary>
public sealed class CheckResult
{
    public int Corruptions { get; internal set; }
    public int Leaks { get; internal set; }
    public int CheckErrors { get; internal set; }
    public int CorruptionsFixed { get; internal set; }
    public int LeaksFixed { get; internal set; }

    /// <summary>Guest clusters of the active layer that have storage (normal, allocated-zero, compressed).</summary>
    public long AllocatedClusters { get; internal set; }

    /// <summary>Guest clusters of the virtual disk.</summary>
    public long TotalClusters { get; internal set; }

    /// <summary>Active-layer clusters that do not follow the previous one on the host.</summary>
    public long FragmentedClusters { get; internal set; }
    public long CompressedClusters { get; internal set; }

    /// <summary>End of the last cluster that is referenced or has a refcount.</summary>
    public long ImageEndOffset { get; internal set; }

    /// <summary>One line per problem (and per repair), worded like qemu-img check's.</summary>
    public IReadOnlyList<string> Messages => _messages;

    internal readonly List<string> _messages = [];

    /// <summary>qemu-img check's exit code: 0 clean, 1 check failed, 2 corruptions, 3 leaks only.</summary>
    public int ExitCode => CheckErrors > 0 ? 1 : Corruptions > 0 ? 2 : Leaks > 0 ? 3 : 0;

    public bool IsClean => ExitCode == 0;

    /// <summary>What a writable open of a dirty image (an unclean stop) did, in one sentence for the user.</summary>
    public string DirtyRepairSummary =>
        $"The image was not closed cleanly; its refcounts were rebuilt ({LeaksFixed} leaks and {CorruptionsFixed} corruptions fixed).";

    public override string ToString() =>
        $"corruptions={Corruptions} leaks={Leaks} check-errors={CheckErrors} corruptions-fixed={CorruptionsFixed} " +
        $"leaks-fixed={LeaksFixed} allocated={AllocatedClusters}/{TotalClusters} fragmented={FragmentedClusters} " +
        $"compressed={CompressedClusters} image-end-offset={ImageEndOffset}";
}
