namespace Qcow2Mount.Explorer.Tests;

/// <summary>
/// The MSI under Wine's Windows Installer, as a user would run it: install, what Explorer would find, the launcher's
/// error path, per-user registration, upgrade and downgrade, and an uninstall that leaves the prefix as it was.
/// The steps build on each other, in order, in one prefix.
/// </summary>
[NonParallelizable]
internal class WineInstallTests
{
    private const string Classes = @"HKLM\Software\Classes";
    private const string InstallFolder = @"C:\Program Files\Qcow2Mount\";
    private const string EnvironmentKey = @"HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Environment";
    private const string UninstallKey = @"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall";

    private string msi = "";
    private string version = "";
    private string productCode = "";
    private WinePrefix? wine;
    private string work = "";
    private (HashSet<string> Files, HashSet<string> Keys, string Registry) before;
    private string? pathBefore;

    private WinePrefix Wine => wine ?? throw new InvalidOperationException("no prefix");

    private string Installed(string file) => Path.Combine(Wine.DriveC, "Program Files", "Qcow2Mount", file);

    [OneTimeSetUp]
    public void CreatePrefix()
    {
        msi = Tools.Msi();
        var properties = Tools.MsiTable(msi, "Property").ToDictionary(r => r[0], r => r[1]);
        version = properties["ProductVersion"];
        productCode = properties["ProductCode"];
        wine = WinePrefix.Create();
        work = Directory.CreateTempSubdirectory("qcow2mount-msi-").FullName;
        before = Wine.Snapshot();
        pathBefore = Wine.RegistryValue(EnvironmentKey, "Path");
    }

    [OneTimeTearDown]
    public void RemovePrefix()
    {
        wine?.Dispose();
        if (work.Length > 0)
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Test]
    [Order(1)]
    public void Install_puts_the_files_the_verbs_the_icon_and_the_PATH_entry_in_place()
    {
        var (exit, _, error) = Wine.Wine("msiexec", "/i", WinePrefix.WindowsPath(msi), "/qn");
        Assert.That(exit, Is.Zero, $"msiexec /i: {error}");

        // Explorer's view: every value of the registration, nothing more, under HKLM classes.
        var expected = ExplorerRegistration.Values(InstallFolder);
        foreach (string root in new[] { ExplorerRegistration.Extension, ExplorerRegistration.ProgId })
        {
            var found = Wine.RegistryTree($@"{Classes}\{root}");
            var wanted = expected.Where(v => v.Key == root || v.Key.StartsWith(root + "\\", StringComparison.Ordinal))
                .Select(v => (v.Key == root ? "" : v.Key[(root.Length + 1)..], v.Name, v.Data)).ToHashSet();
            Assert.That(found, Is.EquivalentTo(wanted), root);
        }

        Assert.That(Wine.RegistryTree($@"{Classes}\{ExplorerRegistration.ProgId}\shell\mount\command")!.Single().Data,
            Is.EqualTo("\"C:\\Program Files\\Qcow2Mount\\qcow2mountw.exe\" mount \"%1\""), "double-click");

        // Every file of the File table, and the icon the DefaultIcon value names.
        var fileCount = Tools.MsiTable(msi, "File").Count;
        int installed = Directory.EnumerateFiles(Path.Combine(Wine.DriveC, "Program Files"), "*", SearchOption.AllDirectories)
            .Count(f => f.Contains("Qcow2Mount", StringComparison.Ordinal));
        Assert.That(installed, Is.EqualTo(fileCount));
        Assert.That(File.Exists(Installed(ExplorerRegistration.FileIconName)), Is.True);
        Assert.That(File.Exists(Installed(ExplorerRegistration.LauncherFileName)), Is.True);

        // qcow2mount runs from the install folder, and that folder is on the machine PATH once, the rest unchanged.
        var (versionExit, output, versionError) = Wine.Wine(InstallFolder + "qcow2mount.exe", "--version");
        Assert.That(versionExit, Is.Zero, versionError);
        Assert.That(output.Trim(), Does.StartWith(version));
        Assert.That(Wine.RegistryValue(EnvironmentKey, "Path"), Is.EqualTo(pathBefore + @";C:\Program Files\Qcow2Mount"));

        // The uninstall entry: name, publisher, version, and the product icon Windows shows there.
        var entry = Wine.RegistryTree($@"{UninstallKey}\{productCode}")!;
        Assert.That(entry, Does.Contain(("", "DisplayName", "Qcow2Mount")).And.Contain(("", "Publisher", "Qcow2Mount"))
            .And.Contain(("", "DisplayVersion", version)));
        var icon = Wine.RegistryTree(@"HKLM\Software\Classes\Installer\Products")!.Single(v => v.Name == "ProductIcon").Data;
        Assert.That(icon, Does.EndWith(@"\qcow2mount.ico"));
        Assert.That(File.Exists(Path.Combine(Wine.DriveC, icon[3..].Replace('\\', '/'))), Is.True, icon);
    }

