using Qcow2Mount.Qcow2;
using Qcow2Mount.Qcow2.Create;

namespace Qcow2Mount.Operations.Tests;

/// <summary><see cref="ImageOperations.ConvertAsync"/>: what the options ask for, progress, and cancellation.</summary>
internal sealed class ConvertOperationTests
{
    private const int Size = 24 << 20; // several chunks of either converter

    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir("ops-convert");

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [TestCase(ImageFormat.Raw)]
    [TestCase(ImageFormat.Qcow2)]
    public void Cancelled_midway_it_leaves_no_destination(ImageFormat format)
    {
        string source = _dir.Combine("source.qcow2"), destination = _dir.Combine("out." + format.ToString().ToLowerInvariant());
        SourceImages.Filled(source, Size);
        using var cancel = new CancellationTokenSource();
        // Cancel on the first report: the conversion is under way then (the destination exists).
        var progress = new RecordingProgress(_ =>
        {
            if (!cancel.IsCancellationRequested)
            {
                Assert.That(File.Exists(destination), Is.True, "the first report comes once the destination is being written");
                cancel.Cancel();
            }
        });

        Assert.CatchAsync<OperationCanceledException>(() => ImageOperations.ConvertAsync(
            new ConvertOptions { Source = source, Destination = destination, OutputFormat = format, Workers = 1 }, progress, cancel.Token));

        Assert.Multiple(() =>
        {
            Assert.That(progress.Reports, Is.Not.Empty, "the conversion had started");
            Assert.That(File.Exists(destination), Is.False, "a cancelled conversion removes what it wrote");
        });
    }

    [Test]
    public void Cancelled_before_it_starts_it_does_not_touch_an_existing_destination()
    {
        string source = _dir.Combine("source.qcow2"), destination = _dir.Combine("out.raw");
        SourceImages.Filled(source, 1 << 20);
        File.WriteAllText(destination, "keep me");

        Assert.CatchAsync<OperationCanceledException>(() => ImageOperations.ConvertAsync(
            new ConvertOptions { Source = source, Destination = destination }, null, new CancellationToken(canceled: true)));

        Assert.That(File.ReadAllText(destination), Is.EqualTo("keep me"));
    }

    [TestCase(ImageFormat.Raw)]
    [TestCase(ImageFormat.Qcow2)]
    public async Task Progress_reaches_100_percent_and_the_output_holds_the_guest_bytes(ImageFormat format)
    {
        string source = _dir.Combine("source.qcow2"), destination = _dir.Combine("out.img");
        byte[] guest = SourceImages.Filled(source, Size);
        var progress = new RecordingProgress();

        var result = await ImageOperations.ConvertAsync(
            new ConvertOptions { Source = source, Destination = destination, OutputFormat = format }, progress);

        var last = progress.Reports[^1];
        Assert.Multiple(() =>
        {
            Assert.That(result, Is.EqualTo(new ConvertResult(destination, format, Size)));
            Assert.That(last, Is.EqualTo(new OperationProgress(Size, Size)));
            Assert.That(last.Fraction, Is.EqualTo(1.0));
            Assert.That(progress.Reports.Select(r => r.Done), Is.Ordered, "progress never goes back");
        });
        Assert.That(ReadGuest(destination), Is.EqualTo(guest));
    }

    [Test]
    public async Task Qcow2_layout_and_compression_reach_the_new_image()
    {
        string source = _dir.Combine("source.qcow2"), destination = _dir.Combine("out.qcow2");
        ImageCreator.Create(source, new CreateOptions { Size = 4 << 20 });
        using (var image = Qcow2Image.Open(source, new Qcow2OpenOptions { Writable = true }))
        {
            // Compressible data: one byte repeated.
            image.WriteAt(0, Enumerable.Repeat((byte)7, 1 << 20).ToArray());
        }

        await ImageOperations.ConvertAsync(new ConvertOptions
        {
            Source = source,
            Destination = destination,
            OutputFormat = ImageFormat.Qcow2,
            Compress = true,
            Qcow2Layout = new CreateOptions { ClusterSize = 4096, RefcountBits = 8 },
        });

        var described = (await ImageOperations.InspectAsync(new InspectOptions { Image = destination }))[0];
        Assert.Multiple(() =>
        {
            Assert.That(described.ClusterSize, Is.EqualTo(4096));
            Assert.That(described.Qcow2!.RefcountBits, Is.EqualTo(8));
            Assert.That(described.ActualSize, Is.LessThan(1 << 20), "compressed clusters take far less than the megabyte written");
        });
        Assert.That(ReadGuest(destination)[..(1 << 20)], Is.All.EqualTo((byte)7));
    }

