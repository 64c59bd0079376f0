using Microsoft.Extensions.Logging;
using Qcow2Mount.Control;
using Qcow2Mount.Mounting;
using Qcow2Mount.Mounting.Windows;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Service.Configuration;

/// <summary>The validated settings of the service and of foreground mounts, one record per configuration section.</summary>
public sealed record ServiceSettings
{
    public Qcow2Settings Qcow2 { get; init; } = new();
    public MountSettings Mount { get; init; } = new();
    public LoggingSettings Logging { get; init; } = new();
    public ControlSettings Control { get; init; } = new();

    /// <summary><c>Service:Detached</c>: started by <see cref="ServiceLauncher"/>, in its own session, with no console.</summary>
    public bool Detached { get; init; }
}

/// <summary>The <c>Qcow2</c> section: how images are opened.</summary>
public sealed record Qcow2Settings
{
    public long L2CacheBytes { get; init; } = 32L << 20;
    public long RefcountCacheBytes { get; init; } = 4L << 20;
    public long DecompressedCacheBytes { get; init; } = Qcow2OpenOptions.DefaultDecompressedCacheBytes;
    public bool LazyRefcounts { get; init; } = true;
    public bool PunchHoles { get; init; } = true;

    public Qcow2OpenOptions ToOpenOptions(bool writable, string? snapshot = null) => new()
    {
        Writable = writable,
        Snapshot = snapshot,
        L2CacheBytes = L2CacheBytes,
        RefcountCacheBytes = RefcountCacheBytes,
        DecompressedCacheBytes = DecompressedCacheBytes,
        LazyRefcounts = LazyRefcounts,
        PunchHoles = PunchHoles,
        // A mount lives long: what it reads must not be changed underneath by this tool's own writers.
        HoldReaderLock = true,
    };
}

/// <summary>The <c>Mount</c> section: how volumes are mounted.</summary>
public sealed record MountSettings
{
    /// <summary>The mode of a mount request that names none: ReadOnly, Writable or Overlay.</summary>
    public MountMode DefaultMode { get; init; } = MountMode.ReadOnly;

    /// <summary>
    /// The driver to mount with: <c>auto</c> (FUSE on Linux; on Windows WinFsp when installed, else Dokany 2.x),
    /// <c>winfsp</c>, <c>dokan</c> or <c>fuse</c>. See <see cref="DriverSelection"/>.
    /// </summary>
    public string FileSystem { get; init; } = FileSystemDrivers.Auto;
    public IReadOnlyList<string> FuseOptions { get; init; } = [];
    public bool AllowOther { get; init; }
    public int MaxThreads { get; init; }
    public int ReadaheadBytes { get; init; } = MountOptions.DefaultReadaheadBytes;
    public bool ZeroCopyReads { get; init; } = true;
    public int TimeoutSeconds { get; init; } = 30;

    public MountOptions ToMountOptions(bool readOnly) => new()
    {
        ReadOnly = readOnly,
        AllowOther = AllowOther,
        FuseOptions = FuseOptions,
        MaxThreads = MaxThreads,
        ReadaheadBytes = ReadaheadBytes,
        ZeroCopyReads = ZeroCopyReads,
        Timeout = TimeSpan.FromSeconds(TimeoutSeconds),
    };
}

/// <summary>The <c>Logging</c> section.</summary>
public sealed record LoggingSettings
{
    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>A file to append log lines to; a detached service without one logs beside its socket.</summary>
    public string? LogFile { get; init; }
}

/// <summary>The <c>Control</c> section: where the service listens (defaults: <see cref="ControlEndpoint.Default"/>).</summary>
public sealed record ControlSettings
{
    public string? SocketPath { get; init; }
    public string? PipeName { get; init; }

    public ControlEndpoint Endpoint => ControlEndpoint.From(SocketPath, PipeName);
}
