using System.Diagnostics;
using System.Globalization;
using NUnit.Framework;

namespace Qcow2Mount.TestSupport;

/// <summary>
/// The QCOW2 conformance corpus (<c>tests/corpus/make-corpus.sh</c>) and the hostile images
/// (<c>tests/corpus/make-hostile.sh</c>), generated once per machine into <see cref="RootDirectory"/>
/// (<c>tests/corpus/generated/</c>, or <c>$QCOW2MOUNT_CORPUS_DIR</c>) and reused while the scripts are unchanged.
/// Generation holds a file lock, so test assemblies running in parallel wait for each other instead of racing.
/// <para>
/// Use <see cref="Entries"/> / <see cref="HostileEntries"/> as NUnit <c>TestCaseSource</c>s. When bash, qemu-img,
/// qemu-io or python3 is missing, each yields a single ignored case naming the missing tool, so the gap shows
/// in the results instead of passing silently. A generation failure is an error, not an ignore.
/// </para>
/// </summary>
public static class Corpus
{
    /// <summary>Environment variable naming the corpus folder (it gets <c>valid/</c> and <c>hostile/</c>).</summary>
    public const string DirectoryVariable = "QCOW2MOUNT_CORPUS_DIR";

    private static readonly TimeSpan GenerationTimeout = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan LockTimeout = TimeSpan.FromMinutes(10);
    private static readonly string[] RequiredTools = ["bash", "qemu-img", "qemu-io", "python3"];

    private static readonly Lazy<string?> RepositoryRootLazy = new(() => FindRepositoryRoot(AppContext.BaseDirectory));
    private static readonly Lazy<Loaded<CorpusEntry>> Valid = new(() => Load("valid", "make-corpus.sh", ParseValid));
    private static readonly Lazy<Loaded<HostileEntry>> Hostile = new(() => Load("hostile", "make-hostile.sh", ParseHostile));

    /// <summary>The repository root (the folder holding Qcow2Mount.sln above the test binaries), or null.</summary>
    public static string? RepositoryRoot => RepositoryRootLazy.Value;

