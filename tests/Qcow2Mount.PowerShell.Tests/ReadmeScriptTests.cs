using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Qcow2Mount.PowerShell.Tests;

/// <summary>
/// The README's PowerShell example, run as written from the repository root against the module build.ps1 publish
/// laid out: it mounts the sample image, hashes the raw file, and dismounts. Once README.md shows the example, its
/// text must be this script's, character for character.
/// </summary>
[TestFixture]
internal sealed partial class ReadmeScriptTests
{
    [Test]
    public void Readme_script_mounts_the_sample_hashes_the_raw_file_and_dismounts()
    {
        PrivateService.RequireFuse();
        string script = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Scripts", "readme-example.ps1"));
        string readme = File.ReadAllText(Path.Combine(Pwsh.RepositoryRoot, "README.md"));
        var shown = FencedBlocks().Matches(readme).Select(m => m.Groups["code"].Value).Where(code => code.Contains("Mount-Qcow2Image", StringComparison.Ordinal)).ToList();
        if (shown.Count > 0)
        {
            Assert.That(shown, Has.Member(script), "README.md's example differs from tests/Qcow2Mount.PowerShell.Tests/Scripts/readme-example.ps1");
        }

        if (!File.Exists(Path.Combine(Pwsh.RepositoryRoot, "artifacts", "module", "Qcow2Mount", Pwsh.ProductVersion, "Qcow2Mount.psd1")))
        {
            Assert.Ignore("artifacts/module/Qcow2Mount not laid out: run 'pwsh build.ps1 publish' (bash .ci/run does)");
        }

        using var service = new PrivateService("pwsh-readme");
        // The module finds the qcow2mount laid out beside it, as on a user's machine.
        service.Environment.Remove("QCOW2MOUNT_EXECUTABLE");
        string sample = Path.Combine(Pwsh.RepositoryRoot, "assets", "sample.qcow2");
        string raw = service.Dir.Combine("sample.raw");
        ExternalTool.Run("qemu-img", ["convert", "-O", "raw", sample, raw]).EnsureSuccess();
        string expected = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(raw)));
        string before = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(sample)));

        var result = Pwsh.Run(script, service.Environment, workingDirectory: Pwsh.RepositoryRoot, importModule: false);
        Assert.That(result.ExitCode, Is.Zero, result.Describe());
        Assert.That(result.Error, Is.Empty, result.Describe());
        Assert.That(result.Output, Does.Contain("SHA256").And.Contain(expected), "Get-FileHash of disk.raw shows qemu-img convert's hash");
        var listed = ExternalTool.Run(service.Executable, ["list"], environment: service.Environment.ToDictionary(e => e.Key, e => e.Value)).EnsureSuccess();
        Assert.That(listed.StandardOutput.Trim(), Is.Empty, "dismounted");
        Assert.That(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(sample))), Is.EqualTo(before), "the sample image is unchanged");
    }

    [GeneratedRegex(@"```(?:powershell|pwsh|ps1)\n(?<code>.*?)```", RegexOptions.Singleline)]
    private static partial Regex FencedBlocks();
}
