using Qcow2Mount.Cli.Output;

namespace Qcow2Mount.Cli.Tests;

/// <summary>Sizes as qemu-img prints them ("%0.3g" of the largest unit that keeps the number below 1000).</summary>
internal sealed class HumanSizeTests
{
    [TestCase(0UL, "0 B")]
    [TestCase(999UL, "999 B")]
    [TestCase(1000UL, "0.977 KiB")]
    [TestCase(4096UL, "4 KiB")]
    [TestCase(200704UL, "196 KiB")]
    [TestCase(1458176UL, "1.39 MiB")]
    [TestCase(67108864UL, "64 MiB")]
    [TestCase(1073741824UL, "1 GiB")]
    [TestCase(ulong.MaxValue, "16 EiB")]
    public void Formats_like_qemu_img(ulong bytes, string expected) => Assert.That(HumanSize.Format(bytes), Is.EqualTo(expected));
}
