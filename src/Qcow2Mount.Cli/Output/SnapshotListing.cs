using System.Globalization;
using System.Text.Json;
using Qcow2Mount.Qcow2.Snapshots;

namespace Qcow2Mount.Cli.Output;

/// <summary>Snapshots as qemu-img shows them: the fixed-width table and the JSON objects.</summary>
internal static class SnapshotListing
{
    private const long NanosecondsPerSecond = 1_000_000_000;

    public static void WriteText(IReadOnlyList<SnapshotInfo> snapshots, TextWriter output)
    {
        output.WriteLine("Snapshot list:");
        output.WriteLine($"{"ID",-10}{"TAG",-17}{"VM SIZE",8}{"DATE",20}{"VM CLOCK",13}{"ICOUNT",11}");
        foreach (var s in snapshots)
        {
            string date = s.Date.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
            string icount = s.Icount == -1 ? "" : s.Icount.ToString(CultureInfo.InvariantCulture);
            output.WriteLine($"{s.Id,-9} {s.Name,-16} {HumanSize.Format(s.VmStateSize),8}{date,20}{VmClock(s.VmClockNanoseconds),13}{icount,11}");
        }
    }

    /// <summary>One snapshot object, keys in the order qemu-img 7.2 prints them.</summary>
    public static void WriteJson(Utf8JsonWriter json, SnapshotInfo s)
    {
        json.WriteStartObject();
        if (s.Icount != -1)
        {
            json.WriteNumber("icount", s.Icount);
        }

        json.WriteNumber("vm-clock-nsec", s.VmClockNanoseconds % NanosecondsPerSecond);
        json.WriteString("name", s.Name);
        json.WriteNumber("date-sec", s.Date.ToUnixTimeSeconds());
        json.WriteNumber("date-nsec", (s.Date.UtcTicks % TimeSpan.TicksPerSecond) * 100);
        json.WriteNumber("vm-clock-sec", s.VmClockNanoseconds / NanosecondsPerSecond);
        json.WriteString("id", s.Id);
        json.WriteNumber("vm-state-size", s.VmStateSize);
        json.WriteEndObject();
    }

    private static string VmClock(ulong nanoseconds)
    {
        ulong seconds = nanoseconds / NanosecondsPerSecond;
        ulong milliseconds = nanoseconds / 1_000_000 % 1000;
        return string.Create(CultureInfo.InvariantCulture,
            $"{seconds / 3600:D2}:{seconds / 60 % 60:D2}:{seconds % 60:D2}.{milliseconds:D3}");
    }
}
