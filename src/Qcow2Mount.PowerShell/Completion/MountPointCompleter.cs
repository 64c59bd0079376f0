using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace Qcow2Mount.PowerShell.Completion;

/// <summary>
/// Completes -MountPoint: on Windows the drive letters no drive uses (a mount takes the next free one by default),
/// then folders; elsewhere the folders under what is typed.
/// </summary>
public sealed class MountPointCompleter : IArgumentCompleter
{
    private const int MaxResults = 200;

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        string word = CompletionPaths.Unquote(wordToComplete ?? "");
        var results = new List<CompletionResult>();
        if (OperatingSystem.IsWindows() && word.Length <= 2 && !word.Contains('\\', StringComparison.Ordinal) && !word.Contains('/', StringComparison.Ordinal))
        {
            results.AddRange(FreeDriveLetters()
                .Where(letter => letter.StartsWith(word, StringComparison.OrdinalIgnoreCase))
                .Select(letter => new CompletionResult(letter, letter, CompletionResultType.ParameterValue, $"{letter} (free drive letter)")));
        }

        results.AddRange(Folders(word).Take(MaxResults));
        return results;
    }

    /// <summary>D: to Z: that no drive uses, as "X:".</summary>
    internal static IEnumerable<string> FreeDriveLetters()
    {
        var used = DriveInfo.GetDrives().Select(d => char.ToUpperInvariant(d.Name[0])).ToHashSet();
        for (char letter = 'D'; letter <= 'Z'; letter++)
        {
            if (!used.Contains(letter))
            {
                yield return $"{letter}:";
            }
        }
    }

    /// <summary>The folders whose path starts with <paramref name="word"/>, written the way the word began.</summary>
    private static IEnumerable<CompletionResult> Folders(string word)
    {
        int cut = word.LastIndexOfAny(['/', Path.DirectorySeparatorChar]);
        string typedParent = cut < 0 ? "" : word[..(cut + 1)];
        string prefix = word[(cut + 1)..];
        string parent;
        try
        {
            parent = typedParent.Length == 0 ? CompletionPaths.CurrentFolder() : CompletionPaths.Absolute(typedParent);
        }
        catch (ArgumentException)
        {
            yield break;
        }

        IEnumerable<string> names;
        try
        {
            names = Directory.EnumerateDirectories(parent)
                .Select(Path.GetFileName)
                .Where(name => name is not null && name.StartsWith(prefix, OperatingSystem.IsLinux() ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal)
                .ToList()!;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            yield break;
        }

        foreach (string name in names)
        {
            string text = typedParent + name;
            yield return new CompletionResult(CompletionPaths.Quote(text), name, CompletionResultType.ProviderContainer, Path.Combine(parent, name));
        }
    }
}