    /// <summary>
    /// Where the corpus lives: <c>$QCOW2MOUNT_CORPUS_DIR</c> if set, else <c>tests/corpus/generated</c> in the
    /// repository (gitignored); null when neither is known.
    /// </summary>
    public static string? RootDirectory =>
        Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } fromEnvironment
            ? Path.GetFullPath(fromEnvironment)
            : RepositoryRoot is { } root ? Path.Combine(root, "tests", "corpus", "generated") : null;

    /// <summary>Test cases, one per valid view, each with a single <see cref="CorpusEntry"/> argument.</summary>
    public static IEnumerable<TestCaseData> Entries => Cases(Valid.Value, e => e.ViewName, Placeholder);

    /// <summary>Test cases, one per hostile image, each with a single <see cref="HostileEntry"/> argument.</summary>
    public static IEnumerable<TestCaseData> HostileEntries => Cases(
        Hostile.Value, e => e.Name, reason => new HostileEntry("corpus-unavailable", string.Empty, HostileCategory.NotQcow2, null, null, reason));

    /// <summary>All valid views; ignores the calling test when the corpus cannot be generated here.</summary>
    public static IReadOnlyList<CorpusEntry> LoadEntries() => Require(Valid.Value);

    /// <summary>All hostile cases; ignores the calling test when the corpus cannot be generated here.</summary>
    public static IReadOnlyList<HostileEntry> LoadHostileEntries() => Require(Hostile.Value);

    /// <summary>One view by image name (and snapshot name), e.g. <c>Get("snap-v3", "s1")</c>.</summary>
    public static CorpusEntry Get(string name, string? snapshot = null) =>
        LoadEntries().SingleOrDefault(e => e.Name == name && e.Snapshot == snapshot)
        ?? throw new KeyNotFoundException($"no corpus view {name}{(snapshot is null ? string.Empty : "@" + snapshot)}");

    /// <summary>One hostile case by name.</summary>
    public static HostileEntry GetHostile(string name) =>
        LoadHostileEntries().SingleOrDefault(e => e.Name == name) ?? throw new KeyNotFoundException($"no hostile case {name}");

    private sealed record Loaded<T>(IReadOnlyList<T> Items, string? UnavailableReason);

    private static IEnumerable<TestCaseData> Cases<T>(Loaded<T> loaded, Func<T, string> displayName, Func<string, T> placeholder)
    {
        if (loaded.UnavailableReason is { } reason)
        {
            return [new TestCaseData(placeholder(reason)).SetArgDisplayNames("corpus-unavailable").Ignore(reason)];
        }

        return loaded.Items.Select(item => new TestCaseData(item).SetArgDisplayNames(displayName(item)));
    }

    private static CorpusEntry Placeholder(string reason) =>
        new("corpus-unavailable", string.Empty, null, reason, string.Empty, string.Empty, string.Empty);

    private static IReadOnlyList<T> Require<T>(Loaded<T> loaded)
    {
        if (loaded.UnavailableReason is { } reason)
        {
            Assert.Ignore(reason);
        }

        return loaded.Items;
    }

    private static Loaded<T> Load<T>(string subdirectory, string script, Func<string, IReadOnlyList<T>> parse)
    {
        if (RootDirectory is not { } root)
        {
            return new([], $"corpus unavailable: no Qcow2Mount.sln above {AppContext.BaseDirectory} and {DirectoryVariable} is not set");
        }

        var directory = Path.Combine(root, subdirectory);
        var manifest = Path.Combine(directory, "manifest.tsv");
        var scriptPath = RepositoryRoot is { } repo ? Path.Combine(repo, "tests", "corpus", script) : null;
        if (scriptPath is null || !File.Exists(scriptPath))
        {
            // A pre-generated corpus ($QCOW2MOUNT_CORPUS_DIR) without the repository: use it as it is.
            return File.Exists(manifest)
                ? new(parse(directory), null)
                : new([], $"corpus unavailable: {manifest} does not exist and {script} was not found");
        }

        foreach (var tool in RequiredTools)
        {
            if (ExternalTool.Find(tool) is null)
            {
                return new([], $"corpus unavailable: {tool} not found on PATH: {ExternalTool.InstallHint(tool)}");
            }
        }

        Directory.CreateDirectory(root);
        using (AcquireLock(Path.Combine(root, ".generate.lock")))
        {
            // The script itself skips the work when its manifest carries the script's current hash.
            var stopwatch = Stopwatch.StartNew();
            var result = ExternalTool.Run("bash", [scriptPath, directory], GenerationTimeout);
            if (!result.Succeeded)
            {
                throw new InvalidOperationException(
                    $"{script} failed (exit {result.ExitCode}); the corpus could not be generated.\n{result.StandardError}\n{result.StandardOutput}");
            }

            Trace.WriteLine($"{script}: {result.StandardOutput.Trim()} ({stopwatch.Elapsed.TotalSeconds:0.0} s)");
            return new(parse(directory), null);
        }
    }

    /// <summary>An exclusive lock on a file shared by all processes (FileShare.None is an flock on Unix).</summary>
    private static FileStream AcquireLock(string path)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (deadline.Elapsed < LockTimeout)
            {
                Thread.Sleep(200);
            }
        }
    }

    private static IEnumerable<string[]> ReadManifest(string directory, int minimumColumns)
    {
        var manifest = Path.Combine(directory, "manifest.tsv");
        var lineNumber = 0;
        foreach (var line in File.ReadLines(manifest))
        {
            lineNumber++;
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var columns = line.Split('\t');
            if (columns.Length < minimumColumns)
            {
                throw new InvalidDataException($"{manifest}:{lineNumber}: expected {minimumColumns} tab-separated columns, found {columns.Length}");
            }

            yield return columns;
        }
    }

    private static string Resolve(string directory, string relativePath) =>
        Path.GetFullPath(Path.Combine(directory, relativePath.Replace('/', Path.DirectorySeparatorChar)));

    private static IReadOnlyList<CorpusEntry> ParseValid(string directory)
    {
        var expected = Path.Combine(directory, "expected");
        return ReadManifest(directory, 4).Select(c =>
        {
            var snapshot = c[2] == "-" ? null : c[2];
            var view = snapshot is null ? c[0] : $"{c[0]}@{snapshot}";
            return new CorpusEntry(
                c[0],
                Resolve(directory, c[1]),
                snapshot,
                c[3],
                Path.Combine(expected, view + ".raw"),
                Path.Combine(expected, c[0] + ".info.json"),
                Path.Combine(expected, c[0] + ".chain.json"));
        }).ToList();
    }

    private static IReadOnlyList<HostileEntry> ParseHostile(string directory) =>
        ReadManifest(directory, 3).Select(c => new HostileEntry(
            c[0],
            Resolve(directory, c[1]),
            Enum.Parse<HostileCategory>(c[2]),
            c.Length > 3 && c[3] != "-" ? long.Parse(c[3], CultureInfo.InvariantCulture) : null,
            c.Length > 4 && c[4] != "-" ? long.Parse(c[4], CultureInfo.InvariantCulture) : null,
            c.Length > 5 ? c[5] : string.Empty)).ToList();

    private static string? FindRepositoryRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Qcow2Mount.sln")))
            {
                return dir.FullName;
            }
        }

        return null;
    }
}
