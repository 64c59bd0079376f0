using System.Security.Cryptography;
using System.Text.Json;

namespace Qcow2Mount.PowerShell.Tests;

/// <summary>
/// The cmdlets that work on image files, against QEMU's own tools: what they write, what -WhatIf leaves alone,
/// and the ErrorIds a pipeline of bad images gets while the good ones still run.
/// </summary>
[TestFixture]
internal sealed class ImageCmdletTests
{
    /// <summary>An image with data in several places, one cluster compressed, and one internal snapshot.</summary>
    private static string MakeImage(TempDir dir, string name, byte pattern)
    {
        string plain = dir.Combine(name + ".plain.qcow2");
        string image = dir.Combine(name);
        ExternalTool.Run("qemu-img", ["create", "-q", "-f", "qcow2", plain, "16M"]).EnsureSuccess();
        ExternalTool.Run("qemu-io", ["-c", $"write -P {pattern} 0 1M", "-c", $"write -P {pattern + 1} 5M 64k", "-c", "write -z 6M 1M", plain]).EnsureSuccess();
        ExternalTool.Run("qemu-img", ["convert", "-q", "-c", "-O", "qcow2", plain, image]).EnsureSuccess();
        ExternalTool.Run("qemu-io", ["-c", $"write -P {pattern + 2} 9M 128k", image]).EnsureSuccess();
        File.Delete(plain);
        return image;
    }

    /// <summary>SHA256 (upper-case hex, as Get-FileHash writes it) of what <c>qemu-img convert -O raw</c> makes of the image.</summary>
    private static string QemuRawSha256(TempDir dir, string image)
    {
        string raw = dir.Combine(Path.GetFileName(image) + ".qemu.raw");
        ExternalTool.Run("qemu-img", ["convert", "-O", "raw", image, raw]).EnsureSuccess();
        using var stream = File.OpenRead(raw);
        string hash = Convert.ToHexString(SHA256.HashData(stream));
        stream.Dispose();
        File.Delete(raw);
        return hash;
    }

