using Qcow2Mount.Fuse;
using Qcow2Mount.Service.Hosting;

// What `qcow2mount serve` does, without the CLI: the composition root passes the FUSE adapter.
return await ServiceHost.RunAsync(args, new FuseHost()).ConfigureAwait(false);
