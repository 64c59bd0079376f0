using System.Security.Cryptography;
using Qcow2Mount.Qcow2.Check;
using Qcow2Mount.Qcow2.Create;

namespace Qcow2Mount.Operations.Tests;

/// <summary>Hash, check, resize, snapshots, create and bench: each option reaches the engine, each result comes back.</summary>
internal sealed class ImageOperationTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir("ops");

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public async Task Hash_gives_each_digest_of_the_guest_bytes_and_progress_reaches_100_percent()
    {
        string image = _dir.Combine("disk.qcow2");
        byte[] guest = SourceImages.Filled(image, 9 << 20);
        var progress = new RecordingProgress();

        var result = await ImageOperations.HashAsync(
            new HashOptions { Image = image, Algorithms = [DigestAlgorithm.Md5, DigestAlgorithm.Sha256] }, progress);

        Assert.Multiple(() =>
        {
            Assert.That(result.VirtualSize, Is.EqualTo(guest.Length));
            Assert.That(result.Digests, Is.EqualTo(new[]
            {
                new ImageDigest(DigestAlgorithm.Md5, Convert.ToHexStringLower(MD5.HashData(guest))),
                new ImageDigest(DigestAlgorithm.Sha256, Convert.ToHexStringLower(SHA256.HashData(guest))),
            }));
            Assert.That(progress.Reports[^1], Is.EqualTo(new OperationProgress(guest.Length, guest.Length)));
        });
    }

    [Test]
    public void Hash_cancelled_midway_stops_with_a_cancellation()
    {
        string image = _dir.Combine("disk.qcow2");
        SourceImages.Filled(image, 16 << 20);
        using var cancel = new CancellationTokenSource();
        var progress = new RecordingProgress(_ => cancel.Cancel());

        Assert.CatchAsync<OperationCanceledException>(() => ImageOperations.HashAsync(new HashOptions { Image = image }, progress, cancel.Token));
        Assert.That(progress.Reports, Has.Count.EqualTo(1), "no chunk is hashed after the cancel");
    }

    [Test]
    public void Hash_refuses_an_empty_or_repeated_algorithm_list()
    {
        string image = _dir.Combine("disk.qcow2");
        SourceImages.Filled(image, 1 << 20);

        var none = Assert.ThrowsAsync<OperationException>(() => ImageOperations.HashAsync(new HashOptions { Image = image, Algorithms = [] }))!;
        var twice = Assert.ThrowsAsync<OperationException>(() =>
            ImageOperations.HashAsync(new HashOptions { Image = image, Algorithms = [DigestAlgorithm.Sha1, DigestAlgorithm.Sha1] }))!;

        Assert.That(new[] { none.Option, twice.Option }, Is.All.EqualTo(nameof(HashOptions.Algorithms)));
    }

    [Test]
    public async Task Check_reports_a_clean_image_and_progress_reaches_100_percent()
    {
        string image = _dir.Combine("disk.qcow2");
        SourceImages.Filled(image, 4 << 20);
        var progress = new RecordingProgress();

        var result = await ImageOperations.CheckAsync(new CheckImageOptions { Image = image }, progress);

        Assert.Multiple(() =>
        {
            Assert.That(result.IsClean, Is.True, string.Join("; ", result.Messages));
            Assert.That(progress.Reports[^1].Fraction, Is.EqualTo(1.0));
        });
    }

    [Test]
    public void Check_cancelled_midway_stops_with_a_cancellation()
    {
        string image = _dir.Combine("disk.qcow2");
        SourceImages.Filled(image, 4 << 20);
        using var cancel = new CancellationTokenSource();

        Assert.CatchAsync<OperationCanceledException>(() =>
            ImageOperations.CheckAsync(new CheckImageOptions { Image = image }, new RecordingProgress(_ => cancel.Cancel()), cancel.Token));
    }

    [Test]
    public void Check_refuses_force_share_with_a_repair()
    {
        var error = Assert.ThrowsAsync<OperationException>(() => ImageOperations.CheckAsync(
            new CheckImageOptions { Image = _dir.Combine("any.qcow2"), Repair = RepairMode.Leaks, ForceShare = true }))!;

        Assert.That((error.Code, error.Option), Is.EqualTo((OperationErrorCode.InvalidOptions, nameof(CheckImageOptions.ForceShare))));
    }

    [Test]
    public async Task Resize_grows_by_a_delta_or_to_a_size_and_refuses_to_shrink()
    {
        string image = _dir.Combine("disk.qcow2");
        await ImageOperations.CreateAsync(new CreateImageOptions { Image = image, Layout = new CreateOptions { Size = 1 << 20 } });

        var grown = await ImageOperations.ResizeAsync(new ResizeOptions { Image = image, GrowBy = 1 << 20 });
        var sized = await ImageOperations.ResizeAsync(new ResizeOptions { Image = image, Size = 8 << 20 });
        var shrink = Assert.ThrowsAsync<OperationException>(() => ImageOperations.ResizeAsync(new ResizeOptions { Image = image, GrowBy = -4096 }))!;
        var both = Assert.ThrowsAsync<OperationException>(() => ImageOperations.ResizeAsync(new ResizeOptions { Image = image, Size = 1, GrowBy = 1 }))!;

        var info = (await ImageOperations.InspectAsync(new InspectOptions { Image = image }))[0];
        Assert.Multiple(() =>
        {
            Assert.That(grown.Size, Is.EqualTo(2 << 20));
            Assert.That(sized.Size, Is.EqualTo(8 << 20));
            Assert.That(info.VirtualSize, Is.EqualTo(8 << 20));
            Assert.That(shrink.Code, Is.EqualTo(OperationErrorCode.OutOfRange));
            Assert.That(both.Code, Is.EqualTo(OperationErrorCode.InvalidOptions));
        });
    }

    [Test]
    public async Task Snapshots_are_created_listed_applied_and_deleted()
    {
        string image = _dir.Combine("disk.qcow2");
        SourceImages.Filled(image, 1 << 20);

        var created = await ImageOperations.ChangeSnapshotAsync(new SnapshotChangeOptions { Image = image, Change = SnapshotChange.Create, Name = "before" });
        var listed = await ImageOperations.ListSnapshotsAsync(new SnapshotListOptions { Image = image });
        var applied = await ImageOperations.ChangeSnapshotAsync(new SnapshotChangeOptions { Image = image, Change = SnapshotChange.Apply, Name = "before" });
        await ImageOperations.ChangeSnapshotAsync(new SnapshotChangeOptions { Image = image, Change = SnapshotChange.Delete, Name = created.Snapshot.Id });
        var missing = Assert.ThrowsAsync<OperationException>(() =>
            ImageOperations.ChangeSnapshotAsync(new SnapshotChangeOptions { Image = image, Change = SnapshotChange.Apply, Name = "before" }))!;

        Assert.Multiple(async () =>
        {
            Assert.That(listed.Select(s => s.Name), Is.EqualTo(new[] { "before" }));
            Assert.That(applied.Snapshot.Id, Is.EqualTo(created.Snapshot.Id));
            Assert.That(await ImageOperations.ListSnapshotsAsync(new SnapshotListOptions { Image = image }), Is.Empty);
            Assert.That(missing.Code, Is.EqualTo(OperationErrorCode.SnapshotNotFound));
        });
    }

    [Test]
    public async Task Create_with_overwrite_never_replaces_its_own_backing_file()
    {
        string backing = _dir.Combine("base.qcow2");
        SourceImages.Filled(backing, 1 << 20);
        byte[] before = File.ReadAllBytes(backing);

        var error = Assert.ThrowsAsync<OperationException>(() => ImageOperations.CreateAsync(new CreateImageOptions
        {
            Image = backing,
            Layout = new CreateOptions { BackingFile = backing, Overwrite = true },
        }))!;
        var created = await ImageOperations.CreateAsync(new CreateImageOptions
        {
            Image = _dir.Combine("overlay.qcow2"),
            Layout = new CreateOptions { BackingFile = backing, BackingFormat = "qcow2" },
        });

        Assert.Multiple(() =>
        {
            Assert.That(error.Code, Is.EqualTo(OperationErrorCode.InvalidDestination));
            Assert.That(File.ReadAllBytes(backing), Is.EqualTo(before));
            Assert.That(created.Size, Is.Null, "the size is the backing file's");
        });
    }

    [Test]
    public async Task Bench_runs_the_requests_asked_for()
    {
        string image = _dir.Combine("disk.qcow2");
        SourceImages.Filled(image, 1 << 20);

        var read = await ImageOperations.BenchAsync(new BenchOptions { Image = image, Count = 300, Depth = 4, BufferSize = 4096 });
        var write = await ImageOperations.BenchAsync(new BenchOptions { Image = image, Count = 40, Depth = 2, Write = true, Pattern = 9, FlushInterval = 10 });
        var badFlush = Assert.ThrowsAsync<OperationException>(() =>
            ImageOperations.BenchAsync(new BenchOptions { Image = image, FlushInterval = 10 }))!;

        Assert.Multiple(() =>
        {
            Assert.That((read.Requests, read.Bytes), Is.EqualTo((300L, 300L * 4096)));
            Assert.That(write.Requests, Is.EqualTo(40));
            Assert.That(badFlush.Option, Is.EqualTo(nameof(BenchOptions.FlushInterval)));
        });
    }
}
