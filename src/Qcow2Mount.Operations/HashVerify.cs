using System.Text.Json;
using System.Text.RegularExpressions;

namespace Qcow2Mount.Operations;

/// <summary>What <see cref="ImageOperations.VerifyHashAsync"/> checks.</summary>
public sealed record VerifyHashOptions
{
    public required string Image { get; init; }

    /// <summary>
    /// The recorded digests: the <c>--json</c> output of <c>hash</c>, its text output (<c>sha256  HEX</c> lines), or
    /// <c>sha256sum</c>-style lines (<c>HEX  NAME</c>) naming the image's file name or <c>disk.raw</c>.
    /// </summary>
    public required string RecordFile { get; init; }

    /// <summary>The image's format; null probes it.</summary>
    public ImageFormat? Format { get; init; }

    /// <summary>Check this internal snapshot's digests; null takes the record's snapshot, if it names one.</summary>
    public string? Snapshot { get; init; }

    /// <summary>Take no lock (qemu-img -U).</summary>
    public bool ForceShare { get; init; }

    public IPasswordProvider? Passwords { get; init; }
}

/// <summary>One recorded digest and the one computed now.</summary>
public sealed record DigestCheck(DigestAlgorithm Algorithm, string Expected, string Actual)
{
    public bool Matches => string.Equals(Expected, Actual, StringComparison.OrdinalIgnoreCase);
}

/// <summary>Every recorded digest, checked.</summary>
public sealed record HashVerification(string Image, string? Snapshot, IReadOnlyList<DigestCheck> Checks)
{
    public bool AllMatch => Checks.All(c => c.Matches);
}

public static partial class ImageOperations
{
    /// <summary>
    /// Recomputes the digests a record file holds (in one pass, as <see cref="HashAsync"/>) and compares each. A
    /// record with no digest of this image is an <see cref="OperationErrorCode.InvalidOptions"/> error.
    /// </summary>
    public static Task<HashVerification> VerifyHashAsync(VerifyHashOptions options, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return GuardAsync(async () =>
        {
            string text = await File.ReadAllTextAsync(options.RecordFile, cancellationToken).ConfigureAwait(false);
            var (recorded, recordedSnapshot) = DigestRecord.Parse(text, options.RecordFile, options.Image);
            string? snapshot = options.Snapshot ?? recordedSnapshot;
            var result = await HashAsync(new HashOptions
            {
                Image = options.Image,
                Format = options.Format,
                Snapshot = snapshot,
                Algorithms = [.. recorded.Keys],
                ForceShare = options.ForceShare,
                Passwords = options.Passwords,
            }, progress, cancellationToken).ConfigureAwait(false);
            return new HashVerification(result.Image, snapshot,
                [.. result.Digests.Select(d => new DigestCheck(d.Algorithm, recorded[d.Algorithm].ToLowerInvariant(), d.Hex))]);
        });
    }
}

/// <summary>Reads the digests a record file holds for one image.</summary>
internal static partial class DigestRecord
{
    private static readonly Dictionary<int, DigestAlgorithm> ByHexLength = new()
    {
        [32] = DigestAlgorithm.Md5,
        [40] = DigestAlgorithm.Sha1,
        [64] = DigestAlgorithm.Sha256,
        [128] = DigestAlgorithm.Sha512,
    };

    [GeneratedRegex("^[0-9a-fA-F]+$")]
    private static partial Regex Hex();

    public static (Dictionary<DigestAlgorithm, string> Digests, string? Snapshot) Parse(string text, string recordFile, string image)
    {
        var digests = new Dictionary<DigestAlgorithm, string>();
        string? snapshot = null;
        void Add(DigestAlgorithm? named, string hex, int line)
        {
            if (!Hex().IsMatch(hex) || !ByHexLength.TryGetValue(hex.Length, out var byLength) || (named is { } n && n != byLength))
            {
                throw OperationException.Invalid(nameof(VerifyHashOptions.RecordFile), $"{recordFile}{(line > 0 ? $" line {line}" : "")}: '{hex}' is no md5, sha1, sha256 or sha512 digest");
            }

            if (digests.TryGetValue(byLength, out var earlier) && !string.Equals(earlier, hex, StringComparison.OrdinalIgnoreCase))
            {
                throw OperationException.Invalid(nameof(VerifyHashOptions.RecordFile), $"{recordFile}: two different {byLength.ToString().ToLowerInvariant()} digests for the image");
            }

            digests[byLength] = hex;
        }

        if (text.TrimStart().StartsWith('{'))
        {
            try
            {
                using var json = JsonDocument.Parse(text);
                foreach (var property in json.RootElement.EnumerateObject())
                {
                    if (Enum.TryParse<DigestAlgorithm>(property.Name, ignoreCase: true, out var algorithm) && property.Value.ValueKind == JsonValueKind.String)
                    {
                        Add(algorithm, property.Value.GetString()!, 0);
                    }
                    else if (property.Name == "snapshot" && property.Value.ValueKind == JsonValueKind.String)
                    {
                        snapshot = property.Value.GetString();
                    }
                }
            }
            catch (JsonException e)
            {
                throw OperationException.Invalid(nameof(VerifyHashOptions.RecordFile), $"{recordFile}: not valid JSON ({e.Message})");
            }
        }
        else
        {
            string imageName = Path.GetFileName(image);
            string imagePath = Path.GetFullPath(image);
            string[] lines = text.Split('\n');
            for (int i = 0; i < lines.Length; i++)
            {
                string line = lines[i].Trim();
                if (line.Length == 0 || line.StartsWith('#'))
                {
                    continue;
                }

                string[] parts = line.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length != 2)
                {
                    continue;
                }

                // hash's own text form: "sha256  HEX".
                if (Enum.TryParse<DigestAlgorithm>(parts[0], ignoreCase: true, out var algorithm) && !Hex().IsMatch(parts[0]))
                {
                    Add(algorithm, parts[1].Trim(), i + 1);
                    continue;
                }

                // sha256sum's form: "HEX  NAME" or "HEX *NAME"; only lines naming this image or disk.raw count.
                string name = parts[1].TrimStart().TrimStart('*');
                if (name == "disk.raw" || Path.GetFileName(name) == "disk.raw" || name == image || name == imageName
                    || string.Equals(Path.GetFullPath(name), imagePath, StringComparison.Ordinal))
                {
                    Add(null, parts[0], i + 1);
                }
            }
        }

        if (digests.Count == 0)
        {
            throw OperationException.Invalid(nameof(VerifyHashOptions.RecordFile),
                $"{recordFile}: no digest of {Path.GetFileName(image)} or disk.raw in it (expected hash --json output or sha256sum lines)");
        }

        return (digests, snapshot);
    }
}
