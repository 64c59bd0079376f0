using Qcow2Mount.Cli.Commands;

namespace Qcow2Mount.Cli.Tests;

/// <summary>--overlay takes an optional PATH, which must name a new file: an existing IMAGE or MOUNTPOINT after it stays positional.</summary>
[TestFixture]
internal sealed class MountArgumentTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void CreateFiles()
    {
        _dir = new TempDir("mountargs");
        File.WriteAllText(_dir.Combine("image.qcow2"), "stand-in");
        Directory.CreateDirectory(_dir.Combine("mnt"));
    }

    [TearDown]
    public void DeleteFiles() => _dir?.Dispose();

    [Test]
    public void The_flag_before_the_mount_point_leaves_it_positional()
    {
        string[] args = ["mount", _dir.Combine("image.qcow2"), "--overlay", _dir.Combine("mnt")];
        Assert.That(MountCommands.NormalizeOverlayFlag(args), Is.EqualTo(new[] { "mount", _dir.Combine("image.qcow2"), _dir.Combine("mnt"), "--overlay" }));
    }

    [Test]
    public void The_flag_before_the_image_leaves_it_positional()
    {
        string[] args = ["mount", "--overlay", _dir.Combine("image.qcow2"), _dir.Combine("mnt"), "--keep-overlay"];
        Assert.That(MountCommands.NormalizeOverlayFlag(args),
            Is.EqualTo(new[] { "mount", _dir.Combine("image.qcow2"), _dir.Combine("mnt"), "--keep-overlay", "--overlay" }));
    }

    [Test]
    public void Global_options_before_the_verb_are_allowed()
    {
        string[] args = ["--verbose", "mount", _dir.Combine("image.qcow2"), "--overlay", _dir.Combine("mnt")];
        Assert.That(MountCommands.NormalizeOverlayFlag(args),
            Is.EqualTo(new[] { "--verbose", "mount", _dir.Combine("image.qcow2"), _dir.Combine("mnt"), "--overlay" }));
    }

    [TestCase("new-overlay.qcow2")]
    [TestCase(null)]
    public void A_new_path_or_none_is_left_to_the_parser(string? overlay)
    {
        string[] args = overlay is null
            ? ["mount", _dir.Combine("image.qcow2"), _dir.Combine("mnt"), "--overlay"]
            : ["mount", _dir.Combine("image.qcow2"), _dir.Combine("mnt"), "--overlay", _dir.Combine(overlay)];
        Assert.That(MountCommands.NormalizeOverlayFlag(args), Is.EqualTo(args));
    }
}
