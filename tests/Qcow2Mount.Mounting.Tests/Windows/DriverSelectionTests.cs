using Qcow2Mount.Mounting.Windows;

namespace Qcow2Mount.Mounting.Tests.Windows;

/// <summary><c>Mount:FileSystem</c> to a driver, for every combination of what is installed and what this build contains.</summary>
[TestFixture]
internal sealed class DriverSelectionTests
{
    private static readonly InstalledDrivers Both = new(@"C:\Program Files (x86)\WinFsp\bin\winfsp-x64.dll", @"C:\Windows\System32\dokan2.dll");
    private static readonly InstalledDrivers OnlyWinFsp = Both with { DokanLibrary = null };
    private static readonly InstalledDrivers OnlyDokan = Both with { WinFspLibrary = null };
    private static readonly string[] AllAdapters = [FileSystemDrivers.WinFsp, FileSystemDrivers.Dokan];

    [Test]
    public void Auto_prefers_WinFsp_then_Dokany()
    {
        Assert.That(Choose("auto", Both).Driver, Is.EqualTo("winfsp"));
        Assert.That(Choose("auto", OnlyWinFsp).Driver, Is.EqualTo("winfsp"));
        Assert.That(Choose("auto", OnlyDokan).Driver, Is.EqualTo("dokan"));
        Assert.That(Choose(null, OnlyDokan).Driver, Is.EqualTo("dokan"), "blank means auto");
        Assert.That(Choose("AUTO", Both).Driver, Is.EqualTo("winfsp"), "any case");
    }

    [Test]
    public void Auto_without_drivers_names_both_and_where_to_get_them_in_one_line()
    {
        var choice = Choose("auto", InstalledDrivers.None);
        Assert.That(choice.Driver, Is.Null);
        Assert.That(choice.Problem, Is.EqualTo(FileSystemDrivers.NoWindowsDriver));
        Assert.That(choice.Problem, Does.Contain("WinFsp").And.Contain("https://winfsp.dev/rel/")
            .And.Contain("Dokany 2.x").And.Contain("https://github.com/dokan-dev/dokany/releases"));
        Assert.That(choice.Problem, Does.Not.Contain('\n'));
    }

    [Test]
    public void Auto_skips_an_installed_driver_whose_adapter_is_not_in_the_build()
    {
        Assert.That(Choose("auto", Both, [FileSystemDrivers.Dokan]).Driver, Is.EqualTo("dokan"));
        var none = Choose("auto", OnlyWinFsp, [FileSystemDrivers.Dokan]);
        Assert.That(none.Driver, Is.Null);
        Assert.That(none.Problem, Does.StartWith("WinFsp is installed, but this build of qcow2mount has no adapter for it"));
        Assert.That(Choose("auto", Both, []).Problem, Does.StartWith("WinFsp and Dokany 2.x are installed, but"));
    }

    [Test]
    public void A_named_driver_is_used_or_refused_with_its_own_download()
    {
        Assert.That(Choose("dokan", Both).Driver, Is.EqualTo("dokan"), "named beats the auto preference");
        Assert.That(Choose("winfsp", OnlyWinFsp).Driver, Is.EqualTo("winfsp"));
        Assert.That(Choose("winfsp", OnlyDokan).Problem,
            Is.EqualTo("Mount:FileSystem=winfsp, but WinFsp is not installed; install it (https://winfsp.dev/rel/) or set Mount:FileSystem=auto"));
        Assert.That(Choose("dokan", OnlyWinFsp).Problem, Does.Contain("Dokany 2.x is not installed").And.Contain(FileSystemDrivers.DokanDownload));
        Assert.That(Choose("dokan", Both, [FileSystemDrivers.WinFsp]).Problem, Does.StartWith("Dokany 2.x is installed, but this build"));
    }

    [Test]
    public void Fuse_is_for_Linux_and_the_Windows_drivers_for_Windows()
    {
        Assert.That(Choose("fuse", Both).Problem, Does.StartWith("Mount:FileSystem=fuse is for Linux"));
        Assert.That(DriverSelection.Choose("auto", onWindows: false, InstalledDrivers.None, []).Driver, Is.EqualTo("fuse"));
        Assert.That(DriverSelection.Choose("fuse", onWindows: false, InstalledDrivers.None, []).Driver, Is.EqualTo("fuse"));
        Assert.That(DriverSelection.Choose("winfsp", onWindows: false, Both, AllAdapters).Problem, Does.StartWith("Mount:FileSystem=winfsp needs Windows"));
    }

    [Test]
    public void An_unknown_value_is_refused_with_the_known_ones()
    {
        Assert.That(FileSystemDrivers.Parse("ntfs"), Is.Null);
        Assert.That(Choose("ntfs", Both).Problem, Is.EqualTo("Mount:FileSystem is 'ntfs'; it must be one of auto, winfsp, dokan, fuse"));
    }

    [Test]
    public void Installed_drivers_describe_themselves_for_status_and_config()
    {
        Assert.That(Both.ToString(), Is.EqualTo("winfsp, dokan"));
        Assert.That(OnlyDokan.ToString(), Is.EqualTo("dokan"));
        Assert.That(InstalledDrivers.None.ToString(), Is.EqualTo("none"));
    }

    [Test]
    public void The_stand_in_host_refuses_every_mount_with_the_reason()
    {
        var host = new UnavailableFileSystemHost("auto", FileSystemDrivers.NoWindowsDriver);
        Assert.That(host.IsAvailable(out string reason), Is.False);
        Assert.That(reason, Is.EqualTo(FileSystemDrivers.NoWindowsDriver));
        Assert.That(host.Name, Is.EqualTo("auto"));
        var ex = Assert.Throws<VolumeException>(() => host.Mount(null!, "M:", new MountOptions()));
        Assert.That(ex!.Code, Is.EqualTo(VolumeErrorCode.NotSupported));
    }

    private static DriverChoice Choose(string? configured, InstalledDrivers installed, string[]? compiled = null) =>
        DriverSelection.Choose(configured, onWindows: true, installed, compiled ?? AllAdapters);
}
