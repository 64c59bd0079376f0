using System.Buffers.Binary;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Mounting.Partitions;

/// <summary>The reading behind <see cref="PartitionTable.Read"/>: one disk, one pass, notes collected on the way.</summary>
internal sealed class PartitionTableReader
{
    private const int MbrSector = 512;

    /// <summary>Notes kept at most: a table with thousands of bad entries must not flood the log.</summary>
    private const int MaxNotes = 32;

    private readonly IVirtualDisk _disk;
    private readonly List<string> _notes = [];
    private int _droppedNotes;

    public PartitionTableReader(IVirtualDisk disk) => _disk = disk;

    public PartitionTable Read()
    {
        if (_disk.Length < MbrSector)
        {
            return PartitionTable.None($"the disk is {_disk.Length} bytes, smaller than one sector");
        }

        var mbr = new byte[MbrSector];
        if (!ReadExactly(0, mbr))
        {
            return PartitionTable.None("the first sector could not be read in full");
        }

        if (!MbrEntry.HasBootSignature(mbr))
        {
            return PartitionTable.None("no partition table (the first sector has no 55 AA boot signature)");
        }

        if (Inspection.FileSystemProbe.Detect(mbr) is { Kind: Inspection.FileSystemKind.Ntfs or Inspection.FileSystemKind.ExFat or Inspection.FileSystemKind.BitLocker
            or Inspection.FileSystemKind.Fat12 or Inspection.FileSystemKind.Fat16 or Inspection.FileSystemKind.Fat32 } whole)
        {
            return PartitionTable.None($"no partition table (the disk holds {whole.Description} directly, from its first sector)");
        }

        var entries = MbrEntry.ParseTable(mbr);
        if (entries.Any(e => e.BootIndicator is not (0x00 or 0x80)))
        {
            // A boot sector of a file system written over the whole disk also ends in 55 AA; Linux tells them apart this way.
            return PartitionTable.None("no partition table (the first sector is a boot sector, not an MBR: its entries have invalid boot flags)");
        }

        if (entries.Any(e => e.Type == MbrEntry.ProtectiveGptType))
        {
            return ReadGpt();
        }

        return ReadMbr(mbr, entries);
    }

    private PartitionTable ReadMbr(byte[] mbr, MbrEntry[] entries)
    {
        long diskSectors = _disk.Length / MbrSector;
        var partitions = new List<Partition>();
        int nextLogical = 5;
        for (int slot = 0; slot < 4; slot++)
        {
            var entry = entries[slot];
            if (entry.IsEmpty)
            {
                continue;
            }

            var role = entry.IsExtended ? PartitionRole.Extended : PartitionRole.Primary;
            if (Fit(slot + 1, entry.StartLba, entry.SectorCount, diskSectors) is { } fitted)
            {
                partitions.Add(fitted with { Role = role, MbrType = entry.Type, Bootable = entry.BootIndicator == 0x80 });
                if (role == PartitionRole.Extended)
                {
                    ReadExtendedChain(entry.StartLba, entry.SectorCount, diskSectors, partitions, ref nextLogical);
                }
            }
        }

        if (partitions.Count == 0)
        {
            return new PartitionTable(PartitionScheme.None, MbrSector, [], [.. _notes.Prepend("the MBR holds no partitions")]);
        }

        partitions.Sort((a, b) => a.Number.CompareTo(b.Number));
        NoteOverlaps(partitions);
        return new PartitionTable(PartitionScheme.Mbr, MbrSector, partitions, Notes(), diskSignature: BinaryPrimitives.ReadUInt32LittleEndian(mbr.AsSpan(440)));
    }

