using System.Text.Json.Nodes;

namespace Qcow2Mount.Cli.Tests;

[TestFixture]
internal sealed class SnapshotListTests
{
    private TempDir _dir = null!;

    [OneTimeSetUp]
    public void CreateImages()
    {
        Qemu.RequireInstalled();
        _dir = new TempDir("cli");
        Qemu.ImgIn(_dir.Path, "create", "-q", "-f", "qcow2", "snaps.qcow2", "8M");
        Qemu.ImgIn(_dir.Path, "snapshot", "-c", "first", "snaps.qcow2");
        Qemu.Io(_dir.Path, "snaps.qcow2", "write -P 1 0 64k");
        Qemu.ImgIn(_dir.Path, "snapshot", "-c", "a rather long snapshot name", "snaps.qcow2");
        Qemu.ImgIn(_dir.Path, "create", "-q", "-f", "qcow2", "none.qcow2", "8M");
    }

    [OneTimeTearDown]
    public void DeleteImages() => _dir?.Dispose();

    [Test]
    public void Text_matches_qemu_img_snapshot_l() =>
        Assert.That(CliRunner.Run("snapshot", "list", _dir.Combine("snaps.qcow2")).Succeeded().Output,
            Is.EqualTo(Qemu.ImgIn(_dir.Path, "snapshot", "-l", "snaps.qcow2")));

    [Test]
    public void Json_is_the_snapshots_array_of_qemu_img_info()
    {
        var ours = JsonNode.Parse(CliRunner.Run("snapshot", "list", "--json", _dir.Combine("snaps.qcow2")).Succeeded().Output);
        var qemu = JsonNode.Parse(Qemu.ImgIn(_dir.Path, "info", "--output=json", "snaps.qcow2"))!["snapshots"];
        Assert.That(JsonNode.DeepEquals(ours, qemu), Is.True, ours?.ToJsonString());
        Assert.That(ours!.AsArray(), Has.Count.EqualTo(2));
    }

    [Test]
    public void No_snapshots_prints_nothing_like_qemu_img()
    {
        Assert.That(CliRunner.Run("snapshot", "list", _dir.Combine("none.qcow2")).Succeeded().Output,
            Is.EqualTo(Qemu.ImgIn(_dir.Path, "snapshot", "-l", "none.qcow2")).And.Empty);
        Assert.That(CliRunner.Run("snapshot", "list", "--json", _dir.Combine("none.qcow2")).Succeeded().Output.Trim(), Is.EqualTo("[]"));
    }
}
