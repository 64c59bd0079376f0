using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.Logging;
using Qcow2Mount.Control;
using Qcow2Mount.Mounting;
using Qcow2Mount.Mounting.Windows;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Service.Configuration;

/// <summary>Where <see cref="Qcow2MountConfiguration.Build"/> looks; the defaults are the real locations.</summary>
public sealed record ConfigurationSources
{
    /// <summary>Folder of the shipped <c>appsettings.json</c>; default <see cref="AppContext.BaseDirectory"/>.</summary>
    public string? BaseDirectory { get; init; }

    /// <summary>The per-user settings file; default <see cref="Qcow2MountConfiguration.DefaultUserSettingsPath"/>.</summary>
    public string? UserSettingsFile { get; init; }

    /// <summary>Read <c>QCOW2MOUNT_*</c> environment variables.</summary>
    public bool IncludeEnvironment { get; init; } = true;
}

/// <summary>One effective setting for <c>qcow2mount config</c>: its value and the source that set it.</summary>
public sealed record EffectiveSetting(string Key, string Value, string Source);

/// <summary>Every invalid setting, each as "Key: reason, got 'value'".</summary>
[SuppressMessage("Design", "CA1032:Implement standard exception constructors", Justification = "Its message is built from the list of invalid settings, which callers read; an exception without the list would have nothing to report.")]
public sealed class ConfigurationValidationException(IReadOnlyList<string> errors)
    : Exception("Invalid configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  " + e)))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}

/// <summary>
/// The configuration of the service and of foreground mounts. Sources, later ones winning: <c>appsettings.json</c>
/// beside the binary, the per-user file (<c>~/.config/qcow2mount/settings.json</c>, <c>%APPDATA%\Qcow2Mount\settings.json</c>),
/// <c>QCOW2MOUNT_</c> environment variables (<c>QCOW2MOUNT_Qcow2__L2CacheBytes</c>), then the command line
/// (<c>--Qcow2:L2CacheBytes=64M</c> or a short switch from <see cref="SwitchMappings"/>). All optional.
/// </summary>
public static class Qcow2MountConfiguration
{
    public const string EnvironmentPrefix = "QCOW2MOUNT_";
    public const string DefaultsSource = "default";

    /// <summary>Short command-line switches; any key can also be set as <c>--Section:Key=value</c>.</summary>
    public static IReadOnlyDictionary<string, string> SwitchMappings { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["--l2-cache"] = "Qcow2:L2CacheBytes",
        ["--refcount-cache"] = "Qcow2:RefcountCacheBytes",
        ["--decompressed-cache"] = "Qcow2:DecompressedCacheBytes",
        ["--lazy-refcounts"] = "Qcow2:LazyRefcounts",
        ["--default-mode"] = "Mount:DefaultMode",
        ["--file-system"] = "Mount:FileSystem",
        ["--allow-other"] = "Mount:AllowOther",
        ["--max-threads"] = "Mount:MaxThreads",
        ["--readahead"] = "Mount:ReadaheadBytes",
        ["--log-level"] = "Logging:LogLevel",
        ["--log-file"] = "Logging:LogFile",
        ["--socket"] = "Control:SocketPath",
        ["--pipe"] = "Control:PipeName",
    };

    /// <summary>Every key the service reads, with its default as text (null: unset).</summary>
    private static readonly (string Key, string? Default)[] KnownKeys =
    [
        ("Qcow2:L2CacheBytes", (32L << 20).ToString(CultureInfo.InvariantCulture)),
        ("Qcow2:RefcountCacheBytes", (4L << 20).ToString(CultureInfo.InvariantCulture)),
        ("Qcow2:DecompressedCacheBytes", Qcow2OpenOptions.DefaultDecompressedCacheBytes.ToString(CultureInfo.InvariantCulture)),
        ("Qcow2:LazyRefcounts", "true"),
        ("Qcow2:PunchHoles", "true"),
        ("Mount:DefaultMode", nameof(MountMode.ReadOnly)),
        ("Mount:FileSystem", FileSystemDrivers.Auto),
        ("Mount:FuseOptions", null),
        ("Mount:AllowOther", "false"),
        ("Mount:MaxThreads", "0"),
        ("Mount:ReadaheadBytes", MountOptions.DefaultReadaheadBytes.ToString(CultureInfo.InvariantCulture)),
        ("Mount:ZeroCopyReads", "true"),
        ("Mount:TimeoutSeconds", "30"),
        ("Logging:LogLevel", nameof(LogLevel.Information)),
        ("Logging:LogFile", null),
        ("Control:SocketPath", null),
        ("Control:PipeName", null),
        ("Service:Detached", "false"),
    ];

