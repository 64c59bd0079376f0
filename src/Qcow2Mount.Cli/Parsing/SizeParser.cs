using System.Globalization;

namespace Qcow2Mount.Cli.Parsing;

/// <summary>Sizes written the way qemu-img accepts them: "4096", "4k", "1.5M", "1G" (binary units, "b" = bytes).</summary>
internal static class SizeParser
{
    public static long Parse(string text, string option)
    {
        string number = text;
        long unit = 1;
        if (text.Length > 0 && char.IsLetter(text[^1]))
        {
            unit = char.ToUpperInvariant(text[^1]) switch
            {
                'B' => 1,
                'K' => 1L << 10,
                'M' => 1L << 20,
                'G' => 1L << 30,
                'T' => 1L << 40,
                'P' => 1L << 50,
                'E' => 1L << 60,
                _ => 0,
            };
            number = text[..^1];
        }

        if (unit == 0 || number.Length == 0 || number.StartsWith('+') || number.StartsWith('-')
            || !decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal value))
        {
            throw new UsageException($"{option} {text}: invalid size (use a number with an optional k, M, G, T, P or E suffix)");
        }

        decimal bytes;
        try
        {
            bytes = value * unit;
        }
        catch (OverflowException)
        {
            throw new UsageException($"{option} {text}: size is too large");
        }

        if (bytes > long.MaxValue)
        {
            throw new UsageException($"{option} {text}: size is too large");
        }

        if (bytes != decimal.Truncate(bytes))
        {
            throw new UsageException($"{option} {text}: not a whole number of bytes");
        }

        return (long)bytes;
    }
}