    /// <summary>
    /// Follows the chain of extended boot records as Linux's parse_extended does: each EBR's data entries are
    /// logical partitions (relative to that EBR), its first extended entry links to the next EBR (relative to the
    /// start of the extended partition). Stops at a loop, a missing signature, the partition limit or the EBR limit.
    /// </summary>
    private void ReadExtendedChain(uint firstLba, uint firstSectors, long diskSectors, List<Partition> partitions, ref int nextLogical)
    {
        var visited = new HashSet<long>();
        long thisLba = firstLba;
        long thisSectors = firstSectors;
        var sector = new byte[MbrSector];
        for (int records = 0; ; records++)
        {
            if (records == PartitionTable.MaxExtendedRecords)
            {
                Note($"the extended partition's chain has more than {PartitionTable.MaxExtendedRecords} records; the rest is ignored");
                return;
            }

            if (!visited.Add(thisLba))
            {
                Note($"the extended partition's chain loops back to LBA {thisLba}; it ends there");
                return;
            }

            if (thisLba >= diskSectors || !ReadExactly(thisLba * MbrSector, sector))
            {
                Note($"an extended boot record at LBA {thisLba} lies past the end of the disk; the chain ends there");
                return;
            }

            if (!MbrEntry.HasBootSignature(sector))
            {
                Note($"the extended boot record at LBA {thisLba} has no 55 AA signature; the chain ends there");
                return;
            }

            var entries = MbrEntry.ParseTable(sector);
            for (int i = 0; i < 4; i++)
            {
                var entry = entries[i];
                if (entry.IsEmpty || entry.IsExtended)
                {
                    continue;
                }

                long start = thisLba + entry.StartLba;
                // The 3rd and 4th entries sometimes hold garbage: Linux takes them only when they stay inside this EBR's span.
                if (i >= 2 && (entry.StartLba + (long)entry.SectorCount > thisSectors || start < firstLba || start + entry.SectorCount > (long)firstLba + firstSectors))
                {
                    continue;
                }

                if (nextLogical > PartitionTable.MaxPartitionNumber)
                {
                    Note($"more than {PartitionTable.MaxPartitionNumber - 4} logical partitions; the rest is ignored");
                    return;
                }

                if (Fit(nextLogical, start, entry.SectorCount, diskSectors) is { } fitted)
                {
                    partitions.Add(fitted with { Role = PartitionRole.Logical, MbrType = entry.Type, Bootable = entry.BootIndicator == 0x80 });
                    nextLogical++;
                }
            }

            int link = Array.FindIndex(entries, e => !e.IsEmpty && e.IsExtended);
            if (link < 0)
            {
                return;
            }

            thisLba = firstLba + (long)entries[link].StartLba;
            thisSectors = entries[link].SectorCount;
        }
    }

    private PartitionTable ReadGpt()
    {
        // A 4Kn disk keeps its GPT header at byte 4096 (LBA 1 of 4096-byte sectors).
        foreach (int sectorSize in new[] { 512, 4096 })
        {
            if (_disk.Length < 3L * sectorSize)
            {
                continue;
            }

            var probe = new byte[8];
            if (ReadExactly(sectorSize, probe) && BinaryPrimitives.ReadUInt64LittleEndian(probe) == GptHeader.Signature)
            {
                return ReadGpt(sectorSize);
            }
        }

        // No header at LBA 1 with either sector size: the backup may still be intact.
        return ReadGpt(512);
    }

    private PartitionTable ReadGpt(int sectorSize)
    {
        ulong diskSectors = (ulong)(_disk.Length / sectorSize);
        ulong lastLba = diskSectors - 1;
        var primary = ReadGptHeader(1, sectorSize, diskSectors, out string? primaryProblem);
        byte[]? array = null;
        if (primary is { } p)
        {
            array = ReadEntryArray(p, sectorSize, out primaryProblem);
        }

        GptHeader header;
        if (array is not null)
        {
            header = primary!.Value;
            var backupLba = header.AlternateLba is > 1 && header.AlternateLba < diskSectors ? header.AlternateLba : lastLba;
            if (ReadGptHeader(backupLba, sectorSize, diskSectors, out string? backupProblem) is null)
            {
                Note($"the backup GPT header at LBA {backupLba} is damaged ({backupProblem}); the primary is intact and used");
            }
        }
        else
        {
            // Where the primary says its backup is, when its own header could be trusted; else the last sector, as UEFI puts it.
            ulong backupLba = primary is { AlternateLba: > 1 } trusted && trusted.AlternateLba < diskSectors ? trusted.AlternateLba : lastLba;
            var backup = ReadGptHeader(backupLba, sectorSize, diskSectors, out string? backupProblem);
            if (backup is { } b)
            {
                array = ReadEntryArray(b, sectorSize, out backupProblem);
            }

            if (array is null)
            {
                return new PartitionTable(PartitionScheme.None, sectorSize, [],
                    [$"the protective MBR announces a GPT, but neither header is usable: primary at LBA 1: {primaryProblem}; backup at LBA {backupLba}: {backupProblem}", .. Notes()]);
            }

            header = backup!.Value;
            Note($"the primary GPT at LBA 1 is damaged ({primaryProblem}); the backup at LBA {backupLba} is used");
        }

        var partitions = new List<Partition>();
        for (int i = 0; i < header.EntryCount; i++)
        {
            var entry = GptEntry.Parse(array.AsSpan(i * (int)header.EntrySize, GptEntry.Size));
            if (entry.IsUnused)
            {
                continue;
            }

            int number = i + 1;
            if (number > PartitionTable.MaxPartitionNumber)
            {
                Note($"GPT entries past number {PartitionTable.MaxPartitionNumber} are ignored, as Linux ignores them");
                break;
            }

            if (entry.FirstLba > entry.LastLba)
            {
                Note($"GPT entry {number} ends (LBA {entry.LastLba}) before it starts (LBA {entry.FirstLba}); ignored");
                continue;
            }

            if (entry.LastLba > lastLba)
            {
                Note($"GPT entry {number} (LBA {entry.FirstLba}..{entry.LastLba}) runs past the end of the disk (last LBA {lastLba}); ignored");
                continue;
            }

            partitions.Add(new Partition
            {
                Number = number,
                Offset = (long)entry.FirstLba * sectorSize,
                Length = (long)(entry.LastLba - entry.FirstLba + 1) * sectorSize,
                GptType = entry.TypeGuid,
                GptId = entry.UniqueGuid,
                Name = entry.Name,
                Bootable = (entry.Attributes & 4) != 0,
            });
        }

        NoteOverlaps(partitions);
        return new PartitionTable(PartitionScheme.Gpt, sectorSize, partitions, Notes(), diskGuid: header.DiskGuid);
    }

