using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2.Check;

/// <summary>
/// <c>qemu-img check</c> for qcow2: rebuilds every refcount from the metadata and compares it with the stored
/// refcounts, then checks the COPIED flags of the active layer. Works on the host file alone (no image cache), so a
/// writer can run it on a dirty image before building its own state.
/// </summary>
public static class ImageChecker
{
    /// <summary>
    /// Checks the image at <paramref name="path"/>, read-only, holding it as a QEMU reader does (an image being
    /// written is refused, since its metadata would be checked half-updated) unless <see cref="CheckOptions.ForceShare"/>.
    /// </summary>
    public static CheckResult Check(string path, CheckOptions? options = null)
    {
        using var file = HostFile.Open(path, writable: false, lockReader: options?.ForceShare != true);
        return Check(file, options);
    }

    /// <summary>Checks an open image. Never writes.</summary>
    public static CheckResult Check(IHostFile file, CheckOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        var result = new CheckResult();
        new CheckRun(file, options ?? new CheckOptions(), RepairMode.None, result).Run();
        return result;
    }

    /// <summary>
    /// Checks and repairs the image at <paramref name="path"/>, opened for writing as its only writer: an image
    /// another writer has open (a writable mount with refcounts still in memory) is refused, not rewritten under it.
    /// </summary>
    public static CheckResult Repair(string path, RepairMode mode, CheckOptions? options = null)
    {
        using var file = HostFile.Open(path, writable: true, lockWriter: true);
        return Repair(file, mode, options);
    }

    /// <summary>
    /// Repairs what <paramref name="mode"/> allows, like <c>qemu-img check -r</c>, then checks the repaired image
    /// again: the result's counts are that second check's, its *Fixed counters and messages the repair's.
    /// </summary>
    /// <exception cref="Qcow2Exception">ReadOnly when <paramref name="file"/> cannot be written.</exception>
    public static CheckResult Repair(IHostFile file, RepairMode mode, CheckOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (mode == RepairMode.None)
        {
            return Check(file, options);
        }

        if (!file.CanWrite)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.ReadOnly, $"{file.Path}: cannot repair an image opened read-only");
        }

        options ??= new CheckOptions();
        var repair = new CheckResult();
        new CheckRun(file, options, mode, repair).Run();
        if (repair.CheckErrors > 0)
        {
            return repair;
        }

        var again = new CheckResult { CorruptionsFixed = repair.CorruptionsFixed, LeaksFixed = repair.LeaksFixed };
        again._messages.AddRange(repair.Messages);
        // The repair is on disk: the second check runs to the end (a cancel now would hide what was repaired), and
        // reports no progress of its own (the bar would go back to the start).
        new CheckRun(file, options with { CancellationToken = CancellationToken.None, Progress = null }, RepairMode.None, again).Run();
        return again;
    }
}
