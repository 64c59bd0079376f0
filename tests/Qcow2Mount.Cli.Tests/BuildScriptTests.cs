using System.Diagnostics;

namespace Qcow2Mount.Cli.Tests;

/// <summary>build.ps1 runs under PowerShell 7 on Linux as on Windows: it parses, and its help names the targets.</summary>
[TestFixture]
internal sealed class BuildScriptTests
{
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Qcow2Mount.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Qcow2Mount.sln not found above the test binaries");
    }

    private static string FindPwsh(string root)
    {
        string local = Path.Combine(root, ".tools", OperatingSystem.IsWindows() ? "pwsh.exe" : "pwsh");
        if (File.Exists(local))
        {
            return local;
        }

        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            string candidate = Path.Combine(dir, OperatingSystem.IsWindows() ? "pwsh.exe" : "pwsh");
            if (dir.Length > 0 && File.Exists(candidate))
            {
                return candidate;
            }
        }

        Assert.Ignore("pwsh not found: dotnet tool install PowerShell --version 7.6.9 --tool-path .tools (bash .ci/run does this)");
        return "";
    }

    [Test]
    public void Build_script_parses_and_documents_its_targets()
    {
        string root = RepositoryRoot();
        string pwsh = FindPwsh(root);
        string script = Path.Combine(root, "build.ps1");
        string command =
            "$errors = $null; $null = [System.Management.Automation.Language.Parser]::ParseFile('" + script + "', [ref]$null, [ref]$errors); " +
            "if ($errors) { $errors | ForEach-Object { $_.Message }; exit 3 }; " +
            "(Get-Command '" + script + "').Parameters['Target'].Attributes.ValidValues -join ','";
        var start = new ProcessStartInfo(pwsh) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in new[] { "-NoProfile", "-NonInteractive", "-Command", command })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        Assert.That(process.WaitForExit(120_000), Is.True, "pwsh did not finish");
        Assert.That(process.ExitCode, Is.Zero, output + error);
        Assert.That(output.Trim(), Is.EqualTo("all,build,test,publish,clean,installer"));
    }
}
