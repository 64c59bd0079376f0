namespace Qcow2Mount.PowerShell.Tests;

/// <summary>The module as PowerShell sees it: its manifest, its help, and the folder build.ps1 publish lays out.</summary>
[TestFixture]
internal sealed class ModuleTests
{
    [Test]
    public void Manifest_passes_Test_ModuleManifest_with_the_product_version_and_every_cmdlet()
    {
        var result = Pwsh.RunOk($$"""
            $manifest = Test-ModuleManifest {{Pwsh.Quote(Pwsh.ModuleManifest)}}
            $data = Import-PowerShellDataFile {{Pwsh.Quote(Pwsh.ModuleManifest)}}
            $assembly = [Qcow2Mount.PowerShell.Qcow2MountedImage].Assembly
            $cmdlets = $assembly.GetTypes() | ForEach-Object { $_.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false) } |
                ForEach-Object { "$($_.VerbName)-$($_.NounName)" }
            Save-Result @{
                Version = "$($manifest.Version)"
                Declared = @($data.CmdletsToExport | Sort-Object)
                Classes = @($cmdlets | Sort-Object)
                Exported = @((Get-Command -Module Qcow2Mount).Name | Sort-Object)
                Editions = @($data.CompatiblePSEditions)
                Formats = @($data.FormatsToProcess)
                PowerShellVersion = $data.PowerShellVersion
            }
            """);
        var value = result.Value;
        Assert.That(value.GetProperty("Version").GetString(), Is.EqualTo(Pwsh.ProductVersion));
        string[] declared = [.. value.GetProperty("Declared").EnumerateArray().Select(e => e.GetString()!)];
        Assert.That(declared, Has.Length.EqualTo(13));
        Assert.That(value.GetProperty("Classes").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(declared), "CmdletsToExport names every cmdlet class");
        Assert.That(value.GetProperty("Exported").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(declared));
        Assert.That(value.GetProperty("Editions").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "Core" }));
        Assert.That(value.GetProperty("Formats").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "Qcow2Mount.format.ps1xml" }));
    }

    /// <summary>
    /// Get-Help -Full of every exported cmdlet has a synopsis, a description, every parameter described and an
    /// example; about_Qcow2Mount explains the modes and the evidence rules; the MAML is what Build-Help.ps1 makes
    /// of its source now (so neither was edited without the other).
    /// </summary>
    [Test]
    public void Help_documents_every_cmdlet_and_the_committed_help_is_generated_from_its_source()
    {
        using var dir = new TempDir("pwsh-help");
        string generated = dir.Combine("help.xml");
        string buildHelp = Path.Combine(Pwsh.RepositoryRoot, "src", "Qcow2Mount.PowerShell", "Help", "Build-Help.ps1");
        var result = Pwsh.RunOk($$"""
            $common = [System.Management.Automation.Cmdlet]::CommonParameters
            $cmdlets = foreach ($command in Get-Command -Module Qcow2Mount) {
                $help = Get-Help $command.Name -Full
                $described = @($help.parameters.parameter | Where-Object { ($_.description | Out-String).Trim() } | ForEach-Object name)
                [pscustomobject]@{
                    Name = $command.Name
                    Synopsis = "$($help.Synopsis)".Trim()
                    Description = ($help.description | Out-String).Trim()
                    Examples = @($help.examples.example).Count
                    Parameters = @($command.Parameters.Keys | Where-Object { -not $common.Contains($_) })
                    Described = $described
                    Full = ($help | Out-String -Width 200)
                }
            }
            $about = Get-Help about_Qcow2Mount | Out-String
            & {{Pwsh.Quote(buildHelp)}} -ModulePath {{Pwsh.Quote(Pwsh.ModuleManifest)}} -OutFile {{Pwsh.Quote(generated)}}
            Save-Result @{ Cmdlets = @($cmdlets); About = $about }
            """);
        var cmdlets = result.Value.GetProperty("Cmdlets").EnumerateArray().ToList();
        Assert.That(cmdlets, Has.Count.EqualTo(13));
        foreach (var cmdlet in cmdlets)
        {
            string name = cmdlet.GetProperty("Name").GetString()!;
            string synopsis = cmdlet.GetProperty("Synopsis").GetString()!;
            Assert.Multiple(() =>
            {
                // Without help, PowerShell makes the synopsis up from the syntax ("Mount-Qcow2Image [-ImagePath] ...").
                Assert.That(synopsis, Is.Not.Empty.And.Not.StartWith(name), name);
                Assert.That(cmdlet.GetProperty("Description").GetString(), Has.Length.GreaterThan(40), name);
                Assert.That(cmdlet.GetProperty("Examples").GetInt32(), Is.GreaterThanOrEqualTo(1), name);
                Assert.That(cmdlet.GetProperty("Described").EnumerateArray().Select(e => e.GetString()),
                    Is.SupersetOf(cmdlet.GetProperty("Parameters").EnumerateArray().Select(e => e.GetString())), name);
                Assert.That(cmdlet.GetProperty("Full").GetString(), Does.Contain("EXAMPLE 1").IgnoreCase, name);
            });
        }

        string about = result.Value.GetProperty("About").GetString()!;
        Assert.That(about, Does.Contain("EVIDENCE RULES").And.Contain("read-only").And.Contain("overlay").And.Contain("QCOW2MOUNT_EXECUTABLE"));

        string committed = Path.Combine(Pwsh.RepositoryRoot, "src", "Qcow2Mount.PowerShell", "Module", "en-US", "Qcow2Mount.PowerShell.dll-Help.xml");
        Assert.That(File.ReadAllText(generated), Is.EqualTo(File.ReadAllText(committed)),
            "Module/en-US/Qcow2Mount.PowerShell.dll-Help.xml is out of date: run src/Qcow2Mount.PowerShell/Help/Build-Help.ps1 (see its help)");
    }

    /// <summary>
    /// <c>build.ps1 publish</c> (which .ci/run runs first) lays the module out as installed; a pwsh with nothing of
    /// ours in its environment imports that folder by its name and finds the qcow2mount laid beside it.
    /// </summary>
    [Test]
    public void Published_module_folder_imports_on_its_own()
    {
        string moduleRoot = Path.Combine(Pwsh.RepositoryRoot, "artifacts", "module", "Qcow2Mount");
        string versioned = Path.Combine(moduleRoot, Pwsh.ProductVersion);
        if (!File.Exists(Path.Combine(versioned, "Qcow2Mount.psd1")))
        {
            Assert.Ignore($"{versioned} not laid out: run 'pwsh build.ps1 publish' (bash .ci/run does)");
        }

        string service = Path.Combine(versioned, "service", OperatingSystem.IsWindows() ? "qcow2mount.exe" : "qcow2mount");
        Assert.That(File.Exists(service), Is.True, service);
        var result = Pwsh.Run($$"""
            Import-Module {{Pwsh.Quote(moduleRoot)}}
            $module = Get-Module Qcow2Mount
            $image = Get-Qcow2Image {{Pwsh.Quote(Path.Combine(Pwsh.RepositoryRoot, "assets", "sample.qcow2"))}}
            Save-Result @{
                Version = "$($module.Version)"
                Base = $module.ModuleBase
                Format = $image.Format
                Help = (Get-Help Get-Qcow2Image).Synopsis
            }
            """, new Dictionary<string, string?> { ["QCOW2MOUNT_EXECUTABLE"] = null }, importModule: false);
        Assert.That(result.ExitCode, Is.Zero, result.Describe());
        Assert.That(result.Value.GetProperty("Version").GetString(), Is.EqualTo(Pwsh.ProductVersion));
        Assert.That(result.Value.GetProperty("Base").GetString(), Is.EqualTo(versioned));
        Assert.That(result.Value.GetProperty("Format").GetString(), Is.EqualTo("qcow2"));
        Assert.That(result.Value.GetProperty("Help").GetString(), Does.Contain("qemu-img info"));
    }
}
