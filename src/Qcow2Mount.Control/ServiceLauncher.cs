using System.Diagnostics;
using System.Reflection;
using Qcow2Mount.Control.Protocol;

namespace Qcow2Mount.Control;

/// <summary>How <see cref="ServiceLauncher"/> starts the service when none answers.</summary>
public sealed record ServiceLaunchOptions
{
    public ControlEndpoint Endpoint { get; init; } = ControlEndpoint.Default;

    /// <summary>The program to start (the qcow2mount executable, or <c>dotnet</c>).</summary>
    public required string FileName { get; init; }

    /// <summary>Its arguments, e.g. <c>["serve", "--Service:Detached=true"]</c>.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>Environment variables set for the service (on top of the caller's).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>How long the new service may take to answer.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Starts <c>serve</c> of the program this process runs: <see cref="System.Environment.ProcessPath"/>, plus the entry
    /// assembly when that is the <c>dotnet</c> host (<c>dotnet qcow2mount.dll</c>). See <see cref="ForProgram"/>.
    /// </summary>
    public static ServiceLaunchOptions ForCurrentProcess(ControlEndpoint? endpoint = null, IEnumerable<string>? serviceArguments = null)
    {
        string processPath = System.Environment.ProcessPath ?? throw new InvalidOperationException("The path of the running program is unknown.");
        // Under the dotnet host the program is an assembly beside this one (a native or single-file build is its
        // own executable, and has no assembly path to give).
        if (IsDotnetHost(processPath)
            && Assembly.GetEntryAssembly()?.GetName().Name is { Length: > 0 } name
            && Path.Combine(AppContext.BaseDirectory, name + ".dll") is var entry && File.Exists(entry))
        {
            return ForProgram(entry, endpoint, serviceArguments);
        }

        return ForProgram(processPath, endpoint, serviceArguments);
    }

    /// <summary>
    /// Starts <c>serve</c> of <paramref name="program"/>: the qcow2mount executable, or its <c>.dll</c>, which is then
    /// run by the dotnet host this process runs under (or <c>dotnet</c> from PATH). A caller that is not qcow2mount
    /// itself (a PowerShell module, the Explorer launcher) names it here. The service is told to detach (its own
    /// session, no console logging) and, for a non-default <paramref name="endpoint"/>, where to listen.
    /// <paramref name="serviceArguments"/> are appended (configuration overrides such as <c>--Qcow2:L2CacheBytes=...</c>).
    /// </summary>
    public static ServiceLaunchOptions ForProgram(string program, ControlEndpoint? endpoint = null, IEnumerable<string>? serviceArguments = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(program);
        endpoint ??= ControlEndpoint.Default;
        var arguments = new List<string>();
        string fileName = program;
        if (program.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            fileName = System.Environment.ProcessPath is { } host && IsDotnetHost(host) ? host : "dotnet";
            arguments.Add(program);
        }

        arguments.Add("serve");
        arguments.AddRange(ServeArguments(endpoint));
        arguments.AddRange(serviceArguments ?? []);
        // The service runs for hours and serves reads from its first second: compile each method once, fully
        // optimized (or use its ReadyToRun code), instead of tiering up in the background during the first large
        // reads of a mount. A caller's own DOTNET_TieredCompilation setting wins.
        var environment = new Dictionary<string, string>();
        if (System.Environment.GetEnvironmentVariable("DOTNET_TieredCompilation") is null)
        {
            environment["DOTNET_TieredCompilation"] = "0";
        }

        return new ServiceLaunchOptions { Endpoint = endpoint, FileName = fileName, Arguments = arguments, Environment = environment };
    }

    private static bool IsDotnetHost(string path) =>
        Path.GetFileNameWithoutExtension(path).Equals("dotnet", StringComparison.OrdinalIgnoreCase);

    /// <summary>The arguments <c>serve</c> needs to run detached on <paramref name="endpoint"/>.</summary>
    public static IReadOnlyList<string> ServeArguments(ControlEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var arguments = new List<string> { "--Service:Detached=true" };
        if (endpoint.SocketPath is { } socket)
        {
            arguments.Add($"--Control:SocketPath={socket}");
        }

        if (endpoint.PipeName is { } pipe)
        {
            arguments.Add($"--Control:PipeName={pipe}");
        }

        return arguments;
    }
}

