using System.Security.Cryptography;

namespace Qcow2Mount.PowerShell.Tests;

/// <summary>
/// Real FUSE mounts from PowerShell: the module starts a private mount service (the qcow2mount CI published, or
/// this build's) and scripts mount, hash and dismount as users do.
/// </summary>
[TestFixture]
internal sealed class MountTests
{
    private static string QemuRawSha256(TempDir dir, string image)
    {
        string raw = dir.Combine(Path.GetFileName(image) + ".qemu.raw");
        ExternalTool.Run("qemu-img", ["convert", "-O", "raw", image, raw]).EnsureSuccess();
        string hash;
        using (var stream = File.OpenRead(raw))
        {
            hash = Convert.ToHexString(SHA256.HashData(stream));
        }

        File.Delete(raw);
        return hash;
    }

    /// <summary>
    /// <c>Get-ChildItem *.qcow2 | Mount-Qcow2Image</c> mounts every image (each at a default folder of its own);
    /// Get-FileHash of each disk.raw equals Get-Qcow2ImageHash and qemu-img convert's bytes; Get-Qcow2Mount lists
    /// them; -WhatIf dismounts nothing; <c>Get-Qcow2Mount | Dismount-Qcow2Image</c> dismounts all and removes the folders.
    /// </summary>
    [Test]
    public void A_pipeline_of_images_mounts_hashes_and_dismounts()
    {
        PrivateService.RequireFuse();
        using var service = new PrivateService("pwsh-mount");
        var dir = service.Dir;
        var images = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            string image = dir.Combine($"disk{i}.qcow2");
            ExternalTool.Run("qemu-img", ["create", "-q", "-f", "qcow2", image, $"{8 + (i * 4)}M"]).EnsureSuccess();
            ExternalTool.Run("qemu-io", ["-c", $"write -P {0x40 + i} {i}M 1M", "-c", "write -z 3M 64k", image]).EnsureSuccess();
            images.Add(image);
        }

