using Microsoft.Extensions.Logging;
using Qcow2Mount.Mounting;
using Qcow2Mount.Service.Configuration;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Service.Tests;

/// <summary>Configuration layering (shipped file, user file, environment, command line), validation and the effective view.</summary>
[NonParallelizable] // sets process environment variables
internal sealed class ConfigurationTests
{
    private TempDir _dir = null!;
    private readonly List<string> _variables = [];

    [SetUp]
    public void SetUp() => _dir = new TempDir("config");

    [TearDown]
    public void TearDown()
    {
        foreach (string name in _variables)
        {
            Environment.SetEnvironmentVariable(name, null);
        }

        _dir.Dispose();
    }

    private void SetVariable(string name, string value)
    {
        _variables.Add(name);
        Environment.SetEnvironmentVariable(name, value);
    }

    private ConfigurationSources Sources(string? shipped, string? user)
    {
        string baseDir = _dir.Combine("bin");
        Directory.CreateDirectory(baseDir);
        if (shipped is not null)
        {
            File.WriteAllText(Path.Combine(baseDir, "appsettings.json"), shipped);
        }

        string userFile = _dir.Combine("home", "settings.json");
        if (user is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(userFile)!);
            File.WriteAllText(userFile, user);
        }

        return new ConfigurationSources { BaseDirectory = baseDir, UserSettingsFile = userFile };
    }

    [Test]
    public void Later_sources_win_and_the_effective_view_names_each_winner()
    {
        var sources = Sources(
            shipped: """{ "Qcow2": { "L2CacheBytes": 1000, "RefcountCacheBytes": 2000, "DecompressedCacheBytes": 3000 }, "Mount": { "MaxThreads": 2 } }""",
            user: """{ "Qcow2": { "RefcountCacheBytes": 2222, "DecompressedCacheBytes": 3333 } }""");
        SetVariable("QCOW2MOUNT_Qcow2__DecompressedCacheBytes", "4444");
        SetVariable("QCOW2MOUNT_Mount__FuseOptions", "uid=1000,gid=1000");

        var root = Qcow2MountConfiguration.Build(["mount", "x.qcow2", "--Mount:MaxThreads=7", "--log-level", "Debug", "--foreground"], sources);
        var settings = Qcow2MountConfiguration.Load(root);
        var effective = Qcow2MountConfiguration.DescribeEffectiveSettings(root).ToDictionary(s => s.Key);

        Assert.Multiple(() =>
        {
            Assert.That(settings.Qcow2.L2CacheBytes, Is.EqualTo(1000));
            Assert.That(settings.Qcow2.RefcountCacheBytes, Is.EqualTo(2222));
            Assert.That(settings.Qcow2.DecompressedCacheBytes, Is.EqualTo(4444));
            Assert.That(settings.Mount.MaxThreads, Is.EqualTo(7));
            Assert.That(settings.Mount.FuseOptions, Is.EqualTo(new[] { "uid=1000", "gid=1000" }));
            Assert.That(settings.Logging.LogLevel, Is.EqualTo(LogLevel.Debug));
            Assert.That(settings.Qcow2.LazyRefcounts, Is.True, "default");
            Assert.That(settings.Mount.DefaultMode, Is.EqualTo(MountMode.ReadOnly), "default");

            Assert.That(effective["Qcow2:L2CacheBytes"].Source, Does.EndWith(Path.Combine("bin", "appsettings.json")));
            Assert.That(effective["Qcow2:RefcountCacheBytes"].Source, Does.EndWith(Path.Combine("home", "settings.json")));
            Assert.That(effective["Qcow2:DecompressedCacheBytes"], Is.EqualTo(new EffectiveSetting("Qcow2:DecompressedCacheBytes", "4444", "environment (QCOW2MOUNT_*)")));
            Assert.That(effective["Mount:MaxThreads"], Is.EqualTo(new EffectiveSetting("Mount:MaxThreads", "7", "command line")));
            Assert.That(effective["Logging:LogLevel"].Value, Is.EqualTo("Debug"));
            Assert.That(effective["Qcow2:LazyRefcounts"], Is.EqualTo(new EffectiveSetting("Qcow2:LazyRefcounts", "true", Qcow2MountConfiguration.DefaultsSource)));
        });
    }

    [Test]
    public void The_shipped_appsettings_json_is_valid_and_matches_the_defaults()
    {
        string shipped = Path.Combine(AppContext.BaseDirectory, "appsettings.json");
        Assert.That(File.Exists(shipped), Is.True, "appsettings.json is copied beside the binaries");

        var settings = Qcow2MountConfiguration.Load(Qcow2MountConfiguration.Build([], new ConfigurationSources
        {
            BaseDirectory = AppContext.BaseDirectory,
            UserSettingsFile = _dir.Combine("none.json"),
            IncludeEnvironment = false,
        }));

        Assert.That(settings, Is.EqualTo(new ServiceSettings
        {
            Mount = settings.Mount, // FuseOptions is a list: compared below
        }));
        Assert.That(settings.Mount with { FuseOptions = [] }, Is.EqualTo(new MountSettings()));
        Assert.That(settings.Mount.FuseOptions, Is.Empty);
    }

    [Test]
    public void Every_invalid_value_is_reported_with_its_key_and_reason()
    {
        var sources = Sources(shipped: """{ "Mount": { "MaxThreads": -1, "DefaultMode": "Snapshot", "Colour": "blue", "ReadaheadBytes": "2G", "ZeroCopyReads": "yes" } }""", user: null);

        var error = Assert.Throws<ConfigurationValidationException>(() => Qcow2MountConfiguration.Load(Qcow2MountConfiguration.Build(
            ["--Qcow2:L2CacheBytes=abc", "--Qcow2:LazyRefcounts=maybe", "--log-level=Loud", "--Qcow2:RefcountCacheBytes=0"], sources)));

        Assert.That(error!.Errors, Is.EquivalentTo(new[]
        {
            "Qcow2:L2CacheBytes: must be a positive number of bytes (e.g. 33554432 or 32M), got 'abc'",
            "Qcow2:RefcountCacheBytes: must be a positive number of bytes (e.g. 33554432 or 32M), got '0'",
            "Qcow2:LazyRefcounts: must be true or false, got 'maybe'",
            "Mount:MaxThreads: must be a whole number from 0 to 1024, got '-1'",
            "Mount:DefaultMode: must be ReadOnly, Writable or Overlay, got 'Snapshot'",
            "Logging:LogLevel: must be one of Trace, Debug, Information, Warning, Error, Critical, None, got 'Loud'",
            "Mount:ReadaheadBytes: must be a number of bytes from 0 to 1073741824 (e.g. 4194304 or 4M; 0 keeps the system default), got '2G'",
            "Mount:ZeroCopyReads: must be true or false, got 'yes'",
            "Mount:Colour: unknown setting (known: Qcow2:L2CacheBytes, Qcow2:RefcountCacheBytes, Qcow2:DecompressedCacheBytes, Qcow2:LazyRefcounts, Qcow2:PunchHoles, Mount:DefaultMode, Mount:FileSystem, Mount:FuseOptions, Mount:AllowOther, Mount:MaxThreads, Mount:ReadaheadBytes, Mount:ZeroCopyReads, Mount:TimeoutSeconds, Logging:LogLevel, Logging:LogFile, Control:SocketPath, Control:PipeName, Service:Detached)",
        }));
        Assert.That(error.Message, Does.StartWith("Invalid configuration:"));
    }

    [Test]
    public void Byte_sizes_take_binary_suffixes()
    {
        var settings = Qcow2MountConfiguration.Load(Qcow2MountConfiguration.Build(
            ["--l2-cache=64M", "--Qcow2:RefcountCacheBytes=512k", "--Qcow2:DecompressedCacheBytes=1G", "--readahead=8M"], Sources(null, null)));

        Assert.Multiple(() =>
        {
            Assert.That(settings.Qcow2.L2CacheBytes, Is.EqualTo(64L << 20));
            Assert.That(settings.Qcow2.RefcountCacheBytes, Is.EqualTo(512L << 10));
            Assert.That(settings.Qcow2.DecompressedCacheBytes, Is.EqualTo(1L << 30));
            Assert.That(settings.Mount.ToMountOptions(readOnly: true).ReadaheadBytes, Is.EqualTo(8 << 20));
        });
    }

    [Test]
    public void A_broken_settings_file_is_an_error_that_names_the_file()
    {
        var sources = Sources(shipped: null, user: "{ not json");

        var error = Assert.Throws<ConfigurationValidationException>(() => Qcow2MountConfiguration.Build([], sources));

        Assert.That(error!.Errors.Single(), Does.StartWith(sources.UserSettingsFile!));
    }

    [Test]
    public void The_user_settings_file_lives_in_the_users_config_folder()
    {
        string path = Qcow2MountConfiguration.DefaultUserSettingsPath();

        Assert.That(path, OperatingSystem.IsWindows()
            ? Does.EndWith(Path.Combine("Qcow2Mount", "settings.json"))
            : Does.EndWith(Path.Combine(".config", "qcow2mount", "settings.json")).Or.StartWith(Environment.GetEnvironmentVariable("XDG_CONFIG_HOME") ?? "\0"));
    }
}