    [Test]
    [Order(2)]
    public void The_PowerShell_module_is_where_PowerShell_7_finds_it_for_all_users()
    {
        // The module's folder and the folders wixl-heat made below it.
        var folders = new HashSet<string> { "MODULEDIR" };
        var directories = Tools.MsiTable(msi, "Directory");
        while (directories.Where(r => folders.Contains(r[1])).Select(r => r[0]).Except(folders).ToList() is { Count: > 0 } more)
        {
            folders.UnionWith(more);
        }

        var moduleFiles = Tools.MsiTable(msi, "Component").Where(r => folders.Contains(r[2])).ToList();
        if (moduleFiles.Count == 0)
        {
            Assert.Ignore("the MSI was built without the PowerShell module (artifacts/module/Qcow2Mount/<version> did not exist)");
        }

        string manifest = Path.Combine(Wine.DriveC, "Program Files", "PowerShell", "Modules", "Qcow2Mount", version, "Qcow2Mount.psd1");
        Assert.That(File.Exists(manifest), Is.True, manifest);
        Assert.That(File.ReadAllText(manifest), Does.Match($@"ModuleVersion\s*=\s*'{System.Text.RegularExpressions.Regex.Escape(version)}'"));
    }

    [Test]
    [Order(3)]
    public void The_launcher_reports_a_failed_mount_in_its_dialog_and_exits()
    {
        var (exit, transcript) = Launch("mount", Image("my disk.qcow2"));
        Assert.That(exit, Is.EqualTo(1));
        var cli = Wine.Wine(InstallFolder + "qcow2mount.exe", "mount", WinePrefix.WindowsPath(Image("my disk.qcow2")), @"Y:\");
        Assert.That(cli.ExitCode, Is.Not.Zero);
        string message = cli.Error.Trim().Replace("qcow2mount: ", "", StringComparison.Ordinal);
        // The same one-line error the CLI gives (no driver under Wine), in one dialog.
        Assert.That(transcript, Is.EqualTo(new[] { $"error: Could not mount my disk.qcow2:  {message}" }));
    }

    [Test]
    [Order(4)]
    public void The_launcher_refuses_a_command_line_no_verb_registers()
    {
        var (exit, transcript) = Launch("serve", Image("my disk.qcow2"));
        Assert.That(exit, Is.EqualTo(2));
        Assert.That(transcript, Has.Length.EqualTo(1));
        Assert.That(transcript[0], Does.StartWith("error: usage: qcow2mountw mount"));
    }

    [Test]
    [Order(5)]
    public void Register_for_the_user_writes_the_same_keys_under_HKCU_and_unregister_removes_them()
    {
        var (exit, _, error) = Wine.Wine(InstallFolder + "qcow2mount.exe", "register", "--user");
        Assert.That(exit, Is.Zero, error);
        var found = Wine.RegistryTree(@"HKCU\Software\Classes\" + ExplorerRegistration.ProgId)!;
        Assert.That(found, Does.Contain((@"shell\unmount\command", "", "\"C:\\Program Files\\Qcow2Mount\\qcow2mountw.exe\" unmount \"%1\"")));
        Assert.That(found, Has.Count.EqualTo(ExplorerRegistration.Values(InstallFolder).Count(v => v.Key.StartsWith(ExplorerRegistration.ProgId, StringComparison.Ordinal))));

        (exit, _, error) = Wine.Wine(InstallFolder + "qcow2mount.exe", "unregister", "--user");
        Assert.That(exit, Is.Zero, error);
        Assert.That(Wine.RegistryTree(@"HKCU\Software\Classes\" + ExplorerRegistration.ProgId), Is.Null);
        Assert.That(Wine.RegistryTree(@"HKCU\Software\Classes\" + ExplorerRegistration.Extension), Is.Null);
        Assert.That(Wine.RegistryTree($@"{Classes}\{ExplorerRegistration.ProgId}"), Is.Not.Null, "the machine registration stays");
    }

    [Test]
    [Order(6)]
    public void A_newer_version_replaces_this_one_and_this_one_then_refuses_to_install()
    {
        string newer = NewerCopy();
        var (exit, _, error) = Wine.Wine("msiexec", "/i", WinePrefix.WindowsPath(newer), "/qn");
        Assert.That(exit, Is.Zero, $"msiexec /i newer: {error}");
        Assert.That(Products(), Is.EqualTo(new[] { NewerVersion }), "one product, the newer one");
        Assert.That(Wine.RegistryValue(EnvironmentKey, "Path"), Is.EqualTo(pathBefore + @";C:\Program Files\Qcow2Mount"), "one PATH entry");

        (exit, _, _) = Wine.Wine("msiexec", "/i", WinePrefix.WindowsPath(msi), "/qn");
        Assert.That(exit, Is.Not.Zero, "an older MSI installs over a newer one");
        Assert.That(Products(), Is.EqualTo(new[] { NewerVersion }));
    }

    [Test]
    [Order(7)]
    public void Uninstall_stops_the_service_and_leaves_the_prefix_as_it_was()
    {
        // A running service of ours (the launcher starts it, even when the mount then fails).
        Launch("mount", Image("my disk.qcow2"));
        Assert.That(Wine.Wine(InstallFolder + "qcow2mount.exe", "status").ExitCode, Is.Zero, "the service runs");

        var (exit, output, error) = Wine.Wine("msiexec", "/x", WinePrefix.WindowsPath(Path.Combine(work, "newer.msi")), "/qn");
        Assert.That(exit, Is.Zero, $"msiexec /x: {error}");
        Assert.That(output, Does.Contain("stopped the mount service"), "the uninstall stops the service first");
        Assert.That(Products(), Is.Empty);
        Assert.That(Wine.RegistryValue(EnvironmentKey, "Path"), Is.EqualTo(pathBefore));

        var after = Wine.Snapshot();
        // Keys every Windows has and a new Wine prefix lacks: Windows Installer's own bookkeeping, created empty on first use.
        string[] installerOwn =
        [
            @"Software\\Classes\\Installer\\Features", @"Software\\Classes\\Installer\\Products", @"Software\\Classes\\Installer\\UpgradeCodes",
            @"Software\\Microsoft\\Windows\\CurrentVersion\\Installer\\UpgradeCodes",
            @"Software\\Microsoft\\Windows\\CurrentVersion\\Installer\\UserData\\S-1-5-18\\Components",
            @"Software\\Microsoft\\Windows\\CurrentVersion\\Installer\\UserData\\S-1-5-18\\Products",
            // HKCU\Software\Classes, which register --user writes below: every Windows profile has it, a new Wine prefix not.
            @"Software\\Classes",
        ];
        // The service's log under the user's %LOCALAPPDATA%\Qcow2Mount is the user's data, as on Windows, where an
        // uninstall cannot reach every profile: README says where it stays.
        string userLogs = Path.Combine("AppData", "Local", "Qcow2Mount");
        Assert.That(after.Files.Except(before.Files)
            .Where(f => !f.Equals(Path.Combine("windows", "Installer"), StringComparison.OrdinalIgnoreCase))
            .Where(f => !f.Contains(userLogs, StringComparison.OrdinalIgnoreCase)), Is.Empty);
        Assert.That(after.Keys.Except(before.Keys).Except(installerOwn, StringComparer.OrdinalIgnoreCase), Is.Empty);
        Assert.That(after.Registry.Split('\n').Where(l => l.Contains("qcow2", StringComparison.OrdinalIgnoreCase)), Is.Empty);
    }

    private string NewerVersion
    {
        get
        {
            var v = Version.Parse(version);
            return new Version(v.Major, v.Minor, v.Build + 1).ToString();
        }
    }

    /// <summary>This MSI as the next version would be: higher ProductVersion, its own ProductCode and package code.</summary>
    private string NewerCopy()
    {
        string copy = Path.Combine(work, "newer.msi");
        File.Copy(msi, copy, overwrite: true);
        foreach (var query in new[]
        {
            $"UPDATE Property SET Value='{NewerVersion}' WHERE Property='ProductVersion'",
            $"UPDATE Property SET Value='{{{Guid.NewGuid().ToString().ToUpperInvariant()}}}' WHERE Property='ProductCode'",
        })
        {
            var (exit, _, error) = Tools.Run("msibuild", [copy, "-q", query]);
            Assert.That(exit, Is.Zero, $"msibuild {query}: {error}");
        }

        var summary = Tools.Run("msibuild", [copy, "-s", "Installation Database", "Qcow2Mount", "x64;1033", "{" + Guid.NewGuid().ToString().ToUpperInvariant() + "}"]);
        Assert.That(summary.ExitCode, Is.Zero, summary.Error);
        return copy;
    }

    /// <summary>The versions of every installed product named Qcow2Mount (their uninstall entries).</summary>
    private List<string> Products()
    {
        var entries = Wine.RegistryTree(UninstallKey) ?? [];
        var ours = entries.Where(v => v.Name == "DisplayName" && v.Data == "Qcow2Mount").Select(v => v.Key).ToList();
        return ours.Select(key => entries.Single(v => v.Key == key && v.Name == "DisplayVersion").Data).ToList();
    }

    private string Image(string name)
    {
        string path = Path.Combine(work, name);
        if (!File.Exists(path))
        {
            File.Copy(Path.Combine(RepositoryRoot(), "assets", "sample.qcow2"), path);
        }

        return path;
    }

    /// <summary>Runs the launcher with its dialogs written to a transcript file; returns its exit code and the transcript's lines.</summary>
    private (int ExitCode, string[] Transcript) Launch(params string[] args)
    {
        string transcript = Path.Combine(work, $"dialogs-{Guid.NewGuid():N}.txt");
        var arguments = new List<string> { InstallFolder + ExplorerRegistration.LauncherFileName };
        arguments.AddRange(args.Select(a => File.Exists(a) ? WinePrefix.WindowsPath(a) : a));
        var (exit, _, _) = Wine.Wine(new Dictionary<string, string> { ["QCOW2MOUNT_DIALOG_TRANSCRIPT"] = WinePrefix.WindowsPath(transcript) }, [.. arguments]);
        return (exit, File.Exists(transcript) ? File.ReadAllLines(transcript) : []);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Qcow2Mount.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("the repository root (Qcow2Mount.sln) is not above the test's folder");
    }
}
