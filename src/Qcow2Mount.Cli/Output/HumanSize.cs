using System.Globalization;

namespace Qcow2Mount.Cli.Output;

/// <summary>Sizes the way qemu-img prints them: three significant digits and a binary unit ("1.39 MiB", "0 B").</summary>
internal static class HumanSize
{
    private static readonly string[] Prefixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

    public static string Format(ulong bytes)
    {
        // Pick the unit so that the number shown stays below 1000 (switching at 1000 of a unit, not 1024).
        int unit = 0;
        if (bytes > 0)
        {
            int exponent = Math.ILogB(bytes / (1000.0 / 1024.0)) + 1;
            unit = Math.Clamp((exponent - 1) / 10, 0, Prefixes.Length - 1);
        }

        double value = bytes / (double)(1UL << (unit * 10));
        return $"{FormatG3(value)} {Prefixes[unit]}B";
    }

    public static string Format(long bytes) => Format((ulong)Math.Max(0, bytes));

    /// <summary>C's "%0.3g": .NET's G3 with C's lower-case exponent.</summary>
    private static string FormatG3(double value) =>
        value.ToString("G3", CultureInfo.InvariantCulture).Replace("E", "e", StringComparison.Ordinal);
}
