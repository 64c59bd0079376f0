namespace Qcow2Mount.Operations;

/// <summary>The image formats operations read and write.</summary>
public enum ImageFormat
{
    Raw,
    Qcow2,
}

internal static class ImageFormats
{
    /// <summary>The engine's spelling ("raw", "qcow2"); null probes.</summary>
    public static string? Name(ImageFormat? format) => format switch
    {
        ImageFormat.Raw => "raw",
        ImageFormat.Qcow2 => "qcow2",
        _ => null,
    };
}
