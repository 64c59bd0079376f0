using Qcow2Mount.Mounting.Windows;

namespace Qcow2Mount.Mounting.Tests.Windows;

public sealed class WindowsNamePatternTests
{
    [TestCase("disk.raw", null, true)]
    [TestCase("disk.raw", "", true)]
    [TestCase("disk.raw", "*", true)]
    [TestCase("disk.raw", "*.raw", true)]
    [TestCase("disk.raw", "*.RAW", true)]
    [TestCase("DISK.RAW", "disk.raw", true)]
    [TestCase("disk.raw", "d*w", true)]
    [TestCase("disk.raw", "d??k.raw", true)]
    [TestCase("disk.raw", "d?k.raw", false)]
    [TestCase("disk.raw", "*.qcow2", false)]
    [TestCase("disk.raw", "disk", false)]
    [TestCase("disk.raw", "disk.raw?", false)]
    [TestCase("snapshots", "*.*", false)]
    [TestCase("a.b.raw", "*.raw", true)]
    [TestCase("a.b.raw", "<.raw", true)]
    [TestCase("snapshots", "<", true)]
    [TestCase("disk.raw", "<", false)]
    [TestCase("disk.raw", "disk>>>>.raw", true)]
    [TestCase("disk.raw", "dis>.raw", true)]
    [TestCase("disk.raw", "di>.raw", false)]
    [TestCase("snapshots", "snapshots\"", true)]
    [TestCase("disk.raw", "disk\"raw", true)]
    [TestCase("disk.raw", "disk\"", false)]
    [TestCase("snapshots", "<\"*", true)]
    public void Matches_like_windows(string name, string? pattern, bool expected)
    {
        Assert.That(WindowsNamePattern.IsMatch(name, pattern), Is.EqualTo(expected));
    }
}
