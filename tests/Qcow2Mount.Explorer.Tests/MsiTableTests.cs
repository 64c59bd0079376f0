namespace Qcow2Mount.Explorer.Tests;

/// <summary>
/// The MSI that build.ps1 made (QCOW2MOUNT_MSI), read with msiinfo: its Registry table is the code's Explorer
/// registration row for row, and what wixl would have dropped silently is there.
/// </summary>
internal class MsiTableTests
{
    private const int Hklm = 2;

    [Test]
    public void The_Registry_table_is_the_explorer_registration_under_HKLM_classes()
    {
        string msi = Tools.Msi();
        var rows = Tools.MsiTable(msi, "Registry")
            .Where(r => r[5] == "ExplorerRegistration")
            .Select(r => (Root: int.Parse(r[1], System.Globalization.CultureInfo.InvariantCulture), Key: r[2], Name: r[3], Value: r[4]))
            .ToList();
        var expected = ExplorerRegistration.Values("[INSTALLDIR]")
            .Select(v => (Root: Hklm, Key: @"Software\Classes\" + v.Key, v.Name, Value: v.Data))
            .ToList();
        Assert.That(rows, Is.EquivalentTo(expected));
    }

    [Test]
    public void No_other_table_writes_registry_values_outside_the_registration()
    {
        string msi = Tools.Msi();
        var components = Tools.MsiTable(msi, "Registry").Select(r => r[5]).Distinct();
        Assert.That(components, Is.EquivalentTo(new[] { "ExplorerRegistration" }));
    }

    [Test]
    public void The_executables_and_the_file_icon_are_installed_under_Program_Files_Qcow2Mount()
    {
        string msi = Tools.Msi();
        var files = Tools.MsiTable(msi, "File").Select(r => r[2]).ToList();
        Assert.That(files, Does.Contain("qcow2mount.exe").And.Contain(ExplorerRegistration.LauncherFileName).And.Contain(ExplorerRegistration.FileIconName)
            .And.Contain("coreclr.dll"), "the self-contained runtime is harvested too");
        Assert.That(files, Has.Count.GreaterThan(150));
        var directories = Tools.MsiTable(msi, "Directory").ToDictionary(r => r[0], r => (Parent: r[1], Name: r[2]));
        Assert.That(directories["INSTALLDIR"], Is.EqualTo(("ProgramFiles64Folder", "Qcow2Mount")));
        Assert.That(directories["MODULEDIR"].Parent, Is.EqualTo("ModuleFolder"));
        Assert.That(directories["ModuleFolder"], Is.EqualTo(("PowerShellModules", "Qcow2Mount")));
        Assert.That(directories["PowerShellModules"], Is.EqualTo(("PowerShellFolder", "Modules")));
        Assert.That(directories["PowerShellFolder"], Is.EqualTo(("ProgramFiles64Folder", "PowerShell")));
    }

    [Test]
    public void Custom_actions_run_the_installed_exe_with_the_types_wixl_would_drop()
    {
        string msi = Tools.Msi();
        var actions = Tools.MsiTable(msi, "CustomAction").ToDictionary(r => r[0], r => (Type: int.Parse(r[1], System.Globalization.CultureInfo.InvariantCulture), Source: r[2], Target: r[3]));
        Assert.Multiple(() =>
        {
            // 18: an exe from the File table; 1024 deferred; 512 commit; 2048 no impersonation; 64 ignore the exit code.
            Assert.That(actions["AddToPath"], Is.EqualTo((18 + 1024 + 512 + 2048, "qcow2mount.exe", "path add")));
            Assert.That(actions["RemoveFromPath"], Is.EqualTo((18 + 64 + 1024 + 2048, "qcow2mount.exe", "path remove")));
            Assert.That(actions["StopService"], Is.EqualTo((18 + 64 + 1024, "qcow2mount.exe", "stop")));
        });
        var sequence = Tools.MsiTable(msi, "InstallExecuteSequence").ToDictionary(r => r[0], r => (Condition: r[1], Number: int.Parse(r[2], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.That(sequence["StopService"].Number, Is.GreaterThan(sequence["InstallInitialize"].Number).And.LessThan(sequence["RemoveFiles"].Number));
        Assert.That(sequence["RemoveFromPath"].Number, Is.GreaterThan(sequence["StopService"].Number).And.LessThan(sequence["RemoveFiles"].Number));
        Assert.That(sequence["AddToPath"].Number, Is.GreaterThan(sequence["InstallFiles"].Number).And.LessThan(sequence["InstallFinalize"].Number));
        Assert.That(sequence["StopService"].Condition, Is.EqualTo("REMOVE~=\"ALL\""));
        Assert.That(sequence["AddToPath"].Condition, Is.EqualTo("NOT REMOVE~=\"ALL\""));
    }

    [Test]
    public void Upgrades_replace_older_and_same_versions_and_refuse_newer_ones()
    {
        string msi = Tools.Msi();
        var properties = Tools.MsiTable(msi, "Property").ToDictionary(r => r[0], r => r[1]);
        string version = properties["ProductVersion"];
        var upgrade = Tools.MsiTable(msi, "Upgrade").ToDictionary(r => r[6], r => (Min: r[1], Max: r[2], Attributes: int.Parse(r[4], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Multiple(() =>
        {
            // 256 + 512: minimum and maximum inclusive, so a rebuild of this version replaces its predecessor.
            Assert.That(upgrade["WIX_UPGRADE_DETECTED"], Is.EqualTo(("0.0.0", version, 768)));
            Assert.That(upgrade["WIX_DOWNGRADE_DETECTED"], Is.EqualTo((version, "", 2)), "detect only, above this version");
            Assert.That(Tools.MsiTable(msi, "LaunchCondition").Single()[0], Is.EqualTo("NOT WIX_DOWNGRADE_DETECTED"));
            Assert.That(properties["ARPPRODUCTICON"], Is.EqualTo("qcow2mount.ico"));
            Assert.That(properties["Manufacturer"], Is.EqualTo("Qcow2Mount"));
            Assert.That(properties["ALLUSERS"], Is.EqualTo("1"), "per-machine");
        });
        Assert.That(Path.GetFileName(msi), Is.EqualTo($"Qcow2Mount-{version}-x64.msi"));
    }
}