    private static readonly string[] Sections = ["Qcow2", "Mount", "Logging", "Control", "Service"];

    /// <summary>The per-user settings file (<see cref="UserSettingsFile.DefaultPath"/>), where clients look for it too.</summary>
    public static string DefaultUserSettingsPath() => UserSettingsFile.DefaultPath();

    /// <summary>Builds the layered configuration; <paramref name="args"/> are the overrides (other arguments are ignored).</summary>
    public static IConfigurationRoot Build(IEnumerable<string>? args = null, ConfigurationSources? sources = null)
    {
        sources ??= new ConfigurationSources();
        string baseDirectory = sources.BaseDirectory ?? AppContext.BaseDirectory;
        string userFile = Path.GetFullPath(sources.UserSettingsFile ?? DefaultUserSettingsPath());
        var builder = new ConfigurationBuilder();
        AddJson(builder, Path.Combine(baseDirectory, "appsettings.json"));
        AddJson(builder, userFile);
        if (sources.IncludeEnvironment)
        {
            builder.AddEnvironmentVariables(EnvironmentPrefix);
        }

        // Only "--Key=value" style arguments are configuration; the verb and its own options are the caller's.
        var overrides = Overrides(args ?? []);
        builder.AddCommandLine(overrides, SwitchMappings.ToDictionary(p => p.Key, p => p.Value, StringComparer.OrdinalIgnoreCase));
        return builder.Build();
    }

    /// <summary>Validates and binds; throws <see cref="ConfigurationValidationException"/> listing every invalid value.</summary>
    public static ServiceSettings Load(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var reader = new Reader(configuration);
        var settings = new ServiceSettings
        {
            Qcow2 = new Qcow2Settings
            {
                L2CacheBytes = reader.Bytes("Qcow2:L2CacheBytes", 32L << 20),
                RefcountCacheBytes = reader.Bytes("Qcow2:RefcountCacheBytes", 4L << 20),
                DecompressedCacheBytes = reader.Bytes("Qcow2:DecompressedCacheBytes", Qcow2OpenOptions.DefaultDecompressedCacheBytes),
                LazyRefcounts = reader.Boolean("Qcow2:LazyRefcounts", true),
                PunchHoles = reader.Boolean("Qcow2:PunchHoles", true),
            },
            Mount = new MountSettings
            {
                DefaultMode = reader.DefaultMode("Mount:DefaultMode"),
                FileSystem = reader.FileSystem("Mount:FileSystem"),
                FuseOptions = reader.List("Mount:FuseOptions"),
                AllowOther = reader.Boolean("Mount:AllowOther", false),
                MaxThreads = reader.Integer("Mount:MaxThreads", 0, min: 0, max: 1024),
                ReadaheadBytes = (int)reader.ByteRange("Mount:ReadaheadBytes", MountOptions.DefaultReadaheadBytes, max: 1L << 30),
                ZeroCopyReads = reader.Boolean("Mount:ZeroCopyReads", true),
                TimeoutSeconds = reader.Integer("Mount:TimeoutSeconds", 30, min: 1, max: 3600),
            },
            Logging = new LoggingSettings
            {
                LogLevel = reader.Level("Logging:LogLevel"),
                LogFile = reader.Text("Logging:LogFile"),
            },
            Control = new ControlSettings
            {
                SocketPath = reader.Text("Control:SocketPath"),
                PipeName = reader.Text("Control:PipeName"),
            },
            Detached = reader.Boolean("Service:Detached", false),
        };
        reader.RejectUnknownKeys();
        return reader.Errors.Count == 0 ? settings : throw new ConfigurationValidationException(reader.Errors);
    }