    [Test]
    public void Options_that_do_not_fit_are_refused_before_anything_is_written()
    {
        string source = _dir.Combine("source.qcow2"), destination = _dir.Combine("out.raw");
        SourceImages.Filled(source, 1 << 20);

        var compressRaw = Assert.ThrowsAsync<OperationException>(() => ImageOperations.ConvertAsync(
            new ConvertOptions { Source = source, Destination = destination, Compress = true }))!;
        var noWorkers = Assert.ThrowsAsync<OperationException>(() => ImageOperations.ConvertAsync(
            new ConvertOptions { Source = source, Destination = destination, Workers = 0 }))!;
        var backing = Assert.ThrowsAsync<OperationException>(() => ImageOperations.ConvertAsync(new ConvertOptions
        {
            Source = source,
            Destination = destination,
            OutputFormat = ImageFormat.Qcow2,
            Qcow2Layout = new CreateOptions { BackingFile = source },
        }))!;

        Assert.Multiple(() =>
        {
            Assert.That((compressRaw.Code, compressRaw.Option), Is.EqualTo((OperationErrorCode.InvalidOptions, nameof(ConvertOptions.Compress))));
            Assert.That((noWorkers.Code, noWorkers.Option), Is.EqualTo((OperationErrorCode.InvalidOptions, nameof(ConvertOptions.Workers))));
            Assert.That((backing.Code, backing.Option), Is.EqualTo((OperationErrorCode.InvalidOptions, nameof(ConvertOptions.Qcow2Layout))));
            Assert.That(File.Exists(destination), Is.False);
        });
    }

    [Test]
    public void The_source_as_destination_is_refused_and_left_as_it_was()
    {
        string source = _dir.Combine("source.qcow2");
        SourceImages.Filled(source, 1 << 20);
        byte[] before = File.ReadAllBytes(source);

        var error = Assert.ThrowsAsync<OperationException>(() => ImageOperations.ConvertAsync(
            new ConvertOptions { Source = source, Destination = source, ForceShare = true }))!;

        Assert.Multiple(() =>
        {
            Assert.That(error.Code, Is.EqualTo(OperationErrorCode.InvalidDestination));
            Assert.That(File.ReadAllBytes(source), Is.EqualTo(before));
        });
    }

    [Test]
    public void Engine_errors_arrive_with_their_condition_as_the_code()
    {
        string garbage = _dir.Combine("garbage.qcow2");
        File.WriteAllBytes(garbage, new byte[4096]);

        var missing = Assert.ThrowsAsync<OperationException>(() => ImageOperations.ConvertAsync(
            new ConvertOptions { Source = _dir.Combine("none.qcow2"), Destination = _dir.Combine("a.raw") }))!;
        var notQcow2 = Assert.ThrowsAsync<OperationException>(() => ImageOperations.ConvertAsync(
            new ConvertOptions { Source = garbage, SourceFormat = ImageFormat.Qcow2, Destination = _dir.Combine("b.raw") }))!;

        Assert.Multiple(() =>
        {
            Assert.That(missing.Code, Is.EqualTo(OperationErrorCode.MissingFile));
            Assert.That(notQcow2.Code, Is.EqualTo(OperationErrorCode.NotQcow2));
            Assert.That(notQcow2.InnerException, Is.InstanceOf<Qcow2Exception>());
        });
    }

    private static byte[] ReadGuest(string image)
    {
        using var disk = VirtualDisk.Open(image, null, new Qcow2OpenOptions());
        var bytes = new byte[disk.Length];
        int done = 0;
        while (done < bytes.Length)
        {
            done += disk.ReadAt(done, bytes.AsSpan(done));
        }

        return bytes;
    }
}