        var expected = images.ToDictionary(i => i, i => QemuRawSha256(dir, i));
        string before = string.Join(",", images.Select(i => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(i)))));

        var result = Pwsh.RunOk($$"""
            Set-Location {{Pwsh.Quote(dir.Path)}}
            $mounts = Get-ChildItem *.qcow2 | Mount-Qcow2Image -PassThru
            $rows = foreach ($m in $mounts) {
                [pscustomobject]@{
                    Type = $m.GetType().FullName
                    ImagePath = $m.ImagePath
                    MountPoint = $m.MountPoint
                    Access = "$($m.Access)"
                    Size = $m.Size
                    DiskPath = $m.DiskPath
                    Attached = $m.Attached
                    FileHash = (Get-FileHash -LiteralPath $m.DiskPath -Algorithm SHA256).Hash
                    ImageHash = (Get-Qcow2ImageHash -ImagePath $m.ImagePath).Hash
                }
            }
            $listed = @(Get-Qcow2Mount | ForEach-Object ImagePath)
            $table = Get-Qcow2Mount | Format-Table | Out-String -Width 300
            Get-Qcow2Mount | Dismount-Qcow2Image -WhatIf
            $stillListed = @(Get-Qcow2Mount).Count
            $dismounted = Get-Qcow2Mount | Dismount-Qcow2Image -PassThru
            Save-Result @{
                Mounts = @($rows)
                Listed = $listed
                Table = $table
                StillListed = $stillListed
                Dismounted = @($dismounted | ForEach-Object { @{ ImagePath = $_.ImagePath; Attached = $_.Attached } })
                After = @(Get-Qcow2Mount).Count
            }
            """, service.Environment);
        var value = result.Value;
        var mounts = value.GetProperty("Mounts").EnumerateArray().ToList();
        Assert.That(mounts.Select(m => m.GetProperty("ImagePath").GetString()), Is.EqualTo(images));
        foreach (var mount in mounts)
        {
            string image = mount.GetProperty("ImagePath").GetString()!;
            string mountPoint = mount.GetProperty("MountPoint").GetString()!;
            Assert.Multiple(() =>
            {
                Assert.That(mount.GetProperty("Type").GetString(), Is.EqualTo("Qcow2Mount.PowerShell.Qcow2MountedImage"));
                Assert.That(mount.GetProperty("Access").GetString(), Is.EqualTo("ReadOnly"));
                Assert.That(mountPoint, Is.EqualTo(Path.Combine(service.DefaultMountRoot, Path.GetFileNameWithoutExtension(image))));
                Assert.That(mount.GetProperty("DiskPath").GetString(), Is.EqualTo(Path.Combine(mountPoint, "disk.raw")));
                Assert.That(mount.GetProperty("Attached").GetBoolean(), Is.True);
                Assert.That(mount.GetProperty("FileHash").GetString(), Is.EqualTo(expected[image]), "Get-FileHash of disk.raw = qemu-img convert -O raw");
                Assert.That(mount.GetProperty("ImageHash").GetString(), Is.EqualTo(expected[image]), "Get-Qcow2ImageHash = qemu-img convert -O raw");
            });
        }

        Assert.That(value.GetProperty("Listed").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(images));
        Assert.That(value.GetProperty("Table").GetString(), Does.Contain("ImagePath").And.Contain("DiskPath").And.Contain("Attached"));
        Assert.That(value.GetProperty("StillListed").GetInt32(), Is.EqualTo(3), "-WhatIf dismounted nothing");
        Assert.That(result.Output, Does.Contain("What if: Performing the operation \"Dismount\""));
        Assert.That(value.GetProperty("Dismounted").EnumerateArray().Select(e => e.GetProperty("Attached").GetBoolean()), Is.EqualTo(new[] { false, false, false }));
        Assert.That(value.GetProperty("After").GetInt32(), Is.Zero);
        Assert.That(Directory.EnumerateFileSystemEntries(service.DefaultMountRoot), Is.Empty, "the default mount folders are removed at dismount");
        Assert.That(string.Join(",", images.Select(i => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(i))))), Is.EqualTo(before),
            "read-only mounts leave the images byte for byte");
    }

    /// <summary>
    /// A pipeline with a missing, a corrupt, an encrypted (wrong password) and a locked image between two good ones:
    /// the good ones are mounted, each bad one gets its ErrorId, and no mount folder is left behind for them.
    /// </summary>
    [Test]
    public void Each_bad_image_gets_its_ErrorId_while_the_others_are_mounted()
    {
        PrivateService.RequireFuse();
        using var service = new PrivateService("pwsh-mount-errors");
        var images = BadImages.Make(service.Dir);
        using var holder = QemuWriter.Hold(images.Locked);

        var result = Pwsh.RunOk($$"""
            $password = ConvertTo-SecureString 'not-the-password' -AsPlainText -Force
            $paths = {{string.Join(", ", images.InPipelineOrder.Select(Pwsh.Quote))}}
            $mounts = $paths | Mount-Qcow2Image -Password $password -PassThru -ErrorAction SilentlyContinue -ErrorVariable failures
            $folders = @(Get-ChildItem {{Pwsh.Quote(service.DefaultMountRoot)}} -Name)
            $mounts | Dismount-Qcow2Image
            Save-Result @{
                Mounted = @($mounts.ImagePath)
                Folders = $folders
                Errors = @($failures | ForEach-Object { @{ Id = $_.FullyQualifiedErrorId; Category = "$($_.CategoryInfo.Category)"; Target = "$($_.TargetObject)" } })
                After = @(Get-Qcow2Mount).Count
            }
            """, service.Environment);
        Assert.That(result.Value.GetProperty("Mounted").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { images.Good1, images.Good2 }));
        Assert.That(result.Value.GetProperty("Folders").EnumerateArray().Select(e => e.GetString()), Is.EquivalentTo(new[] { "good1", "good2" }));
        BadImages.AssertErrors(result.Value.GetProperty("Errors"), images, "MountQcow2ImageCommand");
        Assert.That(result.Value.GetProperty("After").GetInt32(), Is.Zero);

        // The right password mounts the encrypted image; an overlay mount is writable and leaves its image untouched.
        string decrypted = service.Dir.Combine("encrypted.raw");
        EncryptedImages.ConvertToRaw(images.Encrypted, BadImages.Password, decrypted);
        string before = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(images.Good1)));
        var more = Pwsh.RunOk($$"""
            $password = ConvertTo-SecureString {{Pwsh.Quote(BadImages.Password)}} -AsPlainText -Force
            $encrypted = Mount-Qcow2Image {{Pwsh.Quote(images.Encrypted)}} -Password $password -PassThru
            $decryptedHash = (Get-FileHash $encrypted.DiskPath).Hash
            Dismount-Qcow2Image -InputObject $encrypted
            $mount = Mount-Qcow2Image {{Pwsh.Quote(images.Good1)}} -Overlay -PassThru
            $stream = [System.IO.File]::OpenWrite($mount.DiskPath)
            $stream.Write([byte[]](1..64), 0, 64)
            $stream.Dispose()
            $written = (Get-FileHash $mount.DiskPath).Hash
            Dismount-Qcow2Image -ImagePath {{Pwsh.Quote(images.Good1)}}
            Save-Result @{ Decrypted = $decryptedHash; Access = "$($mount.Access)"; Mode = $mount.Mode; Written = $written }
            """, service.Environment);
        Assert.That(more.Value.GetProperty("Decrypted").GetString(), Is.EqualTo(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(decrypted)))));
        Assert.That(more.Value.GetProperty("Access").GetString(), Is.EqualTo("ReadWrite"));
        Assert.That(more.Value.GetProperty("Mode").GetString(), Is.EqualTo("overlay"));
        Assert.That(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(images.Good1))), Is.EqualTo(before), "the overlay took the write");
    }
}
