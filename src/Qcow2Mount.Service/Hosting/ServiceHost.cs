using System.Runtime.InteropServices;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Qcow2Mount.Mounting;
using Qcow2Mount.Service.Configuration;
using Qcow2Mount.Service.Logging;
using Qcow2Mount.Service.Mounts;

namespace Qcow2Mount.Service.Hosting;

/// <summary>Builds and runs the generic host of the mount service; <c>qcow2mount serve</c> is <see cref="RunAsync(string[], IFileSystemHost, CancellationToken)"/>.</summary>
public static partial class ServiceHost
{
    // The CLI's exit codes: 1 for a usage (here: configuration) error, 13 for a mount service error.
    public const int ExitOk = 0;
    public const int ExitInvalidConfiguration = 1;
    public const int ExitCannotStart = 13;

    /// <summary>
    /// Runs the service until SIGTERM, Ctrl+C or a shutdown request, then unmounts everything. <paramref name="args"/>
    /// are configuration overrides (<c>--Qcow2:L2CacheBytes=64M</c>, <c>--socket PATH</c>, ...); other arguments are
    /// ignored. Returns <see cref="ExitOk"/>, <see cref="ExitInvalidConfiguration"/> (reasons on standard error) or
    /// <see cref="ExitCannotStart"/> (another service runs on the endpoint).
    /// </summary>
    public static Task<int> RunAsync(string[] args, IFileSystemHost fileSystem, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        return RunAsync(args, _ => fileSystem, cancellationToken);
    }

    /// <summary>
    /// <see cref="RunAsync(string[], IFileSystemHost, CancellationToken)"/> with the adapter picked from the loaded
    /// settings (<c>Mount:FileSystem</c>), so a service started with <c>--Mount:FileSystem=dokan</c> mounts with Dokan.
    /// </summary>
    public static async Task<int> RunAsync(string[] args, Func<ServiceSettings, IFileSystemHost> fileSystemFor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fileSystemFor);
        ServiceSettings settings;
        IConfigurationRoot configuration;
        try
        {
            configuration = Qcow2MountConfiguration.Build(args);
            settings = Qcow2MountConfiguration.Load(configuration);
        }
        catch (ConfigurationValidationException e)
        {
            await Console.Error.WriteLineAsync("qcow2mount: " + e.Message).ConfigureAwait(false);
            return ExitInvalidConfiguration;
        }

        if (settings.Detached && !OperatingSystem.IsWindows())
        {
            // Its own session: Ctrl+C in the terminal that started a CLI must not reach the service.
            _ = SetSid();
        }

        using var host = Build(settings, fileSystemFor(settings));
        try
        {
            await host.RunAsync(cancellationToken).ConfigureAwait(false);
            return ExitOk;
        }
        catch (Exception e) when (StartFailure(e) is { } failure)
        {
            // A detached service's launcher still reads standard error until the service answers, so this is seen.
            await Console.Error.WriteLineAsync("qcow2mount: " + failure.Message).ConfigureAwait(false);

            return ExitCannotStart;
        }
    }

    /// <summary>
    /// The host, not started: the <see cref="MountService"/>, its <see cref="MountManager"/> and logging per
    /// <paramref name="settings"/>. With <paramref name="handleSignals"/> false (tests hosting it in-process) it
    /// leaves SIGINT/SIGTERM to the process.
    /// </summary>
    public static IHost Build(ServiceSettings settings, IFileSystemHost fileSystem, bool handleSignals = true)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(fileSystem);
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var endpoint = settings.Control.Endpoint;
        builder.Logging.SetMinimumLevel(settings.Logging.LogLevel);
        // The host logs a failed start with its stack trace; RunAsync prints the one-line reason instead.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        if (!settings.Detached)
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            });
        }

        if (LogFile(settings) is { } logFile)
        {
            // Made by the container, so the container disposes it (and closes the log) when the host stops.
            builder.Services.AddSingleton<ILoggerProvider>(_ => new FileLoggerProvider(logFile));
        }

        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(endpoint);
        builder.Services.AddSingleton(fileSystem);
        builder.Services.AddSingleton(sp => new MountManager(fileSystem, settings, sp.GetRequiredService<ILogger<MountManager>>()));
        builder.Services.AddHostedService<MountService>();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(settings.Mount.TimeoutSeconds * 2));
        if (handleSignals)
        {
            builder.Services.AddSingleton<IHostLifetime, Microsoft.Extensions.Hosting.Internal.ConsoleLifetime>();
        }
        else
        {
            builder.Services.AddSingleton<IHostLifetime, NoSignalsLifetime>();
        }

        return builder.Build();
    }

    /// <summary>
    /// Where the service appends its log: <c>Logging:LogFile</c> when set; for a detached service (started by the
    /// CLI, with no console) beside its socket on Linux, and on Windows in <c>%LOCALAPPDATA%\Qcow2Mount\service.log</c>,
    /// where Windows users look for a program's files. A service in the foreground logs to its console only.
    /// </summary>
    public static string? LogFile(ServiceSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Logging.LogFile is { } configured)
        {
            return Path.GetFullPath(configured);
        }

        if (!settings.Detached)
        {
            return null;
        }

        var endpoint = settings.Control.Endpoint;
        if (endpoint.SocketPath is { } socket)
        {
            return Path.Combine(Path.GetDirectoryName(socket)!, "service.log");
        }

        string localAppData = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        return Path.Combine(localAppData.Length > 0 ? localAppData : Path.GetTempPath(), "Qcow2Mount", "service.log");
    }

    /// <summary>The host may wrap a hosted service's start failure in an AggregateException.</summary>
    private static ServiceStartException? StartFailure(Exception e) => e switch
    {
        ServiceStartException start => start,
        AggregateException aggregate => aggregate.InnerExceptions.Select(StartFailure).FirstOrDefault(f => f is not null),
        _ => null,
    };

    [LibraryImport("libc", EntryPoint = "setsid")]
    private static partial int SetSid();

    /// <summary>A lifetime that takes no signals: an in-process host stops when its owner says so.</summary>
    private sealed class NoSignalsLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
