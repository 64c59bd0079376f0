namespace Qcow2Mount.PowerShell;

/// <summary>What Test-Qcow2Image found (and with -Repair fixed): the counts <c>qemu-img check</c> reports.</summary>
public sealed class Qcow2CheckResult
{
    public required string Path { get; init; }

    /// <summary>True when nothing is wrong (after repairs): no corruptions, no leaks, no check errors.</summary>
    public required bool IsClean { get; init; }

    /// <summary>Metadata errors that can lose or mix up data (after repairs: those still there).</summary>
    public required int Corruptions { get; init; }

    /// <summary>Clusters allocated but referenced by nothing (wasted space, harmless; after repairs: those still there).</summary>
    public required int Leaks { get; init; }

    /// <summary>Errors while checking (unreadable metadata).</summary>
    public required int CheckErrors { get; init; }

    public required int CorruptionsFixed { get; init; }

    public required int LeaksFixed { get; init; }

    public required long TotalClusters { get; init; }

    public required long AllocatedClusters { get; init; }

    public required long FragmentedClusters { get; init; }

    public required long CompressedClusters { get; init; }

    /// <summary>Where the image's last cluster ends in the file.</summary>
    public required long ImageEndOffset { get; init; }
}