    private static string FileSha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream));
    }

    [Test]
    public void Image_cmdlets_agree_with_qemu_img()
    {
        ExternalTool.RequireTool("qemu-img");
        ExternalTool.RequireTool("qemu-io");
        using var dir = new TempDir("pwsh-images");
        string image = MakeImage(dir, "disk.qcow2", 0x21);
        string expected = QemuRawSha256(dir, image);
        string created = dir.Combine("created.qcow2");
        string converted = dir.Combine("converted.raw");

        var result = Pwsh.RunOk($$"""
            Set-Location {{Pwsh.Quote(dir.Path)}}
            $info = Get-ChildItem disk.qcow2 | Get-Qcow2Image
            $hashes = 'SHA256', 'MD5' | ForEach-Object { Get-Qcow2ImageHash disk.qcow2 -Algorithm $_ }
            $check = Test-Qcow2Image disk.qcow2
            $new = New-Qcow2Snapshot disk.qcow2 -Name first
            $listed = @(Get-Qcow2Snapshot disk.qcow2)
            Convert-Qcow2Image disk.qcow2 converted.raw
            $created = New-Qcow2Image created.qcow2 -Size 32MB
            Resize-Qcow2Image created.qcow2 -Size 64MB
            Resize-Qcow2Image created.qcow2 -GrowBy 1MB
            $after = Get-Qcow2Image created.qcow2
            Save-Result @{
                Info = $info | Select-Object Path, Format, VirtualSize, ClusterSize, Compat, Depth
                InfoType = $info.GetType().FullName
                Hashes = @($hashes | Select-Object Algorithm, Hash, Path)
                HashType = $hashes[0].GetType().FullName
                Check = $check | Select-Object Path, IsClean, Corruptions, Leaks, CheckErrors, AllocatedClusters, CompressedClusters
                Snapshot = $new | Select-Object Name, Id, ImagePath
                Listed = @($listed.Name)
                Created = $created.FullName
                CreatedSize = $after.VirtualSize
                Converted = (Get-FileHash converted.raw).Hash
            }
            """);
        var value = result.Value;
        Assert.Multiple(() =>
        {
            var info = value.GetProperty("Info");
            Assert.That(value.GetProperty("InfoType").GetString(), Is.EqualTo("Qcow2Mount.PowerShell.Qcow2ImageInfo"));
            Assert.That(info.GetProperty("Path").GetString(), Is.EqualTo(image));
            Assert.That(info.GetProperty("Format").GetString(), Is.EqualTo("qcow2"));
            Assert.That(info.GetProperty("VirtualSize").GetInt64(), Is.EqualTo(16 << 20));
            Assert.That(info.GetProperty("ClusterSize").GetInt32(), Is.EqualTo(65536));
            Assert.That(info.GetProperty("Compat").GetString(), Is.EqualTo("1.1"));

            Assert.That(value.GetProperty("HashType").GetString(), Is.EqualTo("Qcow2Mount.PowerShell.Qcow2ImageHash"));
            var hashes = value.GetProperty("Hashes").EnumerateArray().ToList();
            Assert.That(hashes[0].GetProperty("Algorithm").GetString(), Is.EqualTo("SHA256"));
            Assert.That(hashes[0].GetProperty("Hash").GetString(), Is.EqualTo(expected), "Get-Qcow2ImageHash = SHA256 of qemu-img convert -O raw");
            Assert.That(hashes[0].GetProperty("Path").GetString(), Is.EqualTo(image));
            Assert.That(hashes[1].GetProperty("Algorithm").GetString(), Is.EqualTo("MD5"));
            Assert.That(hashes[1].GetProperty("Hash").GetString(), Has.Length.EqualTo(32));

            var check = value.GetProperty("Check");
            Assert.That(check.GetProperty("IsClean").GetBoolean(), Is.True);
            Assert.That(check.GetProperty("Corruptions").GetInt32(), Is.Zero);
            Assert.That(check.GetProperty("Leaks").GetInt32(), Is.Zero);
            Assert.That(check.GetProperty("CompressedClusters").GetInt64(), Is.GreaterThan(0));

            Assert.That(value.GetProperty("Snapshot").GetProperty("Name").GetString(), Is.EqualTo("first"));
            Assert.That(value.GetProperty("Listed").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "first" }));
            Assert.That(value.GetProperty("Converted").GetString(), Is.EqualTo(expected), "Convert-Qcow2Image's raw file = qemu-img's");
            Assert.That(value.GetProperty("Created").GetString(), Is.EqualTo(created));
            Assert.That(value.GetProperty("CreatedSize").GetInt64(), Is.EqualTo((64 << 20) + (1 << 20)));
        });
        Assert.That(ExternalTool.Run("qemu-img", ["snapshot", "-l", image]).EnsureSuccess().StandardOutput, Does.Contain("first"));
        ExternalTool.Run("qemu-img", ["check", image]).EnsureSuccess();
        ExternalTool.Run("qemu-img", ["check", created]).EnsureSuccess();
        Assert.That(FileSha256(converted), Is.EqualTo(expected));

        // Restore and remove, piped from Get-Qcow2Snapshot as scripts do, without prompting.
        ExternalTool.Run("qemu-io", ["-c", "write -P 0x77 0 64k", image]).EnsureSuccess();
        Pwsh.RunOk($$"""
            Get-Qcow2Snapshot {{Pwsh.Quote(image)}} -Name first | Restore-Qcow2Snapshot -Confirm:$false
            Get-Qcow2Snapshot {{Pwsh.Quote(image)}} -Name fir* | Remove-Qcow2Snapshot -Confirm:$false
            """);
        Assert.That(QemuRawSha256(dir, image), Is.EqualTo(expected), "restored to the snapshot's bytes");
        Assert.That(ExternalTool.Run("qemu-img", ["snapshot", "-l", image]).EnsureSuccess().StandardOutput, Does.Not.Contain("first"));
        ExternalTool.Run("qemu-img", ["check", image]).EnsureSuccess();
    }

    /// <summary>-WhatIf on every cmdlet that changes an image or a mount: the files are byte for byte the same, and nothing new exists.</summary>
    [Test]
    public void WhatIf_changes_nothing()
    {
        ExternalTool.RequireTool("qemu-img");
        ExternalTool.RequireTool("qemu-io");
        using var service = new PrivateService("pwsh-whatif");
        var dir = service.Dir;
        string image = MakeImage(dir, "disk.qcow2", 0x31);
        ExternalTool.Run("qemu-img", ["snapshot", "-c", "kept", image]).EnsureSuccess();
        string mountPoint = dir.Combine("mnt");
        Directory.CreateDirectory(mountPoint);
        string before = FileSha256(image);

        var result = Pwsh.RunOk($$"""
            Set-Location {{Pwsh.Quote(dir.Path)}}
            New-Qcow2Snapshot disk.qcow2 -Name new -WhatIf
            Restore-Qcow2Snapshot disk.qcow2 -Name kept -WhatIf
            Remove-Qcow2Snapshot disk.qcow2 -Name kept -WhatIf
            Resize-Qcow2Image disk.qcow2 -Size 64MB -WhatIf
            Test-Qcow2Image disk.qcow2 -Repair All -WhatIf
            Convert-Qcow2Image disk.qcow2 out.raw -WhatIf
            New-Qcow2Image new.qcow2 -Size 1MB -WhatIf
            New-Qcow2Image disk.qcow2 -Size 1MB -Force -WhatIf
            Mount-Qcow2Image disk.qcow2 -MountPoint mnt -Access ReadWrite -WhatIf
            Mount-Qcow2Image disk.qcow2 -WhatIf
            Save-Result @{ Mounts = @(Get-Qcow2Mount).Count; Files = @(Get-ChildItem -Recurse -Name) }
            """, service.Environment);
        Assert.That(FileSha256(image), Is.EqualTo(before));
        Assert.That(result.Value.GetProperty("Mounts").GetInt32(), Is.Zero);
        Assert.That(result.Value.GetProperty("Files").EnumerateArray().Select(e => e.GetString()), Is.EquivalentTo(new[] { "disk.qcow2", "mnt" }),
            "no output file, no new image, no default mount folder, not even a service socket");
        Assert.That(result.Output, Does.Contain("What if: Performing the operation \"Mount read/write (writes change the image) at " + mountPoint));
        Assert.That(ExternalTool.Run("qemu-img", ["snapshot", "-l", image]).EnsureSuccess().StandardOutput, Does.Contain("kept").And.Not.Contain("new"));
    }

    /// <summary>
    /// A pipeline of images, some bad: each bad one is a non-terminating error with its own ErrorId, its category and
    /// the image as target object; the good ones before and after are still hashed.
    /// </summary>
    [Test]
    public void Each_bad_image_gets_its_ErrorId_while_the_others_are_hashed()
    {
        ExternalTool.RequireTool("qemu-img");
        ExternalTool.RequireTool("qemu-io");
        using var dir = new TempDir("pwsh-errors");
        var images = BadImages.Make(dir);
        using var holder = QemuWriter.Hold(images.Locked);

        var result = Pwsh.RunOk($$"""
            $password = ConvertTo-SecureString 'not-the-password' -AsPlainText -Force
            $paths = {{string.Join(", ", images.InPipelineOrder.Select(Pwsh.Quote))}}
            $hashes = $paths | Get-Qcow2ImageHash -Password $password -ErrorAction SilentlyContinue -ErrorVariable failures
            Save-Result @{
                Hashed = @($hashes.Path)
                Errors = @($failures | ForEach-Object { @{ Id = $_.FullyQualifiedErrorId; Category = "$($_.CategoryInfo.Category)"; Target = "$($_.TargetObject)" } })
            }
            """);
        Assert.That(result.Value.GetProperty("Hashed").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { images.Good1, images.Good2 }));
        BadImages.AssertErrors(result.Value.GetProperty("Errors"), images, "GetQcow2ImageHashCommand");
    }

    /// <summary>Tab completion through TabExpansion2, as the console asks for it: snapshot names of the image typed, folders for -MountPoint.</summary>
    [Test]
    public void Snapshot_names_and_mount_points_tab_complete()
    {
        ExternalTool.RequireTool("qemu-img");
        using var dir = new TempDir("pwsh-complete");
        string image = dir.Combine("vm.qcow2");
        ExternalTool.Run("qemu-img", ["create", "-q", "-f", "qcow2", image, "1M"]).EnsureSuccess();
        foreach (string name in new[] { "before-update", "before-upgrade", "nightly" })
        {
            ExternalTool.Run("qemu-img", ["snapshot", "-c", name, image]).EnsureSuccess();
        }

        Directory.CreateDirectory(dir.Combine("mnt-a"));
        Directory.CreateDirectory(dir.Combine("mnt-b"));
        File.WriteAllText(dir.Combine("mnt-file"), "not a folder");

        var result = Pwsh.RunOk($$"""
            function Complete([string] $line) { @((TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches | ForEach-Object CompletionText) }
            Set-Location {{Pwsh.Quote(dir.Path)}}
            Save-Result @{
                Mount = @(Complete 'Mount-Qcow2Image -ImagePath ./vm.qcow2 -Snapshot ')
                Prefix = @(Complete 'Get-Qcow2Snapshot vm.qcow2 -Name before-up')
                Remove = @(Complete 'Remove-Qcow2Snapshot -ImagePath vm.qcow2 -Name n')
                Absolute = @(Complete {{Pwsh.Quote($"Get-Qcow2ImageHash {image} -Snapshot ")}})
                MountPoint = @(Complete 'Mount-Qcow2Image vm.qcow2 -MountPoint ./mnt')
            }
            """);
        var value = result.Value;
        static IEnumerable<string?> Texts(JsonElement e) => e.EnumerateArray().Select(x => x.GetString());
        Assert.Multiple(() =>
        {
            Assert.That(Texts(value.GetProperty("Mount")), Is.EqualTo(new[] { "before-update", "before-upgrade", "nightly" }));
            Assert.That(Texts(value.GetProperty("Prefix")), Is.EqualTo(new[] { "before-update", "before-upgrade" }));
            Assert.That(Texts(value.GetProperty("Remove")), Is.EqualTo(new[] { "nightly" }));
            Assert.That(Texts(value.GetProperty("Absolute")), Has.Member("nightly"));
            // Folders only (not the file), written the way the word began.
            Assert.That(Texts(value.GetProperty("MountPoint")), Is.EqualTo(new[] { "./mnt-a", "./mnt-b" }));
        });
    }
}
