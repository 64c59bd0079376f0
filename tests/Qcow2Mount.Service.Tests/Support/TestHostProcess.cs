using Qcow2Mount.Control;

namespace Qcow2Mount.Service.Tests.Support;

/// <summary>The service as its own process (tests/Qcow2Mount.Service.TestHost), started the way the CLI starts it.</summary>
internal static class TestHostProcess
{
    /// <summary>The test host's dll, built beside this project's output (same configuration).</summary>
    public static string Dll()
    {
        string path = TestContext.CurrentContext.TestDirectory.Replace("Qcow2Mount.Service.Tests", "Qcow2Mount.Service.TestHost", StringComparison.Ordinal);
        string dll = Path.Combine(path, "Qcow2Mount.Service.TestHost.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("Build tests/Qcow2Mount.Service.TestHost first.", dll);
    }

    /// <summary>What <see cref="ServiceLauncher"/> needs to start the test host detached on <paramref name="endpoint"/>.</summary>
    public static ServiceLaunchOptions LaunchOptions(ControlEndpoint endpoint, params string[] serviceArguments) => new()
    {
        Endpoint = endpoint,
        FileName = Environment.ProcessPath!,
        Arguments = [Dll(), "serve", .. ServiceLaunchOptions.ServeArguments(endpoint), .. serviceArguments],
    };
}