    /// <summary>
    /// Each effective key with its value and the source it came from (the last provider holding it wins; keys
    /// no source sets show their default with source "default").
    /// </summary>
    public static IReadOnlyList<EffectiveSetting> DescribeEffectiveSettings(IConfigurationRoot root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var keys = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in root.AsEnumerable())
        {
            if (value is not null && Sections.Any(s => key.StartsWith(s + ":", StringComparison.OrdinalIgnoreCase)))
            {
                keys.Add(key);
            }
        }

        var result = new List<EffectiveSetting>();
        foreach (var (key, fallback) in KnownKeys)
        {
            if (!keys.Any(k => k.Equals(key, StringComparison.OrdinalIgnoreCase) || k.StartsWith(key + ":", StringComparison.OrdinalIgnoreCase)) && fallback is not null)
            {
                result.Add(new EffectiveSetting(key, fallback, DefaultsSource));
            }
        }

        foreach (string key in keys)
        {
            foreach (var provider in root.Providers.Reverse())
            {
                if (provider.TryGet(key, out string? value) && value is not null)
                {
                    result.Add(new EffectiveSetting(key, value, Describe(provider)));
                    break;
                }
            }
        }

        return [.. result.OrderBy(s => s.Key, StringComparer.OrdinalIgnoreCase)];
    }

    private static void AddJson(ConfigurationBuilder builder, string fullPath)
    {
        // The source finds the nearest existing folder itself: a missing folder just means a missing optional file.
        builder.AddJsonFile(fullPath, optional: true, reloadOnChange: false);
        ((JsonConfigurationSource)builder.Sources[^1]).OnLoadException = context =>
            throw new ConfigurationValidationException([$"{fullPath}: not valid JSON settings: {context.Exception.Message}"]);
        SourcePaths.AddOrUpdate(builder.Sources[^1], fullPath);
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IConfigurationSource, string> SourcePaths = [];

    private static string Describe(IConfigurationProvider provider) => provider switch
    {
        JsonConfigurationProvider json => SourcePaths.TryGetValue(json.Source, out string? path) ? path : json.Source.Path ?? "json",
        EnvironmentVariablesConfigurationProvider => $"environment ({EnvironmentPrefix}*)",
        CommandLineConfigurationProvider => "command line",
        _ => provider.ToString() ?? provider.GetType().Name,
    };

    /// <summary>"--Section:Key=value", "--switch=value" and "--switch value"; everything else is left to the caller.</summary>
    private static string[] Overrides(IEnumerable<string> args)
    {
        var list = args.ToList();
        var overrides = new List<string>();
        for (int i = 0; i < list.Count; i++)
        {
            string argument = list[i];
            if (!argument.StartsWith("--", StringComparison.Ordinal))
            {
                continue;
            }

            if (argument.Contains('=', StringComparison.Ordinal))
            {
                string name = argument.Split('=')[0];
                if (name.Contains(':', StringComparison.Ordinal) || SwitchMappings.ContainsKey(name))
                {
                    overrides.Add(argument);
                }
            }
            else if (SwitchMappings.ContainsKey(argument) && i + 1 < list.Count)
            {
                overrides.Add(argument);
                overrides.Add(list[++i]);
            }
        }

        return [.. overrides];
    }

    /// <summary>Reads typed values, collecting one error per bad key instead of stopping at the first.</summary>
    private sealed class Reader(IConfiguration configuration)
    {
        private readonly HashSet<string> _read = new(StringComparer.OrdinalIgnoreCase);

        public List<string> Errors { get; } = [];

        public string? Text(string key)
        {
            _read.Add(key);
            string? value = configuration[key];
            return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
        }

        public long Bytes(string key, long fallback)
        {
            if (Text(key) is not { } text)
            {
                return fallback;
            }

            if (TryParseBytes(text, out long bytes) && bytes > 0)
            {
                return bytes;
            }

            Errors.Add($"{key}: must be a positive number of bytes (e.g. 33554432 or 32M), got '{text}'");
            return fallback;
        }

        /// <summary>A byte count from 0 (meaning "leave the default") to <paramref name="max"/>.</summary>
        public long ByteRange(string key, long fallback, long max)
        {
            if (Text(key) is not { } text)
            {
                return fallback;
            }

            if (TryParseBytes(text, out long bytes) && bytes >= 0 && bytes <= max)
            {
                return bytes;
            }

            Errors.Add($"{key}: must be a number of bytes from 0 to {max} (e.g. 4194304 or 4M; 0 keeps the system default), got '{text}'");
            return fallback;
        }

        public bool Boolean(string key, bool fallback)
        {
            if (Text(key) is not { } text)
            {
                return fallback;
            }

            if (bool.TryParse(text, out bool value))
            {
                return value;
            }

            Errors.Add($"{key}: must be true or false, got '{text}'");
            return fallback;
        }

        public int Integer(string key, int fallback, int min, int max)
        {
            if (Text(key) is not { } text)
            {
                return fallback;
            }

            if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value >= min && value <= max)
            {
                return value;
            }

            Errors.Add($"{key}: must be a whole number from {min} to {max}, got '{text}'");
            return fallback;
        }

        public MountMode DefaultMode(string key)
        {
            if (Text(key) is not { } text)
            {
                return MountMode.ReadOnly;
            }

            if (Enum.TryParse(text, ignoreCase: true, out MountMode mode) && mode != MountMode.Snapshot && Enum.IsDefined(mode) && !char.IsAsciiDigit(text[0]))
            {
                return mode;
            }

            Errors.Add($"{key}: must be ReadOnly, Writable or Overlay, got '{text}'");
            return MountMode.ReadOnly;
        }

        public string FileSystem(string key)
        {
            string? text = Text(key);
            if (FileSystemDrivers.Parse(text) is { } driver)
            {
                return driver;
            }

            Errors.Add($"{key}: must be one of {string.Join(", ", FileSystemDrivers.Names)}, got '{text}'");
            return FileSystemDrivers.Auto;
        }

        public LogLevel Level(string key)
        {
            if (Text(key) is not { } text)
            {
                return LogLevel.Information;
            }

            if (Enum.TryParse(text, ignoreCase: true, out LogLevel level) && Enum.IsDefined(level) && !char.IsAsciiDigit(text[0]))
            {
                return level;
            }

            Errors.Add($"{key}: must be one of {string.Join(", ", Enum.GetNames<LogLevel>())}, got '{text}'");
            return LogLevel.Information;
        }

        /// <summary>A JSON array (Key:0, Key:1, ...) or, handy in an environment variable, one comma-separated value.</summary>
        public List<string> List(string key)
        {
            _read.Add(key);
            var section = configuration.GetSection(key);
            var items = section.GetChildren().Select(child =>
            {
                _read.Add(child.Path);
                return child.Value;
            }).Where(v => !string.IsNullOrWhiteSpace(v)).Select(v => v!.Trim()).ToList();
            if (items.Count == 0 && section.Value is { } single)
            {
                items = [.. single.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
            }

            foreach (string item in items.Where(i => i.Contains(' ', StringComparison.Ordinal)))
            {
                Errors.Add($"{key}: each FUSE option is one 'name' or 'name=value' without spaces, got '{item}'");
            }

            return items;
        }

        public void RejectUnknownKeys()
        {
            foreach (var (key, value) in configuration.AsEnumerable())
            {
                if (value is not null && Sections.Any(s => key.StartsWith(s + ":", StringComparison.OrdinalIgnoreCase)) && !_read.Contains(key))
                {
                    Errors.Add($"{key}: unknown setting (known: {string.Join(", ", KnownKeys.Select(k => k.Key))})");
                }
            }
        }

        private static bool TryParseBytes(string text, out long bytes)
        {
            long multiplier = 1;
            char last = char.ToUpperInvariant(text[^1]);
            int shift = last switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => 0 };
            if (shift > 0)
            {
                multiplier = 1L << shift;
                text = text[..^1];
            }

            bytes = 0;
            return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long number)
                && number <= long.MaxValue / multiplier
                && (bytes = number * multiplier) >= 0;
        }
    }
}
