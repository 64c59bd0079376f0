namespace Qcow2Mount.Qcow2.Check;

/// <summary>What <see cref="ImageChecker.Repair(string, RepairMode, CheckOptions?)"/> may fix (qemu-img check -r).</summary>
[Flags]
public enum RepairMode
{
    /// <summary>Report only; nothing is written.</summary>
    None = 0,

    /// <summary>Lower refcounts that are higher than the references (-r leaks).</summary>
    Leaks = 1,

    /// <summary>Raise too-low refcounts, fix COPIED flags, rebuild broken refcount structures.</summary>
    Errors = 2,

    /// <summary>Both (-r all).</summary>
    All = Leaks | Errors,
}
