using Qcow2Mount.Control;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Service.Tests.Support;

/// <summary>
/// Tests that mount through one real service (FUSE and qemu-img required): the service starts once for the
/// fixture, each test gets a fresh folder for its images, and whatever a test left mounted is unmounted after it.
/// </summary>
[NonParallelizable]
internal abstract class ServiceMountFixture
{
    protected ServiceSession Service { get; private set; } = null!;

    protected ControlClient Client { get; private set; } = null!;

    /// <summary>The current test's folder for images and their copies.</summary>
    protected TempDir ImageDir { get; private set; } = null!;

    [OneTimeSetUp]
    public async Task StartService()
    {
        Requirements.FuseAndQemu();
        Service = await ServiceSession.StartAsync();
        Client = await Service.ConnectAsync();
    }

    [OneTimeTearDown]
    public async Task StopService()
    {
        Client?.Dispose();
        if (Service is not null)
        {
            await Service.DisposeAsync();
        }
    }

    [SetUp]
    public void NewImages() => ImageDir = new TempDir("img");

    [TearDown]
    public async Task UnmountAll()
    {
        foreach (var mount in await Client.ListAsync())
        {
            await Client.UnmountAsync(mount.MountPoint, force: true);
        }

        ImageDir.Dispose();
    }
}
