using System.Globalization;
using Microsoft.Extensions.Configuration;
using Qcow2Mount.Control;

namespace Qcow2Mount.Operations;

/// <summary>
/// What a client needs of the service's configuration, read from the same sources the service reads (the
/// <c>appsettings.json</c> beside the qcow2mount executable, the per-user settings file, <c>QCOW2MOUNT_</c>
/// environment variables) without loading or validating the rest of it: the endpoint, and how long a mount may take.
/// </summary>
internal sealed record ServiceSettingsFiles(ControlEndpoint Endpoint, TimeSpan MountTimeout)
{
    private const int DefaultMountTimeoutSeconds = 30;

    public static ServiceSettingsFiles Read(string serviceDirectory)
    {
        var builder = new ConfigurationBuilder();
        AddJson(builder, Path.Combine(serviceDirectory, "appsettings.json"));
        AddJson(builder, UserSettingsFile.DefaultPath());
        builder.AddEnvironmentVariables("QCOW2MOUNT_");
        var configuration = builder.Build();
        var endpoint = ControlEndpoint.From(configuration["Control:SocketPath"], configuration["Control:PipeName"]);
        int seconds = int.TryParse(configuration["Mount:TimeoutSeconds"], NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value > 0
            ? value
            : DefaultMountTimeoutSeconds;
        return new ServiceSettingsFiles(endpoint, TimeSpan.FromSeconds(seconds));
    }

    private static void AddJson(ConfigurationBuilder builder, string path)
    {
        if (File.Exists(path))
        {
            // A broken file is the service's to report (it refuses to start and says why); a client only skips it.
            builder.AddJsonFile(path, optional: true, reloadOnChange: false);
        }
    }
}
