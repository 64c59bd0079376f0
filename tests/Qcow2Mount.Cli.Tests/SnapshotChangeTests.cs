using System.Text.Json.Nodes;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Cli.Tests;

/// <summary><c>snapshot create|delete|apply IMAGE NAME</c>, checked with qemu-img.</summary>
[TestFixture]
internal sealed class SnapshotChangeTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void CreateImage()
    {
        Qemu.RequireInstalled();
        _dir = new TempDir("cli");
        Qemu.ImgIn(_dir.Path, "create", "-q", "-f", "qcow2", "disk.qcow2", "8M");
        Qemu.Io(_dir.Path, "disk.qcow2", "write -P 1 0 128k");
    }

    [TearDown]
    public void DeleteImage() => _dir?.Dispose();

    [Test]
    public void Create_then_apply_reverts_later_writes_and_qemu_img_agrees()
    {
        var created = CliRunner.Run("snapshot", "create", _dir.Combine("disk.qcow2"), "clean").Succeeded();
        Assert.That(created.Output.Trim(), Is.EqualTo($"Created snapshot 'clean' (id 1) in {_dir.Combine("disk.qcow2")}"));
        Assert.That(SnapshotNames(), Is.EqualTo(new[] { "clean" }));

        Qemu.Io(_dir.Path, "disk.qcow2", "write -P 2 0 64k");
        var applied = CliRunner.Run("snapshot", "apply", _dir.Combine("disk.qcow2"), "clean").Succeeded();
        Assert.That(applied.Output.Trim(), Is.EqualTo($"Applied snapshot 'clean' (id 1) in {_dir.Combine("disk.qcow2")}"));
        Assert.That(Qemu.Io(_dir.Path, "disk.qcow2", "read -P 1 0 128k"), Does.Not.Contain("Pattern verification failed"));
        Assert.That(Qemu.ImgIn(_dir.Path, "check", "disk.qcow2"), Does.Contain("No errors were found"));
    }

    /// <summary>snapshot and resize open for writing: a dirty image (a crash with lazy refcounts) is repaired first, and they say so.</summary>
    [TestCase("snapshot")]
    [TestCase("resize")]
    public void A_writable_command_on_a_dirty_image_reports_the_repair(string command)
    {
        string image = _dir.Combine("dirty.qcow2");
        Qemu.ImgIn(_dir.Path, "create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on", "dirty.qcow2", "8M");
        // qemu-io's abort stops it as a crash would: dirty bit set, refcounts behind the L2 tables.
        ExternalTool.Run("qemu-io", ["-f", "qcow2", "-c", "write -P 3 0 1M", "-c", "flush", "-c", "abort", image]);
        var result = command == "snapshot"
            ? CliRunner.Run("snapshot", "create", image, "after-crash").Succeeded()
            : CliRunner.Run("resize", image, "16M").Succeeded();

        Assert.That(result.Output, Does.Contain("not closed cleanly; its refcounts were rebuilt"));
        Assert.That(Qemu.ImgIn(_dir.Path, "check", "dirty.qcow2"), Does.Contain("No errors were found"));
    }

    [Test]
    public void Delete_by_id_or_name_removes_the_snapshot()
    {
        Qemu.ImgIn(_dir.Path, "snapshot", "-c", "first", "disk.qcow2");
        Qemu.ImgIn(_dir.Path, "snapshot", "-c", "second", "disk.qcow2");
        Assert.That(CliRunner.Run("snapshot", "delete", _dir.Combine("disk.qcow2"), "second").Succeeded().Output,
            Does.StartWith("Deleted snapshot 'second' (id 2)"));
        Assert.That(CliRunner.Run("snapshot", "delete", _dir.Combine("disk.qcow2"), "1").Succeeded().Output,
            Does.StartWith("Deleted snapshot 'first' (id 1)"));
        Assert.That(SnapshotNames(), Is.Empty);
        Assert.That(Qemu.ImgIn(_dir.Path, "check", "disk.qcow2"), Does.Contain("No errors were found"));
    }

    [Test]
    public void Unknown_snapshot_fails_with_the_snapshot_not_found_exit_code()
    {
        var result = CliRunner.Run("snapshot", "apply", _dir.Combine("disk.qcow2"), "missing");
        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.For(Qcow2ErrorCode.SnapshotNotFound)));
        Assert.That(result.Error, Does.Contain("missing"));
    }

    [Test]
    public void Duplicate_name_is_refused_and_the_image_is_unchanged()
    {
        CliRunner.Run("snapshot", "create", _dir.Combine("disk.qcow2"), "x").Succeeded();
        var again = CliRunner.Run("snapshot", "create", _dir.Combine("disk.qcow2"), "x");
        Assert.That(again.ExitCode, Is.EqualTo(ExitCodes.For(Qcow2ErrorCode.InvalidArgument)), again.Error);
        Assert.That(again.Error, Does.Contain("already exists"));
        Assert.That(SnapshotNames(), Is.EqualTo(new[] { "x" }));
    }

    private List<string> SnapshotNames()
    {
        var info = JsonNode.Parse(Qemu.ImgIn(_dir.Path, "info", "--output=json", "disk.qcow2"))!;
        return info["snapshots"]?.AsArray().Select(s => (string)s!["name"]!).ToList() ?? [];
    }
}
