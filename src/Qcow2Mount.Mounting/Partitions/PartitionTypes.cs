namespace Qcow2Mount.Mounting.Partitions;

/// <summary>Names for the partition types an examiner meets most; others show their number or GUID.</summary>
public static class PartitionTypes
{
    public static readonly Guid EfiSystem = new("c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
    public static readonly Guid MicrosoftBasicData = new("ebd0a0a2-b9e5-4433-87c0-68b6b72699c7");
    public static readonly Guid LinuxFilesystem = new("0fc63daf-8483-4772-8e79-3d69d8477de4");

    private static readonly Dictionary<byte, string> Mbr = new()
    {
        [0x01] = "FAT12",
        [0x04] = "FAT16 <32M",
        [0x05] = "Extended",
        [0x06] = "FAT16",
        [0x07] = "NTFS/exFAT/HPFS",
        [0x0B] = "W95 FAT32",
        [0x0C] = "W95 FAT32 (LBA)",
        [0x0E] = "W95 FAT16 (LBA)",
        [0x0F] = "W95 Extended (LBA)",
        [0x11] = "Hidden FAT12",
        [0x17] = "Hidden NTFS",
        [0x27] = "Windows recovery",
        [0x82] = "Linux swap",
        [0x83] = "Linux",
        [0x85] = "Linux extended",
        [0x8E] = "Linux LVM",
        [0xA5] = "FreeBSD",
        [0xAF] = "HFS/HFS+",
        [0xEE] = "GPT protective",
        [0xEF] = "EFI System (FAT)",
        [0xFD] = "Linux RAID",
    };

    private static readonly Dictionary<Guid, string> Gpt = new()
    {
        [EfiSystem] = "EFI System",
        [MicrosoftBasicData] = "Microsoft basic data",
        [new("e3c9e316-0b5c-4db8-817d-f92df00215ae")] = "Microsoft reserved",
        [new("de94bba4-06d1-4d40-a16a-bfd50179d6ac")] = "Windows recovery",
        [new("5808c8aa-7e8f-42e0-85d2-e1e90434cfb3")] = "Windows LDM metadata",
        [new("af9b60a0-1431-4f62-bc68-3311714a69ad")] = "Windows LDM data",
        [new("21686148-6449-6e6f-744e-656564454649")] = "BIOS boot",
        [LinuxFilesystem] = "Linux filesystem",
        [new("0657fd6d-a4ab-43c4-84e5-0933c84b4f4f")] = "Linux swap",
        [new("e6d6d379-f507-44c2-a23c-238f2a3df928")] = "Linux LVM",
        [new("a19d880f-05fc-4d3b-a006-743f0f84911e")] = "Linux RAID",
        [new("ca7d7ccb-63ed-4c53-861c-1742536059cc")] = "Linux LUKS",
        [new("933ac7e1-2eb4-4f13-b844-0e14e2aef915")] = "Linux home",
        [new("4f68bce3-e8cd-4db1-96e7-fbcaf984b709")] = "Linux root (x86-64)",
        [new("bc13c2ff-59e6-4262-a352-b275fd6f7172")] = "Linux extended boot",
        [new("48465300-0000-11aa-aa11-00306543ecac")] = "Apple HFS+",
        [new("7c3457ef-0000-11aa-aa11-00306543ecac")] = "Apple APFS",
        [new("516e7cb4-6ecf-11d6-8ff8-00022d09712b")] = "FreeBSD data",
    };

    public static string MbrName(byte type) => Mbr.TryGetValue(type, out var name) ? name : $"type 0x{type:x2}";

    public static string GptName(Guid type) => Gpt.TryGetValue(type, out var name) ? name : type.ToString();
}
