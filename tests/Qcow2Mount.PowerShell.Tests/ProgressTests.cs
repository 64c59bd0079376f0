namespace Qcow2Mount.PowerShell.Tests;

/// <summary>
/// Long work seen from a host: the progress records a hash writes, and a stopped pipeline (Ctrl+C, or a host's
/// Stop) cancelling a conversion through the core's CancellationToken, leaving no destination behind.
/// </summary>
[TestFixture]
internal sealed class ProgressTests
{
    [Test]
    public void Hash_reports_progress_and_a_stopped_convert_leaves_no_destination()
    {
        ExternalTool.RequireTool("qemu-img");
        using var dir = new TempDir("pwsh-progress");
        // Random bytes: compressing them keeps a conversion busy long enough to be stopped midway.
        string raw = dir.Combine("random.raw");
        var bytes = new byte[96 << 20];
        new Random(13).NextBytes(bytes);
        File.WriteAllBytes(raw, bytes);
        string image = dir.Combine("random.qcow2");
        ExternalTool.Run("qemu-img", ["convert", "-O", "qcow2", raw, image]).EnsureSuccess();
        File.Delete(raw);
        string destination = dir.Combine("stopped.qcow2");

        var result = Pwsh.RunOk($$"""
            function New-Shell {
                $shell = [powershell]::Create()
                $null = $shell.AddCommand('Import-Module').AddParameter('Name', {{Pwsh.Quote(Pwsh.ModuleManifest)}})
                $null = $shell.Invoke()
                $shell.Commands.Clear()
                $shell
            }
            $hasher = New-Shell
            $null = $hasher.AddCommand('Get-Qcow2ImageHash').AddParameter('ImagePath', {{Pwsh.Quote(image)}})
            $hash = $hasher.Invoke()
            $records = @($hasher.Streams.Progress)

            $converter = New-Shell
            $null = $converter.AddCommand('Convert-Qcow2Image').AddParameter('ImagePath', {{Pwsh.Quote(image)}}).
                AddParameter('Destination', {{Pwsh.Quote(destination)}}).AddParameter('DestinationFormat', 'Qcow2').AddParameter('Compress')
            $running = $converter.BeginInvoke()
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while (-not @($converter.Streams.Progress | Where-Object PercentComplete -gt 0).Count -and -not $running.IsCompleted -and [DateTime]::UtcNow -lt $deadline) {
                Start-Sleep -Milliseconds 20
            }
            $startedBeforeStop = Test-Path -LiteralPath {{Pwsh.Quote(destination)}}
            $converter.Stop()
            Save-Result @{
                Hash = $hash[0].Hash
                Percents = @($records | Where-Object RecordType -eq Processing | ForEach-Object PercentComplete)
                Completed = @($records | Where-Object RecordType -eq Completed).Count
                Activity = $records[0].Activity
                StartedBeforeStop = $startedBeforeStop
                State = "$($converter.InvocationStateInfo.State)"
                Left = Test-Path -LiteralPath {{Pwsh.Quote(destination)}}
            }
            """);
        var value = result.Value;
        Assert.That(value.GetProperty("Hash").GetString(), Has.Length.EqualTo(64));
        var percents = value.GetProperty("Percents").EnumerateArray().Select(e => e.GetInt32()).ToList();
        Assert.That(percents, Is.Not.Empty.And.Ordered, "progress only moves forward");
        Assert.That(value.GetProperty("Completed").GetInt32(), Is.EqualTo(1), "the bar is completed at the end");
        Assert.That(value.GetProperty("Activity").GetString(), Does.Contain("Hashing"));
        Assert.That(value.GetProperty("StartedBeforeStop").GetBoolean(), Is.True, "stopped while the destination was being written");
        Assert.That(value.GetProperty("State").GetString(), Is.EqualTo("Stopped"));
        Assert.That(value.GetProperty("Left").GetBoolean(), Is.False, "a stopped conversion leaves no destination");
    }
}