/// <summary>Connects to the user's mount service, starting it first when none answers; stops it.</summary>
public static class ServiceLauncher
{
    /// <summary>How long an outdated service without mounts may take to exit before <see cref="EnsureCurrentAsync"/> gives up.</summary>
    public static readonly TimeSpan ReplaceTimeout = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// <see cref="EnsureRunningAsync"/> for a client of this build: a running service whose version is not
    /// <see cref="BuildVersion.Current"/> (the one before an upgrade or rebuild) is replaced by a new one when it has
    /// no mounts. With mounts it keeps serving, since stopping it would end them: <paramref name="keptOtherVersion"/>
    /// is told its status, so the caller can say so, and the client returned talks to it.
    /// </summary>
    public static async Task<ControlClient> EnsureCurrentAsync(ServiceLaunchOptions options, Action<ServiceStatus>? keptOtherVersion = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var stopwatch = Stopwatch.StartNew();
        while (true)
        {
            var client = await TryConnectAsync(options.Endpoint, cancellationToken).ConfigureAwait(false);
            if (client is null)
            {
                return await EnsureRunningAsync(options, cancellationToken).ConfigureAwait(false);
            }

            ServiceStatus status;
            try
            {
                status = await client.StatusAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (ControlException e) when (e.Code == ErrorCodes.ServiceUnavailable && stopwatch.Elapsed < ReplaceTimeout)
            {
                // Gone between connecting and answering: another client of this build is replacing it. Look again.
                await client.DisposeAsync().ConfigureAwait(false);
                await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
                continue;
            }
            catch
            {
                await client.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            if (status.Version == BuildVersion.Current)
            {
                return client;
            }

            // A service older than shutdown's ifIdle would take it as a plain shutdown and end mounts still starting,
            // which its mount count does not show: only a service that says it understands ifIdle is replaced.
            if (status.MountCount > 0 || !status.Features.Contains(ServiceFeatures.ShutdownIfIdle))
            {
                keptOtherVersion?.Invoke(status);
                return client;
            }

            try
            {
                if (!await ShutdownIfIdleAsync(client, cancellationToken).ConfigureAwait(false))
                {
                    keptOtherVersion?.Invoke(await client.StatusAsync(cancellationToken).ConfigureAwait(false));
                    return client;
                }
            }
            catch
            {
                await client.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            await client.DisposeAsync().ConfigureAwait(false);
            await WaitUntilGoneAsync(options.Endpoint, status.ProcessId, ReplaceTimeout, cancellationToken).ConfigureAwait(false);
            return await EnsureRunningAsync(options, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Asks for a shutdown if idle: true when the service accepted, or is gone already (another client asked first);
    /// false when it refused because it has mounts, which may have come after the caller's status check.
    /// </summary>
    private static async Task<bool> ShutdownIfIdleAsync(ControlClient client, CancellationToken cancellationToken)
    {
        try
        {
            await client.ShutdownAsync(ifIdle: true, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ControlException e) when (e.Code == ErrorCodes.Busy)
        {
            return false;
        }
        catch (ControlException e) when (e.Code == ErrorCodes.ServiceUnavailable)
        {
            return true;
        }
    }

    /// <summary>
    /// Asks the service at <paramref name="endpoint"/> to unmount everything and exit, and waits until it has.
    /// Returns its status from just before (its pid, the mounts it had), or null when no service answers. Throws
    /// <see cref="ControlException"/> (<see cref="ErrorCodes.Timeout"/>) when it is still there after <paramref name="timeout"/>.
    /// </summary>
    public static async Task<ServiceStatus?> StopAsync(ControlEndpoint endpoint, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ServiceStatus status;
        using (var client = await TryConnectAsync(endpoint, cancellationToken).ConfigureAwait(false))
        {
            if (client is null)
            {
                return null;
            }

            status = await client.StatusAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await client.ShutdownAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (ControlException e) when (e.Code == ErrorCodes.ServiceUnavailable)
            {
                // Gone between the two requests (another client stopped it first): wait for it all the same.
            }
        }

        await WaitUntilGoneAsync(endpoint, status.ProcessId, timeout, cancellationToken).ConfigureAwait(false);
        return status;
    }

    /// <summary>
    /// Waits until the service that accepted a shutdown is gone: its process has exited (so its mounts are closed),
    /// or, for a service hosted in this very process, its endpoint is gone.
    /// </summary>
    private static async Task WaitUntilGoneAsync(ControlEndpoint endpoint, int processId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        bool inThisProcess = processId == System.Environment.ProcessId;
        var stopwatch = Stopwatch.StartNew();
        while (inThisProcess ? await IsAnsweringAsync(endpoint, cancellationToken).ConfigureAwait(false) : IsRunning(processId))
        {
            if (stopwatch.Elapsed > timeout)
            {
                throw new ControlException(ErrorCodes.Timeout,
                    $"The qcow2mount service (pid {processId}) at {endpoint} accepted the shutdown but had not exited after {timeout.TotalSeconds:0} s.");
            }

            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<bool> IsAnsweringAsync(ControlEndpoint endpoint, CancellationToken cancellationToken)
    {
        using var client = await TryConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
        return client is not null;
    }

    /// <summary>Whether the process is alive; an exited one its parent has not reaped yet (a zombie) is not.</summary>
    private static bool IsRunning(int processId)
    {
        try
        {
            using var process = Process.GetProcessById(processId);
            if (process.HasExited)
            {
                return false;
            }
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return false;
        }

        if (!OperatingSystem.IsLinux())
        {
            return true;
        }

        try
        {
            // /proc/PID/stat: "pid (comm) S ...", the state after the last parenthesis (comm may contain some).
            string stat = File.ReadAllText($"/proc/{processId}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..] is not ['Z', ..];
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// Returns a client connected to the service at <c>options.Endpoint</c>. When none answers, starts
    /// <c>options.FileName options.Arguments</c> detached and waits until it answers; throws
    /// <see cref="ControlException"/> (<see cref="ErrorCodes.ServiceUnavailable"/>) when it exits first, or
    /// (<see cref="ErrorCodes.Timeout"/>) when it does not answer within <c>options.StartTimeout</c>.
    /// </summary>
    public static async Task<ControlClient> EnsureRunningAsync(ServiceLaunchOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (await TryConnectAsync(options.Endpoint, cancellationToken).ConfigureAwait(false) is { } running)
        {
            return running;
        }

        var start = new ProcessStartInfo(options.FileName)
        {
            UseShellExecute = false,
            CreateNoWindow = true,
            // Never hand the service our console: a caller's pipe would stay open for the service's whole life.
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (string argument in options.Arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in options.Environment)
        {
            start.Environment[name] = value;
        }

        if (OperatingSystem.IsWindows())
        {
            // The service must not keep this client's standard handles: a caller reading our output would wait for it.
            WindowsStandardHandles.KeepFromChildren();
        }

        using var process = Start(start);
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var errors = process.StandardError.ReadToEndAsync(CancellationToken.None);

        var stopwatch = Stopwatch.StartNew();
        while (true)
        {
            if (await TryConnectAsync(options.Endpoint, cancellationToken).ConfigureAwait(false) is { } client)
            {
                return client;
            }

            if (process.HasExited)
            {
                // Another launcher may have won the race: its service answers even though ours refused to start.
                if (await TryConnectAsync(options.Endpoint, cancellationToken).ConfigureAwait(false) is { } other)
                {
                    return other;
                }

                // What it said, on one line (the protocol's messages are one line; this one travels as one too).
                string said = string.Join(" ", (await errors.ConfigureAwait(false) + "\n" + await output.ConfigureAwait(false))
                    .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
                throw new ControlException(ErrorCodes.ServiceUnavailable,
                    $"The qcow2mount service exited with code {process.ExitCode} before answering at {options.Endpoint}"
                    + (said.Length > 0 ? $": {(said.Length > 500 ? said[..500] + "..." : said)}" : "."));
            }

            if (stopwatch.Elapsed > options.StartTimeout)
            {
                throw new ControlException(ErrorCodes.Timeout,
                    $"The qcow2mount service (pid {process.Id}) did not answer at {options.Endpoint} within {options.StartTimeout.TotalSeconds:0} s.");
            }

            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Starts the service process; a program that is missing or not executable is the service's absence, said in one line.</summary>
    private static Process Start(ProcessStartInfo start)
    {
        try
        {
            return Process.Start(start) ?? throw new ControlException(ErrorCodes.ServiceUnavailable, $"Could not start '{start.FileName}'.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new ControlException(ErrorCodes.ServiceUnavailable, $"Could not start the qcow2mount service '{start.FileName}': {e.Message}", e);
        }
    }

    /// <summary>A connected client, or null when no service answers.</summary>
    public static async Task<ControlClient?> TryConnectAsync(ControlEndpoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (endpoint.SocketPath is { } socket && !File.Exists(socket))
        {
            return null;
        }

        try
        {
            return await ControlClient.ConnectAsync(endpoint, ProbeTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (ControlException e) when (e.Code == ErrorCodes.ServiceUnavailable)
        {
            return null;
        }
    }
}