    private GptHeader? ReadGptHeader(ulong lba, int sectorSize, ulong diskSectors, out string? problem)
    {
        var sector = new byte[sectorSize];
        if (lba >= diskSectors || !ReadExactly((long)lba * sectorSize, sector))
        {
            problem = "it lies past the end of the disk";
            return null;
        }

        problem = GptHeader.Validate(sector, lba, diskSectors);
        return problem is null ? GptHeader.Parse(sector) : null;
    }

    /// <summary>The entry array of a valid header when its CRC32 matches; null with the reason otherwise.</summary>
    private byte[]? ReadEntryArray(GptHeader header, int sectorSize, out string? problem)
    {
        // Validate bounded the size; a buffer of at most 1 MiB.
        var array = new byte[header.EntryArrayBytes];
        if (!ReadExactly((long)header.EntriesLba * sectorSize, array))
        {
            problem = $"the partition entry array at LBA {header.EntriesLba} could not be read in full";
            return null;
        }

        uint crc = Crc32.Compute(array);
        if (crc != header.EntriesCrc)
        {
            problem = $"the partition entry array's CRC32 is 0x{header.EntriesCrc:x8}, its bytes give 0x{crc:x8}";
            return null;
        }

        problem = null;
        return array;
    }

    /// <summary>
    /// A partition from a table entry, cut at the disk's end as Linux cuts it ("partition beyond EOD, truncated"),
    /// or null (with a note) when it starts past the end.
    /// </summary>
    private Partition? Fit(int number, long startLba, long sectors, long diskSectors)
    {
        if (startLba >= diskSectors)
        {
            Note($"p{number} starts at LBA {startLba}, past the end of the disk ({diskSectors} sectors); ignored");
            return null;
        }

        bool truncated = sectors > diskSectors - startLba;
        if (truncated)
        {
            Note($"p{number} (LBA {startLba}, {sectors} sectors) runs past the end of the disk; cut to {diskSectors - startLba} sectors");
            sectors = diskSectors - startLba;
        }

        return new Partition { Number = number, Offset = startLba * MbrSector, Length = sectors * MbrSector, Truncated = truncated };
    }

    /// <summary>Overlaps are kept (Linux keeps them too), but an examiner should know.</summary>
    private void NoteOverlaps(List<Partition> partitions)
    {
        var data = partitions.Where(p => p.Role != PartitionRole.Extended).OrderBy(p => p.Offset).ToList();
        Partition? furthest = null;
        foreach (var partition in data)
        {
            if (furthest is not null && partition.Offset < furthest.End)
            {
                Note($"p{partition.Number} overlaps p{furthest.Number}");
            }

            if (furthest is null || partition.End > furthest.End)
            {
                furthest = partition;
            }
        }
    }

    private bool ReadExactly(long offset, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = _disk.ReadAt(offset + total, buffer[total..]);
            if (n <= 0)
            {
                return false;
            }

            total += n;
        }

        return true;
    }

    private void Note(string note)
    {
        if (_notes.Count < MaxNotes)
        {
            _notes.Add(note);
        }
        else
        {
            _droppedNotes++;
        }
    }

    private List<string> Notes() => _droppedNotes == 0 ? _notes : [.. _notes, $"... and {_droppedNotes} more notes like these"];
}
