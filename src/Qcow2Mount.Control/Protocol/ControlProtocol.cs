namespace Qcow2Mount.Control.Protocol;

/// <summary>
/// The control protocol: newline-delimited JSON over a Unix domain socket (Linux) or a named pipe (Windows).
/// Each request is one line, <c>{"v":1,"id":..,"op":"mount|unmount|list|status|shutdown",...}</c>, answered by one
/// line, <c>{"v":1,"id":..,"ok":true,...}</c> or <c>{"v":1,"id":..,"ok":false,"error":{"code":..,"message":..}}</c>.
/// A connection may carry any number of requests, one at a time.
/// <para>
/// Fields added within a version are optional, and a service ignores fields it does not know. Such additions:
/// <c>shutdown</c> takes <c>"ifIdle":true</c>, which makes the service refuse (<see cref="ErrorCodes.Busy"/>) while
/// anything is mounted, and otherwise stop taking mounts at once, so no mount can slip in before it exits. A service
/// older than the field ignores it and shuts down regardless, so a client sends it only to a service whose
/// <c>status</c> lists <see cref="ServiceFeatures.ShutdownIfIdle"/> in <c>features</c>.
/// </para>
/// </summary>
public static class ControlProtocol
{
    /// <summary>The only protocol version this build speaks; a request with another gets <see cref="ErrorCodes.UnsupportedVersion"/>.</summary>
    public const int Version = 1;

    /// <summary>Longest request line accepted, newline excluded; a longer one gets <see cref="ErrorCodes.RequestTooLarge"/>.</summary>
    public const int MaxRequestBytes = 64 * 1024;

    /// <summary>Longest response line a client reads (a list of many mounts is bigger than any request).</summary>
    public const int MaxResponseBytes = 4 * 1024 * 1024;
}

/// <summary>Protocol additions within version 1 that a service lists in its status (<c>features</c>).</summary>
public static class ServiceFeatures
{
    /// <summary><c>shutdown</c> honours <c>"ifIdle":true</c>; an older service would shut down with mounts.</summary>
    public const string ShutdownIfIdle = "shutdown-if-idle";

    /// <summary>What this build's service understands.</summary>
    public static IReadOnlyList<string> All { get; } = [ShutdownIfIdle];
}

/// <summary>The operations (<c>op</c>).</summary>
public static class ControlOperations
{
    public const string Mount = "mount";
    public const string Unmount = "unmount";
    public const string List = "list";
    public const string Status = "status";
    public const string Shutdown = "shutdown";

    public static IReadOnlyList<string> All { get; } = [Mount, Unmount, List, Status, Shutdown];
}

/// <summary>Mount modes as the protocol spells them (<c>mode</c>).</summary>
public static class ControlMountModes
{
    public const string ReadOnly = "readonly";
    public const string Writable = "writable";
    public const string Overlay = "overlay";
    public const string Snapshot = "snapshot";
}
